//! Real brokers for the broker node tests: `nats-server -js` (JetStream, store in a temp
//! folder) and `mosquitto`, each on a free loopback port, stopped on drop and restartable on
//! the same port and store (a broker restarted mid-stream). `scripts/setup.sh` installs them.
//! When a binary is missing the test prints a loud `*** SKIPPED: … ***` line and returns:
//! nothing is ever faked.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Which broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `nats-server -js`.
    Nats,
    /// `mosquitto`.
    Mosquitto,
}

impl Kind {
    fn binary(self) -> &'static str {
        match self {
            Kind::Nats => "nats-server",
            Kind::Mosquitto => "mosquitto",
        }
    }
}

/// A broker process on 127.0.0.1:`port`; killed on drop.
pub struct Broker {
    kind: Kind,
    binary: PathBuf,
    /// The port it listens on (kept across restarts).
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    extra: Vec<String>,
}

/// Where `name` is: on `PATH` or in the sbin folders Debian installs servers to.
fn find_binary(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    dirs.extend(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from));
    dirs.into_iter().map(|d| d.join(name)).find(|p| p.is_file())
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Broker {
    /// Starts a broker of `kind` on a free port, or `None` (after a loud SKIPPED line naming
    /// `test`) when its binary is not installed.
    pub fn start(kind: Kind, test: &str) -> Option<Broker> {
        Broker::start_with(kind, test, |_| Vec::new())
    }

    /// As [`Broker::start`], with more settings made from the broker's temp folder:
    /// command-line arguments for nats-server (certificates, tokens), config lines for
    /// mosquitto (they replace `allow_anonymous true`).
    pub fn start_with(kind: Kind, test: &str, extra: impl FnOnce(&Path) -> Vec<String>) -> Option<Broker> {
        let Some(binary) = find_binary(kind.binary()) else {
            eprintln!(
                "*** SKIPPED: {test}: `{}` is not installed (run scripts/setup.sh test); nothing was tested ***",
                kind.binary()
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let extra = extra(dir.path());
        let mut b = Broker { kind, binary, port: free_port(), dir, child: None, extra };
        // Tests run in parallel: another one may take the same free port before this broker
        // binds it. Then this broker exits at start, and another port is tried.
        for _ in 0..5 {
            if b.spawn_and_wait() {
                return Some(b);
            }
            b.port = free_port();
        }
        panic!("{} did not start on five free ports: {}", b.kind.binary(), b.log());
    }

    /// `nats://127.0.0.1:port` or `mqtt://127.0.0.1:port`.
    pub fn url(&self) -> String {
        match self.kind {
            Kind::Nats => format!("nats://127.0.0.1:{}", self.port),
            Kind::Mosquitto => format!("mqtt://127.0.0.1:{}", self.port),
        }
    }

    /// `127.0.0.1:port`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Kills the process and waits for it (the port is free after this).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Asks the process to shut down (SIGTERM: mosquitto saves its sessions) and waits.
    pub fn stop_gracefully(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
            let _ = c.wait();
        }
    }

    /// (Re)starts the process on the same port and store; returns once the port accepts.
    pub fn restart(&mut self) {
        assert!(self.spawn_and_wait(), "{} exited at start: {}", self.kind.binary(), self.log());
    }

    /// Starts the process; true once it accepts on its port, false if it exited first (its
    /// port was taken). A connection alone could be another test's broker on the same port:
    /// nats-server must also say it listens, and either must still run a moment later.
    fn spawn_and_wait(&mut self) -> bool {
        self.stop();
        let store = self.dir.path().join("store");
        std::fs::create_dir_all(&store).unwrap();
        let mut cmd = Command::new(&self.binary);
        match self.kind {
            Kind::Nats => {
                cmd.args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"]).arg(&store);
            }
            Kind::Mosquitto => {
                cmd.arg("-c").arg(self.mosquitto_conf(&store));
            }
        }
        if self.kind == Kind::Nats {
            cmd.args(&self.extra);
        }
        let log = std::fs::File::create(self.dir.path().join("broker.log")).unwrap();
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(log);
        self.child = Some(cmd.spawn().unwrap());
        let started = Instant::now();
        let exited = |b: &mut Broker| matches!(b.child.as_mut().map(|c| c.try_wait()), Some(Ok(Some(_))));
        loop {
            if exited(self) {
                return false;
            }
            let listening = self.kind != Kind::Nats || self.log().contains("Listening for client connections");
            if listening && TcpStream::connect(self.addr()).is_ok() {
                std::thread::sleep(Duration::from_millis(50));
                return !exited(self);
            }
            assert!(started.elapsed() < Duration::from_secs(10), "{} did not listen in 10 s", self.kind.binary());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the broker wrote to stderr.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("broker.log")).unwrap_or_default()
    }

    /// A mosquitto config: one loopback listener, anonymous clients, sessions persisted in
    /// `store` (writable by the unprivileged user mosquitto drops to when started as root).
    fn mosquitto_conf(&self, store: &Path) -> PathBuf {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(store, std::fs::Permissions::from_mode(0o777)).unwrap();
            std::fs::set_permissions(self.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let conf = self.dir.path().join("mosquitto.conf");
        let mut text = format!(
            "listener {} 127.0.0.1\npersistence true\npersistence_location {}/\nmax_queued_messages 100000\n",
            self.port,
            store.display()
        );
        if self.extra.is_empty() {
            text.push_str("allow_anonymous true\n");
        }
        for line in &self.extra {
            text.push_str(line);
            text.push('\n');
        }
        std::fs::write(&conf, text).unwrap();
        conf
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

//! The NATS connection fields `nats_source` and `nats_sink` share (servers, credentials,
//! TLS, backoff), their checks, and connecting. async-nats reconnects by itself; its delays
//! follow our backoff, and its events drive the node's own status and `reconnects` gauge.
//! Tokens and passwords (usually `${ENV}`) are never written to logs, status or errors.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event, ServerAddr};
use streamloom_runtime::metrics::{NodeMetrics, NodeState};
use streamloom_runtime::registry::{BuildContext, ConfigProblem, ParamKind, ParamSpec};

use super::reconnect_delay;
use crate::ws::backoff::backoff_params;
use crate::ws::{duration_field, tls};

/// The connection fields of a NATS node's config, borrowed.
pub struct NatsFields<'a> {
    /// `nats://host:port` (or `tls://`) URLs.
    pub servers: &'a [String],
    /// Token (`${ENV}`).
    pub token: Option<&'a str>,
    /// User name.
    pub user: Option<&'a str>,
    /// Password (`${ENV}`).
    pub password: Option<&'a str>,
    /// Extra CA certificates (PEM); implies TLS.
    pub ca_file: Option<&'a str>,
    /// Require TLS.
    pub tls: bool,
    /// Longest wait for one connection attempt.
    pub connect_timeout: &'a str,
    /// First reconnect delay.
    pub backoff_initial: &'a str,
    /// Largest reconnect delay.
    pub backoff_max: &'a str,
}

/// The parameter docs of the connection fields.
pub fn nats_params() -> Vec<ParamSpec> {
    let [backoff_initial, backoff_max] = backoff_params();
    vec![
        ParamSpec::new("servers", ParamKind::TextList, "Servers to connect to: nats://host:4222 (tls:// for TLS)"),
        ParamSpec::optional("token", ParamKind::Text, "Auth token; use ${ENV} (never shown in logs or status)"),
        ParamSpec::optional("user", ParamKind::Text, "User name (with password)"),
        ParamSpec::optional("password", ParamKind::Text, "Password; use ${ENV} (never shown in logs or status)"),
        ParamSpec::new("tls", ParamKind::Bool, "Require TLS"),
        ParamSpec::optional(
            "ca_file",
            ParamKind::Path,
            "PEM file of CA certificates trusted besides the system's roots",
        ),
        ParamSpec::new("connect_timeout", ParamKind::Text, "Longest wait for one connection attempt"),
        backoff_initial,
        backoff_max,
    ]
}

/// What a running NATS node connects with.
pub struct NatsSettings {
    servers: Vec<ServerAddr>,
    token: Option<String>,
    user_password: Option<(String, String)>,
    tls: Option<rustls::ClientConfig>,
    connect_timeout: Duration,
    backoff: (Duration, Duration),
}

impl NatsFields<'_> {
    /// Every problem with the fields.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut p = Vec::new();
        if self.servers.is_empty() {
            p.push(ConfigProblem::field("servers", "name at least one server (nats://127.0.0.1:4222)"));
        }
        for (i, s) in self.servers.iter().enumerate() {
            if !s.contains("${")
                && let Err(e) = s.trim().parse::<ServerAddr>()
            {
                p.push(ConfigProblem::field(&format!("servers[{i}]"), format!("not a server address: {e}")));
            }
        }
        if self.user.is_some() != self.password.is_some() {
            p.push(ConfigProblem::field("password", "give user and password together"));
        }
        for (field, text) in [
            ("connect_timeout", self.connect_timeout),
            ("backoff_initial", self.backoff_initial),
            ("backoff_max", self.backoff_max),
        ] {
            match duration_field(field, text) {
                Ok(d) if d.is_zero() => p.push(ConfigProblem::field(field, "must be longer than 0")),
                Ok(_) => {}
                Err(e) => p.push(e),
            }
        }
        p
    }

    /// The settings a running node uses (placeholders already substituted).
    pub fn build(&self, ctx: &BuildContext) -> Result<NatsSettings, ConfigProblem> {
        let mut servers = Vec::new();
        for (i, s) in self.servers.iter().enumerate() {
            let addr = s
                .trim()
                .parse::<ServerAddr>()
                .map_err(|e| ConfigProblem::field(&format!("servers[{i}]"), format!("not a server address: {e}")))?;
            servers.push(addr);
        }
        let tls = if self.tls || self.ca_file.is_some() || servers.iter().any(|s| s.tls_required()) {
            let ca = self.ca_file.map(|f| ctx.resolve_path(f));
            let config = tls::client_config(ca.as_deref()).map_err(|e| ConfigProblem::field("ca_file", e))?;
            Some((*config).clone())
        } else {
            None
        };
        Ok(NatsSettings {
            servers,
            token: self.token.map(str::to_string),
            user_password: self.user.zip(self.password).map(|(u, p)| (u.to_string(), p.to_string())),
            tls,
            connect_timeout: duration_field("connect_timeout", self.connect_timeout)?,
            backoff: (
                duration_field("backoff_initial", self.backoff_initial)?,
                duration_field("backoff_max", self.backoff_max)?,
            ),
        })
    }
}

/// Starts a client that connects (and reconnects forever) in the background: the status
/// says connecting, then connected, or reconnecting with the attempt and the delay; every
/// attempt after the first counts in the `reconnects` gauge. `capacity` bounds the client's buffers.
pub async fn connect(s: &NatsSettings, metrics: Arc<NodeMetrics>, capacity: usize) -> Result<Client, String> {
    metrics.own.set_state(NodeState::Connecting);
    let mut options = ConnectOptions::new()
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(s.connect_timeout)
        .subscription_capacity(capacity.max(64))
        .client_capacity(capacity.max(64));
    if let Some(token) = &s.token {
        options = options.token(token.clone());
    }
    if let Some((u, p)) = &s.user_password {
        options = options.user_and_password(u.clone(), p.clone());
    }
    if let Some(tls) = &s.tls {
        options = options.require_tls(true).tls_client_config(tls.clone());
    }
    let (initial, max) = s.backoff;
    // Why the last attempt failed, shown with the next delay.
    let last_error: Arc<Mutex<String>> = Arc::default();
    let (m, last) = (metrics.clone(), last_error.clone());
    // The client asks for a delay before every attempt to connect, its very first one too:
    // that one waits for nothing and is no reconnect. Every later one counts in `reconnects`,
    // and the status says how many attempts failed since the node was last connected (a lost
    // connection is the first), as the WebSocket and MQTT nodes count them. The client counts
    // from 1 again after each connection, so a 1 after the first call tells a connection was
    // made (told here, not by the event callback, which runs on another task).
    let reconnects = metrics.own.gauge("reconnects");
    let first_attempt = AtomicBool::new(true);
    let connected_before = AtomicBool::new(false);
    options = options.reconnect_delay_callback(move |attempt| {
        if first_attempt.swap(false, Ordering::Relaxed) {
            return Duration::ZERO;
        }
        if attempt <= 1 {
            connected_before.store(true, Ordering::Relaxed);
        }
        reconnects.add(1);
        let failed = if connected_before.load(Ordering::Relaxed) { attempt } else { attempt.saturating_sub(1) }.max(1);
        // The wait after the n-th failed attempt, as the other connecting kinds wait.
        let delay = reconnect_delay(failed, initial, max);
        let why = last.lock().map(|w| w.clone()).unwrap_or_default();
        let state = if is_refusal(&why) { NodeState::Failed } else { NodeState::Reconnecting };
        let why = if why.is_empty() { String::new() } else { format!(" ({why})") };
        m.own.set(state, format!("attempt {failed}, next in {:.1} s{why}", delay.as_secs_f64()));
        delay
    });
    let m = metrics.clone();
    options = options.event_callback(move |event| {
        let (m, last) = (m.clone(), last_error.clone());
        async move {
            match event {
                Event::Connected => {
                    if let Ok(mut w) = last.lock() {
                        w.clear();
                    }
                    m.own.set(NodeState::Connected, "")
                }
                // Only over "connected": the client may already have asked for the first
                // delay, and its "attempt 1, next in …" is the news.
                Event::Disconnected => {
                    m.own.set_if(&[NodeState::Connected], NodeState::Reconnecting, Some("disconnected".into()))
                }
                Event::ClientError(e) => {
                    let why = e.to_string();
                    if is_refusal(&why) {
                        m.own.set(NodeState::Failed, format!("{why}: check the token or user/password; retrying"));
                    }
                    if let Ok(mut w) = last.lock() {
                        *w = why;
                    }
                }
                Event::ServerError(e) => {
                    let why = e.to_string();
                    if is_refusal(&why) {
                        m.own.set(NodeState::Failed, format!("{why}: check the token or user/password"));
                    }
                    tracing::warn!("nats server: {why}");
                }
                Event::SlowConsumer(_) => m.own.set(
                    NodeState::Degraded,
                    "slow consumer: the output is full and the client drops messages (counted as dropped when the subscription ends)",
                ),
                other => tracing::debug!("nats: {other}"),
            }
        }
    });
    options.connect(s.servers.clone()).await.map_err(|e| format!("connect: {e}"))
}

/// Whether a failure is the server refusing the credentials (retrying will not help until
/// they change).
fn is_refusal(why: &str) -> bool {
    let why = why.to_ascii_lowercase();
    why.contains("authorization") || why.contains("authentication")
}

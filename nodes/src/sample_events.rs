//! The benchmark event stream of `shared/bench/gen_events.py`, ported byte for byte: the same
//! `(n, seed)` gives the same JSON Lines, so Streamloom's figures compare with other tools'.

use std::io::{self, Write};

use serde_json::{Map, Value};

/// Event time of event 0, in ms since the epoch.
pub const BASE_TS: i64 = 1_700_000_000_000;

/// The largest lateness in the stream: a watermark of `max_ts - MAX_DELAY_MS` is never passed.
pub const MAX_DELAY_MS: i64 = 2000;

/// splitmix64, as the Python generator specifies it.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// Starts at `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64 { state: seed }
    }
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One event of the stream, before formatting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleEvent {
    /// Event time (ms).
    pub ts: i64,
    /// User number 0..1000.
    pub user: u16,
    /// `click`, `view` or `purchase`.
    pub kind: &'static str,
    /// Value in cents, 1..=100000.
    pub cents: u32,
}

impl SampleEvent {
    /// The JSON line, newline included, exactly as the Python generator writes it.
    pub fn write_line(&self, out: &mut impl Write) -> io::Result<()> {
        writeln!(
            out,
            "{{\"ts\":{},\"user\":\"u{:03}\",\"type\":\"{}\",\"value\":{}.{:02}}}",
            self.ts,
            self.user,
            self.kind,
            self.cents / 100,
            self.cents % 100
        )
    }

    /// The event as a record (`value` as a number).
    pub fn to_value(&self) -> Value {
        let mut m = Map::with_capacity(4);
        m.insert("ts".into(), Value::from(self.ts));
        m.insert("user".into(), Value::String(format!("u{:03}", self.user)));
        m.insert("type".into(), Value::String(self.kind.into()));
        m.insert("value".into(), Value::from(f64::from(self.cents) / 100.0));
        Value::Object(m)
    }
}

/// The stream: event `i` for i = 0, 1, 2, ...
#[derive(Debug, Clone)]
pub struct SampleEvents {
    rng: SplitMix64,
    i: u64,
}

impl SampleEvents {
    /// The stream for `seed` (the Python default is 42).
    pub fn new(seed: u64) -> Self {
        SampleEvents { rng: SplitMix64::new(seed), i: 0 }
    }
}

impl Iterator for SampleEvents {
    type Item = SampleEvent;
    fn next(&mut self) -> Option<SampleEvent> {
        let r1 = self.rng.next_u64();
        let r2 = self.rng.next_u64();
        let r3 = self.rng.next_u64();
        let r4 = self.rng.next_u64();
        let k = r2 % 100;
        let kind = if k < 50 {
            "click"
        } else if k < 80 {
            "view"
        } else {
            "purchase"
        };
        let delay = if r4.is_multiple_of(10) { ((r4 >> 8) % 2000) as i64 + 1 } else { 0 };
        let ev = SampleEvent {
            ts: BASE_TS + self.i as i64 - delay,
            user: (r1 % 1000) as u16,
            kind,
            cents: (r3 % 100_000) as u32 + 1,
        };
        self.i += 1;
        Some(ev)
    }
}

/// Writes `n` events as JSON Lines.
pub fn write_jsonl(n: u64, seed: u64, out: &mut impl Write) -> io::Result<()> {
    let mut w = io::BufWriter::with_capacity(1 << 16, out);
    for ev in SampleEvents::new(seed).take(n as usize) {
        ev.write_line(&mut w)?;
    }
    w.flush()
}

/// Writes `n` events to `path` (through a temporary file, like the Python generator).
pub fn write_file(n: u64, seed: u64, path: &std::path::Path) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    write_jsonl(n, seed, &mut f)?;
    f.sync_all()?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lines_match_the_python_generator() {
        let mut out = Vec::new();
        write_jsonl(3, 42, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 3);
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v.as_object().unwrap().keys().collect::<Vec<_>>(), ["ts", "type", "user", "value"]);
        }
    }

    /// Byte-for-byte against the Python reference, when it is beside the repo.
    #[test]
    fn identical_bytes_to_gen_events_py() {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/bench/gen_events.py");
        if !script.exists() {
            eprintln!("SKIPPED: {} not found; cannot compare with the reference generator", script.display());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let py_out = dir.path().join("py.jsonl");
        let status = std::process::Command::new("python3")
            .arg(&script)
            .args(["5000"])
            .arg(&py_out)
            .args(["--seed", "7"])
            .status();
        let Ok(status) = status else {
            eprintln!("SKIPPED: python3 not available");
            return;
        };
        assert!(status.success());
        let mut ours = Vec::new();
        write_jsonl(5000, 7, &mut ours).unwrap();
        assert_eq!(std::fs::read(py_out).unwrap(), ours);
    }

    #[test]
    fn disorder_is_bounded() {
        let mut max = BASE_TS - MAX_DELAY_MS;
        for ev in SampleEvents::new(42).take(100_000) {
            assert!(ev.ts >= max - (MAX_DELAY_MS - 1));
            max = max.max(ev.ts);
        }
    }
}

//! A node's own status, set by the node itself: its state (connecting, connected, listening,
//! …), a short message ("2 clients", "reconnecting: attempt 3, next in 4.2 s") and named
//! gauges (`clients`, `reconnects`, `bytes_in`, a window's `open_windows`).
//!
//! This is apart from the lifecycle status ([`crate::metrics::NodeStatus`]: running, finished,
//! failed), which the executor sets. Any node kind may use it; nodes that never touch it show
//! no state, no message and no gauges.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// What a node says about itself (most often a connection's state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Opening a connection.
    Connecting,
    /// Connected and working.
    Connected,
    /// Lost its connection and waits before the next attempt.
    Reconnecting,
    /// A server waiting for (or serving) clients.
    Listening,
    /// Working, but not fully (some clients skipped, a peer slow).
    Degraded,
    /// Gave up (attempts exhausted, refused); the lifecycle status may still be running.
    Failed,
    /// Not connected and not trying again (the peer closed, reconnect is off).
    Closed,
}

impl NodeState {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            NodeState::Connecting => "connecting",
            NodeState::Connected => "connected",
            NodeState::Reconnecting => "reconnecting",
            NodeState::Listening => "listening",
            NodeState::Degraded => "degraded",
            NodeState::Failed => "failed",
            NodeState::Closed => "closed",
        }
    }
}

/// A handle to one named gauge: setting it is one atomic store, so a node may keep it and
/// update it per message.
#[derive(Debug, Clone)]
pub struct Gauge(Arc<AtomicU64>);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// Subtracts `n` (never below zero).
    pub fn sub(&self, n: u64) {
        let _ = self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(n)));
    }
    /// The value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Default)]
struct Inner {
    state: Option<NodeState>,
    message: Option<String>,
    /// In the order the node first named them.
    gauges: Vec<(String, Gauge)>,
}

/// A node's own status (see the module docs). Shared between the node and the readers of
/// snapshots.
#[derive(Debug, Default)]
pub struct OwnStatus {
    inner: Mutex<Inner>,
}

/// `message` without its ", next in 4.2 s" (the time of an attempt that will not come once
/// the node ended).
fn without_next_attempt(message: &str) -> String {
    if let Some(at) = message.find(", next in ") {
        let rest = &message[at + ", next in ".len()..];
        if let Some(end) = rest.find(" s") {
            return format!("{}{}", &message[..at], &rest[end + 2..]);
        }
    }
    message.to_string()
}

impl OwnStatus {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the state and the message together.
    pub fn set(&self, state: NodeState, message: impl Into<String>) {
        let mut inner = self.lock();
        inner.state = Some(state);
        inner.message = Some(message.into());
    }

    /// Sets the state and clears the message.
    pub fn set_state(&self, state: NodeState) {
        let mut inner = self.lock();
        inner.state = Some(state);
        inner.message = None;
    }

    /// Sets `to` with `message` (none: cleared), if the state is one of `from`: a change that
    /// must not overwrite a state set meanwhile by another task (a connection lost again).
    pub fn set_if(&self, from: &[NodeState], to: NodeState, message: Option<String>) {
        let mut inner = self.lock();
        if inner.state.is_some_and(|s| from.contains(&s)) {
            inner.state = Some(to);
            inner.message = message;
        }
    }

    /// Sets the message and keeps the state.
    pub fn set_message(&self, message: impl Into<String>) {
        self.lock().message = Some(message.into());
    }

    /// The gauge named `name`, created at 0 the first time it is asked for.
    pub fn gauge(&self, name: &str) -> Gauge {
        let mut inner = self.lock();
        if let Some((_, g)) = inner.gauges.iter().find(|(n, _)| n == name) {
            return g.clone();
        }
        let g = Gauge(Arc::new(AtomicU64::new(0)));
        inner.gauges.push((name.to_string(), g.clone()));
        g
    }

    /// Sets the gauge named `name` (created if new).
    pub fn set_gauge(&self, name: &str, v: u64) {
        self.gauge(name).set(v);
    }

    /// When the node ends (the run may go on): a state that says the node is still live (connecting,
    /// connected, reconnecting, listening, degraded) becomes `closed`, its message kept, so a
    /// card or report read after the run never says "connected".
    pub fn close_if_live(&self) {
        let mut inner = self.lock();
        if let Some(
            NodeState::Connecting
            | NodeState::Connected
            | NodeState::Reconnecting
            | NodeState::Listening
            | NodeState::Degraded,
        ) = inner.state
        {
            let was = inner.state.map_or("", NodeState::name);
            inner.state = Some(NodeState::Closed);
            inner.message = Some(match inner.message.as_deref().map(without_next_attempt) {
                None => "the node ended".to_string(),
                Some(m) if m.is_empty() => "the node ended".to_string(),
                // "attempt 6, next in 12.0 s (why)": no attempt is coming any more.
                Some(m) if was == "reconnecting" || was == "connecting" => format!("ended while {was}: {m}"),
                Some(m) => m,
            });
        }
    }

    /// The status at this instant.
    pub fn read(&self) -> OwnStatusSnapshot {
        let inner = self.lock();
        OwnStatusSnapshot {
            state: inner.state,
            message: inner.message.clone(),
            gauges: inner.gauges.iter().map(|(n, g)| (n.clone(), g.get())).collect(),
        }
    }
}

/// A node's own status at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnStatusSnapshot {
    /// The state, if the node set one.
    pub state: Option<NodeState>,
    /// The node's short message, if any.
    pub message: Option<String>,
    /// Named gauges, by name.
    pub gauges: BTreeMap<String, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_sets_state_message_and_gauges_and_a_reader_sees_them() {
        let s = OwnStatus::default();
        assert_eq!(s.read(), OwnStatusSnapshot::default(), "nothing until the node says something");
        s.set(NodeState::Reconnecting, "reconnecting: attempt 3, next in 4.2 s");
        let clients = s.gauge("clients");
        clients.set(2);
        s.gauge("reconnects").add(3);
        s.gauge("reconnects").add(1);
        clients.sub(5);
        let r = s.read();
        assert_eq!(r.state, Some(NodeState::Reconnecting));
        assert_eq!(r.message.as_deref(), Some("reconnecting: attempt 3, next in 4.2 s"));
        assert_eq!(r.gauges, BTreeMap::from([("clients".to_string(), 0), ("reconnects".to_string(), 4)]));
        s.set_state(NodeState::Connected);
        assert_eq!((s.read().state, s.read().message), (Some(NodeState::Connected), None));
        s.set_message("2 clients");
        assert_eq!(s.read().message.as_deref(), Some("2 clients"));
        s.set_gauge("clients", 7);
        assert_eq!(clients.get(), 7, "the same gauge by name and by handle");
    }

    #[test]
    fn a_live_state_closes_at_the_end_of_the_run_and_failed_or_closed_stay() {
        let s = OwnStatus::default();
        s.close_if_live();
        assert_eq!(s.read().state, None, "a node that never said anything still says nothing");
        s.set_state(NodeState::Connected);
        s.close_if_live();
        assert_eq!((s.read().state, s.read().message.as_deref()), (Some(NodeState::Closed), Some("the node ended")));
        s.set(NodeState::Listening, "on ws://127.0.0.1:1/; 0 client(s)");
        s.close_if_live();
        assert_eq!(s.read().message.as_deref(), Some("on ws://127.0.0.1:1/; 0 client(s)"), "its last word kept");
        // No attempt is coming once the node ended: the time of the next one goes.
        s.set(NodeState::Reconnecting, "attempt 6, next in 12.0 s (nats: IO error)");
        s.close_if_live();
        assert_eq!(s.read().message.as_deref(), Some("ended while reconnecting: attempt 6 (nats: IO error)"));
        s.set(NodeState::Reconnecting, "attempt 2, next in 0.5 s");
        s.close_if_live();
        assert_eq!(s.read().message.as_deref(), Some("ended while reconnecting: attempt 2"));
        s.set(NodeState::Failed, "gave up");
        s.close_if_live();
        assert_eq!(s.read().state, Some(NodeState::Failed));
    }

    #[test]
    fn state_serializes_in_snake_case() {
        assert_eq!(serde_json::to_string(&NodeState::Reconnecting).ok().as_deref(), Some("\"reconnecting\""));
        assert_eq!(NodeState::Listening.name(), "listening");
    }
}

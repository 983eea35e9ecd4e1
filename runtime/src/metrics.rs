//! Counters updated by running nodes and wires, and GUI-free snapshots of them that the
//! editor and the headless runner read while a graph runs.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use serde::Serialize;

pub use crate::node_state::{Gauge, NodeState, OwnStatus, OwnStatusSnapshot};

/// Lifecycle state of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Built, not started yet.
    Pending,
    /// Running.
    Running,
    /// Ended on its own: its input ended and it drained (a source: it had nothing more to send).
    Finished,
    /// Ended with an error (see the message).
    Failed,
    /// Cancelled after a stop timed out.
    Cancelled,
    /// Ended because the run was stopped (Stop, or another node failed) before its input
    /// ended: a source cut short, or a node whose upstream was stopped, failed or cancelled.
    /// It drained what it had received.
    Stopped,
}

impl NodeStatus {
    fn from_u8(v: u8) -> Self {
        match v {
            1 => NodeStatus::Running,
            2 => NodeStatus::Finished,
            3 => NodeStatus::Failed,
            4 => NodeStatus::Cancelled,
            5 => NodeStatus::Stopped,
            _ => NodeStatus::Pending,
        }
    }
    /// Whether the node has ended (finished, stopped, failed or cancelled).
    pub fn is_terminal(self) -> bool {
        !matches!(self, NodeStatus::Pending | NodeStatus::Running)
    }
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            NodeStatus::Pending => "pending",
            NodeStatus::Running => "running",
            NodeStatus::Finished => "finished",
            NodeStatus::Failed => "failed",
            NodeStatus::Cancelled => "cancelled",
            NodeStatus::Stopped => "stopped",
        }
    }
}

/// Live counters of one node.
#[derive(Debug, Default)]
pub struct NodeMetrics {
    /// Events received on all inputs.
    pub events_in: AtomicU64,
    /// Events sent on all outputs except `errors` (counted once per event, not per wire).
    pub events_out: AtomicU64,
    /// Events sent to the dead-letter port (or counted there when it is unwired).
    pub errors: AtomicU64,
    /// Events dropped by this node's output wires or by the node itself.
    pub dropped: AtomicU64,
    /// Inputs consumed that led to output (1:1 operators: equals `events_out`); sinks: events written.
    pub passed: AtomicU64,
    /// Inputs consumed that produced no output by design (a filter's `false`, a map with no output).
    pub filtered: AtomicU64,
    /// Events sent to an output port that has no wire: counted, never silent.
    pub discarded: AtomicU64,
    /// Input units a source skipped by design (blank lines); not events.
    pub skipped: AtomicU64,
    /// Events this node dropped itself by its own policy (a buffer's `when_full`); also in `dropped`.
    pub dropped_inside: AtomicU64,
    /// Gauge: events sent on an output but not yet accepted by every wire (a batch mid-push).
    pub unsent: AtomicU64,
    /// Events inside the node when it was cancelled after the stop timeout (received and not
    /// resolved, or mid-push); after a kill they are no longer counted as `held`.
    pub lost_on_kill: AtomicU64,
    /// Nanoseconds spent processing.
    pub busy_ns: AtomicU64,
    /// The node's own status: its state, short message and named gauges (a connection's
    /// state and `clients`, a window's `open_windows`, `keys` and `state_bytes`).
    pub own: OwnStatus,
    status: AtomicU8,
    message: Mutex<Option<String>>,
    /// The reason of the last event sent to `errors`: written as events fail, at most every
    /// 250 ms between flushes of the node's `errors` port, and at each flush.
    last_error: Mutex<Option<String>>,
}

impl NodeMetrics {
    /// Counts `n` inputs that led to output (or, in a sink, were written).
    pub fn count_passed(&self, n: usize) {
        self.passed.fetch_add(n as u64, Ordering::Relaxed);
    }
    /// Counts `n` inputs that produced no output by design.
    pub fn count_filtered(&self, n: usize) {
        self.filtered.fetch_add(n as u64, Ordering::Relaxed);
    }
    /// Counts `n` inputs this node dropped by its own policy (counted in `dropped` too).
    pub fn count_dropped_inside(&self, n: usize) {
        self.dropped_inside.fetch_add(n as u64, Ordering::Relaxed);
        self.dropped.fetch_add(n as u64, Ordering::Relaxed);
    }
    /// Inputs received and not yet resolved (passed, filtered, errored, dropped inside, lost).
    /// Exact once the node is quiet; a snapshot of a busy node may lag by a batch.
    pub fn held(&self) -> u64 {
        let resolved = self.passed.load(Ordering::Acquire)
            + self.filtered.load(Ordering::Acquire)
            + self.errors.load(Ordering::Acquire)
            + self.dropped_inside.load(Ordering::Acquire)
            + self.lost_on_kill.load(Ordering::Acquire);
        self.events_in.load(Ordering::Acquire).saturating_sub(resolved)
    }
    /// Sets the status.
    pub fn set_status(&self, s: NodeStatus) {
        self.status.store(s as u8, Ordering::Release);
    }
    /// The status.
    pub fn status(&self) -> NodeStatus {
        NodeStatus::from_u8(self.status.load(Ordering::Acquire))
    }
    /// Sets the lifecycle message (why the node failed or was cancelled). A node's own
    /// status message goes to [`NodeMetrics::own`] instead.
    pub fn set_message(&self, m: impl Into<String>) {
        *self.message.lock().unwrap_or_else(|e| e.into_inner()) = Some(m.into());
    }
    /// The status message.
    pub fn message(&self) -> Option<String> {
        self.message.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records the reason of an event sent to `errors`.
    pub fn note_error(&self, reason: &str) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.to_string());
    }

    /// The reason of a recent event sent to `errors`, if any failed.
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Live counters of one wire. Depth is `pushed - popped`: two counters instead of a sampled
/// gauge, so no spike is missed between samples.
#[derive(Debug)]
pub struct WireMetrics {
    /// Events offered to the wire by its producer (accepted or dropped).
    pub pushed: AtomicU64,
    /// Events taken by the consumer.
    pub popped: AtomicU64,
    /// Events refused or evicted by the policy, or left when the consumer was gone.
    /// Always `pushed = popped + dropped + depth`.
    pub dropped: AtomicU64,
    /// Largest depth seen.
    pub max_depth: AtomicU64,
    /// Largest depth since the sampler last read it (reset by each sample).
    pub interval_max_depth: AtomicU64,
    /// Capacity in events.
    pub capacity: u64,
}

impl WireMetrics {
    /// Counters for a wire of `capacity`.
    pub fn new(capacity: usize) -> Self {
        WireMetrics {
            pushed: AtomicU64::new(0),
            popped: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            max_depth: AtomicU64::new(0),
            interval_max_depth: AtomicU64::new(0),
            capacity: capacity as u64,
        }
    }
}

/// One node in a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeSnapshot {
    /// Node id.
    pub id: String,
    /// Node kind.
    pub kind: String,
    /// Status.
    pub status: NodeStatus,
    /// Why the node failed or was cancelled (lifecycle message).
    pub message: Option<String>,
    /// Events received.
    pub events_in: u64,
    /// Events sent.
    pub events_out: u64,
    /// Dead-lettered events.
    pub errors: u64,
    /// Dropped events.
    pub dropped: u64,
    /// Inputs that led to output (sinks: events written).
    pub passed: u64,
    /// Inputs that produced no output by design.
    pub filtered: u64,
    /// Events sent to an output port with no wire.
    pub discarded: u64,
    /// Input units skipped by design (blank lines).
    pub skipped: u64,
    /// Events this node dropped itself (its own policy); also in `dropped`.
    pub dropped_inside: u64,
    /// Events inside the node at this instant: received and not yet resolved as passed,
    /// filtered, errored or dropped (a buffer's queue, a sink's pending writes, a batch mid-push).
    pub held: u64,
    /// Events inside the node when it was cancelled.
    pub lost_on_kill: u64,
    /// Seconds spent processing.
    pub busy_secs: f64,
    /// Events/s received, over the sliding interval.
    pub rate_in: f64,
    /// Events/s sent, over the sliding interval.
    pub rate_out: f64,
    /// The node's own state (connecting, connected, listening, …), if it set one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<NodeState>,
    /// The node's own short message ("2 clients"), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_message: Option<String>,
    /// The node's named gauges (`clients`, `reconnects`, a window's `open_windows`, …).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub gauges: BTreeMap<String, u64>,
    /// The reason of a recent event sent to `errors` (a sample: the first one, then at most
    /// four a second), so a node whose events fail says why even when `errors` is unwired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl NodeSnapshot {
    /// The node's own state and message as one line ("reconnecting: attempt 3, next in 4.2 s",
    /// "listening: 2 clients"); `None` when the node set neither.
    pub fn state_line(&self) -> Option<String> {
        // An empty message is no message ("connected", not "connected: ").
        match (self.state, self.state_message.as_ref().filter(|m| !m.is_empty())) {
            (None, None) => None,
            (Some(st), None) => Some(st.name().to_string()),
            (None, Some(m)) => Some(m.clone()),
            (Some(st), Some(m)) => Some(format!("{}: {m}", st.name())),
        }
    }

    /// The named gauges as one line with exact values ("clients 2  reconnects 0"); `None`
    /// when the node has none.
    pub fn gauges_line(&self) -> Option<String> {
        (!self.gauges.is_empty())
            .then(|| self.gauges.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join("  "))
    }
}

/// One wire in a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WireSnapshot {
    /// Wire id (`from.port -> to.port`).
    pub id: String,
    /// Events offered to the wire.
    pub pushed: u64,
    /// Events taken by the consumer.
    pub popped: u64,
    /// Events queued: `pushed - popped - dropped`.
    pub depth: u64,
    /// Capacity.
    pub capacity: u64,
    /// Largest depth seen.
    pub max_depth: u64,
    /// Largest depth within the sample interval this snapshot ends (the quantity a depth
    /// chart draws per sample, so a label showing it agrees with the chart's last point).
    pub peak_depth: u64,
    /// Dropped events.
    pub dropped: u64,
}

/// All counters at one instant.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MetricsSnapshot {
    /// Seconds since the graph started (pauses included).
    pub elapsed_secs: f64,
    /// Of those, seconds spent paused (whole-run rates leave them out).
    pub paused_secs: f64,
    /// Per node, in graph order.
    pub nodes: Vec<NodeSnapshot>,
    /// Per wire, in graph order.
    pub wires: Vec<WireSnapshot>,
}

impl MetricsSnapshot {
    /// The node with id `id`.
    pub fn node(&self, id: &str) -> Option<&NodeSnapshot> {
        self.nodes.iter().find(|n| n.id == id)
    }
    /// The wire with id `id`.
    pub fn wire(&self, id: &str) -> Option<&WireSnapshot> {
        self.wires.iter().find(|w| w.id == id)
    }
    /// The `--metrics-out` form: nodes and wires keyed by id.
    pub fn keyed(&self) -> KeyedMetrics<'_> {
        KeyedMetrics {
            elapsed_secs: self.elapsed_secs,
            nodes: self.nodes.iter().map(|n| (n.id.as_str(), n)).collect(),
            wires: self.wires.iter().map(|w| (w.id.as_str(), w)).collect(),
        }
    }
}

/// Metrics keyed by node and wire id, for JSON output.
#[derive(Debug, Serialize)]
pub struct KeyedMetrics<'a> {
    /// Seconds since start.
    pub elapsed_secs: f64,
    /// Nodes by id.
    pub nodes: BTreeMap<&'a str, &'a NodeSnapshot>,
    /// Wires by id.
    pub wires: BTreeMap<&'a str, &'a WireSnapshot>,
}

/// One point of the chart history.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Seconds since start.
    pub t: f64,
    /// Per node: events/s in.
    pub rate_in: Vec<f32>,
    /// Per node: events/s out.
    pub rate_out: Vec<f32>,
    /// Per node: total errors so far.
    pub errors: Vec<u64>,
    /// Per node: total drops so far.
    pub dropped: Vec<u64>,
    /// Per wire: depth.
    pub depth: Vec<u64>,
    /// Per wire: largest depth since the previous sample (from the queue's own high-water mark).
    pub max_depth: Vec<u64>,
}

/// A bounded time series of samples (oldest dropped first).
#[derive(Debug, Clone)]
pub struct History {
    samples: VecDeque<Sample>,
    limit: usize,
}

impl History {
    /// Keeps at most `limit` samples.
    pub fn new(limit: usize) -> Self {
        History { samples: VecDeque::with_capacity(limit.min(4096)), limit: limit.max(1) }
    }
    /// Appends, dropping the oldest beyond the limit.
    pub fn push(&mut self, s: Sample) {
        if self.samples.len() == self.limit {
            self.samples.pop_front();
        }
        self.samples.push_back(s);
    }
    /// Samples, oldest first.
    pub fn samples(&self) -> &VecDeque<Sample> {
        &self.samples
    }
    /// How many samples it keeps at most.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_of_a_node_carries_its_own_status_as_one_line_and_as_json() {
        let m = NodeMetrics::default();
        m.own.set(NodeState::Reconnecting, "attempt 3, next in 4.2 s");
        m.own.gauge("reconnects").add(3);
        m.own.set_gauge("clients", 2);
        let own = m.own.read();
        let snap = NodeSnapshot {
            id: "ws".into(),
            kind: "websocket_source".into(),
            status: m.status(),
            message: None,
            events_in: 0,
            events_out: 0,
            errors: 0,
            dropped: 0,
            passed: 0,
            filtered: 0,
            discarded: 0,
            skipped: 0,
            dropped_inside: 0,
            held: 0,
            lost_on_kill: 0,
            busy_secs: 0.0,
            rate_in: 0.0,
            rate_out: 0.0,
            state: own.state,
            state_message: own.message,
            gauges: own.gauges,
            last_error: None,
        };
        assert_eq!(snap.state_line().as_deref(), Some("reconnecting: attempt 3, next in 4.2 s"));
        assert_eq!(snap.gauges_line().as_deref(), Some("clients 2  reconnects 3"));
        let json = serde_json::to_value(&snap).unwrap_or_default();
        assert_eq!(json["state"], "reconnecting");
        assert_eq!(json["state_message"], "attempt 3, next in 4.2 s");
        assert_eq!(json["gauges"], serde_json::json!({"clients": 2, "reconnects": 3}));
        assert_eq!(json["status"], "pending", "the lifecycle status is apart");
        // An empty message is none: "connected", not "connected: ".
        let bare =
            NodeSnapshot { state: Some(NodeState::Connected), state_message: Some(String::new()), ..snap.clone() };
        assert_eq!(bare.state_line().as_deref(), Some("connected"));
        let quiet = NodeSnapshot { state: None, state_message: None, gauges: BTreeMap::new(), ..snap };
        assert_eq!((quiet.state_line(), quiet.gauges_line()), (None, None));
        let json = serde_json::to_value(&quiet).unwrap_or_default();
        assert!(json.get("state").is_none() && json.get("gauges").is_none(), "left out when unset: {json}");
    }

    #[test]
    fn history_is_bounded() {
        let mut h = History::new(3);
        for i in 0..5 {
            h.push(Sample {
                t: i as f64,
                rate_in: vec![],
                rate_out: vec![],
                errors: vec![],
                dropped: vec![],
                depth: vec![],
                max_depth: vec![],
            });
        }
        let ts: Vec<f64> = h.samples().iter().map(|s| s.t).collect();
        assert_eq!(ts, vec![2.0, 3.0, 4.0]);
    }
}

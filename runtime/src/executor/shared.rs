//! What the running tasks, the sampler, the supervisor and the [`super::RunHandle`] share.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::metrics::{MetricsSnapshot, NodeMetrics, NodeSnapshot, WireMetrics, WireSnapshot};
use crate::redact::Redactor;
use crate::tap::NodeTap;

/// The run's identity and counters.
pub(crate) struct Shared {
    pub node_ids: Vec<String>,
    pub node_kinds: Vec<String>,
    /// Whether each node has input wires (its `held` is inputs not yet resolved; a source's
    /// is what it sent but no wire has accepted yet).
    pub has_inputs: Vec<bool>,
    /// The nodes wired into each node (by index).
    pub upstream: Vec<Vec<usize>>,
    pub wire_ids: Vec<String>,
    pub nodes: Vec<Arc<NodeMetrics>>,
    pub wires: Vec<Arc<WireMetrics>>,
    pub taps: Vec<Arc<NodeTap>>,
    /// Index + 1 of the node whose tap records (0: none).
    pub watched: AtomicUsize,
    /// Time since the start, and the pauses.
    pub clock: super::clock::RunClock,
    pub redactor: Redactor,
    /// The run's debug log.
    pub debug: Arc<crate::debug::DebugLog>,
    /// Where dead ends report checkpoints and node ends are recorded.
    pub checkpoints: Arc<crate::checkpoint::board::Board>,
}

impl Shared {
    /// Events inside node `i` now.
    pub fn held(&self, i: usize) -> u64 {
        let m = &self.nodes[i];
        if self.has_inputs[i] { m.held() } else { m.unsent.load(Ordering::Acquire) }
    }

    /// A snapshot of every counter; `rates` are (in, out) events/s per node when known.
    pub fn snapshot(&self, rates: Option<&(Vec<f64>, Vec<f64>)>, t: f64) -> MetricsSnapshot {
        let nodes = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let own = m.own.read();
                NodeSnapshot {
                    id: self.node_ids[i].clone(),
                    kind: self.node_kinds[i].clone(),
                    status: m.status(),
                    message: m.message().map(|msg| self.redactor.redact(&msg)),
                    events_in: m.events_in.load(Ordering::Relaxed),
                    events_out: m.events_out.load(Ordering::Relaxed),
                    errors: m.errors.load(Ordering::Relaxed),
                    dropped: m.dropped.load(Ordering::Relaxed),
                    passed: m.passed.load(Ordering::Relaxed),
                    filtered: m.filtered.load(Ordering::Relaxed),
                    discarded: m.discarded.load(Ordering::Relaxed),
                    skipped: m.skipped.load(Ordering::Relaxed),
                    dropped_inside: m.dropped_inside.load(Ordering::Relaxed),
                    held: self.held(i),
                    lost_on_kill: m.lost_on_kill.load(Ordering::Relaxed),
                    busy_secs: m.busy_ns.load(Ordering::Relaxed) as f64 / 1e9,
                    rate_in: rates.map_or(0.0, |r| r.0[i]),
                    rate_out: rates.map_or(0.0, |r| r.1[i]),
                    state: own.state,
                    state_message: own.message.map(|msg| self.redactor.redact(&msg)),
                    gauges: own.gauges,
                    last_error: m.last_error(),
                }
            })
            .collect();
        let wires = self
            .wires
            .iter()
            .enumerate()
            .map(|(i, m)| {
                // Read in the order events move (popped, dropped, then pushed), so a busy wire
                // never shows a negative depth.
                let popped = m.popped.load(Ordering::Acquire);
                let dropped = m.dropped.load(Ordering::Acquire);
                let pushed = m.pushed.load(Ordering::Acquire);
                WireSnapshot {
                    id: self.wire_ids[i].clone(),
                    pushed,
                    popped,
                    depth: pushed.saturating_sub(popped + dropped),
                    capacity: m.capacity,
                    max_depth: m.max_depth.load(Ordering::Relaxed),
                    // The sampler swaps the interval's peak out and sets it exactly.
                    peak_depth: m
                        .interval_max_depth
                        .load(Ordering::Relaxed)
                        .max(pushed.saturating_sub(popped + dropped)),
                    dropped,
                }
            })
            .collect();
        MetricsSnapshot { elapsed_secs: t, paused_secs: self.clock.paused_secs(), nodes, wires }
    }
}

//! Taps: the last events that left each node, per output port (the `errors` port too), for
//! a debug view like Node-RED's debug sidebar.
//!
//! Free on nodes nobody watches: a send checks one flag. On a watched node (the one the
//! editor inspects) a send copies only the last [`PER_BATCH`] events of its batch into a
//! small ring, and only if the ring's lock is free at that moment (a reader never makes a
//! node wait, and a node never makes a reader wait: both use `try_lock`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::event::Event;

/// How many recent events a node's tap keeps per output port.
pub const TAP_CAPACITY: usize = 50;

/// How many events of each batch are copied into the tap (its last ones).
pub const PER_BATCH: usize = 4;

/// One event seen on an output port.
#[derive(Debug, Clone, PartialEq)]
pub struct TappedEvent {
    /// The output port's name.
    pub port: Arc<str>,
    /// Order of sending within the node: higher is newer.
    pub order: u64,
    /// The event (for the `errors` port: the dead-letter record with the reason).
    pub event: Event,
}

struct PortRing {
    name: Arc<str>,
    ring: Mutex<VecDeque<TappedEvent>>,
}

/// Recent events of one node, by output port.
pub struct NodeTap {
    ports: Vec<PortRing>,
    next: AtomicU64,
    watched: AtomicBool,
}

impl NodeTap {
    /// A tap for a node with these output ports.
    pub fn new<'a>(ports: impl IntoIterator<Item = &'a str>) -> Arc<Self> {
        let ports = ports
            .into_iter()
            .map(|name| PortRing { name: Arc::from(name), ring: Mutex::new(VecDeque::with_capacity(TAP_CAPACITY)) })
            .collect();
        Arc::new(NodeTap { ports, next: AtomicU64::new(0), watched: AtomicBool::new(false) })
    }

    /// Starts or stops recording (nothing is recorded until a node is watched).
    pub fn watch(&self, on: bool) {
        self.watched.store(on, Ordering::Relaxed);
    }

    /// The recorder of output port `port` (`None` if the node has no such port).
    pub(crate) fn port(self: &Arc<Self>, port: &str) -> Option<PortTap> {
        let index = self.ports.iter().position(|p| &*p.name == port)?;
        Some(PortTap { node: self.clone(), index })
    }

    /// The most recent events over all ports, newest first, at most [`TAP_CAPACITY`].
    /// Never waits: a port whose ring is being written right now is skipped this time.
    pub fn recent(&self) -> Vec<TappedEvent> {
        let mut all: Vec<TappedEvent> = Vec::new();
        for p in &self.ports {
            if let Ok(ring) = p.ring.try_lock() {
                all.extend(ring.iter().cloned());
            }
        }
        all.sort_by_key(|e| std::cmp::Reverse(e.order));
        all.truncate(TAP_CAPACITY);
        all
    }
}

/// Records what one output port sends.
#[derive(Clone)]
pub(crate) struct PortTap {
    node: Arc<NodeTap>,
    index: usize,
}

impl PortTap {
    /// Whether the node is watched (callers skip building what would not be recorded).
    pub(crate) fn is_watched(&self) -> bool {
        self.node.watched.load(Ordering::Relaxed)
    }

    /// Copies the last [`PER_BATCH`] events of `batch` if the node is watched; skipped if a
    /// reader holds the ring.
    pub(crate) fn record(&self, batch: &[Event]) {
        if !self.is_watched() {
            return;
        }
        let tail = &batch[batch.len().saturating_sub(PER_BATCH)..];
        self.push(tail.iter().cloned(), tail.len());
    }

    /// Records one event the caller gives up (no copy).
    pub(crate) fn record_owned(&self, event: Event) {
        self.push(std::iter::once(event), 1);
    }

    fn push(&self, events: impl Iterator<Item = Event>, n: usize) {
        let Some(port) = self.node.ports.get(self.index) else { return };
        let Ok(mut ring) = port.ring.try_lock() else { return };
        let first = self.node.next.fetch_add(n as u64, Ordering::Relaxed);
        for (k, event) in events.enumerate() {
            if ring.len() == TAP_CAPACITY {
                ring.pop_front();
            }
            ring.push_back(TappedEvent { port: port.name.clone(), order: first + k as u64, event });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn batch(from: u64, n: u64) -> Vec<Event> {
        (from..from + n).map(|i| Event::new(json!({ "i": i }), 0, i)).collect()
    }

    #[test]
    fn keeps_the_tail_of_each_batch_newest_first_and_bounded() {
        let tap = NodeTap::new(["out", "errors"]);
        let (out, errors) = (tap.port("out").unwrap(), tap.port("errors").unwrap());
        assert!(tap.port("nope").is_none());
        out.record(&batch(0, 10));
        assert!(tap.recent().is_empty(), "nothing is recorded before the node is watched");
        tap.watch(true);
        out.record(&batch(0, 10));
        errors.record_owned(Event::new(json!({"reason": "bad"}), 0, 99));
        let recent = tap.recent();
        let seqs: Vec<u64> = recent.iter().map(|e| e.event.seq).collect();
        assert_eq!(seqs, vec![99, 9, 8, 7, 6]);
        assert_eq!(&*recent[0].port, "errors");
        for k in 0..100 {
            out.record(&batch(k * 10, 10));
        }
        let recent = tap.recent();
        assert_eq!(recent.len(), TAP_CAPACITY);
        assert_eq!(recent[0].event.seq, 999);
        assert!(recent.windows(2).all(|w| w[0].order > w[1].order));
    }
}

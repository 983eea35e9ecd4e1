//! Taps: the last events that left each node, per output port (the `errors` port too), for
//! a debug view like Node-RED's debug sidebar.
//!
//! Free on nodes nobody watches: a send checks one flag. On a watched node (the one the
//! editor inspects) a send copies only the last [`PER_BATCH`] events of its batch into a
//! small ring, and only if the ring's lock is free at that moment (a reader never makes a
//! node wait, and a node never makes a reader wait: both use `try_lock`).
//!
//! A port can also be marked for debugging ([`NodeTap::set_debug`]): then every event it
//! sends goes to the run's [`DebugLog`] (the editor's debug sidebar), watched or not.
//! A sink's tap has one more ring, [`RECEIVED`]: the tail of each batch that reached it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::debug::{DEBUG_CAPACITY, DebugLog, DebugWriter};
use crate::event::Event;

/// The tap ring of what reached a sink (a node with no data outputs).
pub const RECEIVED: &str = "received";

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
    /// Where its events go while it is marked for debugging.
    debug: Option<DebugWriter>,
    debug_on: AtomicBool,
}

/// Recent events of one node, by output port.
pub struct NodeTap {
    ports: Vec<PortRing>,
    next: AtomicU64,
    watched: AtomicBool,
}

impl NodeTap {
    /// A tap for a node with these output ports; with `debug` (the run's log and the node's
    /// id) its ports can be marked for debugging.
    pub fn new<'a>(ports: impl IntoIterator<Item = &'a str>, debug: Option<(&Arc<DebugLog>, &str)>) -> Arc<Self> {
        let ports = ports
            .into_iter()
            .map(|name| PortRing {
                name: Arc::from(name),
                ring: Mutex::new(VecDeque::with_capacity(TAP_CAPACITY)),
                debug: debug
                    .filter(|_| name != RECEIVED)
                    .map(|(log, node)| log.writer(node, name, &format!("{node}.{name}"), DEBUG_CAPACITY)),
                debug_on: AtomicBool::new(false),
            })
            .collect();
        Arc::new(NodeTap { ports, next: AtomicU64::new(0), watched: AtomicBool::new(false) })
    }

    /// Marks output port `port` for debugging (or unmarks it); false if the node has no such
    /// port or the run keeps no debug log.
    pub fn set_debug(&self, port: &str, on: bool) -> bool {
        match self.ports.iter().find(|p| &*p.name == port && p.debug.is_some()) {
            Some(p) => {
                p.debug_on.store(on, Ordering::Relaxed);
                true
            }
            None => false,
        }
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
    /// Whether anything would be recorded: the node is watched or the port is marked for
    /// debugging (callers skip building what would not be recorded).
    pub(crate) fn is_recording(&self) -> bool {
        self.node.watched.load(Ordering::Relaxed) || self.debug().is_some()
    }

    /// The debug writer while the port is marked for debugging.
    fn debug(&self) -> Option<&DebugWriter> {
        let port = self.node.ports.get(self.index)?;
        port.debug.as_ref().filter(|_| port.debug_on.load(Ordering::Relaxed))
    }

    /// Copies the last [`PER_BATCH`] events of `batch` if the node is watched (skipped if a
    /// reader holds the ring), and every event to the debug log if the port is marked.
    pub(crate) fn record(&self, batch: &[Event]) {
        if let Some(debug) = self.debug() {
            debug.record(batch);
        }
        if !self.node.watched.load(Ordering::Relaxed) {
            return;
        }
        let tail = &batch[batch.len().saturating_sub(PER_BATCH)..];
        self.push(tail.iter().cloned(), tail.len());
    }

    /// Records one event the caller gives up (no copy of it into the tap).
    pub(crate) fn record_owned(&self, event: Event) {
        if let Some(debug) = self.debug() {
            debug.record(std::slice::from_ref(&event));
        }
        if self.node.watched.load(Ordering::Relaxed) {
            self.push(std::iter::once(event), 1);
        }
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
        let tap = NodeTap::new(["out", "errors"], None);
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

    #[test]
    fn a_port_marked_for_debugging_sends_every_event_to_the_log_watched_or_not() {
        let log = DebugLog::new(crate::debug::DebugOutput::Sidebar);
        let tap = NodeTap::new(["out", "errors"], Some((&log, "gen")));
        let out = tap.port("out").unwrap();
        out.record(&batch(0, 10));
        assert!(log.since(None).is_empty(), "nothing is sent before the port is marked");
        assert!(tap.set_debug("out", true));
        assert!(!tap.set_debug("nope", true));
        out.record(&batch(10, 10));
        let seqs: Vec<u64> = log.since(None).iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (10..20).collect::<Vec<u64>>(), "every event, not only a batch's tail");
        assert!(tap.recent().is_empty(), "the node itself is not watched");
        assert_eq!(log.since(None)[0].source.label, "gen.out");
        tap.set_debug("out", false);
        out.record(&batch(20, 10));
        assert_eq!(log.since(None).len(), 10);
    }
}

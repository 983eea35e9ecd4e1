//! The debug log: every event of the sources marked for debugging, for the editor's debug
//! sidebar (like Node-RED's): output ports the user marked, `debug` sinks and `console_sink`s.
//!
//! One bounded ring per source ([`DEBUG_CAPACITY`] events at most, fewer if the source asks),
//! so memory stays bounded however fast events come; the oldest event of a full ring goes.
//! Writers lock their own ring only for the copy; the reader ([`DebugLog::since`]) never
//! waits: a ring being written right now is read on the next call.
//!
//! Where events go depends on [`DebugOutput`]: into the rings for the editor, or, headless,
//! one line per event on standard error (`debug <source>: <json>`) for `debug` sinks (marked
//! ports and `console_sink`s record nothing headless: console_sink already prints).

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

use crate::event::Event;

/// The most events a source keeps for the sidebar.
pub const DEBUG_CAPACITY: usize = 1000;

/// Where the events of `debug` sinks go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DebugOutput {
    /// Headless: one line per event on standard error; nothing is kept.
    #[default]
    Stderr,
    /// The editor: kept in bounded rings the debug sidebar reads.
    Sidebar,
}

/// Where debug events come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebugSource {
    /// The node's id.
    pub node: String,
    /// The output port (marked for debugging), or `debug` / `console` for a sink.
    pub port: String,
    /// What the sidebar shows: the sink's `name` when set, else `node.port` or the node id.
    pub label: String,
    /// How many of its events are kept (at most [`DEBUG_CAPACITY`]).
    pub capacity: usize,
}

/// One event in the debug log.
#[derive(Debug, Clone, PartialEq)]
pub struct DebugEntry {
    /// Order in the run: higher is newer.
    pub order: u64,
    /// Where it came from.
    pub source: Arc<DebugSource>,
    /// Seconds since the run started.
    pub at_secs: f64,
    /// The event's sequence number.
    pub seq: u64,
    /// The event.
    pub value: Value,
}

struct Ring {
    source: Arc<DebugSource>,
    entries: Mutex<VecDeque<DebugEntry>>,
}

/// The debug log of one run.
pub struct DebugLog {
    output: DebugOutput,
    started: Instant,
    next: AtomicU64,
    rings: Mutex<Vec<Arc<Ring>>>,
}

impl DebugLog {
    /// An empty log for a run starting now.
    pub fn new(output: DebugOutput) -> Arc<Self> {
        Arc::new(DebugLog { output, started: Instant::now(), next: AtomicU64::new(0), rings: Mutex::new(Vec::new()) })
    }

    /// Where `debug` sinks' events go.
    pub fn output(&self) -> DebugOutput {
        self.output
    }

    /// A writer for a new source (`capacity` is clamped to 1..=[`DEBUG_CAPACITY`]).
    pub fn writer(self: &Arc<Self>, node: &str, port: &str, label: &str, capacity: usize) -> DebugWriter {
        let source = Arc::new(DebugSource {
            node: node.to_string(),
            port: port.to_string(),
            label: label.to_string(),
            capacity: capacity.clamp(1, DEBUG_CAPACITY),
        });
        let ring = Arc::new(Ring { source, entries: Mutex::new(VecDeque::new()) });
        if let Ok(mut rings) = self.rings.lock() {
            rings.push(ring.clone());
        }
        DebugWriter { log: self.clone(), ring }
    }

    /// Every kept event, oldest first (for tests and one-off reads; see [`DebugLog::read_new`]).
    pub fn since(&self, after: Option<u64>) -> Vec<DebugEntry> {
        let mut out = self.read_new(&mut DebugCursor::default());
        out.retain(|e| after.is_none_or(|a| e.order > a));
        out
    }

    /// The kept events `cursor` has not returned yet, oldest first, and moves the cursor past
    /// them. Never waits: a ring being written right now is skipped, and its events come on
    /// the next call (the cursor is per ring, so none is missed for being late).
    pub fn read_new(&self, cursor: &mut DebugCursor) -> Vec<DebugEntry> {
        let Ok(rings) = self.rings.try_lock() else { return Vec::new() };
        cursor.seen.resize(rings.len(), None);
        let mut out = Vec::new();
        for (ring, seen) in rings.iter().zip(cursor.seen.iter_mut()) {
            let Ok(entries) = ring.entries.try_lock() else { continue };
            let start = out.len();
            out.extend(entries.iter().rev().take_while(|e| seen.is_none_or(|s| e.order > s)).cloned());
            if let Some(newest) = out.get(start) {
                *seen = Some(newest.order);
            }
        }
        out.sort_by_key(|e| e.order);
        out
    }
}

/// How far a reader has read each source of a [`DebugLog`].
#[derive(Debug, Clone, Default)]
pub struct DebugCursor {
    /// The newest order returned, by ring.
    seen: Vec<Option<u64>>,
}

/// Records the events of one source.
#[derive(Clone)]
pub struct DebugWriter {
    log: Arc<DebugLog>,
    ring: Arc<Ring>,
}

impl DebugWriter {
    /// The source written to.
    pub fn source(&self) -> &DebugSource {
        &self.ring.source
    }

    /// Keeps every event of `batch` (the oldest ones go when the ring is full; of a batch
    /// larger than the ring only its last events are copied).
    pub fn record(&self, batch: &[Event]) {
        let kept = &batch[batch.len().saturating_sub(self.ring.source.capacity)..];
        let skipped = (batch.len() - kept.len()) as u64;
        let first = self.log.next.fetch_add(batch.len() as u64, Ordering::Relaxed) + skipped;
        let at_secs = self.log.started.elapsed().as_secs_f64();
        let Ok(mut ring) = self.ring.entries.lock() else { return };
        for (k, e) in kept.iter().enumerate() {
            if ring.len() == self.ring.source.capacity {
                ring.pop_front();
            }
            ring.push_back(DebugEntry {
                order: first + k as u64,
                source: self.ring.source.clone(),
                at_secs,
                seq: e.seq,
                value: e.value.clone(),
            });
        }
    }

    /// Headless output of a `debug` sink: one line per event on standard error.
    pub fn print(&self, batch: &[Event]) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(batch.len() * 96);
        for ev in batch {
            buf.extend_from_slice(format!("debug {}: ", self.ring.source.label).as_bytes());
            serde_json::to_writer(&mut buf, &ev.value).map_err(std::io::Error::other)?;
            buf.push(b'\n');
        }
        let mut err = std::io::stderr().lock();
        err.write_all(&buf).and_then(|()| err.flush())
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
    fn keeps_every_event_bounded_per_source_and_reads_only_newer_ones() {
        let log = DebugLog::new(DebugOutput::Sidebar);
        let a = log.writer("gen", "out", "gen.out", 5);
        let b = log.writer("dbg", "debug", "dbg", 5000);
        assert_eq!(b.source().capacity, DEBUG_CAPACITY);
        a.record(&batch(0, 3));
        b.record(&batch(100, 2));
        let all = log.since(None);
        let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![0, 1, 2, 100, 101], "every event, oldest first");
        let mut cursor = DebugCursor::default();
        assert_eq!(log.read_new(&mut cursor).len(), 5);
        a.record(&batch(3, 10));
        let newer: Vec<u64> = log.read_new(&mut cursor).iter().map(|e| e.seq).collect();
        assert_eq!(newer, vec![8, 9, 10, 11, 12], "a full ring keeps its newest `capacity` events");
        assert!(log.read_new(&mut cursor).is_empty(), "nothing twice");
        b.record(&batch(0, 3000));
        let kept = log.since(None).iter().filter(|e| e.source.node == "dbg").count();
        assert_eq!(kept, DEBUG_CAPACITY);
    }

    #[test]
    fn a_ring_busy_during_a_read_gives_its_events_on_the_next_read() {
        let log = DebugLog::new(DebugOutput::Sidebar);
        let a = log.writer("a", "out", "a.out", 10);
        let b = log.writer("b", "out", "b.out", 10);
        a.record(&batch(0, 2));
        let mut cursor = DebugCursor::default();
        let busy = a.ring.entries.lock().unwrap();
        b.record(&batch(10, 2)); // newer than a's events
        let first: Vec<u64> = log.read_new(&mut cursor).iter().map(|e| e.seq).collect();
        assert_eq!(first, vec![10, 11]);
        drop(busy);
        let second: Vec<u64> = log.read_new(&mut cursor).iter().map(|e| e.seq).collect();
        assert_eq!(second, vec![0, 1], "older than what was read, still not missed");
    }
}

//! The windows of every key, their firing and their clean-up: the window logic without I/O.
//!
//! Semantics (Flink's, in Streamloom's watermark convention, where a watermark `w` means no
//! event earlier than `w` is expected): a window `[start, end)` fires when the watermark
//! reaches `end`; its state is kept until the watermark reaches `end + lateness`, and is then
//! dropped. An event whose windows are all past that point is late: [`Outcome::Late`]. A late
//! event that still finds a window kept updates it and re-fires it at once, the row marked
//! `update: true`. Sessions of a key merge when their spans touch or overlap, including when a
//! late event bridges two; a merged session that contains an emitted one is an update.
//!
//! Each absorbed event is owned by the window that holds it and is dropped last (the one
//! with the latest end, for sessions the merged session): the event is resolved when that
//! window is dropped, so [`Windows::advance`] and [`Windows::finish`] return how many events
//! became resolved (they led to output). Memory is the open windows: a key with none is
//! forgotten.

use serde_json::Value;

use super::aggregate::{Acc, AggSpec};
use super::assign::Assigner;
use super::keys::KeyTable;
use super::queue::TimeQueue;
use super::row::{Key, KeyFields};

/// A row to emit: the record and the end of its window.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The output record.
    pub value: Value,
    /// Its window's end (ms), when it has one (count windows over events without time do not).
    pub end: Option<i64>,
}

/// What became of an event given to [`Windows::add`].
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Held in window state until its window is dropped.
    Absorbed,
    /// Too late for any window kept: the reason.
    Late(String),
}

struct Win {
    start: i64,
    end: i64,
    accs: Vec<Acc>,
    /// Events whose last window this is.
    owned: u64,
    /// A row of this window (or of a session merged into it) was emitted.
    emitted: bool,
    /// Waiting for the watermark to fire.
    pending: bool,
    /// The checkpoint epoch of its first event (see [`Windows::barrier`]).
    epoch: u64,
}

struct KeyEntry {
    key: Key,
    /// Order of the keys' arrival: windows ending together fire in this order.
    seq: u64,
    /// Sorted by (start, end); sessions never overlap.
    wins: Vec<Win>,
}

/// Every key's windows.
pub struct Windows {
    assigner: Assigner,
    lateness: i64,
    specs: Vec<AggSpec>,
    fields: KeyFields,
    entries: KeyTable<KeyEntry>,
    next_seq: u64,
    /// Windows waiting to fire, by end.
    fire: TimeQueue,
    /// Every window kept, by end + lateness.
    purge: TimeQueue,
    watermark: i64,
    arrivals: u64,
    scratch: Vec<(i64, i64)>,
    /// Reused for the key text of each event.
    key_buf: String,
    /// Checkpoint barriers seen so far: events arriving now belong to this epoch.
    epoch: u64,
}

impl Windows {
    /// No windows yet.
    pub fn new(assigner: Assigner, lateness: i64, specs: Vec<AggSpec>, mut fields: KeyFields) -> Self {
        fields.prepare_rows(&specs);
        // Sessions are taken out of the queues as they merge (see `queue`).
        let session = assigner.is_session();
        let queue = || if session { TimeQueue::ordered() } else { TimeQueue::grouped() };
        Windows {
            assigner,
            lateness,
            specs,
            fields,
            entries: KeyTable::default(),
            next_seq: 0,
            fire: queue(),
            purge: queue(),
            watermark: i64::MIN,
            arrivals: 0,
            scratch: Vec::new(),
            key_buf: String::new(),
            epoch: 0,
        }
    }

    /// A checkpoint barrier arrived: returns the epoch of the events before it (a later
    /// epoch starts).
    pub fn barrier(&mut self) -> u64 {
        self.epoch += 1;
        self.epoch - 1
    }

    /// Whether a window holding an event of epoch `epoch` or earlier has not fired yet.
    pub fn holds(&self, epoch: u64) -> bool {
        self.entries.states().any(|e| e.wins.iter().any(|w| w.pending && w.epoch <= epoch))
    }

    /// Windows kept (fired or not).
    pub fn open_windows(&self) -> usize {
        self.purge.len()
    }

    /// The latest watermark seen.
    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    /// Open windows, keys and approximate bytes, for the state gauge: the fixed-size part of
    /// each window and key (count_distinct sets, sketches and collected values add to it).
    pub fn state(&self) -> (u64, u64, u64) {
        let per_window = std::mem::size_of::<Win>() + self.specs.len() * std::mem::size_of::<Acc>() + 2 * 32;
        let per_key = std::mem::size_of::<KeyEntry>() + 64;
        let (w, k) = (self.purge.len(), self.entries.len());
        // The key texts twice: in the table and in the key.
        (w as u64, k as u64, (w * per_window + k * per_key + 2 * self.entries.text_bytes()) as u64)
    }

    /// The end of the next window to fire, if one waits.
    pub fn next_fire(&self) -> Option<i64> {
        self.fire.first()
    }

    /// Keys with at least one window.
    pub fn keys(&self) -> usize {
        self.entries.len()
    }

    fn expired(&self, end: i64) -> bool {
        end.saturating_add(self.lateness) <= self.watermark
    }

    fn late(&self, time: i64, end: i64) -> Outcome {
        Outcome::Late(format!(
            "late: event time {time} is behind the watermark {} by more than the allowed lateness \
             ({} ms): its window ended at {end}",
            self.watermark, self.lateness
        ))
    }

    /// The slot of the event's key, which gets one if it had no state.
    fn entry(&mut self, event: &Value) -> usize {
        self.fields.key_text(event, &mut self.key_buf);
        if let Some(slot) = self.entries.find(&self.key_buf) {
            return slot;
        }
        let key = self.fields.key_of(event);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(key.text.clone(), KeyEntry { key, seq, wins: Vec::new() })
    }

    /// Takes one event (its aggregates already checked) at event time `time`; rows it
    /// re-fires go to `rows`.
    pub fn add(&mut self, event: &Value, time: i64, rows: &mut Vec<Row>) -> Outcome {
        self.arrivals += 1;
        let mut wins = std::mem::take(&mut self.scratch);
        self.assigner.windows(time, &mut wins);
        let outcome = match wins.last() {
            Some(&(_, end)) if self.expired(end) => self.late(time, end),
            None => Outcome::Late(format!("event time {time} falls in no window")),
            Some(_) if self.assigner.is_session() => {
                let (start, end) = wins[0];
                self.add_session(event, time, start, end, rows);
                Outcome::Absorbed
            }
            Some(_) => {
                let id = self.entry(event);
                let last = wins.len() - 1;
                for (i, &(start, end)) in wins.iter().enumerate() {
                    if !self.expired(end) {
                        self.add_to(id, start, end, event, time, i == last, rows);
                    }
                }
                Outcome::Absorbed
            }
        };
        self.scratch = wins;
        outcome
    }

    /// Adds to the window `[start, end)` of key `id`, creating it if needed.
    #[allow(clippy::too_many_arguments)]
    fn add_to(&mut self, id: usize, start: i64, end: i64, event: &Value, time: i64, owns: bool, rows: &mut Vec<Row>) {
        let Some(entry) = self.entries.get_mut(id) else { return };
        let i = match entry.wins.binary_search_by_key(&(start, end), |w| (w.start, w.end)) {
            Ok(i) => i,
            Err(i) => {
                let accs = self.specs.iter().map(|s| Acc::new(s.func)).collect();
                let epoch = self.epoch;
                entry.wins.insert(i, Win { start, end, accs, owned: 0, emitted: false, pending: true, epoch });
                self.fire.insert(end, (id, start));
                self.purge.insert(end + self.lateness, (id, start));
                i
            }
        };
        let w = &mut entry.wins[i];
        for (spec, acc) in self.specs.iter().zip(w.accs.iter_mut()) {
            acc.add(spec, event, time, self.arrivals);
        }
        if owns {
            w.owned += 1;
        }
        if end <= self.watermark {
            // A late event within the allowed lateness: the window fires again at once.
            self.fire.remove(end, (id, start));
            w.pending = false;
            rows.push(Row {
                value: self.fields.row(&entry.key, Some((start, end)), &self.specs, &w.accs, w.emitted),
                end: Some(end),
            });
            w.emitted = true;
        }
    }

    /// Adds to the session of the event's key, merging every session its span touches.
    fn add_session(&mut self, event: &Value, time: i64, start: i64, end: i64, rows: &mut Vec<Row>) {
        let id = self.entry(event);
        let Some(entry) = self.entries.get_mut(id) else { return };
        let first = entry.wins.partition_point(|w| w.end < start);
        let last = entry.wins.partition_point(|w| w.start <= end);
        let accs = self.specs.iter().map(|s| Acc::new(s.func)).collect();
        let mut merged = Win { start, end, accs, owned: 0, emitted: false, pending: true, epoch: self.epoch };
        for w in entry.wins.drain(first..last.max(first)) {
            self.fire.remove(w.end, (id, w.start));
            self.purge.remove(w.end + self.lateness, (id, w.start));
            merged.start = merged.start.min(w.start);
            merged.end = merged.end.max(w.end);
            merged.owned += w.owned;
            merged.emitted |= w.emitted;
            // A merged session that fired already is pending again: its events wait with it.
            merged.epoch = merged.epoch.min(w.epoch);
            for ((spec, acc), other) in self.specs.iter().zip(merged.accs.iter_mut()).zip(w.accs) {
                acc.merge(other, spec);
            }
        }
        for (spec, acc) in self.specs.iter().zip(merged.accs.iter_mut()) {
            acc.add(spec, event, time, self.arrivals);
        }
        merged.owned += 1;
        let (s, e) = (merged.start, merged.end);
        self.purge.insert(e + self.lateness, (id, s));
        if e <= self.watermark {
            merged.pending = false;
            rows.push(Row {
                value: self.fields.row(&entry.key, Some((s, e)), &self.specs, &merged.accs, merged.emitted),
                end: Some(e),
            });
            merged.emitted = true;
        } else {
            self.fire.insert(e, (id, s));
        }
        entry.wins.insert(first, merged);
    }

    fn fire_one(&mut self, end: i64, id: usize, start: i64, rows: &mut Vec<Row>) {
        let Some(entry) = self.entries.get_mut(id) else { return };
        if let Some(w) = entry.wins.iter_mut().find(|w| w.start == start && w.end == end) {
            rows.push(Row {
                value: self.fields.row(&entry.key, Some((start, end)), &self.specs, &w.accs, w.emitted),
                end: Some(end),
            });
            w.emitted = true;
            w.pending = false;
        }
    }

    /// Drops a window; returns the events it owned.
    fn drop_one(&mut self, id: usize, start: i64, end: i64) -> u64 {
        let Some(entry) = self.entries.get_mut(id) else { return 0 };
        let Some(i) = entry.wins.iter().position(|w| w.start == start && w.end == end) else { return 0 };
        let w = entry.wins.remove(i);
        if entry.wins.is_empty() {
            self.entries.remove(id);
        }
        w.owned
    }

    /// The watermark reached `watermark`: fires the windows that ended (in order of their
    /// ends), then drops those past their lateness. Returns the events resolved.
    pub fn advance(&mut self, watermark: i64, rows: &mut Vec<Row>) -> u64 {
        self.watermark = self.watermark.max(watermark);
        while let Some((end, mut due)) = self.fire.pop_due(self.watermark) {
            // Windows ending together fire in the order their keys arrived.
            let entries = &self.entries;
            due.sort_unstable_by_key(|&(id, start)| (entries.get(id).map_or(0, |e| e.seq), start));
            for (id, start) in due {
                self.fire_one(end, id, start, rows);
            }
        }
        let mut resolved = 0;
        while let Some((cleanup, due)) = self.purge.pop_due(self.watermark) {
            for (id, start) in due {
                resolved += self.drop_one(id, start, cleanup - self.lateness);
            }
        }
        resolved
    }

    /// End of stream: every window still waiting fires, in order of their ends, and all state
    /// is dropped. Returns the events resolved.
    pub fn finish(&mut self, rows: &mut Vec<Row>) -> u64 {
        self.advance(i64::MAX, rows)
    }
}

//! Count windows, per key, as Flink's `countWindow(n, slide)`: every `slide` events of a key
//! a window fires over its last `n` events (fewer at first); with no slide (`slide = n`) the
//! windows tumble. At end of stream, a key with events not yet in a fired window fires the
//! window the next firing would have had so far (its last `n - slide` events before them, and
//! them), shorter than `n`. `window_start` and `window_end` are the earliest event time and the latest
//! plus 1 ms, or `null` when the events carry no time.
//!
//! State is kept in panes of `slide` events (`n` is a whole number of slides), so memory is
//! `n / slide` accumulators per key whatever the aggregates. An event is resolved when the
//! last window holding it fired (its pane leaves), or at end of stream.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::Value;

use super::aggregate::{Acc, AggSpec};
use super::row::{Key, KeyFields};
use super::state::Row;

#[derive(Clone)]
struct Pane {
    accs: Vec<Acc>,
    events: u64,
    span: Option<(i64, i64)>,
    /// The checkpoint epoch of its first event.
    epoch: u64,
}

impl Pane {
    fn new(specs: &[AggSpec]) -> Pane {
        Pane { accs: specs.iter().map(|s| Acc::new(s.func)).collect(), events: 0, span: None, epoch: 0 }
    }
}

struct KeyPanes {
    key: Key,
    /// Full panes still in a future window, oldest first.
    full: VecDeque<Pane>,
    current: Pane,
}

/// Every key's count windows.
pub struct CountWindows {
    n: u64,
    slide: u64,
    specs: Vec<AggSpec>,
    fields: KeyFields,
    keys: HashMap<String, KeyPanes>,
    arrivals: u64,
    key_buf: String,
    /// Checkpoint barriers seen so far: events arriving now belong to this epoch.
    epoch: u64,
}

impl CountWindows {
    /// Windows of `n` events every `slide` events (`n` a multiple of `slide`).
    pub fn new(n: u64, slide: u64, specs: Vec<AggSpec>, mut fields: KeyFields) -> Self {
        fields.prepare_rows(&specs);
        CountWindows {
            n,
            slide: slide.clamp(1, n.max(1)),
            specs,
            fields,
            keys: HashMap::new(),
            arrivals: 0,
            key_buf: String::new(),
            epoch: 0,
        }
    }

    /// A checkpoint barrier arrived: returns the epoch of the events before it.
    pub fn barrier(&mut self) -> u64 {
        self.epoch += 1;
        self.epoch - 1
    }

    /// Whether an event of epoch `epoch` or earlier waits in a pane that has not fired.
    pub fn holds(&self, epoch: u64) -> bool {
        self.keys.values().any(|k| k.current.events > 0 && k.current.epoch <= epoch)
    }

    /// Panes, keys and approximate bytes, for the state gauge.
    pub fn state(&self) -> (u64, u64) {
        let panes: usize = self.keys.values().map(|k| k.full.len() + 1).sum();
        let per_pane = std::mem::size_of::<Pane>() + self.specs.len() * std::mem::size_of::<Acc>();
        (self.keys.len() as u64, (panes * per_pane + self.keys.len() * 128) as u64)
    }

    /// Keys with events held.
    pub fn keys(&self) -> usize {
        self.keys.len()
    }

    /// Takes one event (aggregates already checked); returns the events resolved.
    pub fn add(&mut self, event: &Value, time: Option<i64>, rows: &mut Vec<Row>) -> u64 {
        self.arrivals += 1;
        self.fields.key_text(event, &mut self.key_buf);
        if !self.keys.contains_key(self.key_buf.as_str()) {
            let key = self.fields.key_of(event);
            let panes = KeyPanes { full: VecDeque::new(), current: Pane::new(&self.specs), key };
            self.keys.insert(self.key_buf.clone(), panes);
        }
        let specs = &self.specs;
        let Some(k) = self.keys.get_mut(self.key_buf.as_str()) else { return 0 };
        let p = &mut k.current;
        if p.events == 0 {
            p.epoch = self.epoch;
        }
        for (spec, acc) in specs.iter().zip(p.accs.iter_mut()) {
            acc.add(spec, event, time.unwrap_or(0), self.arrivals);
        }
        p.events += 1;
        if let Some(t) = time {
            p.span = Some(p.span.map_or((t, t + 1), |(s, e)| (s.min(t), e.max(t + 1))));
        }
        if p.events < self.slide {
            return 0;
        }
        let pane = std::mem::replace(p, Pane::new(specs));
        k.full.push_back(pane);
        rows.push(fire(&self.fields, specs, k));
        let mut resolved = 0;
        if k.full.len() as u64 >= self.n / self.slide {
            resolved = k.full.pop_front().map_or(0, |p| p.events);
        }
        if k.full.is_empty() {
            let text = k.key.text.clone();
            self.keys.remove(&text);
        }
        resolved
    }

    /// End of stream: each key's events not yet in a fired window fire (keys in key order);
    /// all state is dropped. Returns the events resolved.
    pub fn finish(&mut self, rows: &mut Vec<Row>) -> u64 {
        let keys: BTreeMap<String, KeyPanes> = self.keys.drain().collect();
        let mut resolved = 0;
        for (_, mut k) in keys {
            if k.current.events > 0 {
                let pane = std::mem::replace(&mut k.current, Pane::new(&self.specs));
                k.full.push_back(pane);
                if k.full.len() as u64 > self.n / self.slide {
                    resolved += k.full.pop_front().map_or(0, |p| p.events);
                }
                rows.push(fire(&self.fields, &self.specs, &k));
            }
            resolved += k.full.iter().map(|p| p.events).sum::<u64>();
        }
        resolved
    }
}

/// The row over a key's full panes.
fn fire(fields: &KeyFields, specs: &[AggSpec], k: &KeyPanes) -> Row {
    let mut all = Pane::new(specs);
    for p in &k.full {
        for ((spec, acc), other) in specs.iter().zip(all.accs.iter_mut()).zip(&p.accs) {
            acc.merge(other.clone(), spec);
        }
        all.span = match (all.span, p.span) {
            (Some((s, e)), Some((s2, e2))) => Some((s.min(s2), e.max(e2))),
            (a, b) => a.or(b),
        };
    }
    Row { value: fields.row(&k.key, all.span, specs, &all.accs, false), end: all.span.map(|s| s.1) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn counts(size: u64, slide: u64, events: &[(&str, i64)]) -> (Vec<(String, u64, i64)>, u64) {
        let specs = ["n = count", "s = sum(v)"].iter().map(|s| AggSpec::parse(s).unwrap()).collect();
        let mut w = CountWindows::new(size, slide, specs, KeyFields::new(&["k".into()]));
        let mut rows = Vec::new();
        let mut resolved = 0;
        for (i, (k, v)) in events.iter().enumerate() {
            resolved += w.add(&json!({"k": k, "v": v}), Some(i as i64 * 10), &mut rows);
        }
        resolved += w.finish(&mut rows);
        assert_eq!(w.keys(), 0);
        let brief = rows
            .iter()
            .map(|r| {
                let v = &r.value;
                (v["k"].as_str().unwrap().into(), v["n"].as_u64().unwrap(), v["s"].as_i64().unwrap())
            })
            .collect();
        (brief, resolved)
    }

    #[test]
    fn a_barrier_is_held_while_a_pane_with_an_earlier_event_has_not_fired() {
        let specs = ["n = count"].iter().map(|s| AggSpec::parse(s).unwrap()).collect();
        let mut w = CountWindows::new(2, 2, specs, KeyFields::new(&["k".into()]));
        let mut rows = Vec::new();
        w.add(&json!({"k": "a"}), None, &mut rows);
        let epoch = w.barrier();
        w.add(&json!({"k": "b"}), None, &mut rows);
        assert!(w.holds(epoch), "a's pane holds an event from before the barrier");
        w.add(&json!({"k": "a"}), None, &mut rows);
        assert!(!w.holds(epoch), "a's window fired; b's pane started after the barrier");
        assert!(w.holds(epoch + 1));
    }

    #[test]
    fn tumbling_counts_fire_every_n_events_per_key_and_the_rest_at_the_end() {
        let (rows, resolved) = counts(2, 2, &[("a", 1), ("b", 10), ("a", 2), ("a", 3), ("b", 20), ("b", 30)]);
        assert_eq!(rows, [("a".into(), 2, 3), ("b".into(), 2, 30), ("a".into(), 1, 3), ("b".into(), 1, 30)]);
        assert_eq!(resolved, 6);
    }

    #[test]
    fn sliding_counts_fire_every_slide_over_the_last_n() {
        let (rows, resolved) = counts(4, 2, &[("a", 1), ("a", 2), ("a", 3), ("a", 4), ("a", 5), ("a", 6), ("a", 7)]);
        assert_eq!(
            rows,
            [("a".into(), 2, 3), ("a".into(), 4, 10), ("a".into(), 4, 18), ("a".into(), 3, 18)],
            "the last window: 5, 6 and 7"
        );
        assert_eq!(resolved, 7);
    }

    #[test]
    fn count_rows_span_the_event_times() {
        let specs = vec![AggSpec::parse("n = count").unwrap()];
        let mut w = CountWindows::new(2, 2, specs, KeyFields::new(&[]));
        let mut rows = Vec::new();
        w.add(&json!({}), Some(30), &mut rows);
        w.add(&json!({}), Some(10), &mut rows);
        assert_eq!(rows[0].value, json!({"window_start": 10, "window_end": 31, "n": 2}));
        w.add(&json!({}), None, &mut rows);
        w.finish(&mut rows);
        assert_eq!(rows[1].value, json!({"window_start": null, "window_end": null, "n": 1}));
    }
}

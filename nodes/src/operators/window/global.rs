//! Global windows: one window per key over the whole stream. Every `interval` (processing
//! time) the keys that changed since the last emission emit their row (`update: true` after
//! their first), and at end of stream the keys that changed since emit their final row.
//! `window_start` and `window_end` span the key's event times (`null` without times).
//! Events are held until end of stream (the window is never final before); memory is one set
//! of accumulators per key.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::aggregate::{Acc, AggSpec};
use super::row::{Key, KeyFields};
use super::state::Row;

struct KeyState {
    key: Key,
    accs: Vec<Acc>,
    events: u64,
    span: Option<(i64, i64)>,
    changed: bool,
    emitted: bool,
}

/// Every key's global window.
pub struct GlobalWindows {
    specs: Vec<AggSpec>,
    fields: KeyFields,
    keys: HashMap<String, KeyState>,
    arrivals: u64,
    key_buf: String,
}

impl GlobalWindows {
    /// No keys yet.
    pub fn new(specs: Vec<AggSpec>, mut fields: KeyFields) -> Self {
        fields.prepare_rows(&specs);
        GlobalWindows { specs, fields, keys: HashMap::new(), arrivals: 0, key_buf: String::new() }
    }

    /// Approximate bytes, for the state gauge.
    pub fn bytes(&self) -> u64 {
        let per_key = std::mem::size_of::<KeyState>() + self.specs.len() * std::mem::size_of::<Acc>() + 128;
        (self.keys.len() * per_key) as u64
    }

    /// Keys seen.
    pub fn keys(&self) -> usize {
        self.keys.len()
    }

    /// Takes one event (aggregates already checked).
    pub fn add(&mut self, event: &Value, time: Option<i64>) {
        self.arrivals += 1;
        self.fields.key_text(event, &mut self.key_buf);
        // One lookup for a key already seen (every event but a key's first).
        let k = match self.keys.get_mut(self.key_buf.as_str()) {
            Some(k) => k,
            None => {
                let state = KeyState {
                    key: self.fields.key_of(event),
                    accs: self.specs.iter().map(|s| Acc::new(s.func)).collect(),
                    events: 0,
                    span: None,
                    changed: false,
                    emitted: false,
                };
                self.keys.entry(self.key_buf.clone()).or_insert(state)
            }
        };
        let specs = &self.specs;
        for (spec, acc) in specs.iter().zip(k.accs.iter_mut()) {
            acc.add(spec, event, time.unwrap_or(0), self.arrivals);
        }
        k.events += 1;
        k.changed = true;
        if let Some(t) = time {
            k.span = Some(k.span.map_or((t, t + 1), |(s, e)| (s.min(t), e.max(t + 1))));
        }
    }

    /// Emits the row of every key that changed since its last row, in key order.
    pub fn tick(&mut self, rows: &mut Vec<Row>) {
        let mut changed: BTreeMap<&String, &mut KeyState> = self.keys.iter_mut().filter(|(_, k)| k.changed).collect();
        for k in changed.values_mut() {
            let value = self.fields.row(&k.key, k.span, &self.specs, &k.accs, k.emitted);
            rows.push(Row { value, end: k.span.map(|s| s.1) });
            k.changed = false;
            k.emitted = true;
        }
    }

    /// End of stream: the last rows; all state is dropped. Returns the events resolved.
    pub fn finish(&mut self, rows: &mut Vec<Row>) -> u64 {
        self.tick(rows);
        self.keys.drain().map(|(_, k)| k.events).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn global_windows_emit_changed_keys_on_each_tick_and_at_the_end() {
        let specs = vec![AggSpec::parse("n = count").unwrap()];
        let mut w = GlobalWindows::new(specs, KeyFields::new(&["k".into()]));
        let mut rows = Vec::new();
        w.add(&json!({"k": "b"}), Some(5));
        w.add(&json!({"k": "a"}), None);
        w.tick(&mut rows);
        w.add(&json!({"k": "b"}), Some(9));
        w.tick(&mut rows);
        w.tick(&mut rows);
        assert_eq!(w.finish(&mut rows), 3);
        let got: Vec<Value> = rows.into_iter().map(|r| r.value).collect();
        assert_eq!(
            got,
            [
                json!({"k": "a", "n": 1, "window_start": null, "window_end": null}),
                json!({"k": "b", "n": 1, "window_start": 5, "window_end": 6}),
                json!({"k": "b", "n": 2, "window_start": 5, "window_end": 10, "update": true}),
            ]
        );
        assert_eq!(w.keys(), 0);
    }
}

//! Keys of events and the rows a window emits.

use serde_json::{Map, Value};

use super::aggregate::{Acc, AggSpec};
use crate::event_time::Path;

/// The output field a key path starts with (`geo.country` → `geo`).
pub fn field_name(path: &str) -> String {
    Path::parse(path).parts().first().cloned().unwrap_or_default()
}

/// The values of the key fields of one event (absent fields are `null`), and their
/// canonical text, which is what keys are compared by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// Canonical text of the values (JSON; objects have sorted keys).
    pub text: String,
    /// The values, by key path.
    pub values: Vec<Value>,
}

/// The key paths of a node.
#[derive(Debug, Clone)]
pub struct KeyFields(Vec<Path>, Option<RowTemplate>);

/// Where a field of an output row takes its value from.
#[derive(Debug, Clone, Copy)]
enum RowPart {
    Key(usize),
    Start,
    End,
    Aggregate(usize),
    Update,
}

/// The output rows' fields, made once: a row is a copy of `plain` (or `updated`, which adds
/// `update`) with its values set in key order, with no key looked up or compared.
#[derive(Debug, Clone)]
struct RowTemplate {
    plain: (Map<String, Value>, Vec<RowPart>),
    updated: (Map<String, Value>, Vec<RowPart>),
}

impl RowTemplate {
    /// For top-level key fields whose names differ from each other and from the aggregates'
    /// (nested keys, or a name given twice, take [`KeyFields::row`]'s general way).
    fn new(paths: &[Path], specs: &[AggSpec]) -> Option<RowTemplate> {
        let mut parts = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            let [name] = path.parts() else { return None };
            parts.push((name.as_str(), RowPart::Key(i)));
        }
        parts.push(("window_start", RowPart::Start));
        parts.push(("window_end", RowPart::End));
        parts.extend(specs.iter().enumerate().map(|(j, spec)| (spec.name.as_str(), RowPart::Aggregate(j))));
        let shape = |parts: &[(&str, RowPart)]| {
            let names: std::collections::BTreeMap<&str, RowPart> = parts.iter().copied().collect();
            (names.len() == parts.len())
                .then(|| (names.keys().map(|k| (k.to_string(), Value::Null)).collect(), names.into_values().collect()))
        };
        let plain = shape(&parts)?;
        parts.push(("update", RowPart::Update));
        Some(RowTemplate { plain, updated: shape(&parts)? })
    }
}

impl KeyFields {
    /// From the `key_by` paths.
    pub fn new(paths: &[String]) -> Self {
        KeyFields(paths.iter().map(|p| Path::parse(p)).collect(), None)
    }

    /// Prepares the rows of a node with these aggregates (the same ones must be given to
    /// [`KeyFields::row`]).
    pub fn prepare_rows(&mut self, specs: &[AggSpec]) {
        self.1 = RowTemplate::new(&self.0, specs);
    }

    /// The key of `event`.
    pub fn key_of(&self, event: &Value) -> Key {
        let mut text = String::new();
        self.key_text(event, &mut text);
        Key { text, values: self.0.iter().map(|p| p.get(event).cloned().unwrap_or(Value::Null)).collect() }
    }

    /// Writes the canonical text of `event`'s key into `buf` (cleared first), without building
    /// the key: no key fields is `n`, a lone string key is `s` and the string; anything else `j`
    /// and the JSON text of the values, so they never collide.
    pub fn key_text(&self, event: &Value, buf: &mut String) {
        buf.clear();
        match self.0.as_slice() {
            // Not empty: comparing two empty strings (dangling pointers) makes glibc's AVX-512
            // memcmp take a slow masked-load fault assist, once per event in a lookup.
            [] => buf.push('n'),
            [p] if let Some(Value::String(s)) = p.get(event) => {
                buf.push('s');
                buf.push_str(s);
            }
            paths => {
                let values: Vec<&Value> = paths.iter().map(|p| p.get(event).unwrap_or(&Value::Null)).collect();
                buf.push('j');
                buf.push_str(&serde_json::to_string(&values).unwrap_or_default());
            }
        }
    }

    /// The output row of a window `[start, end)` (count windows without event times: `None`).
    pub fn row(&self, key: &Key, span: Option<(i64, i64)>, specs: &[AggSpec], accs: &[Acc], update: bool) -> Value {
        if let Some(template) = &self.1 {
            let (fields, parts) = if update { &template.updated } else { &template.plain };
            let mut m = fields.clone();
            for (slot, part) in m.values_mut().zip(parts) {
                *slot = match *part {
                    RowPart::Key(i) => key.values.get(i).cloned().unwrap_or(Value::Null),
                    RowPart::Start => span.map_or(Value::Null, |s| Value::from(s.0)),
                    RowPart::End => span.map_or(Value::Null, |s| Value::from(s.1)),
                    RowPart::Aggregate(j) => match (specs.get(j), accs.get(j)) {
                        (Some(spec), Some(acc)) => acc.result(spec),
                        _ => Value::Null,
                    },
                    RowPart::Update => Value::Bool(true),
                };
            }
            return Value::Object(m);
        }
        let mut m = Map::new();
        for (path, v) in self.0.iter().zip(&key.values) {
            insert(&mut m, path.parts(), v.clone());
        }
        m.insert("window_start".into(), span.map_or(Value::Null, |s| Value::from(s.0)));
        m.insert("window_end".into(), span.map_or(Value::Null, |s| Value::from(s.1)));
        for (spec, acc) in specs.iter().zip(accs) {
            m.insert(spec.name.clone(), acc.result(spec));
        }
        if update {
            m.insert("update".into(), Value::Bool(true));
        }
        Value::Object(m)
    }
}

fn insert(m: &mut Map<String, Value>, path: &[String], v: Value) {
    match path {
        [] => {}
        [last] => {
            m.insert(last.clone(), v);
        }
        [first, rest @ ..] => {
            let inner = m.entry(first.clone()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = inner {
                insert(inner, rest, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_carry_nested_keys_window_bounds_and_aggregates() {
        let k = KeyFields::new(&["user".into(), "geo.country".into(), "geo.city".into()]);
        let key = k.key_of(&json!({"user": "u1", "geo": {"country": "NL"}}));
        let spec = AggSpec::parse("n = count").unwrap();
        let mut acc = Acc::new(spec.func);
        acc.add(&spec, &json!({}), 0, 0);
        let row = k.row(&key, Some((0, 10)), std::slice::from_ref(&spec), &[acc], true);
        assert_eq!(
            row,
            json!({"user": "u1", "geo": {"country": "NL", "city": null}, "window_start": 0, "window_end": 10, "n": 1, "update": true})
        );
    }

    /// A prepared row is the row the general way builds, for every shape a template takes
    /// and every one it leaves to the general way.
    #[test]
    fn prepared_rows_equal_general_rows() {
        let specs: Vec<AggSpec> =
            ["n = count", "s = sum(v)", "user = count"].iter().map(|s| AggSpec::parse(s).unwrap()).collect();
        let event = json!({"user": "u1", "geo": {"country": "NL"}, "v": 2.5, "window_start": 3});
        for keys in [&[][..], &["user"], &["v", "user"], &["geo.country"], &["window_start"], &["user", "user"]] {
            for specs in [&specs[..2], &specs[..]] {
                let general = KeyFields::new(&keys.iter().map(|k| k.to_string()).collect::<Vec<_>>());
                let mut prepared = general.clone();
                prepared.prepare_rows(specs);
                let key = general.key_of(&event);
                let mut accs: Vec<Acc> = specs.iter().map(|s| Acc::new(s.func)).collect();
                for (spec, acc) in specs.iter().zip(&mut accs) {
                    acc.add(spec, &event, 0, 0);
                }
                for (span, update) in [(Some((0, 10)), false), (None, true)] {
                    assert_eq!(
                        prepared.row(&key, span, specs, &accs, update),
                        general.row(&key, span, specs, &accs, update),
                        "{keys:?} {span:?} {update}"
                    );
                }
            }
        }
        let mut simple = KeyFields::new(&["user".into()]);
        simple.prepare_rows(&specs[..2]);
        assert!(simple.1.is_some(), "a plain key takes the template");
    }

    #[test]
    fn keys_differ_by_type_and_value() {
        let k = KeyFields::new(&["u".into()]);
        let texts: Vec<String> =
            [json!({"u": "1"}), json!({"u": 1}), json!({}), json!({"u": "[1]"}), json!({"u": [1]})]
                .iter()
                .map(|e| k.key_of(e).text)
                .collect();
        let unique: std::collections::HashSet<_> = texts.iter().collect();
        assert_eq!(unique.len(), texts.len(), "{texts:?}");
    }
}

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
pub struct KeyFields(Vec<Path>);

impl KeyFields {
    /// From the `key_by` paths.
    pub fn new(paths: &[String]) -> Self {
        KeyFields(paths.iter().map(|p| Path::parse(p)).collect())
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

//! Reading only some top-level fields of a JSON object line, for a source that applies the
//! filter behind it while it reads (see [`streamloom_runtime::pushdown`]).
//!
//! The rest of the line is checked as strictly as a full parse would check it (serde_json's
//! own number, string, escape, UTF-8 and nesting rules) but builds nothing, so a line this
//! reads is a line the full parser reads too. Lines it is not sure of (not an object, not
//! valid JSON, an integer beyond 64 bits) are left to the full parser, which says why.

use std::fmt;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use streamloom_runtime::pushdown::ProjectedRecord;

use super::json_scan::ObjectScan;
use crate::field_lookup::{same, same_bytes};

/// The largest float that may have been an integer literal beyond 64 bits: the full parser
/// reports those, so a line holding one is left to it.
const HUGE_INTEGRAL: f64 = 9.2e18;

/// Reads the chosen top-level fields of JSON object lines: from a line the quick scan took
/// ([`Projection::read_scanned`]), into reused slots; otherwise by serde_json, into one
/// reused object ([`Projection::read`]).
pub struct Projection {
    /// Sorted, so that they come in the object's own order.
    fields: Vec<String>,
    /// The line being read: which fields it has, and their values, by position in `fields`.
    present: Vec<bool>,
    values: Vec<Value>,
    /// The fields the object holds now, by position in `fields`.
    held: Vec<bool>,
    /// The last line's fields, always an object. While lines have the same fields, its keys
    /// stay and values are swapped in (a string parsed into an old string's buffer), so a
    /// steady stream of lines allocates nothing and looks no key up.
    object: Value,
}

impl Projection {
    /// Reads `fields` (top-level names) from each line.
    pub fn new(mut fields: Vec<String>) -> Projection {
        fields.sort();
        fields.dedup();
        let n = fields.len();
        Projection {
            fields,
            present: vec![false; n],
            values: vec![Value::Null; n],
            held: vec![false; n],
            object: Value::Object(Map::new()),
        }
    }

    /// The line's chosen fields as an object (those present, with their values), or `None`
    /// when the line is not a JSON object the full parser would read without complaint.
    pub fn read(&mut self, line: &[u8]) -> Option<&Value> {
        self.present.iter_mut().for_each(|p| *p = false);
        let mut de = serde_json::Deserializer::from_slice(line);
        de.deserialize_map(Fields { fields: &self.fields, present: &mut self.present, values: &mut self.values })
            .ok()?;
        de.end().ok()?;
        let mut found = self.values.iter().zip(&self.present).filter(|(_, p)| **p).map(|(v, _)| v);
        if found.any(has_huge_integral_float) {
            return None;
        }
        self.fill_object()
    }

    /// The chosen fields of `line`, which `scan` has just scanned (see [`ObjectScan`]), with
    /// no object built; `None` when a value cannot be read after all. Unlike
    /// [`Projection::read`], it need not look for integers beyond 64 bits: the scan leaves
    /// every line that may hold one to serde_json.
    pub fn read_scanned(&mut self, scan: &ObjectScan, line: &[u8]) -> Option<ProjectedRecord<'_>> {
        for p in &mut self.present {
            *p = false;
        }
        for field in scan.fields() {
            let name = field.name(line);
            // A repeated name: the last one wins, as in a full parse.
            if let Some(i) = self.fields.iter().position(|f| same_bytes(f.as_bytes(), name)) {
                self.present[i] = true;
                if !field.value_into(line, &mut self.values[i]) {
                    return None;
                }
            }
        }
        Some(ProjectedRecord::new(&self.fields, &self.values, &self.present))
    }

    /// The object of the fields just read into `values`. While lines have the same fields
    /// present, the object keeps its keys (those fields', in `fields`' order, which is the
    /// map's own) and only the values are swapped in.
    fn fill_object(&mut self) -> Option<&Value> {
        let Value::Object(object) = &mut self.object else { return None };
        if self.present.iter().eq(&self.held) {
            let slots = self.values.iter_mut().zip(&self.present).filter(|(_, p)| **p).map(|(v, _)| v);
            for (held, new) in object.values_mut().zip(slots) {
                std::mem::swap(held, new);
            }
        } else {
            object.clear();
            for (i, name) in self.fields.iter().enumerate().filter(|(i, _)| self.present[*i]) {
                object.insert(name.clone(), std::mem::take(&mut self.values[i]));
            }
            self.held.clone_from(&self.present);
        }
        Some(&self.object)
    }
}

/// Whether `value` holds a float with no fraction beyond the 64-bit integer range (what an
/// integer literal too large for 64 bits becomes).
pub fn has_huge_integral_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_f64().is_some_and(|f| n.is_f64() && is_huge_integral(f)),
        Value::Array(a) => a.iter().any(has_huge_integral_float),
        Value::Object(o) => o.values().any(has_huge_integral_float),
        _ => false,
    }
}

fn is_huge_integral(f: f64) -> bool {
    f.fract() == 0.0 && f.abs() >= HUGE_INTEGRAL
}

/// The top-level object: chosen fields into their slots, the rest checked and passed over.
struct Fields<'a> {
    fields: &'a [String],
    present: &'a mut [bool],
    values: &'a mut [Value],
}

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(found) = map.next_key_seed(FieldName(self.fields))? {
            match found {
                // A repeated key: the last one wins, as in a full parse.
                Some(i) => {
                    self.present[i] = true;
                    map.next_value_seed(Into(&mut self.values[i]))?;
                }
                None => map.next_value_seed(Check)?,
            }
        }
        Ok(())
    }
}

/// A key: the position of the chosen field it names, if any (never allocates).
struct FieldName<'a>(&'a [String]);

impl<'de> DeserializeSeed<'de> for FieldName<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<usize>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for FieldName<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|f| same(f, key)))
    }
}

/// A value read into an existing one: scalars replace it, a string reuses its buffer.
/// Gives the same value as a full parse.
struct Into<'a>(&'a mut Value);

impl<'de> DeserializeSeed<'de> for Into<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Into<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        *self.0 = Value::Bool(v);
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        *self.0 = Value::from(v);
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        *self.0 = Value::from(v);
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        *self.0 = serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number);
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        match self.0 {
            Value::String(s) => {
                s.clear();
                s.push_str(v);
            }
            other => *other = Value::String(v.to_owned()),
        }
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        *self.0 = Value::Null;
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        *self.0 = Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        *self.0 = Value::deserialize(MapAccessDeserializer::new(map))?;
        Ok(())
    }
}

/// Any value, checked by the same rules as a full parse and dropped as it is read.
struct Check;

impl<'de> DeserializeSeed<'de> for Check {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(Check)
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: serde::de::Error>(self, f: f64) -> Result<(), E> {
        if is_huge_integral(f) { Err(E::custom("maybe an integer beyond 64 bits")) } else { Ok(()) }
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Check)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(KeyCheck)?.is_some() {
            map.next_value_seed(Check)?;
        }
        Ok(())
    }
}

/// A key of a nested object, checked and dropped.
struct KeyCheck;

impl<'de> DeserializeSeed<'de> for KeyCheck {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(Check)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(fields: &[&str], line: &str) -> Option<Value> {
        Projection::new(fields.iter().map(|f| f.to_string()).collect()).read(line.as_bytes()).cloned()
    }

    #[test]
    fn keeps_the_chosen_fields_present_with_their_values() {
        let line = r#"{"ts":17,"user":"u1","type":"purchase","value":2.5,"tags":[1,{"a":null}]}"#;
        assert_eq!(read(&["type", "ts"], line), Some(json!({"type": "purchase", "ts": 17})));
        assert_eq!(read(&["missing"], line), Some(json!({})));
        assert_eq!(read(&["type"], r#"{"type":"a","type":"b"}"#), Some(json!({"type": "b"})), "the last wins");
    }

    #[test]
    fn reuses_its_object_without_keeping_fields_a_later_line_lacks() {
        let mut p = Projection::new(vec!["b".into(), "a".into(), "b".into()]);
        assert_eq!(p.read(br#"{"a":1,"b":2}"#), Some(&json!({"a": 1, "b": 2})));
        assert_eq!(p.read(br#"{"b":3}"#), Some(&json!({"b": 3})));
        assert_eq!(p.read(br#"{"a":"x","b":[4]}"#), Some(&json!({"a": "x", "b": [4]})));
        assert_eq!(p.read(br#"{"b":"long text","a":"y"}"#), Some(&json!({"a": "y", "b": "long text"})));
        assert_eq!(p.read(br#"{"b":"z","a":{"k":[1]}}"#), Some(&json!({"a": {"k": [1]}, "b": "z"})));
        assert_eq!(p.read(br#"{"a":"half","b":"#), None);
        assert_eq!(p.read(br#"{"a":"q","c":0,"b":null}"#), Some(&json!({"a": "q", "b": null})));
        assert_eq!(p.read(br#"{"c":0}"#), Some(&json!({})));
        assert_eq!(p.read(br#"{"a":1,"b":2}"#), Some(&json!({"a": 1, "b": 2})));
    }

    /// Every line the full parser refuses (or reports) is refused here too, whichever field
    /// holds the problem.
    #[test]
    fn leaves_every_line_a_full_parse_would_refuse_to_it() {
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
        for not_an_object in [&b"[1,2]"[..], b"\"text\"", b"null", b"12"] {
            assert_eq!(Projection::new(vec!["a".into()]).read(not_an_object), None);
        }
        let bad: Vec<Vec<u8>> = vec![
            b"{\"a\":1".to_vec(),
            b"{\"a\":1} trailing".to_vec(),
            b"{\"x\":1e400}".to_vec(),
            b"{\"x\":123456789012345678901234567890}".to_vec(),
            b"{\"x\":\"\\ud800\"}".to_vec(),
            b"{\"x\":\"\\q\"}".to_vec(),
            b"{\"x\":\"\xff\"}".to_vec(),
            b"{\"x\":01}".to_vec(),
            b"{\"x\":\"tab\there\"}".to_vec(),
            deep.into_bytes(),
        ];
        for line in bad {
            let full = serde_json::from_slice::<Value>(&line);
            let reported = full.as_ref().is_ok_and(has_huge_integral_float);
            assert!(full.is_err() || reported, "the full parser takes {:?}", String::from_utf8_lossy(&line));
            for fields in [&["a"][..], &["x"][..]] {
                let mut p = Projection::new(fields.iter().map(|f| f.to_string()).collect());
                assert!(p.read(&line).is_none(), "{:?} with {fields:?}", String::from_utf8_lossy(&line));
            }
        }
    }
}

//! Reading a node's config as a JSON-compatible value with a depth bound: converting and
//! dropping a `serde_json::Value` are recursive, so a config nested deeper than
//! [`MAX_CONFIG_DEPTH`] is refused while it is read (with the parser's line:column), never
//! built. Numbers JSON cannot hold (NaN, infinities, integers beyond 64 bits) are refused too,
//! instead of silently becoming `null` or a rounded float.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Deepest nesting of lists and structs a node config may have.
pub const MAX_CONFIG_DEPTH: usize = 32;

/// Reads one config value at nesting `depth` (0 for the config itself).
#[derive(Clone, Copy)]
pub(super) struct ConfigSeed {
    pub depth: usize,
}

/// `deserialize_with` for an optional config.
pub(super) fn optional_config<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    ConfigSeed { depth: 0 }.deserialize(d).map(Some)
}

impl<'de> DeserializeSeed<'de> for ConfigSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl ConfigSeed {
    fn deeper<E: de::Error>(self) -> Result<ConfigSeed, E> {
        if self.depth >= MAX_CONFIG_DEPTH {
            return Err(E::custom(format!(
                "config nested deeper than {MAX_CONFIG_DEPTH} levels (lists and structs inside each other)"
            )));
        }
        Ok(ConfigSeed { depth: self.depth + 1 })
    }
}

impl<'de> Visitor<'de> for ConfigSeed {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a config value (number, string, bool, list, struct or map)")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        match (i64::try_from(v), u64::try_from(v)) {
            (Ok(i), _) => Ok(Value::from(i)),
            (_, Ok(u)) => Ok(Value::from(u)),
            _ => Err(E::custom(format!(
                "integer {} is out of range (a config integer fits in 64 bits)",
                crate::problem::cut(&v.to_string(), 40)
            ))),
        }
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        u64::try_from(v).map(Value::from).map_err(|_| {
            E::custom(format!(
                "integer {} is out of range (a config integer fits in 64 bits)",
                crate::problem::cut(&v.to_string(), 40)
            ))
        })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("{v} is not a finite number (NaN and infinities are not allowed)")))
    }
    fn visit_char<E: de::Error>(self, v: char) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(inner)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let inner = self.deeper()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(inner)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Nesting depth of `value` (0 for a scalar), counted without recursion.
pub fn depth(value: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, d)) = stack.pop() {
        deepest = deepest.max(d);
        match v {
            Value::Array(items) => stack.extend(items.iter().map(|i| (i, d + 1))),
            Value::Object(map) => stack.extend(map.values().map(|i| (i, d + 1))),
            _ => {}
        }
    }
    deepest
}

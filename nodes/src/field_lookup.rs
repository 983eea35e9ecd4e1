//! Looking a field up in a record by name without calling the C library's `memcmp`.
//!
//! Records are small objects with short keys. `serde_json::Map::get` walks its B-tree
//! comparing keys through `Ord for str`: a `memcmp` call per key passed. On these machines
//! glibc picks an AVX-512 `memcmp` whose masked loads of short strings were measured to stall
//! (8.5 % of workload A's CPU went to two instructions in it, the keys compared being ones
//! just parsed). A small object is scanned instead, comparing lengths first and then bytes;
//! a large one is searched as before.

use serde_json::{Map, Value};

/// Objects with more fields than this are searched through their B-tree.
const SCAN_LIMIT: usize = 16;

/// Byte-by-byte equality, lengths first: keys are short, and a library call costs more
/// than the compare.
pub fn same(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// [`same`] for bytes.
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The value of field `name` of `object`, if it has one (what `object.get(name)` gives).
pub fn field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if object.len() > SCAN_LIMIT {
        return object.get(name);
    }
    object.iter().find(|(k, _)| same(k, name)).map(|(_, v)| v)
}

/// The value of field `name` of `object`, to change in place (what `object.get_mut(name)` gives).
pub fn field_mut<'a>(object: &'a mut Map<String, Value>, name: &str) -> Option<&'a mut Value> {
    if object.len() > SCAN_LIMIT {
        return object.get_mut(name);
    }
    object.iter_mut().find(|(k, _)| same(k, name)).map(|(_, v)| v)
}

/// Field `name` of `value` when it is an object (what `value.get(name)` gives for a name).
pub fn member<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    match value {
        Value::Object(object) => field(object, name),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Every lookup answers what the map's own lookup answers, in small and large objects.
    #[test]
    fn finds_what_the_map_finds() {
        let small = json!({"a": 1, "ab": 2, "b": 3, "": 4, "é": 5});
        let large: Value = Value::Object((0..40).map(|i| (format!("k{i}"), json!(i))).collect());
        for v in [&small, &large] {
            let Value::Object(m) = v else { unreachable!() };
            for name in ["a", "ab", "b", "", "é", "abc", "k0", "k39", "k40", "A"] {
                assert_eq!(field(m, name), m.get(name), "{name}");
                assert_eq!(member(v, name), v.get(name), "{name}");
            }
        }
        assert_eq!(member(&json!([1]), "a"), None);
        let mut m = json!({"x": 1, "y": 2});
        let Value::Object(o) = &mut m else { unreachable!() };
        *field_mut(o, "y").expect("y") = json!(3);
        assert_eq!(field_mut(o, "z"), None);
        assert_eq!(m, json!({"x": 1, "y": 3}));
    }

    #[test]
    fn same_is_equality() {
        for (a, b) in [("", ""), ("a", "a"), ("a", "b"), ("ab", "a"), ("é", "e"), ("purchase", "purchase")] {
            assert_eq!(same(a, b), a == b, "{a} {b}");
        }
    }
}

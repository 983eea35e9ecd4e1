//! jq 1.8's `delpaths` (`jv_aux.c`) on `serde_json` values, for the native path's `del`:
//! several deletions in one array refer to the indices before any of them, a `null` parent
//! deletes nothing, errors read like jq's. The jaq path's natives use the same rules on
//! jaq values ([`super::val_paths`]); the helpers for indices and slices are shared.

use serde_json::{Map, Value};

use super::messages::{truncated_dump, type_name};

/// jq's `MAX_PATH_DEPTH`.
pub(super) const MAX_PATH_DEPTH: usize = 10_000;
/// Largest array index that jq will grow an array to (it refuses beyond).
pub(super) const MAX_ARRAY_INDEX: i64 = 536_870_912;

/// Checks that `p` is a path jq accepts (an array of at most [`MAX_PATH_DEPTH`] keys).
pub(crate) fn check_path(p: &Value) -> Result<(), String> {
    match p {
        Value::Array(a) if a.len() > MAX_PATH_DEPTH => Err("Path too deep".into()),
        Value::Array(_) => Ok(()),
        _ => Err("Path must be specified as an array".into()),
    }
}

/// A number key as jq's C code uses it: clamped to `int` and truncated.
pub(super) fn int_key(f: f64) -> i64 {
    f.clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i64
}

fn num(k: &Value) -> Option<f64> {
    k.as_f64()
}

/// jq's `parse_slice`: `{start, end}` to a range within `len`.
fn slice_bounds(len: usize, k: &Map<String, Value>) -> Result<(usize, usize), String> {
    let bound = |name: &str| match k.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(SLICE_NOT_NUMBERS.to_string()),
    };
    Ok(bounds(len, bound("start")?, bound("end")?))
}

/// jq's error for slice bounds that are not numbers.
pub(super) const SLICE_NOT_NUMBERS: &str = "Start and end indices of an array slice must be numbers";

/// jq's `parse_slice` on numbers: absent (or NaN) bounds are the ends, negative ones count
/// from the end, the start is rounded down and the end up.
pub(super) fn bounds(len: usize, start: Option<f64>, end: Option<f64>) -> (usize, usize) {
    let lenf = len as f64;
    let clamp = |mut d: f64| {
        if d < 0.0 {
            d += lenf;
        }
        d.clamp(0.0, lenf)
    };
    let start = clamp(start.filter(|f| !f.is_nan()).unwrap_or(0.0));
    let end = clamp(end.filter(|f| !f.is_nan()).unwrap_or(lenf)).max(start);
    let (s, e) = (start.floor() as usize, (end.ceil() as usize).min(len));
    (s, e.max(s))
}

fn index_error(t: &Value, k: &Value) -> String {
    format!("Cannot index {} with {} ({})", type_name(t), type_name(k), truncated_dump(k))
}

/// jq's `jv_get`, moving the element out of `t` (left `null`) where it can.
fn take(t: &mut Value, k: &Value) -> Result<Value, String> {
    match (&mut *t, k) {
        (Value::Object(o), Value::String(s)) => Ok(o.get_mut(s).map(std::mem::take).unwrap_or_default()),
        (Value::Array(a), Value::Number(_)) => {
            let Some(f) = num(k) else { return Ok(Value::Null) };
            let mut i = int_key(f);
            if i < 0 {
                i += a.len() as i64;
            }
            Ok(usize::try_from(i).ok().and_then(|i| a.get_mut(i)).map(std::mem::take).unwrap_or_default())
        }
        (Value::Array(a), Value::Object(sl)) => {
            let (s, e) = slice_bounds(a.len(), sl)?;
            Ok(Value::Array(a[s..e].to_vec()))
        }
        (Value::String(st), Value::Object(sl)) => {
            let chars: Vec<char> = st.chars().collect();
            let (s, e) = slice_bounds(chars.len(), sl)?;
            Ok(Value::String(chars[s..e].iter().collect()))
        }
        (Value::Array(a), Value::Array(b)) => Ok(Value::Array(if b.is_empty() {
            Vec::new()
        } else {
            a.windows(b.len()).enumerate().filter(|(_, w)| w == b).map(|(i, _)| Value::from(i)).collect()
        })),
        (Value::Null, Value::String(_) | Value::Number(_) | Value::Object(_)) => Ok(Value::Null),
        (t, k) => Err(index_error(t, k)),
    }
}

fn array_set(a: &mut Vec<Value>, k: f64, v: Value) -> Result<(), String> {
    let mut i = int_key(k);
    if i < 0 {
        i += a.len() as i64;
        if i < 0 {
            return Err("Out of bounds negative array index".into());
        }
    }
    if i >= MAX_ARRAY_INDEX {
        return Err("Array index too large".into());
    }
    let i = usize::try_from(i).map_err(|_| "Array index too large".to_string())?;
    if i >= a.len() {
        a.resize(i + 1, Value::Null);
    }
    a[i] = v;
    Ok(())
}

/// jq's `jv_set`.
fn set(t: Value, k: &Value, v: Value) -> Result<Value, String> {
    match (t, k) {
        (t @ (Value::Object(_) | Value::Null), Value::String(s)) => {
            let mut o = match t {
                Value::Object(o) => o,
                _ => Map::new(),
            };
            o.insert(s.clone(), v);
            Ok(Value::Object(o))
        }
        (t @ (Value::Array(_) | Value::Null), Value::Number(_)) => {
            let Some(f) = num(k) else { return Err("Cannot set array element at NaN index".into()) };
            let mut a = match t {
                Value::Array(a) => a,
                _ => Vec::new(),
            };
            array_set(&mut a, f, v)?;
            Ok(Value::Array(a))
        }
        (t @ (Value::Array(_) | Value::Null), Value::Object(sl)) => {
            let mut a = match t {
                Value::Array(a) => a,
                _ => Vec::new(),
            };
            let (s, e) = slice_bounds(a.len(), sl)?;
            let Value::Array(items) = v else {
                return Err("A slice of an array can only be assigned another array".into());
            };
            a.splice(s..e, items);
            Ok(Value::Array(a))
        }
        (Value::String(_), Value::Object(_)) => Err("Cannot update string slices".into()),
        (t, k) => Err(format!("Cannot update field at {} index of {}", type_name(k), type_name(&t))),
    }
}

/// jq's `delpaths(paths)`: all paths refer to the value before any deletion.
pub(crate) fn delpaths(root: Value, paths: &Value) -> Result<Value, String> {
    let Value::Array(ps) = paths else {
        return Err("Paths must be specified as an array".into());
    };
    let mut keys: Vec<&[Value]> = Vec::with_capacity(ps.len());
    for p in ps {
        check_path(p)?;
        let p = p.as_array().map(Vec::as_slice).unwrap_or_default();
        if p.is_empty() {
            return Ok(Value::Null);
        }
        keys.push(p);
    }
    del_rec(root, &keys)
}

/// Grouping key of a path step in `t`: array indices normalised, so `.[-1]` and `.[2]`
/// of a 3-element array are one child.
fn group_key(t: &Value, k: &Value) -> String {
    match (t, k) {
        (Value::Array(a), Value::Number(_)) => {
            let mut i = num(k).map_or(i64::MIN, int_key);
            if i < 0 {
                i += a.len() as i64;
            }
            format!("#{i}")
        }
        _ => k.to_string(),
    }
}

fn del_rec(mut node: Value, paths: &[&[Value]]) -> Result<Value, String> {
    if node.is_null() {
        return Ok(node);
    }
    let mut leaves: Vec<&Value> = Vec::new();
    let mut groups: Vec<(String, &Value, Vec<&[Value]>)> = Vec::new();
    for p in paths {
        let Some((k, rest)) = p.split_first() else { continue };
        if rest.is_empty() {
            leaves.push(k);
            continue;
        }
        let g = group_key(&node, k);
        match groups.iter_mut().find(|(name, _, _)| *name == g) {
            Some((_, _, rests)) => rests.push(rest),
            None => groups.push((g, k, vec![rest])),
        }
    }
    for (_, k, rests) in groups {
        let child = take(&mut node, k)?;
        if child.is_null() {
            continue;
        }
        let new_child = del_rec(child, &rests)?;
        node = set(node, k, new_child)?;
    }
    dels(node, &leaves)
}

/// jq's `jv_dels`: deletes several keys of one value at once.
fn dels(t: Value, keys: &[&Value]) -> Result<Value, String> {
    if keys.is_empty() {
        return Ok(t);
    }
    match t {
        Value::Null => Ok(Value::Null),
        Value::Array(a) => {
            let len = a.len();
            let mut del = vec![false; len];
            for k in keys {
                match k {
                    Value::Number(_) => {
                        let Some(f) = num(k) else { continue };
                        let mut i = int_key(f);
                        if i < 0 {
                            i += len as i64;
                        }
                        if let Some(d) = usize::try_from(i).ok().and_then(|i| del.get_mut(i)) {
                            *d = true;
                        }
                    }
                    Value::Object(sl) => {
                        let (s, e) = slice_bounds(len, sl)?;
                        del[s..e].iter_mut().for_each(|d| *d = true);
                    }
                    k => return Err(format!("Cannot delete {} element of array", type_name(k))),
                }
            }
            Ok(Value::Array(a.into_iter().zip(del).filter(|(_, d)| !d).map(|(v, _)| v).collect()))
        }
        Value::Object(mut o) => {
            for k in keys {
                let Value::String(s) = k else {
                    return Err(format!("Cannot delete {} field of object", type_name(k)));
                };
                o.remove(s);
            }
            Ok(Value::Object(o))
        }
        t => Err(format!("Cannot delete fields from {}", type_name(&t))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn delpaths_refers_to_the_original_indices() {
        assert_eq!(delpaths(json!([1, 2, 3]), &json!([[0], [1]])).unwrap(), json!([3]));
        let v = json!([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        let ps = json!([[1], [-6], [2], [{"start": -3, "end": 9}]]);
        assert_eq!(delpaths(v, &ps).unwrap(), json!([0, 3, 5, 6, 9]));
        assert_eq!(delpaths(json!(null), &json!([["a"]])).unwrap(), json!(null));
        assert_eq!(delpaths(json!([1]), &json!([[]])).unwrap(), json!(null));
    }
}

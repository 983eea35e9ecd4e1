//! jq 1.8's `setpath`, `delpaths` and path checks on jaq values (the jaq path's natives),
//! with the same rules as [`super::paths`] on `serde_json` values (the native path's
//! `del`): `null` grows into objects and arrays, arrays are padded with `null`, several
//! deletions in one array refer to the indices before any of them, errors read like jq's.

use jaq_json::{Map, Num, Rc, Val};

use super::messages::{truncate_dump, val_type_name as type_name};
use super::paths::{MAX_ARRAY_INDEX, MAX_PATH_DEPTH, SLICE_NOT_NUMBERS, bounds, int_key};

/// A jaq number as `f64` (NaN for what cannot be read).
pub(crate) fn num_f64(n: &Num) -> f64 {
    match n {
        Num::Int(i) => *i as f64,
        Num::Float(f) => *f,
        _ => n.to_string().parse().unwrap_or(f64::NAN),
    }
}

fn is_str(v: &Val) -> bool {
    matches!(v, Val::TStr(_) | Val::BStr(_))
}

/// The keys of a path, checked like jq: an array of at most [`MAX_PATH_DEPTH`] keys.
pub(crate) fn path_keys(p: &Val) -> Result<&[Val], String> {
    match p {
        Val::Arr(a) if a.len() > MAX_PATH_DEPTH => Err("Path too deep".into()),
        Val::Arr(a) => Ok(a.as_slice()),
        _ => Err("Path must be specified as an array".into()),
    }
}

/// jq's `parse_slice` for a slice key `{start, end}`.
fn slice_bounds(len: usize, k: &Map) -> Result<(usize, usize), String> {
    let bound = |name: &str| match k.get(&Val::from(name.to_string())) {
        None | Some(Val::Null) => Ok(None),
        Some(Val::Num(n)) => Ok(Some(num_f64(n))),
        Some(_) => Err(SLICE_NOT_NUMBERS.to_string()),
    };
    Ok(bounds(len, bound("start")?, bound("end")?))
}

fn index_error(t: &Val, k: &Val) -> String {
    format!("Cannot index {} with {} ({})", type_name(t), type_name(k), truncate_dump(k.to_string()))
}

/// Array index of a number key (negative from the end), `None` when NaN or before the start.
fn array_index(len: usize, f: f64) -> Option<usize> {
    if f.is_nan() {
        return None;
    }
    let mut i = int_key(f);
    if i < 0 {
        i += len as i64;
    }
    usize::try_from(i).ok()
}

/// jq's `jv_get`, moving the element out of `t` (left `null`) where it can.
fn take(t: &mut Val, k: &Val) -> Result<Val, String> {
    match (&mut *t, k) {
        (Val::Obj(o), k) if is_str(k) => Ok(Rc::make_mut(o).get_mut(k).map(std::mem::take).unwrap_or_default()),
        (Val::Arr(a), Val::Num(n)) => {
            let a = Rc::make_mut(a);
            Ok(array_index(a.len(), num_f64(n)).and_then(|i| a.get_mut(i)).map(std::mem::take).unwrap_or_default())
        }
        (Val::Arr(a), Val::Obj(sl)) => {
            let (s, e) = slice_bounds(a.len(), sl)?;
            Ok(a[s..e].iter().cloned().collect())
        }
        (Val::TStr(st) | Val::BStr(st), Val::Obj(sl)) => {
            let chars: Vec<char> = String::from_utf8_lossy(st).chars().collect();
            let (s, e) = slice_bounds(chars.len(), sl)?;
            Ok(Val::from(chars[s..e].iter().collect::<String>()))
        }
        (Val::Arr(a), Val::Arr(b)) => Ok(if b.is_empty() {
            Val::from_iter(std::iter::empty())
        } else {
            a.windows(b.len()).enumerate().filter(|(_, w)| *w == b.as_slice()).map(|(i, _)| Val::from(i)).collect()
        }),
        (Val::Null, k) if is_str(k) || matches!(k, Val::Num(_) | Val::Obj(_)) => Ok(Val::Null),
        (t, k) => Err(index_error(t, k)),
    }
}

fn array_set(a: &mut Vec<Val>, k: f64, v: Val) -> Result<(), String> {
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
        a.resize(i + 1, Val::Null);
    }
    a[i] = v;
    Ok(())
}

fn into_vec(t: Val) -> Vec<Val> {
    match t {
        Val::Arr(a) => Rc::try_unwrap(a).unwrap_or_else(|a| (*a).clone()),
        _ => Vec::new(),
    }
}

/// jq's `jv_set`.
fn set(t: Val, k: &Val, v: Val) -> Result<Val, String> {
    match (t, k) {
        (t @ (Val::Obj(_) | Val::Null), k) if is_str(k) => {
            let mut o = match t {
                Val::Obj(o) => Rc::try_unwrap(o).unwrap_or_else(|o| (*o).clone()),
                _ => Map::default(),
            };
            o.insert(k.clone(), v);
            Ok(Val::obj(o))
        }
        (t @ (Val::Arr(_) | Val::Null), Val::Num(n)) => {
            let f = num_f64(n);
            if f.is_nan() {
                return Err("Cannot set array element at NaN index".into());
            }
            let mut a = into_vec(t);
            array_set(&mut a, f, v)?;
            Ok(Val::from_iter(a))
        }
        (t @ (Val::Arr(_) | Val::Null), Val::Obj(sl)) => {
            let mut a = into_vec(t);
            let (s, e) = slice_bounds(a.len(), sl)?;
            let Val::Arr(items) = v else {
                return Err("A slice of an array can only be assigned another array".into());
            };
            a.splice(s..e, items.iter().cloned());
            Ok(Val::from_iter(a))
        }
        (Val::TStr(_) | Val::BStr(_), Val::Obj(_)) => Err("Cannot update string slices".into()),
        (t, k) => Err(format!("Cannot update field at {} index of {}", type_name(k), type_name(&t))),
    }
}

/// jq's `setpath(path; v)`; iterative, so deep paths do not use the stack.
pub(crate) fn setpath(root: Val, path: &Val, v: Val) -> Result<Val, String> {
    let keys = path_keys(path)?;
    let mut parents: Vec<(Val, &Val)> = Vec::with_capacity(keys.len());
    let mut cur = root;
    for k in keys {
        let child = take(&mut cur, k)?;
        parents.push((cur, k));
        cur = child;
    }
    let mut acc = v;
    while let Some((parent, k)) = parents.pop() {
        acc = set(parent, k, acc)?;
    }
    Ok(acc)
}

/// jq's `delpaths(paths)`: all paths refer to the value before any deletion.
pub(crate) fn delpaths(root: Val, paths: &Val) -> Result<Val, String> {
    let Val::Arr(ps) = paths else {
        return Err("Paths must be specified as an array".into());
    };
    let mut keys: Vec<&[Val]> = Vec::with_capacity(ps.len());
    for p in ps.iter() {
        let p = path_keys(p)?;
        if p.is_empty() {
            return Ok(Val::Null);
        }
        keys.push(p);
    }
    del_rec(root, &keys)
}

/// Whether two path steps name the same child of `t` (array indices normalised).
fn same_child(t: &Val, a: &Val, b: &Val) -> bool {
    match (t, a, b) {
        (Val::Arr(arr), Val::Num(x), Val::Num(y)) => {
            let (x, y) = (num_f64(x), num_f64(y));
            !x.is_nan() && !y.is_nan() && array_index(arr.len(), x) == array_index(arr.len(), y)
        }
        _ => a == b,
    }
}

fn del_rec(mut node: Val, paths: &[&[Val]]) -> Result<Val, String> {
    if matches!(node, Val::Null) {
        return Ok(node);
    }
    let mut leaves: Vec<&Val> = Vec::new();
    let mut groups: Vec<(&Val, Vec<&[Val]>)> = Vec::new();
    for p in paths {
        let Some((k, rest)) = p.split_first() else { continue };
        if rest.is_empty() {
            leaves.push(k);
            continue;
        }
        match groups.iter_mut().find(|(g, _)| same_child(&node, g, k)) {
            Some((_, rests)) => rests.push(rest),
            None => groups.push((k, vec![rest])),
        }
    }
    for (k, rests) in groups {
        let child = take(&mut node, k)?;
        if matches!(child, Val::Null) {
            continue;
        }
        let new_child = del_rec(child, &rests)?;
        node = set(node, k, new_child)?;
    }
    dels(node, &leaves)
}

/// jq's `jv_dels`: deletes several keys of one value at once.
fn dels(t: Val, keys: &[&Val]) -> Result<Val, String> {
    if keys.is_empty() {
        return Ok(t);
    }
    match t {
        Val::Null => Ok(Val::Null),
        Val::Arr(a) => {
            let len = a.len();
            let mut del = vec![false; len];
            for k in keys {
                match k {
                    Val::Num(n) => {
                        if let Some(d) = array_index(len, num_f64(n)).and_then(|i| del.get_mut(i)) {
                            *d = true;
                        }
                    }
                    Val::Obj(sl) => {
                        let (s, e) = slice_bounds(len, sl)?;
                        del[s..e].iter_mut().for_each(|d| *d = true);
                    }
                    k => return Err(format!("Cannot delete {} element of array", type_name(k))),
                }
            }
            Ok(a.iter().zip(del).filter(|(_, d)| !d).map(|(v, _)| v.clone()).collect())
        }
        Val::Obj(o) => {
            let mut o = Rc::try_unwrap(o).unwrap_or_else(|o| (*o).clone());
            for k in keys {
                if !is_str(k) {
                    return Err(format!("Cannot delete {} field of object", type_name(k)));
                }
                o.shift_remove(*k);
            }
            Ok(Val::obj(o))
        }
        t => Err(format!("Cannot delete fields from {}", type_name(&t))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn v(s: &str) -> Val {
        let json: serde_json::Value = serde_json::from_str(s).unwrap();
        crate::expr::jaq_backend::to_val(json)
    }

    #[test]
    fn setpath_grows_like_jq() {
        assert_eq!(setpath(v("null"), &v(r#"["a","b"]"#), v("1")).unwrap(), v(r#"{"a":{"b":1}}"#));
        assert_eq!(setpath(v("[4]"), &v("[2,3]"), v("1")).unwrap(), v("[4,null,[null,null,null,1]]"));
        assert_eq!(setpath(v("null"), &v("[-1]"), v("1")).unwrap_err(), "Out of bounds negative array index");
        assert_eq!(setpath(v("[1]"), &v("[[1]]"), v("1")).unwrap_err(), "Cannot update field at array index of array");
        assert_eq!(setpath(v("[0,1,2,3]"), &v(r#"[{"start":1,"end":3}]"#), v(r#"["x"]"#)).unwrap(), v(r#"[0,"x",3]"#));
    }

    #[test]
    fn delpaths_refers_to_the_original_indices() {
        assert_eq!(delpaths(v("[1,2,3]"), &v("[[0],[1]]")).unwrap(), v("[3]"));
        let ps = v(r#"[[1],[-6],[2],[{"start":-3,"end":9}]]"#);
        assert_eq!(delpaths(v("[0,1,2,3,4,5,6,7,8,9]"), &ps).unwrap(), v("[0,3,5,6,9]"));
        assert_eq!(delpaths(v("null"), &v(r#"[["a"]]"#)).unwrap(), v("null"));
        assert_eq!(delpaths(v("[1]"), &v("[[]]")).unwrap(), v("null"));
        assert_eq!(
            delpaths(v(r#"{"a":{"b":1,"c":2}}"#), &v(r#"[["a","b"],["x","y"]]"#)).unwrap(),
            v(r#"{"a":{"c":2}}"#)
        );
    }
}

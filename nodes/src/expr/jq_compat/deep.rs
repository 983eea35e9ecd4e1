//! jq 1.8's depth limits where jaq has none: containment checks, printing and parsing of
//! values nested more than 10 000 levels (`MAX_CONTAINS_DEPTH`, `MAX_PRINT_DEPTH`,
//! `MAX_PARSING_DEPTH` in jq's sources).

use jaq_json::Val;

/// jq's nesting limit for containment, printing and parsing.
pub(crate) const MAX_DEPTH: usize = 10_000;

/// What jq prints instead of a value nested deeper than [`MAX_DEPTH`].
const SKIPPED: &str = "<skipped: too deep>";
/// Stands for a skipped value until the JSON text is written (cannot occur in jaq output:
/// jaq escapes control characters).
const SENTINEL: &str = "\u{0}jq-skipped\u{0}";

fn is_str(v: &Val) -> bool {
    matches!(v, Val::TStr(_) | Val::BStr(_))
}

fn same_kind(a: &Val, b: &Val) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b) || (is_str(a) && is_str(b))
}

fn bytes_contain(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    match (std::str::from_utf8(hay), std::str::from_utf8(needle)) {
        (Ok(h), Ok(n)) => h.contains(n),
        _ => hay.windows(needle.len()).any(|w| w == needle),
    }
}

/// jq's `jvp_contains`: `None` when the values are nested too deep to decide.
pub(crate) fn contains(a: &Val, b: &Val, depth: usize) -> Option<bool> {
    if depth > MAX_DEPTH {
        return None;
    }
    if !same_kind(a, b) {
        return Some(false);
    }
    Some(match (a, b) {
        (Val::Obj(x), Val::Obj(y)) => {
            for (k, vb) in y.iter() {
                match x.get(k) {
                    Some(va) if contains(va, vb, depth + 1)? => {}
                    _ => return Some(false),
                }
            }
            true
        }
        (Val::Arr(x), Val::Arr(y)) => {
            for vb in y.iter() {
                let mut found = false;
                for va in x.iter() {
                    if contains(va, vb, depth + 1)? {
                        found = true;
                        break;
                    }
                }
                if !found {
                    return Some(false);
                }
            }
            true
        }
        (Val::TStr(x) | Val::BStr(x), Val::TStr(y) | Val::BStr(y)) => bytes_contain(x, y),
        _ => a == b,
    })
}

/// Equality of `a` and `b` following jq's comparison (`jvp_cmp`): arrays element by
/// element up to the first difference, objects by their sorted keys and then their values.
/// `None` when that comparison goes deeper than [`MAX_DEPTH`] ("Comparison too deep").
fn cmp_equal(a: &Val, b: &Val, depth: usize) -> Option<bool> {
    if depth > MAX_DEPTH {
        return None;
    }
    Some(match (a, b) {
        (Val::Arr(x), Val::Arr(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                if !cmp_equal(p, q, depth + 1)? {
                    return Some(false);
                }
            }
            x.len() == y.len()
        }
        (Val::Obj(x), Val::Obj(y)) => {
            let mut kx: Vec<&Val> = x.keys().collect();
            let mut ky: Vec<&Val> = y.keys().collect();
            kx.sort();
            ky.sort();
            if kx != ky {
                return Some(false);
            }
            for k in kx {
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) if cmp_equal(p, q, depth + 1)? => {}
                    _ => return Some(false),
                }
            }
            true
        }
        _ => a == b,
    })
}

/// For a sorted array: true when sorting it compared two neighbours deeper than jq does
/// (the deepest comparison of a sort is between neighbours in the result). `depth` is
/// the level of the elements in what is compared (1 for `unique`, which compares `[x]`).
pub(crate) fn sort_too_deep(sorted: &[Val], depth: usize) -> bool {
    sorted.windows(2).any(|w| cmp_equal(&w[0], &w[1], depth).is_none())
}

/// True when `a` and `b` are of different jq types (`contains` is then an error).
pub(crate) fn kinds_differ(a: &Val, b: &Val) -> bool {
    !same_kind(a, b)
}

/// True when some value inside `v` is nested deeper than `limit` levels.
fn deeper_than(v: &Val, limit: usize) -> bool {
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        if d > limit {
            return true;
        }
        match v {
            Val::Arr(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            Val::Obj(o) => stack.extend(o.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    false
}

/// `v` with every value nested deeper than [`MAX_DEPTH`] replaced by [`SENTINEL`].
fn cut(v: &Val, depth: usize) -> Val {
    if depth > MAX_DEPTH {
        return Val::from(SENTINEL.to_string());
    }
    match v {
        Val::Arr(a) => a.iter().map(|x| cut(x, depth + 1)).collect(),
        Val::Obj(o) => {
            let mut m = jaq_json::Map::default();
            for (k, x) in o.iter() {
                m.insert(k.clone(), cut(x, depth + 1));
            }
            Val::obj(m)
        }
        v => v.clone(),
    }
}

/// True when `v` has values nested deeper than jq prints.
pub(crate) fn too_deep_to_print(v: &Val) -> bool {
    deeper_than(v, MAX_DEPTH)
}

/// jq's `tojson` of a value nested too deep: the deep parts print as `<skipped: too deep>`.
pub(crate) fn tojson_cut(v: &Val) -> String {
    let quoted = Val::from(SENTINEL.to_string()).to_string();
    cut(v, 0).to_string().replace(&quoted, SKIPPED)
}

/// True when the JSON text `s` nests arrays/objects deeper than jq parses.
pub(crate) fn json_too_deep(s: &[u8]) -> bool {
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    for &c in s {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn nested(levels: usize) -> Val {
        (0..levels).fold(Val::from_iter(std::iter::empty()), |v, _| Val::from_iter([v]))
    }

    /// Values 10 000 levels deep need more than a test thread's stack (recursion in
    /// containment, printing and dropping).
    fn with_big_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new().stack_size(256 << 20).spawn(f).unwrap().join().unwrap();
    }

    #[test]
    fn containment_like_jq() {
        let s = |x: &str| Val::from(x.to_string());
        assert_eq!(contains(&s("foobar"), &s("bar"), 0), Some(true));
        assert_eq!(contains(&s("foobar"), &s(""), 0), Some(true));
        assert_eq!(contains(&Val::from(1usize), &s("1"), 0), Some(false));
        with_big_stack(|| {
            let deep = nested(MAX_DEPTH + 1);
            assert_eq!(contains(&deep, &deep, 0), None);
        });
    }

    #[test]
    fn comparison_limits() {
        with_big_stack(|| {
            let deep = nested(MAX_DEPTH + 1);
            assert!(sort_too_deep(&[deep.clone(), deep.clone()], 0));
            assert!(!sort_too_deep(&[deep.clone(), Val::from(1usize)], 0));
            let shallower = nested(MAX_DEPTH - 1);
            assert!(!sort_too_deep(&[shallower.clone(), shallower.clone()], 0));
            assert!(sort_too_deep(&[shallower.clone(), shallower], 2));
        });
    }

    #[test]
    fn printing_and_parsing_limits() {
        with_big_stack(|| {
            assert!(!too_deep_to_print(&nested(MAX_DEPTH)));
            assert!(too_deep_to_print(&nested(MAX_DEPTH + 1)));
            assert!(tojson_cut(&nested(MAX_DEPTH + 1)).ends_with(&format!("[{SKIPPED}]{}", "]".repeat(MAX_DEPTH))));
        });
        assert_eq!(tojson_cut(&nested(2)), "[[[]]]");
        assert!(!json_too_deep(b"[[\"[[[\"]]"));
        assert!(json_too_deep("[".repeat(MAX_DEPTH + 1).as_bytes()));
        assert!(!json_too_deep("[".repeat(MAX_DEPTH).as_bytes()));
    }
}

//! Native filters that make jaq behave like jq 1.8 where a jq-level definition cannot
//! (or only slowly): path updates, number parsing, `length`, `implode`, error texts.

use jaq_core::native::{Filter, Fun, bome, run, v};
use jaq_core::{RunPtr, data};
use jaq_json::{Num, Val};

use super::deep;
use super::messages::{describe_val, val_type_name as type_name};
use super::val_paths::{self, num_f64};

/// The data type of our jaq filters (the same as the jaq backend's).
pub(crate) type Data = data::JustLut<Val>;

type JaqError = jaq_core::Error<Val>;

fn fail(msg: impl ToString) -> JaqError {
    JaqError::str(msg)
}

/// Every native filter of the compatibility layer.
pub(crate) fn all() -> impl Iterator<Item = Fun<Data>> {
    base().into_vec().into_iter().map(run::<Data>)
}

fn base() -> Box<[Filter<RunPtr<Data>>]> {
    Box::new([
        ("_jq_setpath", v(2), |mut cv| {
            let x = cv.0.pop_var();
            let path = cv.0.pop_var();
            bome(val_paths::setpath(cv.1, &path, x).map_err(fail))
        }),
        ("_jq_delpaths", v(1), |mut cv| {
            let ps = cv.0.pop_var();
            bome(val_paths::delpaths(cv.1, &ps).map_err(fail))
        }),
        ("_jq_check_path", v(0), |cv| bome(check_path(cv.1))),
        ("_jq_has", v(1), |mut cv| {
            let k = cv.0.pop_var();
            bome(has(&cv.1, &k))
        }),
        ("_jq_length", v(0), |cv| bome(length(cv.1))),
        ("_jq_tonumber", v(0), |cv| bome(tonumber(cv.1))),
        ("_jq_toboolean", v(0), |cv| bome(toboolean(cv.1))),
        ("_jq_implode", v(0), |cv| bome(implode(&cv.1))),
        ("_jq_contains", v(1), |mut cv| {
            let b = cv.0.pop_var();
            bome(contains(&cv.1, &b))
        }),
        ("_jq_too_deep_to_print", v(0), |cv| bome(Ok(Val::Bool(deep::too_deep_to_print(&cv.1))))),
        ("_jq_tojson_cut", v(0), |cv| bome(Ok(Val::from(deep::tojson_cut(&cv.1))))),
        ("_jq_json_too_deep", v(0), |cv| {
            let deep = matches!(&cv.1, Val::TStr(s) | Val::BStr(s) if deep::json_too_deep(s));
            bome(Ok(Val::Bool(deep)))
        }),
        ("_jq_sort_check", v(1), |mut cv| {
            let depth = cv.0.pop_var();
            bome(sort_check(cv.1, &depth))
        }),
        ("_jq_dedup_sorted", v(0), |cv| bome(dedup_sorted(cv.1))),
        ("_jq_describe", v(0), |cv| bome(Ok(Val::from(describe_val(&cv.1))))),
    ])
}

fn check_path(p: Val) -> Result<Val, JaqError> {
    val_paths::path_keys(&p).map_err(fail)?;
    Ok(p)
}

/// jq's `contains`: values of different types are an error, and so is nesting beyond
/// jq's limit.
fn contains(a: &Val, b: &Val) -> Result<Val, JaqError> {
    if deep::kinds_differ(a, b) {
        let (a, b) = (describe_val(a), describe_val(b));
        return Err(fail(format!("{a} and {b} cannot have their containment checked")));
    }
    match deep::contains(a, b, 0) {
        Some(r) => Ok(Val::Bool(r)),
        None => Err(fail("Containment check too deep")),
    }
}

/// Passes a sorted array on, unless sorting it compared values nested too deep for jq.
fn sort_check(sorted: Val, depth: &Val) -> Result<Val, JaqError> {
    let depth = match depth {
        Val::Num(n) => n.as_isize().and_then(|d| usize::try_from(d).ok()).unwrap_or(0),
        _ => 0,
    };
    match &sorted {
        Val::Arr(a) if deep::sort_too_deep(a, depth) => Err(fail("Comparison too deep")),
        _ => Ok(sorted),
    }
}

/// Drops the neighbours equal to their predecessor in a sorted array (`unique`).
fn dedup_sorted(sorted: Val) -> Result<Val, JaqError> {
    match sorted {
        Val::Arr(a) => {
            let mut v: Vec<Val> = a.iter().cloned().collect();
            v.dedup();
            Ok(Val::from_iter(v))
        }
        v => Err(fail(format!("cannot use {v} as array"))),
    }
}

/// jq's `has`: NaN and out-of-range indices are simply absent.
fn has(v: &Val, k: &Val) -> Result<Val, JaqError> {
    match (v, k) {
        (Val::Null, _) => Ok(Val::Bool(false)),
        (Val::Obj(o), Val::TStr(_) | Val::BStr(_)) => Ok(Val::Bool(o.contains_key(k))),
        (Val::Arr(a), Val::Num(n)) => {
            let f = num_f64(n);
            Ok(Val::Bool(!f.is_nan() && f >= 0.0 && (f.trunc() as usize) < a.len()))
        }
        _ => Err(fail(format!("Cannot check whether {} has a {} key", type_name(v), type_name(k)))),
    }
}

/// `length` without jaq's overflow on the smallest machine integer.
fn length(v: Val) -> Result<Val, JaqError> {
    match v {
        Val::Null => Ok(Val::from(0usize)),
        Val::Bool(_) => Err(fail(format!("boolean ({v}) has no length"))),
        Val::Num(n) => Ok(Val::Num(num_abs(n))),
        Val::TStr(s) => Ok(Val::from(String::from_utf8_lossy(&s).chars().count())),
        Val::BStr(b) => Ok(Val::from(b.len())),
        Val::Arr(a) => Ok(Val::from(a.len())),
        Val::Obj(o) => Ok(Val::from(o.len())),
    }
}

/// Absolute value of any jaq number, without overflow.
fn num_abs(n: Num) -> Num {
    match n {
        Num::Int(i) => match i.checked_abs() {
            Some(a) => Num::Int(a),
            None => Num::from_integral(i.unsigned_abs()),
        },
        Num::Float(f) => Num::Float(f.abs()),
        Num::BigInt(_) => {
            let s = n.to_string();
            Num::from_str_radix(s.trim_start_matches('-'), 10).unwrap_or(n)
        }
        Num::Dec(d) => match Num::from_dec_str(&d) {
            Num::Float(f) => Num::Float(f.abs()),
            Num::Int(i) => num_abs(Num::Int(i)),
            other => other,
        },
    }
}

/// Parses a number the way jq 1.8's `tonumber` does: the whole string, no blanks.
pub(crate) fn parse_number(s: &str) -> Option<Val> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'-' | b'+')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let int_len = digits(&mut i);
    let mut frac_len = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        frac_len = digits(&mut i);
    }
    if int_len + frac_len == 0 {
        return None;
    }
    let mut is_int = frac_len == 0 && i == b.len();
    if matches!(b.get(i), Some(b'e' | b'E')) {
        is_int = false;
        i += 1;
        if matches!(b.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    let t = s.strip_prefix('+').unwrap_or(s);
    if is_int && let Ok(n) = t.parse::<i64>() {
        return Some(Val::Num(Num::from_integral(n)));
    }
    t.parse::<f64>().ok().map(Val::from)
}

fn tonumber(v: Val) -> Result<Val, JaqError> {
    match &v {
        Val::Num(_) => Ok(v),
        Val::TStr(s) | Val::BStr(s) => match std::str::from_utf8(s).ok().and_then(parse_number) {
            Some(n) => Ok(n),
            None => Err(fail(format!("{} cannot be parsed as a number", describe_val(&v)))),
        },
        _ => Err(fail(format!("{} cannot be parsed as a number", describe_val(&v)))),
    }
}

fn toboolean(v: Val) -> Result<Val, JaqError> {
    match &v {
        Val::Bool(_) => Ok(v),
        Val::TStr(s) if &***s == b"true" => Ok(Val::Bool(true)),
        Val::TStr(s) if &***s == b"false" => Ok(Val::Bool(false)),
        _ => Err(fail(format!("{} cannot be parsed as a boolean", describe_val(&v)))),
    }
}

/// jq 1.8's `implode`: invalid code points become U+FFFD, fractions are truncated.
fn implode(v: &Val) -> Result<Val, JaqError> {
    let Val::Arr(a) = v else {
        return Err(fail("implode input must be an array"));
    };
    let mut s = String::with_capacity(a.len());
    for x in a.iter() {
        let Val::Num(n) = x else {
            let d = describe_val(x);
            return Err(fail(format!("{d} can't be imploded, unicode codepoint needs to be numeric")));
        };
        let f = num_f64(n);
        if f.is_nan() {
            return Err(fail("number (null) can't be imploded, unicode codepoint needs to be numeric"));
        }
        let c = if f < 0.0 || f > f64::from(u32::MAX) { None } else { char::from_u32(f.trunc() as u32) };
        s.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
    }
    Ok(Val::from(s))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn numbers_parse_like_jq() {
        for ok in ["1", "-876", "+5.43", ".89", "6.7", "1e3", "2."] {
            assert!(parse_number(ok).is_some(), "{ok}");
        }
        for bad in ["2a", " 4", "5 ", "", ".", "-", "1e", "nan", "0x10", "123\u{0}456"] {
            assert!(parse_number(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn length_of_smallest_integer_does_not_overflow() {
        let v = Val::Num(Num::from_integral(i64::MIN));
        assert_eq!(length(v).unwrap().to_string(), "9223372036854775808");
    }
}

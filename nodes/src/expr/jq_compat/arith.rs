//! jq 1.8's arithmetic where jaq's differs, as natives the rewritten program calls
//! (`super::super::rewrite` turns `-x`, `a / b` and `a % b` into them):
//! - `_jq_neg`: negating a non-number is "string (\"foo\") cannot be negated";
//! - `_jq_div`: dividing by zero is an error, not infinity;
//! - `_jq_mod`: the remainder truncates both sides to integers (infinities saturate), and a
//!   zero divisor is an error.
//!
//! - `_jq_index`, `_jq_slice_start`, `_jq_slice_end`: a fractional index or slice bound is
//!   truncated as jq does (an index and a start down, an end up); NaN is no element (an index
//!   far out of range), the start (0) or the end of a slice.
//!
//! The messages are jq's; everything else is jaq's own operator.

use jaq_core::box_iter::box_once;
use jaq_core::native::{Fun, unary, v};
use jaq_core::{Exn, Native};
use jaq_json::{Num, Val};

use super::funs::Data;
use super::messages::describe_val;
use super::val_paths::num_f64;

type JaqError = jaq_core::Error<Val>;

/// The arithmetic natives.
pub(crate) fn funs() -> impl Iterator<Item = Fun<Data>> {
    let neg = Native::<Data>::new(|cv| match neg(cv.1) {
        Ok(v) => box_once(Ok(v)),
        Err(e) => box_once(Err(Exn::from(e))),
    });
    let div = Native::<Data>::new(|cv| unary(cv, div));
    let rem = Native::<Data>::new(|cv| unary(cv, rem));
    let index = Native::<Data>::new(|cv| box_once(Ok(bound(cv.1, f64::floor, i64::MIN + 1))));
    let start = Native::<Data>::new(|cv| box_once(Ok(bound(cv.1, f64::floor, 0))));
    let end = Native::<Data>::new(|cv| box_once(Ok(bound(cv.1, f64::ceil, i64::MAX))));
    [
        ("_jq_neg", v(0), neg),
        ("_jq_div", v(1), div),
        ("_jq_mod", v(1), rem),
        ("_jq_index", v(0), index),
        ("_jq_slice_start", v(0), start),
        ("_jq_slice_end", v(0), end),
    ]
    .into_iter()
}

/// A number as an integer index or bound: `round` for fractions, `nan` for NaN (saturating at
/// the 64-bit bounds); anything else unchanged (object keys, `null` bounds).
fn bound(x: Val, round: fn(f64) -> f64, nan: i64) -> Val {
    match &x {
        Val::Num(Num::Float(f)) if f.is_nan() => Val::Num(Num::from_integral(nan)),
        Val::Num(Num::Float(f)) => Val::Num(Num::from_integral(round(*f) as i64)),
        Val::Num(n @ Num::Dec(_)) => bound(Val::from(num_f64(n)), round, nan),
        _ => x,
    }
}

fn neg(x: Val) -> Result<Val, JaqError> {
    match x {
        Val::Num(_) => -x,
        x => Err(JaqError::str(format!("{} cannot be negated", describe_val(&x)))),
    }
}

fn is_zero(n: &Num) -> bool {
    num_f64(n) == 0.0
}

fn div(a: Val, b: Val) -> Result<Val, JaqError> {
    match (&a, &b) {
        (Val::Num(_), Val::Num(d)) if is_zero(d) => Err(JaqError::str(format!(
            "{} and {} cannot be divided because the divisor is zero",
            describe_val(&a),
            describe_val(&b)
        ))),
        _ => a / b,
    }
}

/// jq's `dtoi`: truncation toward zero, saturating at the 64-bit bounds.
fn dtoi(f: f64) -> i64 {
    // `as` saturates and truncates toward zero, as jq's clamping does.
    f as i64
}

fn rem(a: Val, b: Val) -> Result<Val, JaqError> {
    let (Val::Num(x), Val::Num(y)) = (&a, &b) else {
        return Err(JaqError::str(format!(
            "{} and {} cannot be divided (remainder)",
            describe_val(&a),
            describe_val(&b)
        )));
    };
    let (x, y) = (num_f64(x), num_f64(y));
    if x.is_nan() || y.is_nan() {
        return Ok(Val::from(f64::NAN));
    }
    let (i, j) = (dtoi(x), dtoi(y));
    if j == 0 {
        return Err(JaqError::str(format!(
            "{} and {} cannot be divided (remainder) because the divisor is zero",
            describe_val(&a),
            describe_val(&b)
        )));
    }
    // `i % -1` overflows for i64::MIN; the answer is 0 for every i.
    let r = if j == -1 { 0 } else { i % j };
    Ok(Val::Num(Num::from_integral(r)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn n(f: f64) -> Val {
        Val::from(f)
    }

    #[test]
    fn remainder_truncates_and_saturates_like_jq() {
        assert_eq!(rem(n(5.5), n(2.0)).unwrap().to_string(), "1");
        assert_eq!(rem(n(-5.0), n(3.0)).unwrap().to_string(), "-2");
        assert_eq!(rem(n(f64::INFINITY), n(f64::INFINITY)).unwrap().to_string(), "0");
        assert_eq!(rem(n(f64::NEG_INFINITY), n(f64::INFINITY)).unwrap().to_string(), "-1");
        assert_eq!(rem(n(f64::NEG_INFINITY), n(-1.0)).unwrap().to_string(), "0");
        assert!(rem(n(1.0), n(0.5)).is_err(), "0.5 truncates to 0");
    }

    #[test]
    fn division_by_zero_is_an_error() {
        let e = div(n(1.0), n(0.0)).unwrap_err().to_string();
        assert!(e.contains("cannot be divided because the divisor is zero"), "{e}");
        assert_eq!(div(n(1.0), n(4.0)).unwrap().to_string(), "0.25");
    }
}

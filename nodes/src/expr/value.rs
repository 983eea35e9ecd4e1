//! jaq value semantics on `serde_json::Value`: ordering, truthiness, arithmetic, builtins.
//!
//! Every function here mirrors what `jaq-json` 2.x does for the same inputs. When the
//! result cannot be represented exactly as a `serde_json::Value` without changing what
//! jaq would go on to compute (integers beyond `i64`/`u64`, NaN, infinities, ...), the
//! function returns [`Fail::Jaq`] and the caller re-runs the record through jaq.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use super::jq_compat::describe;

/// Why native evaluation stopped.
#[derive(Debug)]
pub(crate) enum Fail {
    /// A jq runtime error (reported to the user).
    Err(String),
    /// Native semantics cannot reproduce jaq's result here: run jaq instead.
    Jaq,
    /// Internal: the consumer has seen enough outputs.
    Stop,
}

pub(crate) type R<T> = Result<T, Fail>;

pub(crate) fn err<T>(msg: String) -> R<T> {
    Err(Fail::Err(msg))
}

/// Arithmetic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl MathOp {
    fn as_str(self) -> &'static str {
        match self {
            MathOp::Add => "+",
            MathOp::Sub => "-",
            MathOp::Mul => "*",
            MathOp::Div => "/",
            MathOp::Rem => "%",
        }
    }
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(crate) fn eval(self, l: &Value, r: &Value) -> bool {
        // Text equality without a `memcmp` call (see `field_lookup`): the common `.type == "x"`.
        if let (CmpOp::Eq | CmpOp::Ne, Value::String(a), Value::String(b)) = (self, l, r) {
            return crate::field_lookup::same(a, b) == matches!(self, CmpOp::Eq);
        }
        let o = cmp(l, r);
        match self {
            CmpOp::Eq => o == Ordering::Equal,
            CmpOp::Ne => o != Ordering::Equal,
            CmpOp::Lt => o == Ordering::Less,
            CmpOp::Le => o != Ordering::Greater,
            CmpOp::Gt => o == Ordering::Greater,
            CmpOp::Ge => o != Ordering::Less,
        }
    }
}

/// jq truthiness: everything except `null` and `false` is true.
pub(crate) fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}

/// A JSON number as jaq sees it: an exact integer or a float.
#[derive(Clone, Copy, Debug)]
pub(crate) enum N {
    I(i128),
    F(f64),
}

pub(crate) fn num(n: &Number) -> N {
    if let Some(i) = n.as_i64() {
        N::I(i128::from(i))
    } else if let Some(u) = n.as_u64() {
        N::I(i128::from(u))
    } else {
        N::F(n.as_f64().unwrap_or(f64::NAN))
    }
}

impl N {
    fn f(self) -> f64 {
        match self {
            N::I(i) => i as f64,
            N::F(f) => f,
        }
    }

    /// Converts back; values that `serde_json` cannot hold exactly go to jaq.
    pub(crate) fn value(self) -> R<Value> {
        match self {
            N::I(i) => {
                if let Ok(i) = i64::try_from(i) {
                    Ok(Value::from(i))
                } else if let Ok(u) = u64::try_from(i) {
                    Ok(Value::from(u))
                } else {
                    Err(Fail::Jaq)
                }
            }
            N::F(f) if f.is_finite() => Ok(Value::from(f)),
            N::F(_) => Err(Fail::Jaq),
        }
    }
}

/// jaq's float comparison: `-0 == 0`, NaN smaller than everything.
fn float_cmp(l: f64, r: f64) -> Ordering {
    if l == 0.0 && r == 0.0 {
        Ordering::Equal
    } else if l.is_nan() {
        Ordering::Less
    } else if r.is_nan() {
        Ordering::Greater
    } else {
        l.total_cmp(&r)
    }
}

fn num_cmp(l: N, r: N) -> Ordering {
    match (l, r) {
        (N::I(a), N::I(b)) => a.cmp(&b),
        (a, b) => float_cmp(a.f(), b.f()),
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

/// jq total order: null < false < true < numbers < strings < arrays < objects.
pub(crate) fn cmp(l: &Value, r: &Value) -> Ordering {
    match (l, r) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Value::Number(a), Value::Number(b)) => num_cmp(num(a), num(b)),
        (Value::String(a), Value::String(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Value::Array(a), Value::Array(b)) => {
            for (x, y) in a.iter().zip(b.iter()) {
                let o = cmp(x, y);
                if o != Ordering::Equal {
                    return o;
                }
            }
            a.len().cmp(&b.len())
        }
        (Value::Object(a), Value::Object(b)) => obj_cmp(a, b),
        _ => rank(l).cmp(&rank(r)),
    }
}

fn obj_cmp(a: &Map<String, Value>, b: &Map<String, Value>) -> Ordering {
    match (a.len(), b.len()) {
        (0, 0) => return Ordering::Equal,
        (0, _) => return Ordering::Less,
        (_, 0) => return Ordering::Greater,
        _ => {}
    }
    let mut l: Vec<_> = a.iter().collect();
    let mut r: Vec<_> = b.iter().collect();
    l.sort_by(|x, y| x.0.cmp(y.0));
    r.sort_by(|x, y| x.0.cmp(y.0));
    let keys = l.iter().map(|kv| kv.0).cmp(r.iter().map(|kv| kv.0));
    keys.then_with(|| {
        for ((_, x), (_, y)) in l.iter().zip(r.iter()) {
            let o = cmp(x, y);
            if o != Ordering::Equal {
                return o;
            }
        }
        l.len().cmp(&r.len())
    })
}

pub(crate) fn eq(l: &Value, r: &Value) -> bool {
    cmp(l, r) == Ordering::Equal
}

/// Short rendering of a value for error messages (like jaq's, truncated).
pub(crate) fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        let mut t: String = s.chars().take(37).collect();
        t.push_str("...");
        t
    } else {
        s
    }
}

fn math_err<T>(op: MathOp, l: &Value, r: &Value) -> R<T> {
    err(format!("cannot calculate {} {} {}", show(l), op.as_str(), show(r)))
}

fn num_math(op: MathOp, a: N, b: N) -> R<N> {
    use N::{F, I};
    Ok(match (op, a, b) {
        (MathOp::Add, I(x), I(y)) => I(x.checked_add(y).ok_or(Fail::Jaq)?),
        (MathOp::Sub, I(x), I(y)) => I(x.checked_sub(y).ok_or(Fail::Jaq)?),
        (MathOp::Mul, I(x), I(y)) => I(x.checked_mul(y).ok_or(Fail::Jaq)?),
        (MathOp::Rem, I(x), I(y)) => I(x.checked_rem(y).unwrap_or(0)),
        (MathOp::Add, x, y) => F(x.f() + y.f()),
        (MathOp::Sub, x, y) => F(x.f() - y.f()),
        (MathOp::Mul, x, y) => F(x.f() * y.f()),
        // jq: dividing by zero is an error, and `%` truncates fractions: jaq's rules (ours)
        (MathOp::Div, _, y) if y.f() == 0.0 => return Err(Fail::Jaq),
        (MathOp::Div, x, y) => F(x.f() / y.f()),
        (MathOp::Rem, _, _) => return Err(Fail::Jaq),
    })
}

/// `l op r` with jaq semantics, on borrowed operands.
pub(crate) fn math(op: MathOp, l: &Value, r: &Value) -> R<Value> {
    match (op, l, r) {
        (_, Value::Number(a), Value::Number(b)) => {
            let (a, b) = (num(a), num(b));
            if op == MathOp::Rem && matches!((a, b), (N::I(_), N::I(0))) {
                return math_err(op, l, r);
            }
            num_math(op, a, b)?.value()
        }
        (MathOp::Add, Value::Null, x) | (MathOp::Add, x, Value::Null) => Ok(x.clone()),
        (MathOp::Add, Value::String(a), Value::String(b)) => {
            let mut s = String::with_capacity(a.len() + b.len());
            s.push_str(a);
            s.push_str(b);
            Ok(Value::String(s))
        }
        (MathOp::Add, Value::Array(a), Value::Array(b)) => {
            let mut v = Vec::with_capacity(a.len() + b.len());
            v.extend(a.iter().cloned());
            v.extend(b.iter().cloned());
            Ok(Value::Array(v))
        }
        (MathOp::Add, Value::Object(a), Value::Object(b)) => {
            let mut m = a.clone();
            for (k, v) in b {
                m.insert(k.clone(), v.clone());
            }
            Ok(Value::Object(m))
        }
        (MathOp::Sub, Value::Array(a), Value::Array(b)) => {
            Ok(Value::Array(a.iter().filter(|x| !b.iter().any(|y| eq(x, y))).cloned().collect()))
        }
        (MathOp::Mul, Value::String(s), Value::Number(n)) | (MathOp::Mul, Value::Number(n), Value::String(s)) => {
            str_repeat(s, n, l, r)
        }
        (MathOp::Mul, Value::Object(a), Value::Object(b)) => {
            let mut m = a.clone();
            obj_merge(&mut m, b);
            Ok(Value::Object(m))
        }
        (MathOp::Div, Value::String(a), Value::String(b)) => Ok(split(a, b)),
        _ => math_err(op, l, r),
    }
}

/// `l op= r` in place (atomic: `l` is untouched when an error is returned).
pub(crate) fn math_assign(op: MathOp, l: &mut Value, r: &Value) -> R<()> {
    match (op, &mut *l, r) {
        (MathOp::Add, _, Value::Null) => Ok(()),
        (MathOp::Add, Value::String(a), Value::String(b)) => {
            a.push_str(b);
            Ok(())
        }
        (MathOp::Add, Value::Array(a), Value::Array(b)) => {
            a.extend(b.iter().cloned());
            Ok(())
        }
        (MathOp::Add, Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                a.insert(k.clone(), v.clone());
            }
            Ok(())
        }
        (MathOp::Mul, Value::Object(a), Value::Object(b)) => {
            obj_merge(a, b);
            Ok(())
        }
        _ => {
            let new = math(op, l, r)?;
            *l = new;
            Ok(())
        }
    }
}

fn obj_merge(l: &mut Map<String, Value>, r: &Map<String, Value>) {
    for (k, v) in r {
        match (l.get_mut(k), v) {
            (Some(Value::Object(lo)), Value::Object(ro)) => obj_merge(lo, ro),
            (Some(lv), v) => *lv = v.clone(),
            (None, v) => {
                l.insert(k.clone(), v.clone());
            }
        }
    }
}

fn str_repeat(s: &str, n: &Number, _l: &Value, _r: &Value) -> R<Value> {
    // jq 1.8: negative or NaN gives null, a fraction is truncated, 0 gives "".
    let times = match num(n) {
        N::F(f) if f.is_nan() || f < 0.0 => return Ok(Value::Null),
        N::F(f) => f.trunc(),
        N::I(i) if i < 0 => return Ok(Value::Null),
        N::I(i) => i as f64,
    };
    // jaq would try to allocate a huge one and abort the process: refuse instead
    if (s.len() as f64) * times > MAX_REPEAT_BYTES as f64 {
        return err(REPEAT_TOO_LARGE.to_owned());
    }
    Ok(Value::String(s.repeat(times as usize)))
}

/// Largest string that `"s" * n` may build natively (the result budget).
const MAX_REPEAT_BYTES: usize = super::limits::MAX_RESULT_BYTES;
/// Error message of a refused string repetition (jq 1.8's words).
pub(crate) const REPEAT_TOO_LARGE: &str = "Repeat string result too long";

fn split(s: &str, sep: &str) -> Value {
    let parts: Vec<Value> = if s.is_empty() {
        Vec::new()
    } else if sep.is_empty() {
        let mut out = Vec::new();
        let mut buf = [0u8; 4];
        for c in s.chars() {
            out.push(Value::String(c.encode_utf8(&mut buf).to_string()));
        }
        out
    } else {
        s.split(sep).map(|p| Value::String(p.to_string())).collect()
    };
    Value::Array(parts)
}

pub(crate) fn neg(v: &Value) -> R<Value> {
    match v {
        Value::Number(n) => match num(n) {
            N::I(i) => N::I(-i).value(),
            N::F(f) => N::F(-f).value(),
        },
        _ => err(format!("cannot use {} as number", show(v))),
    }
}

pub(crate) fn length(v: &Value) -> R<Value> {
    match v {
        Value::Null => Ok(Value::from(0)),
        Value::Bool(_) => err(format!("{} has no length", show(v))),
        Value::Number(n) => match num(n) {
            // jaq 2.0.3 computes `isize::abs` here, which overflows (panics in debug
            // builds, wraps in release) for i64::MIN; we return the exact 2^63
            N::I(i) => N::I(i.abs()).value(),
            N::F(f) => N::F(f.abs()).value(),
        },
        Value::String(s) => Ok(Value::from(s.chars().count())),
        Value::Array(a) => Ok(Value::from(a.len())),
        Value::Object(o) => Ok(Value::from(o.len())),
    }
}

/// jq `type`.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Absolute array index for a possibly negative index (jaq's `abs_index`).
pub(crate) fn abs_index(i: i64, len: usize) -> Option<usize> {
    let j = if i >= 0 { usize::try_from(i).ok()? } else { len.checked_sub(usize::try_from(i.unsigned_abs()).ok()?)? };
    (j < len).then_some(j)
}

/// `has(k)` as jq 1.8 has it: negative or fractional-out-of-range indices are absent,
/// other key types are an error (the same as the jaq path's `has`, see `jq_compat`).
pub(crate) fn has(v: &Value, k: &Value) -> R<Value> {
    match (v, k) {
        (Value::Null, _) => Ok(Value::Bool(false)),
        (Value::Object(o), Value::String(k)) => Ok(Value::Bool(o.contains_key(k))),
        (Value::Array(a), Value::Number(n)) => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            Ok(Value::Bool(!f.is_nan() && f >= 0.0 && (f.trunc() as usize) < a.len()))
        }
        _ => err(format!("Cannot check whether {} has a {} key", type_name(v), type_name(k))),
    }
}

/// `contains(x)` as jq 1.8 has it: values of different types are an error.
pub(crate) fn contains_checked(l: &Value, r: &Value) -> R<Value> {
    if type_name(l) != type_name(r) {
        return err(format!("{} and {} cannot have their containment checked", describe(l), describe(r)));
    }
    Ok(Value::Bool(contains(l, r)))
}

/// `contains(x)` below the top level (mismatched types are not contained).
pub(crate) fn contains(l: &Value, r: &Value) -> bool {
    match (l, r) {
        (Value::String(a), Value::String(b)) => a.contains(b.as_str()),
        (Value::Array(a), Value::Array(b)) => b.iter().all(|y| a.iter().any(|x| contains(x, y))),
        (Value::Object(a), Value::Object(b)) => b.iter().all(|(k, y)| a.get(k).is_some_and(|x| contains(x, y))),
        _ => eq(l, r),
    }
}

fn not_a_string(v: &Value) -> Fail {
    Fail::Err(format!("cannot use {} as string", show(v)))
}

/// `startswith(s)` / `endswith(s)`.
pub(crate) fn str_affix(v: &Value, s: &Value, prefix: bool) -> R<Value> {
    let v = v.as_str().ok_or_else(|| not_a_string(v))?;
    let s = s.as_str().ok_or_else(|| not_a_string(s))?;
    Ok(Value::Bool(if prefix { v.starts_with(s) } else { v.ends_with(s) }))
}

/// `ascii_downcase` / `ascii_upcase`.
pub(crate) fn ascii_case(v: &Value, upper: bool) -> R<Value> {
    let s = v.as_str().ok_or_else(|| not_a_string(v))?;
    Ok(Value::String(if upper { s.to_ascii_uppercase() } else { s.to_ascii_lowercase() }))
}

/// `tostring`: strings unchanged, everything else as compact JSON.
pub(crate) fn tostring(v: &Value) -> R<Value> {
    match v {
        Value::String(s) => Ok(Value::String(s.clone())),
        _ => {
            let s = serde_json::to_string(v).map_err(|e| Fail::Err(e.to_string()))?;
            // jaq escapes U+007F, serde_json does not; jaq prints exponents as `1e+300`.
            if s.contains('\u{7f}') || has_exponent_float(v) {
                return Err(Fail::Jaq);
            }
            Ok(Value::String(s))
        }
    }
}

/// True when `v` holds a float that serde_json prints with an exponent.
fn has_exponent_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64() && n.to_string().contains(['e', 'E']),
        Value::Array(items) => items.iter().any(has_exponent_float),
        Value::Object(m) => m.values().any(has_exponent_float),
        _ => false,
    }
}

/// `tonumber` for the plain cases; anything unusual is left to jaq.
pub(crate) fn tonumber(v: &Value) -> R<Value> {
    match v {
        Value::Number(_) => Ok(v.clone()),
        Value::String(s) => parse_plain_number(s).ok_or(Fail::Jaq),
        _ => err(format!("cannot use {} as string", show(v))),
    }
}

/// Parses `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?` the way jaq's JSON reader does,
/// but only when the result prints exactly like the text (so jaq's decimal-preserving
/// numbers cannot be told apart from ours).
pub(crate) fn parse_plain_number(s: &str) -> Option<Value> {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_len = i - int_start;
    if int_len == 0 || (int_len > 1 && b[int_start] == b'0') {
        return None;
    }
    if i == b.len() {
        return s.parse::<i64>().ok().map(Value::from);
    }
    let f: f64 = s.parse().ok()?;
    if !f.is_finite() || !s[int_start..].bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        return None;
    }
    let v = Value::from(f);
    prints_as(&v, s).then_some(v)
}

/// True when `v` serializes to exactly `text`.
pub(crate) fn prints_as(v: &Value, text: &str) -> bool {
    serde_json::to_string(v).is_ok_and(|t| t == text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ordering_follows_jq() {
        let order = [
            json!(null),
            json!(false),
            json!(true),
            json!(-1.5),
            json!(0),
            json!(1),
            json!(""),
            json!("a"),
            json!([]),
            json!([0]),
            json!({}),
            json!({"a": 1}),
        ];
        for w in order.windows(2) {
            assert_eq!(cmp(&w[0], &w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
        }
        assert!(eq(&json!(1), &json!(1.0)));
        assert!(eq(&json!(-0.0), &json!(0)));
        assert!(eq(&json!({"a":1,"b":2}), &json!({"b":2,"a":1.0})));
    }

    #[test]
    fn plain_numbers() {
        assert_eq!(parse_plain_number("12"), Some(json!(12)));
        assert_eq!(parse_plain_number("-1.5"), Some(json!(-1.5)));
        assert_eq!(parse_plain_number("1.50"), None);
        assert_eq!(parse_plain_number("012"), None);
        assert_eq!(parse_plain_number(" 1"), None);
        assert_eq!(parse_plain_number("1e3"), None);
    }

    #[test]
    fn overflow_goes_to_jaq() {
        let big = json!(i64::MAX);
        assert!(matches!(math(MathOp::Mul, &big, &big), Err(Fail::Jaq)));
        assert_eq!(math(MathOp::Add, &big, &json!(1)).ok(), Some(json!(9223372036854775808u64)));
        assert!(matches!(math(MathOp::Div, &json!(1), &json!(0)), Err(Fail::Jaq)));
    }
}

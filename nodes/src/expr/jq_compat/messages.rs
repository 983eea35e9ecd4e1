//! jq's wording for values in error messages, and for errors reported to the user.

use jaq_json::Val;
use serde_json::Value;

/// The text of an uncaught error, as jq prints it: a string error is its text (not a
/// quoted JSON string), any other value is its JSON followed by `(not a string)`.
pub(crate) fn error_text(e: jaq_core::Error<Val>) -> String {
    match e.into_val() {
        Val::TStr(s) | Val::BStr(s) => {
            let text = String::from_utf8_lossy(&s);
            translate_jaq_message(&text).unwrap_or_else(|| text.into_owned())
        }
        v => format!("{v} (not a string)"),
    }
}

/// `_jq_error_msg`: what `catch` hands its handler (the rewrite puts it first in every
/// `catch`): a message of jaq's core in jq's words; any other error value unchanged.
pub(crate) fn funs() -> impl Iterator<Item = jaq_core::native::Fun<super::funs::Data>> {
    let native = jaq_core::Native::<super::funs::Data>::new(|cv| {
        let out = match &cv.1 {
            Val::TStr(s) | Val::BStr(s) => match translate_jaq_message(&String::from_utf8_lossy(s)) {
                Some(t) => Val::from(t),
                None => cv.1,
            },
            _ => cv.1,
        };
        jaq_core::box_iter::box_once(Ok(out))
    });
    [("_jq_error_msg", jaq_core::native::v(0), native)].into_iter()
}

/// jq's words for an error message of jaq's core (indexing, iteration, arithmetic, path
/// expressions), or `None` when `msg` is not one of those.
pub(crate) fn translate_jaq_message(msg: &str) -> Option<String> {
    if let Some(rest) = msg.strip_prefix("cannot index ") {
        let (l, rest) = json_prefix(rest)?;
        let (r, rest) = json_prefix(rest.strip_prefix(" with ")?)?;
        return rest.is_empty().then(|| format!("Cannot index {} with {}", type_name(&l), describe(&r)));
    }
    if let Some(rest) = msg.strip_prefix("cannot use ") {
        let (v, rest) = json_prefix(rest)?;
        return (rest == " as iterable (array or object)").then(|| format!("Cannot iterate over {}", describe(&v)));
    }
    if let Some(rest) = msg.strip_prefix("cannot calculate ") {
        let (l, rest) = json_prefix(rest)?;
        let rest = rest.strip_prefix(' ')?;
        let (op, rest) = rest.split_once(' ')?;
        let (r, rest) = json_prefix(rest)?;
        let verb = match op {
            "+" => "added",
            "-" => "subtracted",
            "*" => "multiplied",
            "/" => "divided",
            "%" => "divided (remainder)",
            _ => return None,
        };
        return rest.is_empty().then(|| format!("{} and {} cannot be {verb}", describe(&l), describe(&r)));
    }
    if let Some(rest) = msg.strip_prefix("invalid path expression with input ") {
        let (v, rest) = json_prefix(rest)?;
        return rest.is_empty().then(|| format!("Invalid path expression with result {}", truncated_dump(&v)));
    }
    None
}

/// The JSON value at the start of `s` and what follows it.
fn json_prefix(s: &str) -> Option<(Value, &str)> {
    let mut values = serde_json::Deserializer::from_str(s).into_iter::<Value>();
    let v = values.next()?.ok()?;
    Some((v, &s[values.byte_offset()..]))
}

/// jq's type name of a value (the native evaluator's `type`).
pub(crate) use super::super::value::type_name;

/// Size of jq's buffer for values quoted in error messages (`char errbuf[30]`).
const ERRBUF: usize = 30;

/// The value as jq quotes it in error messages: compact JSON cut to 29 bytes with `...`
/// (and the closing delimiter kept), like jq's `jv_dump_string_trunc`.
pub(crate) fn truncated_dump(v: &Value) -> String {
    truncate_dump(v.to_string())
}

/// jq's type name of a jaq value.
pub(crate) fn val_type_name(v: &Val) -> &'static str {
    match v {
        Val::Null => "null",
        Val::Bool(_) => "boolean",
        Val::Num(_) => "number",
        Val::TStr(_) | Val::BStr(_) => "string",
        Val::Arr(_) => "array",
        Val::Obj(_) => "object",
    }
}

/// `type (value)` of a jaq value, as jq describes a value in error messages.
pub(crate) fn describe_val(v: &Val) -> String {
    format!("{} ({})", val_type_name(v), truncate_dump(v.to_string()))
}

/// Cuts compact JSON text like jq's `jv_dump_string_trunc`.
pub(crate) fn truncate_dump(s: String) -> String {
    if s.len() < ERRBUF {
        return s;
    }
    let delim = match s.as_bytes().first() {
        Some(b'"') => Some('"'),
        Some(b'[') => Some(']'),
        Some(b'{') => Some('}'),
        _ => None,
    };
    let mut l = ERRBUF - if delim.is_some() { 5 } else { 4 };
    while !s.is_char_boundary(l) {
        l -= 1;
    }
    let mut out = s[..l].to_string();
    out.push_str("...");
    out.extend(delim);
    out
}

/// `type (value)`, as jq describes a value in error messages.
pub(crate) fn describe(v: &Value) -> String {
    format!("{} ({})", type_name(v), truncated_dump(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn uncaught_errors_read_like_jq() {
        assert_eq!(error_text(jaq_core::Error::new(Val::from("boom".to_string()))), "boom");
        assert_eq!(error_text(jaq_core::Error::new(Val::from(1usize))), "1 (not a string)");
    }

    #[test]
    fn long_values_are_cut_like_jq() {
        assert_eq!(describe(&json!("very-long-long-long-long-string")), "string (\"very-long-long-long-long...\")");
        assert_eq!(describe(&json!({"a": 1})), "object ({\"a\":1})");
        assert_eq!(describe(&json!(null)), "null (null)");
    }
}

//! jq's wording for values in error messages, and for errors reported to the user.

use jaq_json::Val;
use serde_json::Value;

/// The text of an uncaught error, as jq prints it: a string error is its text (not a
/// quoted JSON string), any other value is its JSON followed by `(not a string)`.
pub(crate) fn error_text(e: jaq_core::Error<Val>) -> String {
    match e.into_val() {
        Val::TStr(s) | Val::BStr(s) => String::from_utf8_lossy(&s).into_owned(),
        v => format!("{v} (not a string)"),
    }
}

/// jq's type name of a value.
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

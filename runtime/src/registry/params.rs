//! A GUI-free description of a node kind's parameters, rendered by the editor as a form
//! and printed by `streamloom nodes`.

use serde::Serialize;
use serde_json::Value;

use crate::problem::{MAX_NAME, cut};

/// The type of one parameter, with its range or choices.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ParamKind {
    /// Free text.
    Text,
    /// A file path (relative paths are resolved against the graph file's folder).
    Path,
    /// A jq expression, checked as it is typed.
    Expression,
    /// A whole number within a range.
    Integer {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A number within a range.
    Float {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// On or off.
    Bool,
    /// One of a fixed set of strings.
    Choice {
        /// The allowed values.
        choices: Vec<String>,
    },
    /// A list of strings.
    TextList,
}

/// One parameter of a node kind's config.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamSpec {
    /// Field name in the config.
    pub name: String,
    /// Type and range.
    pub kind: ParamKind,
    /// What it does, one or two sentences.
    pub doc: String,
    /// Whether the field may be absent (absent means `null` / the kind's fallback).
    pub optional: bool,
}

impl ParamSpec {
    /// A required parameter.
    pub fn new(name: &str, kind: ParamKind, doc: &str) -> Self {
        ParamSpec { name: name.into(), kind, doc: doc.into(), optional: false }
    }
    /// An optional parameter.
    pub fn optional(name: &str, kind: ParamKind, doc: &str) -> Self {
        ParamSpec { optional: true, ..Self::new(name, kind, doc) }
    }
    /// A choice among `choices`; the first is the kind's default, shown when a file omits the field.
    pub fn choice(name: &str, choices: &[&str], doc: &str) -> Self {
        Self::new(name, ParamKind::Choice { choices: choices.iter().map(|c| c.to_string()).collect() }, doc)
    }
    /// An integer in `min..=max`.
    pub fn integer(name: &str, min: i64, max: i64, doc: &str) -> Self {
        Self::new(name, ParamKind::Integer { min, max }, doc)
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("`{}`", cut(s, MAX_NAME)),
        other => cut(&other.to_string(), MAX_NAME).into_owned(),
    }
}

/// What is wrong with `value` for parameter `spec` (its type, range or choices), if anything.
/// `null` is accepted for an optional parameter and left to the config's own reading otherwise.
pub fn check_param(spec: &ParamSpec, value: &Value) -> Option<String> {
    if value.is_null() {
        return None;
    }
    match &spec.kind {
        ParamKind::Text | ParamKind::Path | ParamKind::Expression => {
            (!value.is_string()).then(|| format!("must be text in quotes, not {}", shown(value)))
        }
        ParamKind::Bool => (!value.is_boolean()).then(|| format!("must be true or false, not {}", shown(value))),
        ParamKind::Integer { min, max } => match (value.as_i64(), value.as_u64()) {
            (Some(n), _) if (*min..=*max).contains(&n) => None,
            (Some(_), _) | (None, Some(_)) => Some(format!("{} is out of range {min}..={max}", shown(value))),
            (None, None) if value.is_number() => Some(format!("must be a whole number, not {}", shown(value))),
            (None, None) => Some(format!("must be a whole number in {min}..={max}, not {}", shown(value))),
        },
        ParamKind::Float { min, max } => match value.as_f64() {
            Some(x) if x >= *min && x <= *max => None,
            Some(_) => Some(format!("{} is out of range {min}..={max}", shown(value))),
            None => Some(format!("must be a number in {min}..={max}, not {}", shown(value))),
        },
        ParamKind::Choice { choices } => match value.as_str() {
            Some(s) if choices.iter().any(|c| c == s) => None,
            _ => Some(format!("{} is not one of: {}", shown(value), choices.join(", "))),
        },
        ParamKind::TextList => match value.as_array() {
            Some(items) if items.iter().all(Value::is_string) => None,
            _ => Some(format!("must be a list of texts, like [\"a\", \"b\"], not {}", shown(value))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_param_kind_checks_type_range_and_choice() {
        let int = ParamSpec::integer("n", 1, 10, "");
        assert_eq!(check_param(&int, &json!(5)), None);
        for bad in [json!(0), json!(-1), json!(11), json!(u64::MAX), json!(1.5), json!(1e30), json!("5")] {
            assert!(check_param(&int, &bad).is_some(), "{bad}");
        }
        let float = ParamSpec::new("x", ParamKind::Float { min: 0.001, max: 1e9 }, "");
        assert_eq!(check_param(&float, &json!(2)), None);
        for bad in [json!(0), json!(-1.0), json!(1e-30), json!(1e30), json!("1")] {
            assert!(check_param(&float, &bad).is_some(), "{bad}");
        }
        let choice = ParamSpec::choice("c", &["a", "b"], "");
        assert_eq!(check_param(&choice, &json!("a")), None);
        let msg = check_param(&choice, &json!("x".repeat(1 << 20))).unwrap();
        assert!(msg.contains("is not one of: a, b") && msg.len() < 300, "{}", msg.len());
        let list = ParamSpec::new("l", ParamKind::TextList, "");
        assert!(check_param(&list, &json!(["a", 1])).is_some());
        assert_eq!(check_param(&ParamSpec::optional("o", ParamKind::Bool, ""), &json!(null)), None);
    }
}

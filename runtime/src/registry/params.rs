//! A GUI-free description of a node kind's parameters, rendered by the editor as a form
//! and printed by `streamloom nodes`.

use serde::Serialize;

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
    /// A choice among `choices`.
    pub fn choice(name: &str, choices: &[&str], doc: &str) -> Self {
        Self::new(name, ParamKind::Choice { choices: choices.iter().map(|c| c.to_string()).collect() }, doc)
    }
    /// An integer in `min..=max`.
    pub fn integer(name: &str, min: i64, max: i64, doc: &str) -> Self {
        Self::new(name, ParamKind::Integer { min, max }, doc)
    }
}

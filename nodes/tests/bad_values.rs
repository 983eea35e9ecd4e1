//! Bad values never crash: every numeric parameter of every kind gets 0, negative, NaN,
//! infinities, 1e-30 and 1e30 (written as RON in a graph file), every choice an unknown
//! string, the graph settings the same; each is a problem with its place or valid, and what
//! validates also builds without a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde_json::Value;
use streamloom_nodes::builtin_registry;
use streamloom_runtime::graph::{Graph, Node, parse, to_ron};
use streamloom_runtime::registry::{BuildContext, ParamKind};
use streamloom_runtime::validate::validate_located;

const NUMBERS: &[&str] = &["0", "-1", "-1.5", "NaN", "inf", "-inf", "1e-30", "1e30", "-1e30", "18446744073709551615"];
const MARK: &str = "\"__VALUE__\"";

/// Graph text with one node of `kind` whose `field` is the RON literal `literal`.
fn graph_text(kind: &str, config: Value, field: &str, literal: &str) -> String {
    let mut config = config;
    config[field] = Value::String("__VALUE__".into());
    let graph = Graph {
        nodes: vec![Node { id: "n".into(), kind: kind.into(), version: 1, position: None, config }],
        ..Default::default()
    };
    let text = to_ron(&graph);
    assert!(text.contains(MARK), "{text}");
    text.replace(MARK, literal)
}

/// Loads and validates `text`; returns whether the value is valid (no problem names `field`).
/// Every problem must have its place; a value that validates must build.
fn outcome(text: &str, field: &str, what: &str) -> bool {
    let registry = builtin_registry();
    let result = catch_unwind(AssertUnwindSafe(|| match parse(text) {
        Err(problems) => {
            for p in &problems.0 {
                assert!(p.location.line_col.is_some(), "{what}: no line:col: {p}");
                assert_eq!(p.location.node.as_deref(), Some("n"), "{what}: {p}");
                assert_eq!(p.location.field.as_deref(), Some(field), "{what}: {p}");
            }
            false
        }
        Ok((graph, map)) => {
            let problems = validate_located(&graph, &registry, &map);
            let mine: Vec<_> = problems.0.iter().filter(|p| p.location.field.as_deref() == Some(field)).collect();
            for p in &problems.0 {
                assert!(p.location.line_col.is_some(), "{what}: no line:col: {p}");
            }
            for p in &mine {
                assert_eq!(p.location.node.as_deref(), Some("n"), "{what}: {p}");
            }
            if mine.is_empty() {
                let node = &graph.nodes[0];
                let kind = registry.get(&node.kind).unwrap();
                let tmp = tempfile::tempdir().unwrap();
                let ctx = BuildContext { node_id: "n".into(), base_dir: tmp.path().into(), batch_size: 1024 };
                if kind.validate(&node.config).is_empty() {
                    assert!(kind.build(&node.config, &ctx).is_ok(), "{what}: validates but does not build");
                }
            }
            mine.is_empty()
        }
    }));
    result.unwrap_or_else(|_| panic!("{what}: panicked on\n{text}"))
}

#[test]
fn every_numeric_parameter_and_choice_refuses_bad_values_with_a_place() {
    let registry = builtin_registry();
    let mut checked = 0;
    for kind in registry.kinds() {
        for param in kind.params() {
            let (literals, is_number): (Vec<String>, bool) = match &param.kind {
                ParamKind::Integer { .. } | ParamKind::Float { .. } => {
                    (NUMBERS.iter().map(|s| s.to_string()).collect(), true)
                }
                ParamKind::Choice { .. } => {
                    (vec!["\"bogus\"".into(), "\"\"".into(), format!("\"{}\"", "z".repeat(1 << 20))], false)
                }
                _ => continue,
            };
            for literal in &literals {
                let what = format!("{}.{} = {}", kind.name(), param.name, &literal[..literal.len().min(40)]);
                let text = graph_text(kind.name(), kind.default_config(), &param.name, literal);
                let valid = outcome(&text, &param.name, &what);
                if let (ParamKind::Integer { min, max }, Ok(n)) = (&param.kind, literal.parse::<i64>()) {
                    assert_eq!(valid, (*min..=*max).contains(&n), "{what}");
                }
                if let ParamKind::Float { min, max } = &param.kind
                    && let Ok(x) = literal.parse::<f64>()
                {
                    assert_eq!(valid, x >= *min && x <= *max, "{what}");
                }
                if !is_number {
                    assert!(!valid, "{what}: an unknown choice is refused");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 40, "{checked} values checked");
    eprintln!("{checked} parameter values checked");
}

#[test]
fn graph_settings_refuse_bad_values_with_a_place() {
    for field in ["batch_size", "default_capacity"] {
        for literal in NUMBERS {
            let text = format!(
                "(format: 1,\n settings: ({field}: {literal}),\n nodes: [(id: \"g\", kind: \"generator\", config: ()), (id: \"s\", kind: \"null_sink\", config: ())],\n wires: [(from: (\"g\", \"out\"), to: (\"s\", \"in\"))])"
            );
            let problems = match parse(&text) {
                Err(p) => p,
                Ok((graph, map)) => validate_located(&graph, &builtin_registry(), &map),
            };
            let ok = literal.parse::<u64>().is_ok_and(|n| (1..=100_000).contains(&n));
            assert_eq!(problems.0.is_empty(), ok, "{field} = {literal}: {problems}");
            for p in &problems.0 {
                assert_eq!(p.location.line_col.map(|(l, _)| l), Some(2), "{field} = {literal}: {p}");
            }
        }
    }
}

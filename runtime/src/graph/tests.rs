//! Loading hostile graph text: every problem has its place, nothing recurses without a bound.

use super::{MAX_CONFIG_DEPTH, parse, parse_bytes};
use crate::problem::Problem;

fn node_with_config(config: &str) -> String {
    format!(
        "(\n    format: 1,\n    nodes: [\n        (id: \"deep\", kind: \"map\", config: (expression: \".\", extra: {config})),\n    ],\n)\n"
    )
}

fn only_problem(text: &str) -> Problem {
    let problems = parse(text).map(|_| ()).expect_err("refused");
    assert_eq!(problems.0.len(), 1, "{problems}");
    problems.0[0].clone()
}

#[test]
fn a_config_nested_a_million_deep_is_refused_with_its_place_not_a_stack_overflow() {
    for open in ["[", "(a: ", "{\"a\": ", "Some("] {
        let text = node_with_config(&open.repeat(200_000));
        let p = only_problem(&text);
        assert_eq!(p.location.line_col.map(|(l, _)| l), Some(4), "{p}");
        assert_eq!(p.location.node.as_deref(), Some("deep"), "{p}");
        assert_eq!(p.location.field.as_deref(), Some("extra"), "{p}");
        assert!(p.message.contains("nested deeper than"), "{p}");
    }
}

#[test]
fn config_depth_up_to_the_limit_loads_and_one_more_is_refused() {
    for (open, close) in [("[", "]"), ("(a: ", ")"), ("{\"a\": ", "}"), ("[Some(", ")]")] {
        let nested = |n: usize| format!("{}1{}", open.repeat(n), close.repeat(n));
        // The config struct itself is one level; `extra` adds the rest.
        let text = node_with_config(&nested(MAX_CONFIG_DEPTH - 1));
        let (graph, _) = parse(&text).unwrap_or_else(|p| panic!("{open}: {p}"));
        assert_eq!(super::config_depth(&graph.nodes[0].config), MAX_CONFIG_DEPTH);
        let p = only_problem(&node_with_config(&nested(MAX_CONFIG_DEPTH)));
        assert!(p.message.contains(&format!("nested deeper than {MAX_CONFIG_DEPTH} levels")), "{open}: {p}");
    }
}

#[test]
fn deep_nesting_outside_configs_is_refused_by_the_ron_limit() {
    let text = format!("(format: 1, name: {}\"x\")", "Some(".repeat(200_000));
    let p = only_problem(&text);
    assert!(p.message.contains("nested deeper than"), "{p}");
    assert!(p.location.line_col.is_some());
    let text = format!("(format: 1, nodes: [{}", "(".repeat(200_000));
    let p = only_problem(&text);
    assert!(p.location.line_col.is_some(), "{p}");
}

#[test]
fn numbers_json_cannot_hold_are_refused_naming_node_and_field() {
    for (value, words) in [
        ("NaN", "not a finite number"),
        ("inf", "not a finite number"),
        ("-inf", "not a finite number"),
        ("1e400", "not a finite number"),
    ] {
        let text = node_with_config(value);
        let p = only_problem(&text);
        assert!(p.message.contains(words), "{value}: {p}");
        assert_eq!(p.location.node.as_deref(), Some("deep"), "{value}: {p}");
        assert_eq!(p.location.field.as_deref(), Some("extra"), "{value}: {p}");
        assert_eq!(p.location.line_col.map(|(l, _)| l), Some(4), "{value}: {p}");
    }
    let (graph, _) = parse(&node_with_config("18446744073709551615")).unwrap_or_else(|p| panic!("{p}"));
    assert_eq!(graph.nodes[0].config["extra"], serde_json::json!(u64::MAX));
    // `ron` reads an integer beyond 64 bits as a float: it loads, and a kind's integer
    // parameter then refuses it by name (see `Typed::validate`).
    let (graph, _) = parse(&node_with_config(&"9".repeat(40))).unwrap_or_else(|p| panic!("{p}"));
    assert!(graph.nodes[0].config["extra"].is_f64());
}

#[test]
fn non_utf8_files_give_the_byte_offset_and_line_col() {
    let mut bytes = b"(\n    format: 1,\n    name: \"caf".to_vec();
    let offset = bytes.len();
    bytes.extend_from_slice(&[0xff, b'"', b')']);
    let p = parse_bytes(&bytes).map(|_| ()).expect_err("refused").0.remove(0);
    assert!(p.message.contains(&format!("byte offset {offset}")), "{p}");
    assert!(p.message.contains("0xff"), "{p}");
    assert_eq!(p.location.line_col, Some((3, 15)), "{p}");
}

#[test]
fn a_position_that_is_not_a_finite_coordinate_is_refused_with_its_place() {
    for pos in ["(NaN, 1.0)", "(1.0, inf)", "(1e30, 0.0)"] {
        let text = format!("(format: 1,\n nodes: [(id: \"a\", kind: \"map\",\n position: {pos}, config: ())])");
        let p = only_problem(&text);
        assert_eq!(p.location.field.as_deref(), Some("position"), "{p}");
        assert_eq!(p.location.line_col, Some((3, 2)), "{p}");
    }
}

#[test]
fn parse_errors_inside_a_node_name_the_node_and_field() {
    let text = "(format: 1, nodes: [\n  (id: \"n\\u{31}\", kind: \"map\", config: (expression: 5 5)),\n])";
    let p = only_problem(text);
    assert_eq!(p.location.node.as_deref(), Some("n1"), "an id with escapes is decoded: {p}");
    assert_eq!(p.location.field.as_deref(), Some("expression"), "{p}");
    assert_eq!(p.location.line_col.map(|(l, _)| l), Some(2), "{p}");
}

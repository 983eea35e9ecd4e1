//! Every problem has its place: file line:column, node, wire and field, for real graph text
//! validated against the built-in kinds; all problems of a node are listed; long values are cut;
//! warnings name what is thrown away.

use streamloom_nodes::builtin_registry;
use streamloom_runtime::graph::parse;
use streamloom_runtime::problem::Severity;
use streamloom_runtime::validate::validate_located;
use streamloom_runtime::{Problem, Problems};

fn check(text: &str) -> Problems {
    let (graph, map) = parse(text).unwrap_or_else(|p| panic!("loads: {p}"));
    validate_located(&graph, &builtin_registry(), &map)
}

fn errors(text: &str) -> Vec<Problem> {
    check(text).0.into_iter().filter(Problem::is_error).collect()
}

fn find<'a>(problems: &'a [Problem], words: &str) -> &'a Problem {
    problems.iter().find(|p| p.message.contains(words)).unwrap_or_else(|| panic!("`{words}` in {problems:#?}"))
}

fn find_owned(problems: Vec<Problem>, words: &str) -> Problem {
    find(&problems, words).clone()
}

const GEN: &str = "(id: \"g\", kind: \"generator\", config: (count: 1, rate: None))";

#[test]
fn a_duplicate_id_points_at_the_second_occurrence() {
    let text = format!(
        "(format: 1, nodes: [\n  {GEN},\n  (id: \"s\", kind: \"null_sink\", config: {{}}),\n  (id: \"s\", kind: \"null_sink\", config: {{}}),\n], wires: [(from: (\"g\", \"out\"), to: (\"s\", \"in\"))])"
    );
    let p = find_owned(errors(&text), "duplicate node id");
    assert_eq!(p.location.line_col, Some((4, 4)), "{p}");
}

/// Two sinks on one file lose each other's records: the second is an error at its `path`;
/// a source reading that file is no conflict.
#[test]
fn two_sinks_writing_one_file_are_refused_at_the_second_path() {
    let text = format!(
        "(format: 1, nodes: [\n  {GEN},\n  (id: \"a\", kind: \"file_sink\", config: (path: \"out/events.jsonl\")),\n  (id: \"b\", kind: \"file_sink\", config: (path: \"./out/events.jsonl\")),\n  (id: \"r\", kind: \"file_source\", config: (path: \"out/events.jsonl\")),\n], wires: [(from: (\"g\", \"out\"), to: (\"a\", \"in\")), (from: (\"g\", \"out\"), to: (\"b\", \"in\"))])"
    );
    let all = errors(&text);
    let p = find(&all, "node `a` writes `./out/events.jsonl` too");
    assert_eq!((p.location.node.as_deref(), p.location.field.as_deref()), (Some("b"), Some("path")), "{p}");
    assert_eq!(p.location.line_col.map(|(line, _)| line), Some(4), "{p}");
    assert_eq!(all.iter().filter(|p| p.message.contains("writes")).count(), 1, "{all:#?}");
}

#[test]
fn a_duplicate_wire_points_at_the_second_occurrence() {
    let text = format!(
        "(format: 1, nodes: [{GEN}, (id: \"s\", kind: \"null_sink\", config: {{}})], wires: [\n  (from: (\"g\", \"out\"), to: (\"s\", \"in\")),\n  (from: (\"g\", \"out\"), to: (\"s\", \"in\")),\n])"
    );
    let p = find_owned(errors(&text), "duplicate wire");
    assert_eq!(p.location.line_col, Some((3, 3)), "{p}");
}

#[test]
fn a_wire_problem_never_points_inside_a_description_string() {
    let text = format!(
        "(format: 1,\n description: \"wires: [(from: (\\\"g\\\", \\\"out\\\"), to: (\\\"x\\\", \\\"in\\\"))]\",\n nodes: [{GEN}],\n wires: [\n  (from: (\"g\", \"out\"), to: (\"nope\", \"in\")),\n ])"
    );
    let p = find_owned(errors(&text), "missing node `nope`");
    assert_eq!(p.location.line_col, Some((5, 3)), "{p}");
}

#[test]
fn ids_written_with_escapes_still_get_line_and_column() {
    let text =
        "(format: 1, nodes: [\n  (id: \"f\\u{6f}\\u{6F}\", kind: \"filter\", config: (condition: \".a ==\")),\n])";
    let p = find_owned(errors(text), "jq:");
    assert_eq!(p.location.node.as_deref(), Some("foo"));
    assert_eq!(p.location.field.as_deref(), Some("condition"));
    assert_eq!(p.location.line_col, Some((2, 50)), "the field's own place: {p}");
}

#[test]
fn config_type_errors_name_the_field_and_every_problem_of_a_node_is_listed() {
    let text = format!(
        "(format: 1, nodes: [{GEN},\n  (id: \"w\", kind: \"file_sink\", config: (\n    path: 5,\n    format: \"xml\",\n    append: \"yes\",\n    flush_interval_ms: -3,\n    columns: [1],\n    colour: \"red\",\n  )),\n], wires: [(from: (\"g\", \"out\"), to: (\"w\", \"in\"))])"
    );
    let problems = errors(&text);
    for (field, line, words) in [
        ("path", 3, "must be text"),
        ("format", 4, "`xml` is not one of: jsonl, csv, lines"),
        ("append", 5, "must be true or false"),
        ("flush_interval_ms", 6, "-3 is out of range 1..=3600000"),
        ("columns", 7, "must be a list of texts"),
        ("colour", 8, "unknown field"),
    ] {
        let p = problems
            .iter()
            .find(|p| p.location.field.as_deref() == Some(field))
            .unwrap_or_else(|| panic!("a problem for `{field}` in {problems:#?}"));
        assert!(p.message.contains(words), "{field}: {p}");
        assert_eq!(p.location.node.as_deref(), Some("w"));
        assert_eq!(p.location.line_col, Some((line, 5)), "{p}");
    }
    assert_eq!(problems.len(), 6, "{problems:#?}");
}

#[test]
fn the_kinds_own_checks_still_run_next_to_field_errors() {
    // `columns` without csv is the kind's own rule; `flush_interval_ms` a range error.
    let text = format!(
        "(format: 1, nodes: [{GEN}, (id: \"w\", kind: \"file_sink\", config: (path: \"o\", columns: [\"a\"], flush_interval_ms: 0))], wires: [(from: (\"g\", \"out\"), to: (\"w\", \"in\"))])"
    );
    let problems = errors(&text);
    find(&problems, "columns apply to the csv format only");
    find(&problems, "out of range");
    assert_eq!(problems.len(), 2, "{problems:#?}");
}

#[test]
fn a_megabyte_value_is_never_echoed_whole() {
    let huge = "x".repeat(1 << 20);
    let text = format!(
        "(format: 1, nodes: [{GEN}, (id: \"{huge}\", kind: \"file_sink\", config: (path: \"o\", format: \"{huge}\", bogus_{huge}: 1))], wires: [(from: (\"g\", \"out\"), to: (\"{huge}\", \"in\"))])"
    );
    let problems = check(&text);
    assert!(!problems.0.is_empty());
    for p in &problems.0 {
        let shown = p.to_string();
        assert!(shown.len() < 2_000, "{} bytes: {}", shown.len(), &shown[..200]);
        assert!(p.location.line_col.is_some(), "{}", &shown[..200]);
    }
    let text = format!("(format: 1, nodes: [(id: \"a\", kind: \"{huge}\", config: ())])");
    let p = find_owned(errors(&text), "unknown node kind");
    assert!(p.to_string().len() < 2_000);
}

#[test]
fn graph_settings_are_range_checked_with_their_place() {
    let text = format!(
        "(format: 1,\n settings: (batch_size: 0, default_capacity: 1000000000000, workers: 0),\n nodes: [{GEN}, (id: \"s\", kind: \"null_sink\", config: {{}})],\n wires: [(from: (\"g\", \"out\"), to: (\"s\", \"in\"), capacity: 0)])"
    );
    let problems = errors(&text);
    let p = find(&problems, "workers 0 is out of range 1..=256");
    assert_eq!((p.location.field.as_deref(), p.location.line_col), (Some("workers"), Some((2, 61))));
    let p = find(&problems, "batch_size 0 is out of range");
    assert_eq!((p.location.field.as_deref(), p.location.line_col), (Some("batch_size"), Some((2, 13))));
    let p = find(&problems, "default_capacity 1000000000000 is out of range");
    assert_eq!(p.location.line_col, Some((2, 28)));
    let p = find(&problems, "capacity 0 is out of range");
    assert_eq!(p.location.line_col, Some((4, 48)), "{p}");
}

#[test]
fn a_checkpoint_interval_that_is_no_duration_or_zero_is_a_problem_of_the_setting() {
    for (value, words) in [
        ("\"soon\"", "`soon` is not a duration"),
        ("\"0s\"", "must be at least 10ms"),
        ("\"1ms\"", "must be at least 10ms"),
    ] {
        let text = format!(
            "(format: 1,\n settings: (checkpoint_interval: {value}),\n nodes: [{GEN}, (id: \"s\", kind: \"null_sink\", config: {{}})],\n wires: [(from: (\"g\", \"out\"), to: (\"s\", \"in\"))])"
        );
        let problems = errors(&text);
        let p = find(&problems, words);
        assert_eq!((p.location.field.as_deref(), p.location.line_col), (Some("checkpoint_interval"), Some((2, 13))));
    }
}

#[test]
fn placeholders_that_nest_or_never_close_are_problems_of_their_field() {
    let text = format!(
        "(format: 1, nodes: [{GEN}, (id: \"w\", kind: \"file_sink\", config: (path: \"${{A${{B}}}}/x\"))], wires: [(from: (\"g\", \"out\"), to: (\"w\", \"in\"))])"
    );
    let p = find_owned(errors(&text), "invalid placeholder");
    assert_eq!(p.location.field.as_deref(), Some("path"));
}

#[test]
fn warnings_name_what_is_thrown_away_and_do_not_block() {
    let text = "(format: 1, nodes: [\n  (id: \"r\", kind: \"file_source\", config: (path: \"in.jsonl\")),\n  (id: \"m\", kind: \"map\", config: (expression: \".\")),\n  (id: \"s\", kind: \"null_sink\", config: {}),\n], wires: [\n  (from: (\"r\", \"out\"), to: (\"m\", \"in\")),\n  (from: (\"r\", \"out\"), to: (\"s\", \"in\"), when_full: drop_newest),\n])";
    let problems = check(text);
    assert!(!problems.has_errors(), "{problems}");
    let all = problems.0;
    assert!(all.iter().all(|p| p.severity == Severity::Warning));
    let p = find(&all, "output `out` is not wired");
    assert_eq!((p.location.node.as_deref(), p.location.line_col), (Some("m"), Some((3, 4))));
    let p = find(&all, "output `errors` is not wired");
    assert_eq!((p.location.node.as_deref(), p.location.line_col), (Some("r"), Some((2, 4))));
    let p = find(&all, "`drop_newest` into sink `s`");
    assert_eq!(p.location.line_col, Some((7, 41)), "{p}");
    assert_eq!(all.len(), 3, "{all:#?}");
}

#[test]
fn the_example_graphs_have_no_problems_not_even_warnings() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/graphs");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ron") {
            let problems = check(&std::fs::read_to_string(&path).unwrap());
            assert!(problems.0.is_empty(), "{}:\n{problems}", path.display());
        }
    }
}

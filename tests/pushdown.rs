//! Predicate pushdown (`streamloom_runtime::pushdown`): a `file_source` that applies the
//! `filter` behind it while it reads gives the same rows, dead letters, window results and
//! counters as the same graph without the shortcut (a second consumer on the source's output
//! turns it off), on random JSON Lines files holding every kind of line a reader meets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/accounting.rs"]
mod accounting;

use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use streamloom_runtime::executor::{Engine, RunOptions, RunOutcome};
use streamloom_runtime::graph::{Graph, Node, PortRef, Settings, Wire};
use streamloom_runtime::metrics::MetricsSnapshot;

/// Conditions a source can apply (they read named top-level fields only), one that errors on
/// some records, and one it cannot (`select` passes the record on whole).
const CONDITIONS: &[&str] = &[
    ".type == \"purchase\"",
    ".value > 100",
    "(.value + 1) > 50",
    ".type != \"click\" and .value >= 10",
    ".meta.level == 2 or .missing",
    "select(.type == \"view\")",
];

/// One line of the input, written out as it would be found in a file.
fn line() -> impl Strategy<Value = String> {
    let ty = prop_oneof![
        Just(json!("purchase")),
        Just(json!("click")),
        Just(json!("view")),
        Just(json!(7)),
        Just(Value::Null)
    ];
    let value = prop_oneof![
        (0.0f64..500.0).prop_map(|v| json!((v * 100.0).round() / 100.0)),
        (0i64..500).prop_map(|v| json!(v)),
        Just(json!("12")),
        Just(json!({"x": 1})),
    ];
    let object = (
        1_000i64..20_000,
        prop::option::weighted(0.9, ty),
        prop::option::weighted(0.9, value),
        prop::option::of(0i64..4),
        any::<bool>(),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(ts, ty, value, level, ts_first, escaped)| {
            let mut parts = Vec::new();
            if ts_first {
                parts.push(format!("\"ts\":{ts}"));
            }
            if let Some(t) = ty {
                parts.push(format!("\"type\":{t}"));
            }
            // Mostly plain (the quick scan reads those), sometimes escaped (serde_json does).
            parts.push(if escaped { "\"user\":\"u\\u0031\"" } else { "\"user\":\"u1\"" }.to_string());
            if let Some(v) = value {
                parts.push(format!("\"value\":{v}"));
            }
            if let Some(l) = level {
                parts.push(format!("\"meta\":{{\"level\":{l},\"tags\":[1,\"a\",null]}}"));
            }
            if !ts_first {
                parts.push(format!("\"ts\":{ts}"));
            }
            format!("{{{}}}", parts.join(","))
        });
    prop_oneof![
        20 => object,
        1 => Just(String::new()),
        1 => Just("{\"ts\":5000,\"type\":\"click\"".to_string()),
        1 => Just("[1,2]".to_string()),
        1 => Just("{\"ts\":\"soon\",\"type\":\"click\"}".to_string()),
        1 => Just("{\"ts\":6000,\"type\":\"click\",\"big\":123456789012345678901234}".to_string()),
        1 => Just("{\"ts\":6000,\"type\":\"click\",\"n\":1e400}".to_string()),
        1 => Just("{\"ts\":6000,\"type\":\"click\",\"s\":\"\\ud800\"}".to_string()),
        1 => Just("{\"type\":\"click\",\"type\":\"purchase\",\"ts\":7000,\"value\":300}".to_string()),
        1 => Just("{\"type\":\"click\"}".to_string()),
        // Malformed after the fields the filter reads: never rejected, always an error.
        1 => Just("{\"ts\":6000,\"type\":\"click\",\"v\":01}".to_string()),
        1 => Just("{\"ts\":6000,\"type\":\"click\",}".to_string()),
        1 => Just("{\"ts\":6000,\"type\":\"click\"} x".to_string()),
        1 => Just("{\"ts\":6000,\"type\":\"click\",\"s\":\"tab\there\"}".to_string()),
        1 => Just("{\"ts\":6000,\"type\":\"click\" \"value\":1}".to_string()),
        1 => Just("{\"ts\":6000,\"type\":\"click\",\"n\":-}".to_string()),
    ]
}

fn node(id: &str, kind: &str, config: Value) -> Node {
    Node { id: id.into(), kind: kind.into(), version: 1, position: None, config }
}

fn wire(from: &str, port: &str, to: &str) -> Wire {
    Wire::new(PortRef::new(from, port), PortRef::new(to, "in"))
}

fn sink(dir: &Path, id: &str) -> Node {
    node(id, "file_sink", json!({"path": dir.join(format!("{id}.jsonl")).display().to_string(), "format": "jsonl"}))
}

/// read → keep → (rows, per_type window → windows, late), every `errors` port to its file;
/// `tee` adds a second consumer of `read`, which rules the pushdown out.
fn graph(dir: &Path, input: &Path, condition: &str, tee: bool) -> Graph {
    let mut nodes = vec![
        node(
            "read",
            "file_source",
            json!({"path": input.display().to_string(), "format": "jsonl", "time_field": "ts", "watermark_delay_ms": 500}),
        ),
        node("keep", "filter", json!({"condition": condition})),
        node(
            "per_type",
            "window",
            json!({"type": "tumbling", "size": "1s", "key_by": ["type"], "aggregates": ["n = count"]}),
        ),
        sink(dir, "rows"),
        sink(dir, "windows"),
        sink(dir, "late"),
        sink(dir, "read_errors"),
        sink(dir, "keep_errors"),
        sink(dir, "window_errors"),
    ];
    let mut wires = vec![
        wire("read", "out", "keep"),
        wire("keep", "out", "rows"),
        wire("keep", "out", "per_type"),
        wire("per_type", "out", "windows"),
        wire("per_type", "late", "late"),
        wire("read", "errors", "read_errors"),
        wire("keep", "errors", "keep_errors"),
        wire("per_type", "errors", "window_errors"),
    ];
    if tee {
        nodes.push(node("tee", "null_sink", json!({})));
        wires.push(wire("read", "out", "tee"));
    }
    Graph {
        settings: Settings { batch_size: Some(16), default_capacity: Some(32), ..Default::default() },
        nodes,
        wires,
        ..Default::default()
    }
}

fn run(graph: &Graph) -> MetricsSnapshot {
    let engine = Engine::new(Some(2)).unwrap();
    let registry = streamloom_nodes::builtin_registry();
    let handle = engine.start(graph, &registry, RunOptions::default()).unwrap_or_else(|p| panic!("{p}"));
    let outcome =
        engine.block_on(async { tokio::time::timeout(Duration::from_secs(60), handle.wait()).await.unwrap() });
    assert_eq!(outcome, RunOutcome::Completed);
    handle.snapshot_now()
}

/// What a run wrote and counted, without what differs by design (the tee, timings).
fn outcome(dir: &Path, snap: &MetricsSnapshot) -> (Vec<String>, Vec<(String, [u64; 7])>) {
    let files = ["rows", "windows", "late", "read_errors", "keep_errors", "window_errors"]
        .iter()
        .map(|f| format!("{f}:\n{}", std::fs::read_to_string(dir.join(format!("{f}.jsonl"))).unwrap_or_default()))
        .collect();
    let counters = ["read", "keep", "per_type"]
        .iter()
        .map(|id| {
            let n = snap.node(id).unwrap();
            (id.to_string(), [n.events_in, n.events_out, n.passed, n.filtered, n.errors, n.skipped, n.dropped])
        })
        .collect();
    (files, counters)
}

#[test]
fn a_filter_applied_while_reading_gives_the_same_rows_and_counters() {
    let cases = std::env::var("STREAMLOOM_PUSHDOWN_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(12);
    let mut runner = TestRunner::new(Config { cases, ..Config::default() });
    let input = (prop::collection::vec(line(), 0..400), prop::sample::select(CONDITIONS));
    runner
        .run(&input, |(lines, condition)| {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("in.jsonl");
            std::fs::write(&file, lines.join("\n")).unwrap();
            let (pushed_dir, plain_dir) = (dir.path().join("pushed"), dir.path().join("plain"));
            let pushed_graph = graph(&pushed_dir, &file, condition, false);
            let pushed = run(&pushed_graph);
            let plain = run(&graph(&plain_dir, &file, condition, true));
            // The checker's per-port rule assumes one data output: the window has two.
            let mut bad = accounting::violations(&pushed_graph, &pushed, true);
            bad.retain(|v| !v.starts_with("node per_type: out"));
            prop_assert!(bad.is_empty(), "{condition}: {bad:?}");
            let (pushed_files, pushed_counts) = outcome(&pushed_dir, &pushed);
            let (plain_files, plain_counts) = outcome(&plain_dir, &plain);
            prop_assert_eq!(pushed_counts, plain_counts, "counters, condition {}", condition);
            prop_assert_eq!(pushed_files, plain_files, "output, condition {}", condition);
            // Every line serde_json refuses is in the source's errors, by its line number.
            let refused: Vec<u64> = (1..)
                .zip(&lines)
                .filter(|(_, l)| !l.is_empty() && serde_json::from_str::<Value>(l).is_err())
                .map(|(n, _)| n)
                .collect();
            let errors = std::fs::read_to_string(pushed_dir.join("read_errors.jsonl")).unwrap_or_default();
            let reported: Vec<u64> = errors
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"]["line"].as_u64().unwrap())
                .collect();
            prop_assert!(refused.iter().all(|n| reported.contains(n)), "refused {refused:?}, reported {reported:?}");
            let wire = &pushed.wires[0];
            prop_assert_eq!(wire.pushed, pushed.node("read").unwrap().events_out);
            prop_assert_eq!(wire.popped, pushed.node("keep").unwrap().events_in);
            Ok(())
        })
        .unwrap();
}

/// While the source's output is watched (the editor's inspector), the source reads every line
/// whole so its tap shows every event, including those the filter then drops.
#[test]
fn a_watched_source_shows_every_event_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    let lines: Vec<String> = (0..10).map(|i| format!("{{\"ts\":{i},\"type\":\"click\",\"i\":{i}}}")).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let graph = graph(dir.path(), &file, ".type == \"purchase\"", false);
    let engine = Engine::new(Some(2)).unwrap();
    let registry = streamloom_nodes::builtin_registry();
    let options = RunOptions { watch: Some("read".into()), ..RunOptions::default() };
    let handle = engine.start(&graph, &registry, options).unwrap_or_else(|p| panic!("{p}"));
    let outcome =
        engine.block_on(async { tokio::time::timeout(Duration::from_secs(60), handle.wait()).await.unwrap() });
    assert_eq!(outcome, RunOutcome::Completed);
    let shown: Vec<i64> = handle.tap(0).iter().filter_map(|t| t.event.value["i"].as_i64()).collect();
    // The tap keeps the newest events of each batch: here the last lines of the file.
    assert!(shown.contains(&9), "the lines read show in the tap: {shown:?}");
    let snap = handle.snapshot_now();
    let keep = snap.node("keep").unwrap();
    assert_eq!((keep.events_in, keep.filtered), (10, 10));
}

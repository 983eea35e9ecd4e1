//! Review: a source port marked for debugging mid-run must log every event it sends, also
//! those a pushed-down filter would reject (read-ahead chunks were parsed while unmarked).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use streamloom_runtime::debug::DebugOutput;
use streamloom_runtime::executor::{Engine, RunOptions, RunOutcome};
use streamloom_runtime::graph::{Graph, Node, PortRef, Settings, Wire};

fn node(id: &str, kind: &str, config: serde_json::Value) -> Node {
    Node { id: id.into(), kind: kind.into(), version: 1, position: None, config }
}

#[test]
fn marking_the_source_port_mid_run_logs_every_event() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    let lines: Vec<String> =
        (0..400).map(|i| json!({"i": i, "type": if i % 5 == 0 { "purchase" } else { "click" }}).to_string()).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let graph = Graph {
        settings: Settings { batch_size: Some(16), ..Default::default() },
        nodes: vec![
            node("read", "file_source", json!({"path": file.display().to_string(), "format": "jsonl"})),
            node("keep", "filter", json!({"condition": ".type == \"purchase\""})),
            node("sink", "null_sink", json!({})),
        ],
        wires: vec![
            Wire::new(PortRef::new("read", "out"), PortRef::new("keep", "in")),
            Wire::new(PortRef::new("keep", "out"), PortRef::new("sink", "in")),
        ],
        ..Default::default()
    };
    let engine = Engine::new(Some(2)).unwrap();
    let registry = streamloom_nodes::builtin_registry();
    let options = RunOptions { debug: DebugOutput::Sidebar, ..RunOptions::default() };
    let handle = engine.start(&graph, &registry, options).unwrap_or_else(|p| panic!("{p}"));
    handle.pause();
    std::thread::sleep(Duration::from_millis(500)); // the parsers read ahead meanwhile
    assert!(handle.set_debug("read", "out", true));
    handle.resume();
    let outcome =
        engine.block_on(async { tokio::time::timeout(Duration::from_secs(30), handle.wait()).await.unwrap() });
    assert_eq!(outcome, RunOutcome::Completed);
    let snap = handle.snapshot_now();
    let read = snap.node("read").unwrap();
    let logged: Vec<u64> =
        handle.debug_log().since(None).iter().filter(|e| e.source.node == "read").map(|e| e.seq).collect();
    let first = *logged.first().expect("something logged");
    let expected: Vec<u64> = (first..first + (logged.len() as u64)).collect();
    eprintln!("source sent {}, logged {} (first seq {first})", read.events_out, logged.len());
    assert_eq!(read.events_out, 400);
    assert_eq!(logged.last().copied(), Some(400), "the log reaches the last line");
    assert_eq!(logged, expected, "every event sent after the mark is logged, in order");
}

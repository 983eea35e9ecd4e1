//! `file_source` through the real executor: line numbers across chunks, CSV, and follow (tail).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};
use streamloom_runtime::executor::{Engine, RunOptions, RunOutcome};
use streamloom_runtime::graph::{Graph, Node, PortRef, Settings, Wire};

fn graph(source: Value, out: &std::path::Path, batch: usize) -> Graph {
    let node = |id: &str, kind: &str, config: Value| Node {
        id: id.into(),
        kind: kind.into(),
        version: 1,
        position: None,
        config,
    };
    Graph {
        settings: Settings { default_capacity: Some(16), batch_size: Some(batch), ..Default::default() },
        nodes: vec![
            node("read", "file_source", source),
            node("write", "file_sink", json!({"path": out.to_str().unwrap(), "flush_interval_ms": 20})),
            node("dead", "file_sink", json!({"path": out.with_extension("dead").to_str().unwrap()})),
        ],
        wires: vec![
            Wire::new(PortRef::new("read", "out"), PortRef::new("write", "in")),
            Wire::new(PortRef::new("read", "errors"), PortRef::new("dead", "in")),
        ],
        ..Default::default()
    }
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn jsonl_keeps_order_and_line_numbers_across_many_small_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let mut text = String::new();
    let mut bad = Vec::new();
    for i in 1..=1000u64 {
        if i % 97 == 0 {
            text.push_str("{broken\n");
            bad.push(i);
        } else if i % 101 == 0 {
            text.push('\n'); // empty lines are skipped but counted
        } else {
            text.push_str(&format!("{{\"i\":{i}}}\r\n"));
        }
    }
    text.push_str("{\"i\":1001}"); // no final newline
    std::fs::write(&input, text).unwrap();
    let out = dir.path().join("out.jsonl");
    let engine = Engine::new(Some(2)).unwrap();
    let g = graph(json!({"path": input.to_str().unwrap(), "format": "jsonl"}), &out, 7);
    let h = engine.start(&g, &streamloom_nodes::builtin_registry(), RunOptions::default()).unwrap();
    assert_eq!(engine.block_on(h.wait()), RunOutcome::Completed);
    let got: Vec<u64> = lines(&out).iter().map(|v| v["i"].as_u64().unwrap()).collect();
    let expected: Vec<u64> = (1..=1001).filter(|i| i % 97 != 0 && i % 101 != 0).collect();
    assert_eq!(got, expected);
    let dead: Vec<u64> =
        lines(&out.with_extension("dead")).iter().map(|d| d["event"]["line"].as_u64().unwrap()).collect();
    assert_eq!(dead, bad);
}

#[test]
fn csv_rows_become_typed_records_and_short_rows_go_to_errors() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, "user,value,ok,note\nu1,12,true,\"a, b\"\nu2,1.5,false,x\nu3,7\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let engine = Engine::new(Some(2)).unwrap();
    let g = graph(json!({"path": input.to_str().unwrap(), "format": "csv"}), &out, 1024);
    let h = engine.start(&g, &streamloom_nodes::builtin_registry(), RunOptions::default()).unwrap();
    assert_eq!(engine.block_on(h.wait()), RunOutcome::Completed);
    assert_eq!(
        lines(&out),
        vec![
            json!({"user": "u1", "value": 12, "ok": true, "note": "a, b"}),
            json!({"user": "u2", "value": 1.5, "ok": false, "note": "x"})
        ]
    );
    let dead = lines(&out.with_extension("dead"));
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["event"]["line"], 4);
}

#[test]
fn follow_reads_lines_appended_while_running_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("log.txt");
    std::fs::write(&input, "first\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let engine = Engine::new(Some(2)).unwrap();
    let g = graph(json!({"path": input.to_str().unwrap(), "format": "lines", "follow": true}), &out, 1024);
    let h = engine.start(&g, &streamloom_nodes::builtin_registry(), RunOptions::default()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let mut f = std::fs::OpenOptions::new().append(true).open(&input).unwrap();
    f.write_all(b"second\nthi").unwrap();
    f.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    f.write_all(b"rd\n").unwrap();
    f.flush().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lines(&out).len() < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(lines(&out), vec![json!("first"), json!("second"), json!("third")]);
    h.stop();
    assert_eq!(engine.block_on(h.wait()), RunOutcome::Stopped);
}

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

/// Waits until `out` holds at least `n` lines (or 10 s pass); returns them.
fn wait_lines(out: &std::path::Path, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lines(out).len() < n && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(30));
    }
    lines(out)
}

fn append(path: &std::path::Path, text: &str) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[test]
fn follow_survives_rotation_by_rename_and_truncation_like_tail_capital_f() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("app.log");
    std::fs::write(&input, "a1\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let engine = Engine::new(Some(2)).unwrap();
    let g = graph(json!({"path": input.to_str().unwrap(), "format": "lines", "follow": true}), &out, 1024);
    let h = engine.start(&g, &streamloom_nodes::builtin_registry(), RunOptions::default()).unwrap();
    assert_eq!(wait_lines(&out, 1), vec![json!("a1")]);
    // Rotation: the writer still appends to the old file (a2, and a last line without its
    // newline) before the new file appears; nothing of either is lost or read twice.
    append(&input, "a2\n");
    std::fs::rename(&input, dir.path().join("app.log.1")).unwrap();
    append(&dir.path().join("app.log.1"), "a3");
    std::thread::sleep(Duration::from_millis(250));
    std::fs::write(&input, "b1\nb2\n").unwrap();
    assert_eq!(wait_lines(&out, 5), vec![json!("a1"), json!("a2"), json!("a3"), json!("b1"), json!("b2")]);
    // Truncation: the file is emptied and written again; reading restarts at its start.
    std::fs::write(&input, "").unwrap();
    std::thread::sleep(Duration::from_millis(250));
    append(&input, "c1\n");
    assert_eq!(wait_lines(&out, 6).last(), Some(&json!("c1")));
    h.stop();
    assert_eq!(engine.block_on(h.wait()), RunOutcome::Stopped);
    let snap = h.snapshot_now();
    let read = snap.nodes.iter().find(|n| n.id == "read").unwrap();
    assert_eq!(read.events_out, 6, "every line once");
}

#[test]
fn start_at_end_reads_only_lines_appended_after_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("app.log");
    std::fs::write(&input, "old1\nold2\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let engine = Engine::new(Some(2)).unwrap();
    let g = graph(
        json!({"path": input.to_str().unwrap(), "format": "lines", "follow": true, "start_at": "end"}),
        &out,
        1024,
    );
    let h = engine.start(&g, &streamloom_nodes::builtin_registry(), RunOptions::default()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    append(&input, "new1\n");
    assert_eq!(wait_lines(&out, 1), vec![json!("new1")]);
    h.stop();
    assert_eq!(engine.block_on(h.wait()), RunOutcome::Stopped);
}

#[test]
fn a_pattern_reads_every_matching_file_and_follows_files_created_later() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.jsonl"), "{\"f\":\"b\"}\nnot json\n").unwrap();
    std::fs::write(dir.path().join("a.jsonl"), "{\"f\":\"a\"}\n").unwrap();
    std::fs::write(dir.path().join("skip.txt"), "{\"f\":\"x\"}\n").unwrap();
    let pattern = dir.path().join("*.jsonl");
    // Once: in name order; a bad line's dead letter names its file.
    let out = dir.path().join("once.out");
    let g = graph(json!({"path": pattern.to_str().unwrap()}), &out, 1024);
    let engine = Engine::new(Some(2)).unwrap();
    let h = engine.start(&g, &streamloom_nodes::builtin_registry(), RunOptions::default()).unwrap();
    assert_eq!(engine.block_on(h.wait()), RunOutcome::Completed);
    assert_eq!(lines(&out), vec![json!({"f": "a"}), json!({"f": "b"})]);
    let dead = lines(&out.with_extension("dead"));
    assert_eq!(dead.len(), 1);
    assert!(dead[0]["event"]["file"].as_str().unwrap().ends_with("b.jsonl"), "{}", dead[0]);
    assert!(dead[0]["reason"].as_str().unwrap().contains("b.jsonl line 2: invalid JSON"), "{}", dead[0]);
    // Followed: a file created while running is read too.
    let out = dir.path().join("follow.out");
    let g = graph(json!({"path": pattern.to_str().unwrap(), "follow": true}), &out, 1024);
    let h = engine.start(&g, &streamloom_nodes::builtin_registry(), RunOptions::default()).unwrap();
    assert_eq!(wait_lines(&out, 2).len(), 2);
    std::fs::write(dir.path().join("c.jsonl"), "{\"f\":\"c\"}\n").unwrap();
    assert_eq!(wait_lines(&out, 3).last(), Some(&json!({"f": "c"})));
    h.stop();
    assert_eq!(engine.block_on(h.wait()), RunOutcome::Stopped);
    // No match at all, read once: a clear failure.
    let g = graph(json!({"path": dir.path().join("*.none").to_str().unwrap()}), &out, 1024);
    let h = engine.start(&g, &streamloom_nodes::builtin_registry(), RunOptions::default()).unwrap();
    let outcome = engine.block_on(h.wait());
    assert!(
        matches!(&outcome, RunOutcome::Failed(f) if f.iter().any(|(_, m)| m.contains("no file matches"))),
        "{outcome:?}"
    );
}

#[test]
fn event_times_are_read_in_milliseconds_seconds_or_rfc3339_and_bad_ones_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"t\": 2}\n{\"t\": 2.5}\n{\"t\": \"1970-01-01T00:00:03Z\"}\n{\"t\": \"soon\"}\n{\"other\": 1}\n",
    )
    .unwrap();
    let out = dir.path().join("out.jsonl");
    let g = graph(json!({"path": input.to_str().unwrap(), "time_field": "t", "time_unit": "s"}), &out, 1024);
    let engine = Engine::new(Some(2)).unwrap();
    let h = engine.start(&g, &streamloom_nodes::builtin_registry(), RunOptions::default()).unwrap();
    assert_eq!(engine.block_on(h.wait()), RunOutcome::Completed);
    assert_eq!(lines(&out).len(), 4, "the record without the field passes, without a time");
    let dead = lines(&out.with_extension("dead"));
    assert_eq!(dead.len(), 1);
    assert!(dead[0]["reason"].as_str().unwrap().starts_with("line 4: "), "{}", dead[0]);
}

#[test]
fn lines_over_max_line_bytes_go_to_errors_with_their_length_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let long = format!("{{\"s\":\"{}\"}}", "x".repeat(5000));
    let last = "y".repeat(300);
    std::fs::write(&input, format!("{{\"a\":1}}\n{long}\n{{\"a\":2}}\r\n{last}")).unwrap();
    let out = dir.path().join("out.jsonl");
    let g = graph(json!({"path": input.to_str().unwrap(), "format": "jsonl", "max_line_bytes": 100}), &out, 2);
    let engine = Engine::new(Some(2)).unwrap();
    let h = engine.start(&g, &streamloom_nodes::builtin_registry(), RunOptions::default()).unwrap();
    assert_eq!(engine.block_on(h.wait()), RunOutcome::Completed);
    assert_eq!(lines(&out), vec![json!({"a": 1}), json!({"a": 2})]);
    let dead = lines(&out.with_extension("dead"));
    let places: Vec<(u64, usize)> = dead
        .iter()
        .map(|d| (d["event"]["line"].as_u64().unwrap(), d["event"]["text"].as_str().unwrap().len()))
        .collect();
    assert_eq!(places, vec![(2, 100), (4, 100)], "line numbers, and at most max_line_bytes kept");
    let reasons: Vec<&str> = dead.iter().map(|d| d["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons[0], "line 2: the line is 5008 bytes, over max_line_bytes (100); its first 100 bytes kept");
    assert_eq!(reasons[1], "line 4: the line is 300 bytes, over max_line_bytes (100); its first 100 bytes kept");
    let s = h.snapshot_now();
    let read = s.node("read").unwrap();
    assert_eq!((read.events_out, read.errors), (2, 2));
}

/// Lines are taken many at a time from the reader's buffer: across its refills (lines of
/// varying lengths straddle them), small batches and long lines among short ones, every line
/// arrives once, in order, with its own line number.
#[test]
fn many_lines_across_read_buffers_arrive_in_order_with_the_long_ones_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let (mut text, mut kept, mut long) = (String::new(), Vec::new(), Vec::new());
    for i in 1..=30_000u64 {
        if i % 997 == 0 {
            text.push_str(&format!("{{\"pad\":\"{}\"}}\n", "p".repeat(300)));
            long.push(i);
        } else {
            text.push_str(&format!("{{\"i\":{i},\"pad\":\"{}\"}}\n", "x".repeat((i % 37) as usize)));
            kept.push(i);
        }
    }
    assert!(text.len() > 3 * (1 << 18), "several read buffers");
    std::fs::write(&input, text).unwrap();
    let out = dir.path().join("out.jsonl");
    let g = graph(json!({"path": input.to_str().unwrap(), "format": "jsonl", "max_line_bytes": 200}), &out, 7);
    let engine = Engine::new(Some(2)).unwrap();
    let h = engine.start(&g, &streamloom_nodes::builtin_registry(), RunOptions::default()).unwrap();
    assert_eq!(engine.block_on(h.wait()), RunOutcome::Completed);
    let got: Vec<u64> = lines(&out).iter().map(|v| v["i"].as_u64().unwrap()).collect();
    assert_eq!(got, kept);
    let dead: Vec<u64> =
        lines(&out.with_extension("dead")).iter().map(|d| d["event"]["line"].as_u64().unwrap()).collect();
    assert_eq!(dead, long);
}

#[test]
fn a_followed_line_growing_past_max_line_bytes_across_appends_is_one_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("log.txt");
    std::fs::write(&input, "first\n").unwrap();
    let out = dir.path().join("out.jsonl");
    let engine = Engine::new(Some(2)).unwrap();
    let g = graph(
        json!({"path": input.to_str().unwrap(), "format": "lines", "follow": true, "max_line_bytes": 64}),
        &out,
        16,
    );
    let h = engine.start(&g, &streamloom_nodes::builtin_registry(), RunOptions::default()).unwrap();
    assert_eq!(wait_lines(&out, 1), vec![json!("first")]);
    append(&input, &"z".repeat(50));
    std::thread::sleep(Duration::from_millis(300));
    append(&input, &"z".repeat(50));
    std::thread::sleep(Duration::from_millis(300));
    append(&input, &format!("{}\nlast\n", "z".repeat(50)));
    assert_eq!(wait_lines(&out, 2), vec![json!("first"), json!("last")]);
    let dead = wait_lines(&out.with_extension("dead"), 1);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["reason"], "line 2: the line is 150 bytes, over max_line_bytes (64); its first 64 bytes kept");
    h.stop();
    assert_eq!(engine.block_on(h.wait()), RunOutcome::Stopped);
}

//! The window node through the real executor: rows, late events and errors on their ports,
//! and the accounting equation (absorbed events are `passed` once their window is dropped,
//! late ones once delivered to `late`, bad ones are `errors`; nothing held at the end).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use serde_json::{Value, json};
use streamloom_runtime::executor::RunOutcome;
use streamloom_runtime::graph::{PortRef, Wire};

fn write_lines(path: &Path, lines: &[Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// Runs `events` (one per batch, a watermark after each: largest time − `delay`) through a
/// window node of `config`; returns the rows, late events, dead letters and the snapshot.
fn run_window(
    events: &[Value],
    delay: u64,
    config: Value,
) -> (Vec<Value>, Vec<Value>, Vec<Value>, streamloom_runtime::metrics::MetricsSnapshot) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    write_lines(&input, events);
    let out = |name: &str| dir.path().join(format!("{name}.jsonl"));
    let sink = |id: &str| node(id, "file_sink", json!({"path": out(id).to_str().unwrap(), "format": "jsonl"}));
    let g = graph(
        vec![
            node(
                "read",
                "file_source",
                json!({"path": input.to_str().unwrap(), "format": "jsonl", "time_field": "t", "watermark_delay_ms": delay}),
            ),
            node("win", "window", config),
            sink("rows"),
            sink("late"),
            sink("bad"),
        ],
        vec![
            wire("read", "win"),
            wire("win", "rows"),
            Wire::new(PortRef::new("win", "late"), PortRef::new("late", "in")),
            errors_wire("win", "bad"),
        ],
        16,
        1,
    );
    let (outcome, snap) = run(&g);
    assert_eq!(outcome, RunOutcome::Completed, "{:?}", snap.nodes.iter().map(|n| &n.message).collect::<Vec<_>>());
    for id in ["read", "win", "rows", "late", "bad"] {
        if id != "read" {
            assert_node_equation(n(&snap, id));
        }
    }
    assert_wires(&snap);
    (json_lines(&out("rows")), json_lines(&out("late")), json_lines(&out("bad")), snap)
}

#[test]
fn tumbling_rows_late_events_and_errors_add_up() {
    let e = |t: i64, u: &str, v: Value| json!({"t": t, "user": u, "v": v});
    let events = vec![
        e(1_000, "a", json!(1)),
        e(2_000, "b", json!(2)),
        e(9_000, "a", json!(3)),
        e(11_000, "a", json!(4)),     // watermark 10_000 after this: [0, 10s) fires
        e(8_000, "a", json!(5)),      // late within 5 s of lateness: re-fires with update
        e(3_000, "b", json!("x")),    // not a number: errors
        e(16_000, "b", json!(6)),     // watermark 15_000: [0, 10s) is dropped
        e(4_000, "a", json!(7)),      // beyond lateness: late port
        json!({"user": "a", "v": 1}), // no time: the source cannot stamp it, the window reports it
        e(25_000, "a", json!(8)),
    ];
    let config = json!({
        "type": "tumbling", "size": "10s", "key_by": ["user"], "time_field": "t",
        "aggregates": ["n = count", "total = sum(v)", "hi = max(v)", "all = collect(v, 10)"],
        "allowed_lateness": "5s",
    });
    let (rows, late, bad, snap) = run_window(&events, 1_000, config);
    let brief: Vec<(String, i64, u64, i64, bool)> = rows
        .iter()
        .map(|r| {
            (
                r["user"].as_str().unwrap().into(),
                r["window_start"].as_i64().unwrap(),
                r["n"].as_u64().unwrap(),
                r["total"].as_i64().unwrap(),
                r.get("update").is_some(),
            )
        })
        .collect();
    assert_eq!(
        brief,
        [
            ("a".into(), 0, 2, 4, false),
            ("b".into(), 0, 1, 2, false),
            ("a".into(), 0, 3, 9, true),
            ("a".into(), 10_000, 1, 4, false),
            ("b".into(), 10_000, 1, 6, false),
            ("a".into(), 20_000, 1, 8, false),
        ]
    );
    assert_eq!(rows[2]["all"], json!([1, 3, 5]));
    assert_eq!(rows[2]["window_end"], json!(10_000));
    assert_eq!(late.len(), 1);
    assert_eq!(late[0]["event"], events[7]);
    assert!(late[0]["reason"].as_str().unwrap().contains("late"), "{}", late[0]);
    assert_eq!(bad.len(), 2);
    assert!(bad[0]["reason"].as_str().unwrap().contains("not a number"), "{}", bad[0]);
    assert!(bad[1]["reason"].as_str().unwrap().contains("time"), "{}", bad[1]);
    let w = n(&snap, "win");
    assert_eq!((w.events_in, w.passed, w.errors, w.filtered, w.held), (10, 8, 2, 0, 0));
    assert_eq!(w.events_out, 7, "six rows and one late event");
}

#[test]
fn sessions_per_key_merge_and_flush_at_end_of_stream() {
    let e = |t: i64, u: &str| json!({"t": t, "user": u, "v": 1});
    // Sessions of a: [0, 3s) bridged to [5s, 8s) by a late event at 2.5 s; b alone.
    let events = vec![e(0, "a"), e(5_000, "a"), e(1_000, "b"), e(2_500, "a"), e(6_000, "b")];
    let config = json!({
        "type": "session", "gap": "3s", "key_by": ["user"], "time_field": "t",
        "aggregates": ["n = count", "first = first(t)", "last = last(t)"],
    });
    let (rows, late, bad, snap) = run_window(&events, 100_000, config);
    assert!(late.is_empty() && bad.is_empty());
    let mut by_key: BTreeMap<String, Vec<(i64, i64, u64)>> = BTreeMap::new();
    for r in &rows {
        by_key.entry(r["user"].as_str().unwrap().into()).or_default().push((
            r["window_start"].as_i64().unwrap(),
            r["window_end"].as_i64().unwrap(),
            r["n"].as_u64().unwrap(),
        ));
    }
    assert_eq!(by_key["a"], [(0, 8_000, 3)], "one merged session, fired once at the end");
    assert_eq!(by_key["b"], [(1_000, 4_000, 1), (6_000, 9_000, 1)]);
    let a = rows.iter().find(|r| r["user"] == "a").unwrap();
    assert_eq!((a["first"].clone(), a["last"].clone()), (json!(0), json!(5_000)));
    let ends: Vec<i64> = rows.iter().map(|r| r["window_end"].as_i64().unwrap()).collect();
    assert!(ends.windows(2).all(|w| w[0] <= w[1]), "end of stream fires in time order: {ends:?}");
    let w = n(&snap, "win");
    assert_eq!((w.events_in, w.passed, w.held), (5, 5, 0));
}

#[test]
fn count_windows_fire_every_slide_per_key_and_the_rest_at_the_end() {
    let e = |u: &str, v: i64| json!({"t": 0, "user": u, "v": v});
    let events = vec![e("a", 1), e("a", 2), e("b", 5), e("a", 3), e("a", 4), e("a", 5), e("b", "x".len() as i64)];
    let config = json!({
        "type": "count", "n": 4, "every": 2, "key_by": ["user"],
        "aggregates": ["n = count", "total = sum(v)"],
    });
    let (rows, late, bad, snap) = run_window(&events, 0, config);
    assert!(late.is_empty() && bad.is_empty());
    let brief: Vec<(String, u64, i64)> = rows
        .iter()
        .map(|r| (r["user"].as_str().unwrap().into(), r["n"].as_u64().unwrap(), r["total"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        brief,
        [("a".into(), 2, 3), ("a".into(), 4, 10), ("b".into(), 2, 6), ("a".into(), 3, 12)],
        "a: [1,2], [1..4], then 3, 4, 5 at the end; b: [5, 1]"
    );
    let w = n(&snap, "win");
    assert_eq!((w.events_in, w.passed, w.held), (7, 7, 0));
}

#[test]
fn the_window_config_is_checked_field_by_field() {
    let registry = streamloom_nodes::builtin_registry();
    let kind = registry.get("window").unwrap();
    let problems = kind.validate(&json!({
        "type": "sliding", "size": "10 parsecs", "gap": "1s", "aggregates": ["x = sum(v)", "y = nope(v)"],
        "allowed_lateness": "-1s",
    }));
    let fields: Vec<_> = problems.iter().filter_map(|p| p.field.as_deref()).collect();
    for f in ["size", "slide", "gap", "aggregates[1]", "allowed_lateness"] {
        assert!(fields.contains(&f), "{f} in {problems:?}");
    }
    assert!(
        kind.validate(&json!({"type": "count", "n": 6, "every": 4, "aggregates": ["c = count"]}))
            .iter()
            .any(|p| p.field.as_deref() == Some("every"))
    );
    assert!(kind.validate(&json!({"type": "session", "gap": "30s", "aggregates": ["c = count"]})).is_empty());
}

#[test]
fn events_in_open_windows_are_held_until_their_window_is_final() {
    use std::time::{Duration, Instant};
    use streamloom_runtime::executor::{Engine, RunOptions};
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    // Windows [0, 10s) and [10s, 20s); the watermark (largest time − 5 s) reaches 10 s only
    // with the last event, so [0, 10s) is final (lateness 0) and [10s, 20s) stays open.
    let events: Vec<Value> = [1_000, 2_000, 11_000, 12_000, 15_000].iter().map(|t| json!({"t": t, "u": "a"})).collect();
    write_lines(&input, &events);
    let g = graph(
        vec![
            node(
                "read",
                "file_source",
                json!({"path": input.to_str().unwrap(), "follow": true, "time_field": "t", "watermark_delay_ms": 5000}),
            ),
            node(
                "win",
                "window",
                json!({"type": "tumbling", "size": "10s", "key_by": ["u"], "time_field": "t", "aggregates": ["n = count"]}),
            ),
            node("sink", "null_sink", json!({})),
        ],
        vec![wire("read", "win"), wire("win", "sink")],
        16,
        1,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let started = Instant::now();
    loop {
        let s = h.snapshot_now();
        let w = n(&s, "win");
        if w.events_in == 5 && w.passed == 2 {
            assert_eq!(w.held, 3, "the three events of the open window are held");
            assert_eq!(w.events_out, 1, "one row, for [0, 10s)");
            assert_eq!((w.gauges.get("open_windows"), w.gauges.get("keys")), (Some(&1), Some(&1)), "{w:?}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the window took its events: {w:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    h.stop();
    assert!(matches!(wait(&engine, &h, 30), RunOutcome::Completed | RunOutcome::Stopped));
    let s = h.snapshot_now();
    let w = n(&s, "win");
    assert_node_equation(w);
    assert_eq!((w.events_in, w.passed, w.held, w.events_out), (5, 5, 0, 2), "the stop fired and resolved the rest");
}

#[test]
fn the_errors_port_carries_watermarks_so_a_window_over_dead_letters_fires_while_running() {
    use std::time::{Duration, Instant};
    use streamloom_runtime::executor::{Engine, RunOptions};
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let events = [json!({"t": 1_000, "bad": true}), json!({"t": 20_000, "bad": false})];
    write_lines(&input, &events);
    let g = graph(
        vec![
            node("read", "file_source", json!({"path": input.to_str().unwrap(), "follow": true, "time_field": "t"})),
            node("check", "map", json!({"expression": "if .bad then error(\"bad\") else . end"})),
            node(
                "win",
                "window",
                json!({"type": "tumbling", "size": "10s", "key_by": [], "aggregates": ["n = count"]}),
            ),
            node("sink", "null_sink", json!({})),
            node("rows", "null_sink", json!({})),
        ],
        vec![wire("read", "check"), wire("check", "sink"), errors_wire("check", "win"), wire("win", "rows")],
        16,
        1,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let started = Instant::now();
    while n(&h.snapshot_now(), "win").events_out == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "the window over `errors` never fired while running");
        std::thread::sleep(Duration::from_millis(10));
    }
    h.stop();
    assert!(matches!(wait(&engine, &h, 30), RunOutcome::Completed | RunOutcome::Stopped));
    let s = h.snapshot_now();
    assert_node_equation(n(&s, "win"));
    assert_eq!(n(&s, "win").events_out, 1);
}

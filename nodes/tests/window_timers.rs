//! The window node and the runtime's timers and idle inputs, through the real executor: a
//! quiet fan-in input left out of the watermark after `idle_timeout`, processing-time windows
//! that fire on the clock, and global windows emitted every interval; the accounting holds
//! while events are held and after.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use streamloom_runtime::executor::{Engine, RunOptions, RunOutcome};
use streamloom_runtime::graph::Graph;

/// A generator of `count` sample events at `rate`/s into a window node of `config`, and a
/// second input that never sends (a followed empty file) when `quiet`.
fn graph_of(config: Value, count: u64, rate: f64, quiet: Option<&std::path::Path>) -> Graph {
    let mut nodes = vec![
        node("gen", "generator", json!({"count": count, "rate": rate, "payload": "sample_events", "seed": 7})),
        node("win", "window", config),
        node("sink", "null_sink", json!({})),
    ];
    let mut wires = vec![wire("gen", "win"), wire("win", "sink")];
    if let Some(path) = quiet {
        nodes.push(node("quiet", "file_source", json!({"path": path.to_str().unwrap(), "follow": true})));
        wires.push(wire("quiet", "win"));
    }
    graph(nodes, wires, 1000, 100)
}

/// Runs until the window has sent a row (or `limit` passed), then stops; returns whether
/// rows came before the stop, and the final snapshot (whose state gauge shows no window).
fn rows_before_stop(g: &Graph, limit: Duration) -> (bool, streamloom_runtime::metrics::MetricsSnapshot) {
    rows_and_state_before_stop(g, limit).0
}

/// As [`rows_before_stop`], and the most open windows the state gauge showed while running.
fn rows_and_state_before_stop(
    g: &Graph,
    limit: Duration,
) -> ((bool, streamloom_runtime::metrics::MetricsSnapshot), u64) {
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, g, RunOptions::default());
    let started = Instant::now();
    let mut early = false;
    let mut most_windows = 0;
    while started.elapsed() < limit {
        let s = h.snapshot_now();
        assert_node_equation(n(&s, "win"));
        most_windows = most_windows.max(n(&s, "win").gauges.get("open_windows").copied().unwrap_or(0));
        if n(&s, "win").events_out > 0 {
            early = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    h.stop();
    let outcome = wait(&engine, &h, 30);
    assert!(matches!(outcome, RunOutcome::Completed | RunOutcome::Stopped), "{outcome:?}");
    let s = h.snapshot_now();
    assert_node_equation(n(&s, "win"));
    assert_wires(&s);
    let gauges = &n(&s, "win").gauges;
    let state = ["open_windows", "keys", "state_bytes"].map(|g| gauges.get(g).copied());
    assert_eq!(state, [Some(0); 3], "the window publishes its state, and none is left once ended: {gauges:?}");
    ((early, s), most_windows)
}

fn tumbling(extra: Value) -> Value {
    let mut c = json!({"type": "tumbling", "size": "100ms", "key_by": [], "aggregates": ["n = count"]});
    c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    c
}

#[test]
fn a_quiet_input_holds_windows_back_until_it_is_idle_for_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = dir.path().join("quiet.jsonl");
    std::fs::write(&quiet, "").unwrap();
    // Without an idle timeout the quiet input's watermark (none) is the minimum.
    let (early, s) =
        rows_before_stop(&graph_of(tumbling(json!({})), 4000, 4000.0, Some(&quiet)), Duration::from_millis(1500));
    assert!(!early, "no window may fire while an input has sent no watermark");
    assert!(n(&s, "win").events_out > 0, "at the stop every open window fires");
    // With one, it is left out after 200 ms and windows fire while the run goes on.
    let cfg = tumbling(json!({"idle_timeout": "200ms"}));
    let (early, s) = rows_before_stop(&graph_of(cfg, 40_000, 4000.0, Some(&quiet)), Duration::from_secs(8));
    assert!(early, "windows fire on the live input's watermark");
    let w = n(&s, "win");
    assert_eq!(w.held, 0);
    assert_eq!(w.events_in, w.passed);
}

#[test]
fn processing_time_windows_fire_on_the_clock_without_watermarks() {
    // Sequence payloads carry no event time and no watermark: only the clock can fire.
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 1_000_000, "rate": 200.0, "payload": "sequence", "seed": 1})),
            node(
                "win",
                "window",
                json!({"type": "tumbling", "size": "100ms", "time": "processing", "key_by": [], "aggregates": ["n = count"]}),
            ),
            node("sink", "null_sink", json!({})),
        ],
        vec![wire("gen", "win"), wire("win", "sink")],
        1000,
        100,
    );
    let (early, s) = rows_before_stop(&g, Duration::from_secs(8));
    assert!(early, "a processing-time window fired while the stream went on");
    assert_eq!(n(&s, "win").events_in, n(&s, "win").passed);
}

#[test]
fn global_windows_emit_every_interval_and_at_the_end() {
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 1_000_000, "rate": 200.0, "payload": "sample_events", "seed": 1})),
            node(
                "win",
                "window",
                json!({"type": "global", "interval": "100ms", "key_by": ["type"], "aggregates": ["n = count"]}),
            ),
            node("sink", "null_sink", json!({})),
        ],
        vec![wire("gen", "win"), wire("win", "sink")],
        1000,
        100,
    );
    let (early, s) = rows_before_stop(&g, Duration::from_secs(8));
    assert!(early, "rows every interval while events are held");
    let w = n(&s, "win");
    assert_eq!((w.events_in, w.held), (w.passed, 0));
}

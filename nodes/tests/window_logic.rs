//! The window logic by hand: each window type, out-of-order events within and beyond the
//! allowed lateness, sessions bridged by a late event, end-of-stream flushing, and the
//! count of events resolved (the accounting's `passed`), and which checkpoint epochs unfired
//! windows still hold.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use streamloom_nodes::operators::window::{AggSpec, Assigner, KeyFields, Outcome, Row, Windows};

fn windows(a: Assigner, lateness: i64) -> Windows {
    let specs = ["n = count", "s = sum(v)"].iter().map(|s| AggSpec::parse(s).unwrap()).collect();
    Windows::new(a, lateness, specs, KeyFields::new(&["k".into()]))
}

fn ev(k: &str, v: i64) -> Value {
    json!({"k": k, "v": v})
}

/// (key, start, end, count, sum, update) of each row.
fn brief(rows: &[Row]) -> Vec<(String, i64, i64, u64, i64, bool)> {
    rows.iter()
        .map(|r| {
            let v = &r.value;
            (
                v["k"].as_str().unwrap().to_string(),
                v["window_start"].as_i64().unwrap(),
                v["window_end"].as_i64().unwrap(),
                v["n"].as_u64().unwrap(),
                v["s"].as_i64().unwrap(),
                v.get("update") == Some(&Value::Bool(true)),
            )
        })
        .collect()
}

fn r(k: &str, s: i64, e: i64, n: u64, sum: i64, update: bool) -> (String, i64, i64, u64, i64, bool) {
    (k.to_string(), s, e, n, sum, update)
}

#[test]
fn tumbling_fires_on_the_watermark_in_order_and_flushes_at_the_end() {
    let mut w = windows(Assigner::Tumbling { size: 10, offset: 0 }, 0);
    let mut rows = Vec::new();
    for (k, t, v) in [("a", 1, 1), ("b", 12, 2), ("a", 9, 3), ("a", 15, 4), ("b", 25, 5)] {
        assert_eq!(w.add(&ev(k, v), t, &mut rows), Outcome::Absorbed);
    }
    assert_eq!(w.advance(9, &mut rows), 0, "[0, 10) is open until the watermark reaches 10");
    assert!(rows.is_empty());
    assert_eq!(w.advance(10, &mut rows), 2);
    assert_eq!(brief(&rows), [r("a", 0, 10, 2, 4, false)]);
    rows.clear();
    assert_eq!(w.open_windows(), 3);
    let (windows, keys, bytes) = w.state();
    assert_eq!((windows, keys), (3, 2));
    assert!(bytes > 0);
    assert_eq!(w.finish(&mut rows), 3);
    assert_eq!(w.state(), (0, 0, 0));
    assert_eq!(brief(&rows), [r("a", 10, 20, 1, 4, false), r("b", 10, 20, 1, 2, false), r("b", 20, 30, 1, 5, false)]);
    assert_eq!((w.open_windows(), w.keys()), (0, 0), "no state is left");
}

#[test]
fn out_of_order_events_within_lateness_re_fire_and_beyond_it_are_late() {
    let mut w = windows(Assigner::Tumbling { size: 10, offset: 0 }, 5);
    let mut rows = Vec::new();
    w.add(&ev("a", 1), 3, &mut rows);
    w.add(&ev("a", 2), 11, &mut rows);
    w.add(&ev("a", 4), 1, &mut rows); // out of order, before any watermark: just counted
    assert_eq!(w.advance(12, &mut rows), 0, "fired, kept for the lateness");
    assert_eq!(brief(&rows), [r("a", 0, 10, 2, 5, false)]);
    rows.clear();
    assert_eq!(w.add(&ev("a", 10), 7, &mut rows), Outcome::Absorbed);
    assert_eq!(brief(&rows), [r("a", 0, 10, 3, 15, true)], "the full updated row");
    rows.clear();
    assert_eq!(w.advance(15, &mut rows), 3, "[0, 10) is dropped at 10 + 5: its three events are resolved");
    match w.add(&ev("a", 100), 9, &mut rows) {
        Outcome::Late(reason) => assert!(reason.contains("late") && reason.contains("15"), "{reason}"),
        other => panic!("{other:?}"),
    }
    // Late for nothing: a new window behind the watermark but within lateness fires at once.
    assert_eq!(w.add(&ev("b", 7), 12, &mut rows), Outcome::Absorbed);
    assert_eq!(w.advance(20, &mut rows), 0);
    assert_eq!(brief(&rows), [r("a", 10, 20, 1, 2, false), r("b", 10, 20, 1, 7, false)]);
    rows.clear();
    assert_eq!(w.add(&ev("b", 1), 19, &mut rows), Outcome::Absorbed);
    assert_eq!(brief(&rows), [r("b", 10, 20, 2, 8, true)]);
    assert_eq!(w.finish(&mut rows), 3);
}

#[test]
fn sliding_counts_an_event_in_each_window_and_resolves_it_once() {
    let mut w = windows(Assigner::Sliding { size: 10, slide: 5, offset: 0 }, 0);
    let mut rows = Vec::new();
    w.add(&ev("a", 1), 7, &mut rows);
    w.add(&ev("a", 2), 12, &mut rows);
    assert_eq!(w.advance(10, &mut rows), 0, "the event at 7 is still in [5, 15)");
    assert_eq!(w.advance(15, &mut rows), 1);
    assert_eq!(w.finish(&mut rows), 1);
    assert_eq!(brief(&rows), [r("a", 0, 10, 1, 1, false), r("a", 5, 15, 2, 3, false), r("a", 10, 20, 1, 2, false)]);
    // Partly late: [5, 15) is gone, [10, 20) still takes it.
    let mut w = windows(Assigner::Sliding { size: 10, slide: 5, offset: 0 }, 0);
    w.advance(15, &mut rows);
    rows.clear();
    assert_eq!(w.add(&ev("a", 1), 14, &mut rows), Outcome::Absorbed);
    assert_eq!(w.finish(&mut rows), 1);
    assert_eq!(brief(&rows), [r("a", 10, 20, 1, 1, false)]);
}

#[test]
fn cumulative_windows_grow_by_step_from_the_same_start() {
    let mut w = windows(Assigner::Cumulative { step: 10, max: 30, offset: 0 }, 0);
    let mut rows = Vec::new();
    w.add(&ev("a", 1), 5, &mut rows);
    w.add(&ev("a", 2), 25, &mut rows);
    w.add(&ev("a", 4), 31, &mut rows);
    assert_eq!(w.advance(30, &mut rows), 2);
    assert_eq!(brief(&rows), [r("a", 0, 10, 1, 1, false), r("a", 0, 20, 1, 1, false), r("a", 0, 30, 2, 3, false)]);
    rows.clear();
    assert_eq!(w.finish(&mut rows), 1);
    assert_eq!(brief(&rows), [r("a", 30, 40, 1, 4, false), r("a", 30, 50, 1, 4, false), r("a", 30, 60, 1, 4, false)]);
}

#[test]
fn sessions_merge_when_spans_touch_and_a_late_event_bridges_two() {
    let mut w = windows(Assigner::Session { gap: 10 }, 100);
    let mut rows = Vec::new();
    w.add(&ev("a", 1), 0, &mut rows);
    w.add(&ev("a", 2), 10, &mut rows); // touches [0, 10): one session [0, 20)
    w.add(&ev("a", 4), 35, &mut rows); // a second session [35, 45)
    w.add(&ev("b", 8), 12, &mut rows); // another key: its own session
    assert_eq!(w.advance(50, &mut rows), 0, "fired, kept for the lateness");
    assert_eq!(brief(&rows), [r("a", 0, 20, 2, 3, false), r("b", 12, 22, 1, 8, false), r("a", 35, 45, 1, 4, false)]);
    rows.clear();
    // [22, 32) overlaps neither; [25, 35) touches [35, 45) and overlaps nothing else.
    w.add(&ev("a", 16), 25, &mut rows);
    assert_eq!(brief(&rows), [r("a", 25, 45, 2, 20, true)], "merged with an emitted session: an update");
    rows.clear();
    // A late event at 18 spans [18, 28): bridges [0, 20) and [25, 45).
    w.add(&ev("a", 32), 18, &mut rows);
    assert_eq!(brief(&rows), [r("a", 0, 45, 5, 55, true)]);
    assert_eq!(w.keys(), 2);
    assert_eq!(w.open_windows(), 2);
    assert_eq!(w.advance(200, &mut rows), 6, "every event resolved once, merged or not");
    assert_eq!((w.open_windows(), w.keys()), (0, 0));
}

#[test]
fn a_session_event_beyond_lateness_is_late_and_end_of_stream_fires_open_sessions_in_end_order() {
    let mut w = windows(Assigner::Session { gap: 10 }, 0);
    let mut rows = Vec::new();
    w.add(&ev("a", 1), 100, &mut rows);
    w.add(&ev("b", 1), 95, &mut rows);
    assert_eq!(w.advance(105, &mut rows), 1, "[95, 105) fired and dropped");
    assert!(matches!(w.add(&ev("a", 1), 94, &mut rows), Outcome::Late(_)), "94 + 10 <= 105");
    assert_eq!(w.finish(&mut rows), 1);
    assert_eq!(brief(&rows), [r("b", 95, 105, 1, 1, false), r("a", 100, 110, 1, 1, false)]);
}

#[test]
fn a_barrier_is_held_while_a_window_with_an_earlier_event_has_not_fired() {
    let mut w = windows(Assigner::Tumbling { size: 10, offset: 0 }, 0);
    let mut rows = Vec::new();
    assert!(!w.holds(0), "no window, nothing held");
    w.add(&ev("a", 1), 3, &mut rows);
    let first = w.barrier();
    w.add(&ev("b", 1), 25, &mut rows); // after the barrier, in a later window
    w.add(&ev("a", 1), 5, &mut rows); // after the barrier, in the held window
    let second = w.barrier();
    assert!(w.holds(first), "[0, 10) holds an event from before the first barrier");
    w.advance(10, &mut rows);
    assert!(!w.holds(first), "[0, 10) fired");
    assert!(w.holds(second), "[20, 30) holds an event from before the second barrier");
    w.advance(30, &mut rows);
    assert!(!w.holds(second));
}

#[test]
fn a_session_merged_with_an_earlier_one_keeps_its_earlier_epoch() {
    let mut w = windows(Assigner::Session { gap: 10 }, 0);
    let mut rows = Vec::new();
    w.add(&ev("a", 1), 0, &mut rows);
    let first = w.barrier();
    w.add(&ev("a", 1), 15, &mut rows);
    assert!(w.holds(first));
    // [8, 18) bridges [0, 10) and [15, 25): the merged session holds the first barrier.
    w.add(&ev("a", 1), 8, &mut rows);
    w.advance(20, &mut rows);
    assert!(rows.is_empty());
    assert!(w.holds(first), "the merged session [0, 25) has not fired");
    w.advance(25, &mut rows);
    assert_eq!(brief(&rows), [r("a", 0, 25, 3, 3, false)]);
    assert!(!w.holds(first));
}

//! The window logic on random disordered streams against a brute-force reference written
//! here: for tumbling, sliding, cumulative and session windows, with count and sum, the last
//! row of every window equals the reference, rows fire only once the watermark reached their
//! end, updates are marked, late events are exactly those the reference finds too late, and
//! every absorbed event is resolved exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};
use streamloom_nodes::operators::window::{AggSpec, Assigner, KeyFields, Outcome, Row, Windows};

#[derive(Debug, Clone)]
enum Op {
    Event { key: u8, t: i64, v: i64 },
    Watermark(i64),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        4 => (0u8..3, 0i64..300, -20i64..20).prop_map(|(key, t, v)| Op::Event { key, t, v }),
        1 => (0i64..320).prop_map(Op::Watermark),
    ];
    prop::collection::vec(op, 0..120)
}

fn assigner() -> impl Strategy<Value = Assigner> {
    prop_oneof![
        (1i64..50, 0i64..50).prop_map(|(size, o)| Assigner::Tumbling { size, offset: o % size }),
        (1i64..50, 1i64..50, 0i64..50).prop_map(|(size, slide, o)| {
            let slide = slide.min(size);
            Assigner::Sliding { size, slide, offset: o % slide }
        }),
        (1i64..20, 1i64..5, 0i64..50).prop_map(|(step, k, o)| Assigner::Cumulative {
            step,
            max: step * k,
            offset: o % (step * k)
        }),
        (1i64..40).prop_map(|gap| Assigner::Session { gap }),
    ]
}

/// Every window holding `t`, by brute force over every start.
fn brute_windows(a: Assigner, t: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    match a {
        Assigner::Tumbling { size, offset } => {
            for s in t - size + 1..=t {
                if (s - offset).rem_euclid(size) == 0 {
                    out.push((s, s + size));
                }
            }
        }
        Assigner::Sliding { size, slide, offset } => {
            for s in t - size + 1..=t {
                if (s - offset).rem_euclid(slide) == 0 {
                    out.push((s, s + size));
                }
            }
        }
        Assigner::Cumulative { step, max, offset } => {
            for s in t - max + 1..=t {
                if (s - offset).rem_euclid(max) == 0 {
                    for j in 1..=max / step {
                        if s + j * step > t {
                            out.push((s, s + j * step));
                        }
                    }
                }
            }
        }
        Assigner::Session { gap } => out.push((t, t + gap)),
    }
    out
}

#[derive(Debug, Default)]
struct Reference {
    /// (key, start, end) → (count, sum).
    windows: BTreeMap<(u8, i64, i64), (u64, i64)>,
    late: u64,
    absorbed: u64,
}

fn reference(a: Assigner, lateness: i64, ops: &[Op]) -> Reference {
    let mut r = Reference::default();
    let mut wm = i64::MIN;
    // Sessions per key: (start, end, count, sum).
    let mut sessions: BTreeMap<u8, Vec<(i64, i64, u64, i64)>> = BTreeMap::new();
    for op in ops {
        match *op {
            Op::Watermark(w) => wm = wm.max(w),
            Op::Event { key, t, v } => {
                let alive = |end: i64| end + lateness > wm;
                if let Assigner::Session { gap } = a {
                    if !alive(t + gap) {
                        r.late += 1;
                        continue;
                    }
                    r.absorbed += 1;
                    let list = sessions.entry(key).or_default();
                    let (mut s, mut e, mut n, mut sum) = (t, t + gap, 1, v);
                    list.retain(|&(s2, e2, n2, sum2)| {
                        let merge = alive(e2) && s2 <= t + gap && e2 >= t;
                        if merge {
                            (s, e, n, sum) = (s.min(s2), e.max(e2), n + n2, sum + sum2);
                        }
                        !merge
                    });
                    list.push((s, e, n, sum));
                } else {
                    let live: Vec<_> = brute_windows(a, t).into_iter().filter(|&(_, e)| alive(e)).collect();
                    if live.is_empty() {
                        r.late += 1;
                        continue;
                    }
                    r.absorbed += 1;
                    for (s, e) in live {
                        let w = r.windows.entry((key, s, e)).or_default();
                        w.0 += 1;
                        w.1 += v;
                    }
                }
            }
        }
    }
    for (key, list) in sessions {
        for (s, e, n, sum) in list {
            r.windows.insert((key, s, e), (n, sum));
        }
    }
    r
}

type Seen = (u8, i64, i64, u64, i64, bool);

fn seen(row: &Row) -> Seen {
    let v = &row.value;
    (
        v["k"].as_u64().unwrap() as u8,
        v["window_start"].as_i64().unwrap(),
        v["window_end"].as_i64().unwrap(),
        v["n"].as_u64().unwrap(),
        v["s"].as_i64().unwrap(),
        v.get("update") == Some(&Value::Bool(true)),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn windows_match_a_brute_force_reference(a in assigner(), lateness in prop_oneof![Just(0i64), 0i64..60], ops in ops()) {
        let specs = ["n = count", "s = sum(v)"].iter().map(|s| AggSpec::parse(s).unwrap()).collect();
        let mut w = Windows::new(a, lateness, specs, KeyFields::new(&["k".into()]));
        let mut emitted: Vec<Seen> = Vec::new();
        let (mut late, mut resolved) = (0u64, 0u64);
        let mut wm = i64::MIN;
        let mut rows = Vec::new();
        for op in &ops {
            match *op {
                Op::Event { key, t, v } => {
                    if let Outcome::Late(_) = w.add(&json!({"k": key, "v": v}), t, &mut rows) {
                        late += 1;
                    }
                }
                Op::Watermark(x) => {
                    wm = wm.max(x);
                    resolved += w.advance(x, &mut rows);
                }
            }
            for r in rows.drain(..) {
                prop_assert!(r.end.unwrap() <= wm, "row {:?} fired before the watermark {wm} reached its end", r.value);
                emitted.push(seen(&r));
            }
        }
        resolved += w.finish(&mut rows);
        emitted.extend(rows.iter().map(seen));
        prop_assert_eq!((w.open_windows(), w.keys()), (0, 0));

        let r = reference(a, lateness, &ops);
        prop_assert_eq!(late, r.late, "late events");
        prop_assert_eq!(resolved, r.absorbed, "every absorbed event resolved once");

        // The final row of each window, and the update marks.
        let mut last: BTreeMap<(u8, i64, i64), (u64, i64)> = BTreeMap::new();
        let mut spans: BTreeMap<u8, Vec<(i64, i64)>> = BTreeMap::new();
        for &(k, s, e, n, sum, update) in &emitted {
            let before = spans.entry(k).or_default();
            let replaces = if a.is_session() {
                before.iter().any(|&(s2, e2)| s <= s2 && e2 <= e)
            } else {
                before.contains(&(s, e))
            };
            prop_assert_eq!(update, replaces, "update mark of {:?}", (k, s, e));
            if a.is_session() {
                // A merged session replaces the rows of the sessions it contains.
                last.retain(|&(k2, s2, e2), _| !(k2 == k && s <= s2 && e2 <= e));
            }
            before.push((s, e));
            last.insert((k, s, e), (n, sum));
        }
        prop_assert_eq!(last, r.windows);
    }
}

/// The same reference, through the real engine: a file of events (one per batch, so the
/// source sends a watermark of `largest time - delay` after each) into a window node.
fn engine_case(a: Assigner, lateness: i64, delay: i64, events: &[(u8, i64, i64)]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let out = dir.path().join("rows.jsonl");
    let text: String = events.iter().map(|(k, t, v)| format!("{}\n", json!({"k": k, "t": t, "v": v}))).collect();
    std::fs::write(&input, text).unwrap();
    let ms = |x: i64| format!("{x}ms");
    let mut config = json!({"key_by": ["k"], "time_field": "t", "aggregates": ["n = count", "s = sum(v)"],
        "allowed_lateness": ms(lateness)});
    let c = config.as_object_mut().unwrap();
    match a {
        Assigner::Tumbling { size, offset } => {
            c.extend([
                ("type".into(), json!("tumbling")),
                ("size".into(), json!(ms(size))),
                ("offset".into(), json!(ms(offset))),
            ]);
        }
        Assigner::Sliding { size, slide, offset } => c.extend([
            ("type".into(), json!("sliding")),
            ("size".into(), json!(ms(size))),
            ("slide".into(), json!(ms(slide))),
            ("offset".into(), json!(ms(offset))),
        ]),
        Assigner::Session { gap } => c.extend([("type".into(), json!("session")), ("gap".into(), json!(ms(gap)))]),
        Assigner::Cumulative { .. } => return Ok(()),
    }
    let g = common::graph(
        vec![
            common::node(
                "read",
                "file_source",
                json!({"path": input.to_str().unwrap(), "time_field": "t", "watermark_delay_ms": delay}),
            ),
            common::node("win", "window", config),
            common::node("rows", "file_sink", json!({"path": out.to_str().unwrap()})),
        ],
        vec![common::wire("read", "win"), common::wire("win", "rows")],
        4,
        1,
    );
    let (outcome, snap) = common::run(&g);
    prop_assert_eq!(outcome, streamloom_runtime::executor::RunOutcome::Completed);
    common::assert_node_equation(common::n(&snap, "win"));
    // The ops the window saw: each event, then the source's watermark.
    let mut ops = Vec::new();
    let mut max = i64::MIN;
    for &(key, t, v) in events {
        ops.push(Op::Event { key, t, v });
        max = max.max(t);
        ops.push(Op::Watermark(max - delay));
    }
    let r = reference(a, lateness, &ops);
    let w = common::n(&snap, "win");
    prop_assert_eq!(w.events_in, w.passed, "every event resolved; late ones discarded on the unwired port");
    prop_assert_eq!(w.discarded, r.late);
    let mut last: BTreeMap<(u8, i64, i64), (u64, i64)> = BTreeMap::new();
    for row in common::json_lines(&out) {
        let (k, s, e) = (
            row["k"].as_u64().unwrap() as u8,
            row["window_start"].as_i64().unwrap(),
            row["window_end"].as_i64().unwrap(),
        );
        if a.is_session() {
            last.retain(|&(k2, s2, e2), _| !(k2 == k && s <= s2 && e2 <= e));
        }
        last.insert((k, s, e), (row["n"].as_u64().unwrap(), row["s"].as_i64().unwrap()));
    }
    prop_assert_eq!(last, r.windows);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_node_matches_the_reference_through_the_engine(
        a in assigner(),
        lateness in 0i64..40,
        delay in 0i64..30,
        events in prop::collection::vec((0u8..3, 0i64..300, -20i64..20), 0..60),
    ) {
        engine_case(a, lateness, delay, &events)?;
    }
}

//! Runtime semantics through the real executor and built-in kinds: conservation, drops,
//! backpressure, fan-in/fan-out, watermarks, pause/resume, stop and failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use streamloom_runtime::executor::{Engine, RunOptions, RunOutcome};
use streamloom_runtime::graph::{Graph, Node, PortRef, Settings, WhenFull, Wire};
use streamloom_runtime::metrics::MetricsSnapshot;

fn node(id: &str, kind: &str, config: serde_json::Value) -> Node {
    Node { id: id.into(), kind: kind.into(), version: 1, position: None, config }
}

fn wire(from: &str, to: &str) -> Wire {
    Wire::new(PortRef::new(from, "out"), PortRef::new(to, "in"))
}

fn run(graph: &Graph) -> (RunOutcome, MetricsSnapshot) {
    let engine = Engine::new(Some(2)).unwrap();
    let registry = streamloom_nodes::builtin_registry();
    let handle = engine.start(graph, &registry, RunOptions::default()).unwrap_or_else(|p| panic!("{p}"));
    let outcome =
        engine.block_on(async { tokio::time::timeout(Duration::from_secs(60), handle.wait()).await.unwrap() });
    (outcome, handle.snapshot_now())
}

fn n<'a>(s: &'a MetricsSnapshot, id: &str) -> &'a streamloom_runtime::metrics::NodeSnapshot {
    s.node(id).unwrap()
}

#[test]
fn block_wires_conserve_every_event() {
    let graph = Graph {
        settings: Settings { default_capacity: Some(64), batch_size: Some(100), ..Default::default() },
        nodes: vec![
            node("gen", "generator", json!({"count": 50_000, "rate": null, "payload": "sample_events", "seed": 1})),
            // Fails on "view" events (string + number): they go to the dead-letter port.
            node("calc", "map", json!({"expression": "if .type == \"view\" then .user + 1 else . end"})),
            node("keep", "filter", json!({"condition": ".type == \"purchase\""})),
            node("sink", "null_sink", json!({})),
            node("dead", "null_sink", json!({})),
        ],
        wires: vec![
            wire("gen", "calc"),
            wire("calc", "keep"),
            wire("keep", "sink"),
            Wire::new(PortRef::new("calc", "errors"), PortRef::new("dead", "in")),
        ],
        ..Default::default()
    };
    let (outcome, s) = run(&graph);
    assert_eq!(outcome, RunOutcome::Completed);
    let events: Vec<_> = streamloom_nodes::sample_events::SampleEvents::new(1).take(50_000).collect();
    let views = events.iter().filter(|e| e.kind == "view").count() as u64;
    let purchases = events.iter().filter(|e| e.kind == "purchase").count() as u64;
    let filtered = n(&s, "keep").events_in - n(&s, "keep").events_out;
    assert_eq!(n(&s, "gen").events_out, 50_000);
    assert_eq!(n(&s, "calc").errors, views);
    assert_eq!(n(&s, "dead").events_in, views);
    assert_eq!(n(&s, "sink").events_in, purchases);
    assert_eq!(n(&s, "gen").events_out, n(&s, "sink").events_in + filtered + n(&s, "calc").errors);
    for w in &s.wires {
        assert_eq!(w.pushed, w.popped, "{}", w.id);
        assert_eq!(w.dropped, 0);
        assert!(w.max_depth <= w.capacity, "{} max depth {} > capacity", w.id, w.max_depth);
    }
}

#[test]
fn drop_wires_account_for_every_missing_event() {
    for policy in [WhenFull::DropNewest, WhenFull::DropOldest] {
        let graph = Graph {
            settings: Settings { default_capacity: None, batch_size: Some(50), ..Default::default() },
            nodes: vec![
                node("gen", "generator", json!({"count": 20_000, "rate": null, "payload": "sequence", "seed": 1})),
                node("slow", "buffer", json!({"capacity": 10, "when_full": "block", "rate_limit": 20_000.0})),
                node("sink", "null_sink", json!({})),
            ],
            wires: vec![
                Wire { capacity: Some(20), when_full: Some(policy), ..wire("gen", "slow") },
                wire("slow", "sink"),
            ],
            ..Default::default()
        };
        let (outcome, s) = run(&graph);
        assert_eq!(outcome, RunOutcome::Completed);
        let w = &s.wires[0];
        assert!(w.dropped > 0, "{policy:?}: a fast source into a slow node drops");
        assert_eq!(n(&s, "gen").events_out, n(&s, "sink").events_in + w.dropped, "{policy:?}");
        assert_eq!(n(&s, "gen").dropped, w.dropped);
    }
}

#[test]
fn a_slow_consumer_holds_the_source_back() {
    // Wire capacity 100, batches of 10, buffer capacity 50 sending 20 events/s.
    let graph = Graph {
        settings: Settings { default_capacity: None, batch_size: Some(10), ..Default::default() },
        nodes: vec![
            node("gen", "generator", json!({"count": null, "rate": null, "payload": "sequence", "seed": 1})),
            node("slow", "buffer", json!({"capacity": 50, "when_full": "block", "rate_limit": 20.0})),
            node("sink", "null_sink", json!({})),
        ],
        wires: vec![Wire { capacity: Some(100), ..wire("gen", "slow") }, wire("slow", "sink")],
        ..Default::default()
    };
    let engine = Engine::new(Some(2)).unwrap();
    let registry = streamloom_nodes::builtin_registry();
    let handle = engine.start(&graph, &registry, RunOptions::default()).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let s = handle.snapshot_now();
    let sent = n(&s, "gen").events_out;
    let delivered = n(&s, "sink").events_in;
    let w = &s.wires[0];
    // The wire filled to exactly its capacity and never beyond.
    assert_eq!(w.max_depth, 100);
    assert_eq!(w.depth, 100);
    // In flight: the wire (100) + the buffer (50) + the batch the buffer holds (10) + the
    // batch the generator is blocked on (10).
    assert!(sent - delivered <= 100 + 50 + 10 + 10, "sent {sent}, delivered {delivered}");
    assert!(sent - delivered >= 150, "sent {sent}, delivered {delivered}");
    assert!(delivered < 60, "rate limited to 20/s: {delivered}");
    handle.kill();
    let outcome = engine.block_on(handle.wait());
    assert!(matches!(outcome, RunOutcome::Stopped | RunOutcome::Failed(_)), "{outcome:?}");
}

#[test]
fn fan_out_copies_and_fan_in_merges() {
    let graph = Graph {
        nodes: vec![
            node("a", "generator", json!({"count": 3000, "rate": null, "payload": "sample_events", "seed": 1})),
            node("b", "generator", json!({"count": 2000, "rate": null, "payload": "sample_events", "seed": 2})),
            node("merge", "map", json!({"expression": "."})),
            node("s1", "null_sink", json!({})),
            node("s2", "null_sink", json!({})),
        ],
        wires: vec![wire("a", "merge"), wire("b", "merge"), wire("merge", "s1"), wire("merge", "s2")],
        ..Default::default()
    };
    let (outcome, s) = run(&graph);
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(n(&s, "merge").events_in, 5000);
    assert_eq!(n(&s, "s1").events_in, 5000);
    assert_eq!(n(&s, "s2").events_in, 5000);
}

#[test]
fn pause_holds_sources_and_resume_continues() {
    let graph = Graph {
        nodes: vec![
            node("gen", "generator", json!({"count": 4000, "rate": 4000.0, "payload": "sequence", "seed": 1})),
            node("sink", "null_sink", json!({})),
        ],
        wires: vec![wire("gen", "sink")],
        ..Default::default()
    };
    let engine = Engine::new(Some(2)).unwrap();
    let registry = streamloom_nodes::builtin_registry();
    let handle = engine.start(&graph, &registry, RunOptions::default()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    handle.pause();
    std::thread::sleep(Duration::from_millis(200));
    let at_pause = handle.snapshot_now().nodes[0].events_out;
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(handle.snapshot_now().nodes[0].events_out, at_pause, "paused: nothing new");
    assert!(at_pause < 4000);
    handle.resume();
    let outcome = engine.block_on(handle.wait());
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(handle.snapshot_now().nodes[1].events_in, 4000);
}

#[test]
fn watermarks_flow_through_operators_and_fan_in_takes_the_minimum() {
    use std::sync::Mutex;
    use streamloom_runtime::io::{NodeContext, Received};
    use streamloom_runtime::registry::{
        BuildContext, Category, ConfigProblem, NodeFuture, NodeTask, ParamSpec, PortSpec, PortType, Ports,
        TypedNodeKind,
    };

    static SEEN: Mutex<Vec<i64>> = Mutex::new(Vec::new());

    /// A test sink that records the watermarks it receives.
    struct WatermarkProbe;
    #[derive(Default, serde::Serialize, serde::Deserialize)]
    struct ProbeConfig {}
    impl TypedNodeKind for WatermarkProbe {
        type Config = ProbeConfig;
        const NAME: &'static str = "watermark_probe";
        const DESCRIPTION: &'static str = "records watermarks";
        const CATEGORY: Category = Category::Sink;
        fn params() -> Vec<ParamSpec> {
            vec![]
        }
        fn ports(_: &ProbeConfig) -> Ports {
            Ports { inputs: vec![PortSpec::input("in", PortType::Any, "")], outputs: vec![] }
        }
        fn build(_: ProbeConfig, _: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
            Ok(Box::new(|mut ctx: NodeContext| -> NodeFuture {
                Box::pin(async move {
                    while let Some(m) = ctx.inputs.recv().await {
                        if let Received::Watermark(t) = m {
                            SEEN.lock().unwrap().push(t);
                        }
                    }
                    Ok(())
                })
            }))
        }
    }

    let mut registry = streamloom_nodes::builtin_registry();
    registry.add::<WatermarkProbe>();
    // Two sample-event generators: the slower stream (rate-limited) holds the merged watermark back.
    let graph = Graph {
        settings: Settings { default_capacity: None, batch_size: Some(100), ..Default::default() },
        nodes: vec![
            node("fast", "generator", json!({"count": 5000, "rate": null, "payload": "sample_events", "seed": 1})),
            node("slow", "generator", json!({"count": 1000, "rate": 5000.0, "payload": "sample_events", "seed": 2})),
            node("pass", "filter", json!({"condition": "true"})),
            node("probe", "watermark_probe", json!({})),
        ],
        wires: vec![wire("fast", "pass"), wire("slow", "pass"), wire("pass", "probe")],
        ..Default::default()
    };
    let engine = Engine::new(Some(2)).unwrap();
    let handle = engine.start(&graph, &registry, RunOptions::default()).unwrap();
    assert_eq!(engine.block_on(handle.wait()), RunOutcome::Completed);
    let seen = SEEN.lock().unwrap().clone();
    assert!(!seen.is_empty());
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "watermarks only advance: {seen:?}");
    // The fast stream ends almost at once with its watermark near BASE + 3000, while the slow
    // one is still near BASE - 2000: the merged watermark is the minimum, so it follows the slow
    // stream and never shows the fast stream's value.
    let base = streamloom_nodes::sample_events::BASE_TS;
    let slow_last = base + 999 - 2000;
    assert!(seen.iter().all(|&t| t <= slow_last), "never past the slow stream: {seen:?}");
    assert!(*seen.last().unwrap() > base - 2000 + 500, "follows the slow stream forward: {seen:?}");
}

#[test]
fn stop_drains_in_flight_events_to_the_sinks() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("o.jsonl");
    let graph = Graph {
        nodes: vec![
            node("gen", "generator", json!({"count": null, "rate": 20000.0, "payload": "sample_events", "seed": 1})),
            node("w", "file_sink", json!({"path": out.to_str().unwrap()})),
        ],
        wires: vec![wire("gen", "w")],
        ..Default::default()
    };
    let engine = Engine::new(Some(2)).unwrap();
    let registry = streamloom_nodes::builtin_registry();
    let handle = engine.start(&graph, &registry, RunOptions::default()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    handle.stop();
    assert_eq!(engine.block_on(handle.wait()), RunOutcome::Stopped);
    let sent = handle.snapshot_now().nodes[0].events_out;
    let written = std::fs::read_to_string(&out).unwrap().lines().count() as u64;
    assert!(sent > 0);
    assert_eq!(written, sent);
}

#[test]
fn tap_keeps_the_last_events_of_each_output_including_errors() {
    use streamloom_runtime::tap::TAP_CAPACITY;
    // A map that fails on odd numbers: evens leave on `out`, odds on `errors` (unwired here).
    let graph = Graph {
        settings: Settings { default_capacity: Some(64), batch_size: Some(10), ..Default::default() },
        nodes: vec![
            // Paced (0.1 s), so the tap is watched well before the end.
            node("gen", "generator", json!({"count": 1000, "rate": 10000, "payload": "sequence", "seed": 1})),
            node("calc", "map", json!({"expression": "if . % 2 == 1 then . + \"x\" else . end"})),
            node("sink", "null_sink", json!({})),
        ],
        wires: vec![wire("gen", "calc"), wire("calc", "sink")],
        ..Default::default()
    };
    let engine = Engine::new(Some(2)).unwrap();
    let registry = streamloom_nodes::builtin_registry();
    let handle = engine.start(&graph, &registry, RunOptions::default()).unwrap_or_else(|p| panic!("{p}"));
    let calc = handle.node_ids().iter().position(|id| id == "calc").unwrap();
    // The first read starts recording (unwatched nodes pay nothing).
    assert!(handle.tap(calc).len() < TAP_CAPACITY);
    let outcome =
        engine.block_on(async { tokio::time::timeout(Duration::from_secs(60), handle.wait()).await.unwrap() });
    assert_eq!(outcome, RunOutcome::Completed);
    let tapped = handle.tap(calc);
    assert_eq!(tapped.len(), TAP_CAPACITY);
    assert!(tapped.windows(2).all(|w| w[0].order > w[1].order), "newest first");
    let newest_out = tapped.iter().find(|t| &*t.port == "out").expect("events on out");
    assert_eq!(newest_out.event.value, json!(998));
    let newest_err = tapped.iter().find(|t| &*t.port == "errors").expect("events on errors");
    assert_eq!(newest_err.event.value["node"], json!("calc"));
    assert_eq!(newest_err.event.value["seq"], json!(newest_out.event.seq + 1));
    assert!(newest_err.event.value["reason"].as_str().is_some_and(|r| !r.is_empty()));
    // Only the watched node records; an unknown index is empty.
    assert!(handle.tap(0).is_empty());
    assert!(handle.tap(99).is_empty());
}

#[test]
fn a_run_shorter_than_one_sample_interval_still_charts_its_totals() {
    let graph = Graph {
        settings: Settings { default_capacity: Some(64), batch_size: Some(50), ..Default::default() },
        nodes: vec![
            node("gen", "generator", json!({"count": 200, "payload": "sequence", "seed": 1})),
            node("m", "map", json!({"expression": ".a"})),
            node("sink", "null_sink", json!({})),
        ],
        wires: vec![wire("gen", "m"), wire("m", "sink")],
        ..Default::default()
    };
    let engine = Engine::new(Some(2)).unwrap();
    let registry = streamloom_nodes::builtin_registry();
    let options = RunOptions { sample_interval: Duration::from_secs(5), ..RunOptions::default() };
    let handle = engine.start(&graph, &registry, options).unwrap_or_else(|p| panic!("{p}"));
    let outcome =
        engine.block_on(async { tokio::time::timeout(Duration::from_secs(20), handle.wait()).await }).unwrap();
    assert_eq!(outcome, RunOutcome::Completed);
    let history = handle.history();
    let history = history.read().unwrap();
    let last = history.samples().iter().last().expect("a sample");
    let m = 1; // the map's index
    assert_eq!(last.errors[m], 200, "the final sample holds the run's totals (every `.a` on a number fails)");
    assert!(last.t > 0.0);
}

//! Shared helpers of the node tests: graphs, runs through the real executor, the node
//! accounting equation.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod tls;

use std::time::Duration;

use serde_json::Value;
use streamloom_runtime::executor::{Engine, RunHandle, RunOptions, RunOutcome};
use streamloom_runtime::graph::{Graph, Node, PortRef, Settings, Wire};
use streamloom_runtime::metrics::{MetricsSnapshot, NodeSnapshot, NodeStatus};

/// A node.
pub fn node(id: &str, kind: &str, config: Value) -> Node {
    Node { id: id.into(), kind: kind.into(), version: 1, position: None, config }
}

/// `from.out -> to.in`.
pub fn wire(from: &str, to: &str) -> Wire {
    Wire::new(PortRef::new(from, "out"), PortRef::new(to, "in"))
}

/// `from.errors -> to.in`.
pub fn errors_wire(from: &str, to: &str) -> Wire {
    Wire::new(PortRef::new(from, "errors"), PortRef::new(to, "in"))
}

/// A graph of `nodes` and `wires` with a wire capacity and batch size.
pub fn graph(nodes: Vec<Node>, wires: Vec<Wire>, capacity: usize, batch: usize) -> Graph {
    Graph {
        settings: Settings { default_capacity: Some(capacity), batch_size: Some(batch), ..Default::default() },
        nodes,
        wires,
        ..Default::default()
    }
}

/// `source` -> a blocking `buffer` passing `rate` events a second -> `sink` (ids `src`, `slow`
/// and the sink's), wires of capacity 1: a pipeline that keeps its source waiting.
pub fn slow_pipeline(source: Node, rate: f64, sink: Node, batch: usize) -> Graph {
    let slow = node("slow", "buffer", serde_json::json!({"capacity": 1, "when_full": "block", "rate_limit": rate}));
    let wires = vec![wire(&source.id, "slow"), wire("slow", &sink.id)];
    graph(vec![source, slow, sink], wires, 1, batch)
}

/// Starts `g` with the built-in kinds.
pub fn start(engine: &Engine, g: &Graph, options: RunOptions) -> RunHandle {
    engine.start(g, &streamloom_nodes::builtin_registry(), options).unwrap_or_else(|p| panic!("{p}"))
}

/// Waits at most `secs` for the outcome.
pub fn wait(engine: &Engine, h: &RunHandle, secs: u64) -> RunOutcome {
    engine.block_on(async {
        tokio::time::timeout(Duration::from_secs(secs), h.wait()).await.expect("the run ended in time")
    })
}

/// Runs `g` to its end (at most 60 s).
pub fn run(g: &Graph) -> (RunOutcome, MetricsSnapshot) {
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, g, RunOptions::default());
    let outcome = wait(&engine, &h, 60);
    (outcome, h.snapshot_now())
}

/// The node `id` of a snapshot.
pub fn n<'a>(s: &'a MetricsSnapshot, id: &str) -> &'a NodeSnapshot {
    s.node(id).unwrap_or_else(|| panic!("no node {id}"))
}

/// `events_in = passed + filtered + errors + dropped_inside + held + lost_on_kill` (`held` is
/// derived and never negative, so an over-count fails here), and `held` is 0 once a node
/// finished (an under-count fails there).
pub fn assert_node_equation(s: &NodeSnapshot) {
    assert_eq!(
        s.events_in,
        s.passed + s.filtered + s.errors + s.dropped_inside + s.held + s.lost_on_kill,
        "node `{}`: in {} != passed {} + filtered {} + errors {} + dropped_inside {} + held {} + lost_on_kill {}",
        s.id,
        s.events_in,
        s.passed,
        s.filtered,
        s.errors,
        s.dropped_inside,
        s.held,
        s.lost_on_kill
    );
    if s.status != NodeStatus::Running {
        assert_eq!(s.held, 0, "node `{}` ended ({:?}) holding events", s.id, s.status);
    }
}

/// `pushed = popped + dropped + depth` on every wire.
pub fn assert_wires(s: &MetricsSnapshot) {
    for w in &s.wires {
        assert_eq!(w.pushed, w.popped + w.dropped + w.depth, "wire {}", w.id);
    }
}

/// The whole lines of a JSON Lines file, parsed (a last line still being written is left
/// out); panics on an invalid line.
pub fn json_lines(path: &std::path::Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    // A sink may be mid-write while a test polls: only whole lines count (a file that ends
    // without its last newline then shows one line short, and counts compared fail).
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    whole.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("line {l:?}: {e}"))).collect()
}

/// Waits (10 s at most) for node `id`'s status line to meet `wanted`; returns it.
pub fn wait_for_state_line(h: &RunHandle, id: &str, what: &str, wanted: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let line = h.snapshot_now().node(id).and_then(|n| n.state_line()).unwrap_or_default();
        if wanted(&line) {
            return line;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: `{line}`");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (2 s at most) for node `id`'s status to say `reconnecting: attempt N` with its
/// `reconnects` gauge at N, for a node that never connected: every kind that reconnects
/// counts the same way (each failed attempt is one). Both hold still while the node waits out
/// its backoff.
pub fn assert_attempts_match_reconnects(h: &RunHandle, id: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let s = h.snapshot_now();
        let node = s.node(id).expect("the node");
        let line = node.state_line().unwrap_or_default();
        let attempt = line
            .strip_prefix("reconnecting: attempt ")
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse::<u64>().ok());
        let reconnects = node.gauges.get("reconnects").copied();
        if attempt.is_some_and(|a| a > 0) && attempt == reconnects {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "status `{line}` against reconnects {reconnects:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

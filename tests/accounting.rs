//! Exact accounting, property-tested: random small graphs (generators, filters, maps that
//! fail or fan out, buffers, fan-in, fan-out, every `when_full` policy, capacities down to 1,
//! rate-limited and fast sinks), some stopped mid-run, and every equation of
//! ARCHITECTURE.md checked on the final counters.
//! `STREAMLOOM_ACCOUNTING_CASES` sets how many graphs (default 48).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/accounting.rs"]
mod accounting;

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRng, TestRunner};
use serde_json::{Value, json};
use streamloom_runtime::executor::{Engine, RunOptions, RunOutcome};
use streamloom_runtime::graph::{Graph, Node, PortRef, Settings, WhenFull, Wire};

/// One operator of a chain.
#[derive(Debug, Clone)]
enum Op {
    Filter,
    Map,
    FailingMap,
    Expanding,
    Emptying,
    Buffer { capacity: usize, policy: WhenFull, rate: Option<f64> },
}

/// A chain: generator → ops → (fan-out to) sinks.
#[derive(Debug, Clone)]
struct Chain {
    count: u64,
    ops: Vec<Op>,
    sinks: usize,
    wire_errors: bool,
}

#[derive(Debug, Clone)]
struct Recipe {
    chains: Vec<Chain>,
    merge: bool,
    capacities: Vec<(usize, WhenFull)>,
    stop_after_ms: Option<u64>,
    batch: usize,
}

fn policy() -> impl Strategy<Value = WhenFull> {
    prop_oneof![Just(WhenFull::Block), Just(WhenFull::DropOldest), Just(WhenFull::DropNewest)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Filter),
        Just(Op::Map),
        Just(Op::FailingMap),
        Just(Op::Expanding),
        Just(Op::Emptying),
        (1usize..40, policy(), prop_oneof![Just(None), (2_000.0f64..50_000.0).prop_map(Some)])
            .prop_map(|(capacity, policy, rate)| Op::Buffer { capacity, policy, rate }),
    ]
}

fn recipe() -> impl Strategy<Value = Recipe> {
    let chain = (1u64..3000, prop::collection::vec(op(), 0..4), 1usize..3, any::<bool>())
        .prop_map(|(count, ops, sinks, wire_errors)| Chain { count, ops, sinks, wire_errors });
    (
        prop::collection::vec(chain, 1..3),
        any::<bool>(),
        prop::collection::vec((1usize..64, policy()), 32),
        prop_oneof![3 => Just(None), 1 => (0u64..30).prop_map(Some)],
        1usize..200,
    )
        .prop_map(|(chains, merge, capacities, stop_after_ms, batch)| Recipe {
            chains,
            merge,
            capacities,
            stop_after_ms,
            batch,
        })
}

fn node(id: String, kind: &str, config: Value) -> Node {
    Node { id, kind: kind.into(), version: 1, position: None, config }
}

fn op_node(id: String, op: &Op) -> Node {
    match op {
        Op::Filter => node(id, "filter", json!({"condition": ".type == \"purchase\""})),
        Op::Map => node(id, "map", json!({"expression": ".value *= 2"})),
        Op::FailingMap => {
            node(id, "map", json!({"expression": "if .type == \"view\" then error(\"no views\") else . end"}))
        }
        Op::Expanding => node(id, "map", json!({"expression": "., {copy: .user}"})),
        Op::Emptying => node(id, "map", json!({"expression": "select(.value > 50)"})),
        Op::Buffer { capacity, policy, rate } => {
            node(id, "buffer", json!({"capacity": capacity, "when_full": policy.name(), "rate_limit": rate}))
        }
    }
}

/// Builds the graph a recipe describes; wire capacities and policies are drawn in order.
fn build(r: &Recipe) -> Graph {
    let mut nodes = Vec::new();
    let mut wires = Vec::new();
    let mut caps = r.capacities.iter().cycle();
    let mut connect = |wires: &mut Vec<Wire>, from: PortRef, to: PortRef| {
        let (capacity, policy) = caps.next().copied().unwrap_or((16, WhenFull::Block));
        let mut w = Wire::new(from, to);
        w.capacity = Some(capacity);
        w.when_full = Some(policy);
        wires.push(w);
    };
    let mut merge_into: Option<String> = None;
    for (c, chain) in r.chains.iter().enumerate() {
        let source = format!("gen{c}");
        nodes.push(node(
            source.clone(),
            "generator",
            json!({"count": chain.count, "rate": null, "payload": "sample_events", "seed": c as u64 + 1}),
        ));
        let mut last = source;
        for (k, op) in chain.ops.iter().enumerate() {
            let id = format!("c{c}op{k}");
            nodes.push(op_node(id.clone(), op));
            connect(&mut wires, PortRef::new(&last, "out"), PortRef::new(&id, "in"));
            if chain.wire_errors {
                let dead = format!("{id}_dead");
                nodes.push(node(dead.clone(), "null_sink", json!({})));
                connect(&mut wires, PortRef::new(&id, "errors"), PortRef::new(&dead, "in"));
            }
            last = id;
        }
        if r.merge && r.chains.len() > 1 {
            let target = merge_into.get_or_insert_with(|| {
                nodes.push(node("merged".into(), "map", json!({"expression": "."})));
                "merged".into()
            });
            connect(&mut wires, PortRef::new(&last, "out"), PortRef::new(target.as_str(), "in"));
            continue;
        }
        for s in 0..chain.sinks {
            let sink = format!("c{c}sink{s}");
            nodes.push(node(sink.clone(), "null_sink", json!({})));
            connect(&mut wires, PortRef::new(&last, "out"), PortRef::new(&sink, "in"));
        }
    }
    if let Some(m) = merge_into {
        for s in 0..2 {
            let sink = format!("msink{s}");
            nodes.push(node(sink.clone(), "null_sink", json!({})));
            connect(&mut wires, PortRef::new(&m, "out"), PortRef::new(&sink, "in"));
        }
    }
    Graph {
        settings: Settings { default_capacity: Some(16), batch_size: Some(r.batch), ..Default::default() },
        nodes,
        wires,
        ..Default::default()
    }
}

fn check(engine: &Engine, r: &Recipe) -> Result<(), TestCaseError> {
    let graph = build(r);
    let registry = streamloom_nodes::builtin_registry();
    let options = RunOptions { stop_timeout: Some(Duration::from_secs(20)), ..RunOptions::default() };
    let handle = engine.start(&graph, &registry, options).map_err(|p| TestCaseError::fail(p.to_string()))?;
    let outcome = engine.block_on(async {
        if let Some(ms) = r.stop_after_ms {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            handle.stop();
        }
        tokio::time::timeout(Duration::from_secs(60), handle.wait()).await
    });
    let outcome = outcome.map_err(|_| TestCaseError::fail("the run did not end within 60 s"))?;
    prop_assert!(matches!(outcome, RunOutcome::Completed | RunOutcome::Stopped), "outcome {outcome:?}");
    let snap = handle.snapshot();
    let bad = accounting::violations(&graph, &snap, true);
    prop_assert!(bad.is_empty(), "{}\n{:#?}", bad.join("\n"), r);
    Ok(())
}

#[test]
fn every_event_is_accounted_for_in_random_graphs() {
    let cases = std::env::var("STREAMLOOM_ACCOUNTING_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48);
    let engine = Engine::new(Some(2)).unwrap();
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let rng = TestRng::deterministic_rng(config.rng_algorithm);
    let mut runner = TestRunner::new_with_rng(config, rng);
    runner.run(&recipe(), |r| check(&engine, &r)).unwrap();
    eprintln!("accounting: {cases} random graphs, every equation held");
}

//! `nats_source` and `nats_sink` against a real `nats-server -js` on loopback (started per
//! test; skipped loudly when not installed): counts add up from publish to file, a queue
//! group splits messages with none lost, a broker restarted mid-stream loses nothing
//! acknowledged, an unreachable broker shows backoff and Stop still ends the run, malformed
//! payloads go to `errors` with their text, and a slow pipeline keeps in-flight bounded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broker_servers;
mod common;
mod jetstream_peer;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use broker_servers::{Broker, Kind};
use common::*;
use jetstream_peer::*;
use serde_json::{Value, json};
use streamloom_runtime::executor::{Engine, RunHandle, RunOptions, RunOutcome};
use streamloom_runtime::graph::Graph;

fn js_source(url: &str, extra: Value) -> streamloom_runtime::graph::Node {
    let mut config = json!({"servers": [url], "subject": "orders.>", "stream": "ORDERS", "durable": "test",
        "backoff_initial": "50ms", "backoff_max": "200ms", "connect_timeout": "1s"});
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    node("src", "nats_source", config)
}

fn file_sink(id: &str, path: &Path) -> streamloom_runtime::graph::Node {
    node(id, "file_sink", json!({"path": path.to_str().unwrap(), "flush_interval_ms": 10}))
}

/// Waits (at most `secs`) until `done` holds, then stops the run and waits for its end.
fn stop_when(engine: &Engine, h: &RunHandle, secs: u64, done: impl Fn() -> bool) -> RunOutcome {
    let started = Instant::now();
    while !done() && started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(20));
    }
    h.stop();
    wait(engine, h, 10)
}

fn numbers(path: &Path) -> Vec<u64> {
    json_lines(path).iter().map(|v| v.as_u64().unwrap()).collect()
}

fn state_line(h: &RunHandle, id: &str) -> String {
    h.snapshot_now().node(id).and_then(|n| n.state_line()).unwrap_or_default()
}

#[test]
fn jetstream_messages_reach_a_file_once_and_are_all_acknowledged() {
    let Some(b) = Broker::start(Kind::Nats, "jetstream_messages_reach_a_file_once_and_are_all_acknowledged") else {
        return;
    };
    let rt = peer();
    create_stream(&rt, &b.url());
    js_publish(&rt, &b.url(), "orders.new", (0..500).map(|i| i.to_string()).collect());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let g = graph(
        vec![js_source(&b.url(), json!({"max_in_flight": 64})), file_sink("file", &out)],
        vec![wire("src", "file")],
        16,
        32,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let outcome = stop_when(&engine, &h, 10, || json_lines(&out).len() >= 500);
    assert_eq!(outcome, RunOutcome::Stopped);
    assert_eq!(numbers(&out), (0..500).collect::<Vec<u64>>(), "every message once, in order");
    let s = h.snapshot_now();
    let src = n(&s, "src");
    assert_eq!(src.events_out, 500);
    assert_eq!((src.gauges["in_flight"], src.gauges["unacked"]), (0, 0), "{src:?}");
    assert_eq!(settled_counts(&rt, &b.url(), "test"), (0, 0), "nothing pending, nothing unacknowledged");
    assert_node_equation(n(&s, "file"));
    assert_wires(&s);
}

/// A stream created after the source started: the source says why it waits ("stream not
/// found", degraded), then reads every message, and its status says connected again.
#[test]
fn a_stream_created_after_the_source_started_is_read_and_the_status_recovers() {
    let Some(b) = Broker::start(Kind::Nats, "a_stream_created_after_the_source_started_is_read") else {
        return;
    };
    let rt = peer();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let g = graph(
        vec![js_source(&b.url(), json!({"backoff_initial": "50ms", "backoff_max": "100ms"})), file_sink("file", &out)],
        vec![wire("src", "file")],
        16,
        32,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    wait_for_state_line(&h, "src", "no stream", |l| l.starts_with("degraded: stream `ORDERS`"));
    // Each retry says so: the line does not freeze at the first.
    wait_for_state_line(&h, "src", "retries", |l| l.contains("; retry 3, next in"));
    create_stream(&rt, &b.url());
    js_publish(&rt, &b.url(), "orders.new", (0..50).map(|i| i.to_string()).collect());
    let outcome = stop_when(&engine, &h, 10, || json_lines(&out).len() >= 50);
    assert_eq!(outcome, RunOutcome::Stopped);
    assert_eq!(numbers(&out), (0..50).collect::<Vec<u64>>());
    let s = h.snapshot_now();
    let src = n(&s, "src");
    assert!(src.state_line().is_none_or(|l| !l.contains("not found")), "stale status: {src:?}");
}

#[test]
fn a_queue_group_splits_messages_across_two_sources_with_none_lost() {
    let Some(b) = Broker::start(Kind::Nats, "a_queue_group_splits_messages_across_two_sources_with_none_lost") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, c) = (dir.path().join("a.jsonl"), dir.path().join("c.jsonl"));
    let source = |id: &str| {
        node(
            id,
            "nats_source",
            json!({"servers": [b.url()], "subject": "ticks.*", "queue_group": "workers", "max_in_flight": 4096}),
        )
    };
    let g = graph(
        vec![source("s1"), source("s2"), file_sink("f1", &a), file_sink("f2", &c)],
        vec![wire("s1", "f1"), wire("s2", "f2")],
        64,
        32,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let started = Instant::now();
    while !(state_line(&h, "s1").starts_with("connected") && state_line(&h, "s2").starts_with("connected")) {
        assert!(started.elapsed() < Duration::from_secs(5), "both sources connect");
        std::thread::sleep(Duration::from_millis(10));
    }
    let rt = peer();
    rt.block_on(async {
        let client = async_nats::connect(b.url()).await.unwrap();
        // Both subscriptions are registered once a round trip after connecting is done.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for i in 0..1000u64 {
            client.publish(format!("ticks.{}", i % 7), i.to_string().into()).await.unwrap();
        }
        client.flush().await.unwrap();
    });
    let outcome = stop_when(&engine, &h, 10, || json_lines(&a).len() + json_lines(&c).len() >= 1000);
    assert_eq!(outcome, RunOutcome::Stopped);
    let (na, nc) = (numbers(&a), numbers(&c));
    assert!(!na.is_empty() && !nc.is_empty(), "both members got some: {} and {}", na.len(), nc.len());
    let mut all: Vec<u64> = na.iter().chain(&nc).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<u64>>(), "each message went to exactly one member");
}

#[test]
fn after_a_broker_restart_mid_stream_nothing_acknowledged_is_lost() {
    let Some(mut b) = Broker::start(Kind::Nats, "after_a_broker_restart_mid_stream_nothing_acknowledged_is_lost")
    else {
        return;
    };
    let rt = peer();
    create_stream(&rt, &b.url());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let total = 3000u64;
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": total, "rate": 2000.0, "payload": "sequence", "seed": 1})),
            node(
                "pub",
                "nats_sink",
                json!({"servers": [b.url()], "subject": "orders.placed", "jetstream": true,
                "ack_timeout": "1s", "backoff_initial": "50ms", "backoff_max": "200ms"}),
            ),
            js_source(&b.url(), json!({"max_in_flight": 100, "ack_wait": "1s"})),
            file_sink("file", &out),
        ],
        vec![wire("gen", "pub"), wire("src", "file")],
        16,
        32,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let started = Instant::now();
    while json_lines(&out).len() < 500 {
        assert!(started.elapsed() < Duration::from_secs(5), "events flow before the restart");
        std::thread::sleep(Duration::from_millis(10));
    }
    b.stop();
    let mut saw_reconnecting = false;
    let away = Instant::now();
    while away.elapsed() < Duration::from_millis(500) {
        saw_reconnecting |=
            state_line(&h, "src").starts_with("reconnecting") && state_line(&h, "pub").starts_with("reconnecting");
        std::thread::sleep(Duration::from_millis(10));
    }
    b.restart();
    let distinct = || numbers(&out).into_iter().collect::<BTreeSet<u64>>().len() as u64;
    let outcome = stop_when(&engine, &h, 15, || distinct() >= total);
    assert_eq!(outcome, RunOutcome::Stopped);
    let got = numbers(&out);
    let set: BTreeSet<u64> = got.iter().copied().collect();
    let missing: Vec<u64> = (0..total).filter(|i| !set.contains(i)).take(20).collect();
    eprintln!("missing (first 20): {missing:?}");
    assert_eq!(set, (0..total).collect::<BTreeSet<u64>>(), "every published event arrived after the restart");
    eprintln!("restart: {} duplicate(s) of {total} (redelivered unacknowledged messages)", got.len() as u64 - total);
    assert!(saw_reconnecting, "source and sink said reconnecting while the broker was away");
    let s = h.snapshot_now();
    assert_eq!(n(&s, "pub").passed, total, "every publish acknowledged once");
    assert!(n(&s, "src").gauges["reconnects"] >= 1 && n(&s, "pub").gauges["reconnects"] >= 1);
    let stored = rt.block_on(async {
        let js = jetstream::new(async_nats::connect(b.url()).await.unwrap());
        js.get_stream("ORDERS").await.unwrap().info().await.unwrap().state.messages
    });
    assert_eq!(stored, total, "retried publishes were deduplicated by Nats-Msg-Id");
}

#[test]
fn an_event_over_the_servers_max_payload_goes_to_errors_and_the_rest_is_published() {
    let Some(b) =
        Broker::start(Kind::Nats, "an_event_over_the_servers_max_payload_goes_to_errors_and_the_rest_is_published")
    else {
        return;
    };
    let rt = peer();
    create_stream(&rt, &b.url());
    for jetstream in [false, true] {
        let g = graph(
            vec![
                node("gen", "generator", json!({"count": 3, "payload": "sequence", "seed": 1})),
                node(
                    "pad",
                    "map",
                    json!({"expression": "if . == 1 then {n: ., pad: (\"x\" * 1100000)} else {n: .} end"}),
                ),
                node(
                    "pub",
                    "nats_sink",
                    json!({"servers": [b.url()], "subject": "orders.big", "jetstream": jetstream}),
                ),
            ],
            vec![wire("gen", "pad"), wire("pad", "pub")],
            16,
            1,
        );
        let (outcome, s) = run(&g);
        assert_eq!(outcome, RunOutcome::Completed, "jetstream: {jetstream}");
        let p = n(&s, "pub");
        assert_eq!((p.passed, p.errors), (2, 1), "jetstream {jetstream}: {p:?}");
    }
}

#[test]
fn a_second_run_of_a_jetstream_sink_is_stored_again_not_taken_for_retries() {
    let Some(b) = Broker::start(Kind::Nats, "a_second_run_of_a_jetstream_sink_is_stored_again_not_taken_for_retries")
    else {
        return;
    };
    let rt = peer();
    create_stream(&rt, &b.url());
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 200, "payload": "sequence", "seed": 1})),
            node("pub", "nats_sink", json!({"servers": [b.url()], "subject": "orders.placed", "jetstream": true})),
        ],
        vec![wire("gen", "pub")],
        16,
        32,
    );
    for _ in 0..2 {
        let (outcome, s) = run(&g);
        assert_eq!(outcome, RunOutcome::Completed);
        assert_eq!(n(&s, "pub").passed, 200);
    }
    let stored = rt.block_on(async {
        let js = jetstream::new(async_nats::connect(b.url()).await.unwrap());
        js.get_stream("ORDERS").await.unwrap().info().await.unwrap().state.messages
    });
    assert_eq!(stored, 400, "the same events from two runs are two runs' worth of messages, not duplicates");
}

#[test]
fn an_unreachable_broker_shows_backoff_and_stop_still_ends_the_run() {
    let port = broker_servers::free_port();
    let g = graph(
        vec![
            node(
                "src",
                "nats_source",
                json!({"servers": [format!("nats://127.0.0.1:{port}")], "subject": "x",
                "backoff_initial": "100ms", "backoff_max": "300ms", "connect_timeout": "200ms"}),
            ),
            node("null", "null_sink", json!({})),
        ],
        vec![wire("src", "null")],
        16,
        32,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let started = Instant::now();
    let mut attempts = BTreeSet::new();
    while started.elapsed() < Duration::from_secs(2) {
        let line = state_line(&h, "src");
        if let Some(rest) = line.strip_prefix("reconnecting: attempt ") {
            attempts.insert(rest.split(',').next().unwrap().to_string());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(attempts.len() >= 2, "the status showed several attempts with their delay: {attempts:?}");
    assert_attempts_match_reconnects(&h, "src");
    let stopping = Instant::now();
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
    assert!(stopping.elapsed() < Duration::from_secs(2), "stopped in {:?}", stopping.elapsed());
}

#[test]
fn malformed_payloads_go_to_errors_with_their_raw_text() {
    let Some(b) = Broker::start(Kind::Nats, "malformed_payloads_go_to_errors_with_their_raw_text") else { return };
    let rt = peer();
    create_stream(&rt, &b.url());
    js_publish(&rt, &b.url(), "orders.x", vec!["1".into(), "{oops".into(), "2".into(), "not json".into(), "3".into()]);
    let dir = tempfile::tempdir().unwrap();
    let (out, errs) = (dir.path().join("out.jsonl"), dir.path().join("errors.jsonl"));
    let g = graph(
        vec![js_source(&b.url(), json!({})), file_sink("file", &out), file_sink("errs", &errs)],
        vec![wire("src", "file"), errors_wire("src", "errs")],
        16,
        32,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let outcome = stop_when(&engine, &h, 10, || json_lines(&out).len() >= 3 && json_lines(&errs).len() >= 2);
    assert_eq!(outcome, RunOutcome::Stopped);
    assert_eq!(numbers(&out), vec![1, 2, 3]);
    let raw: Vec<String> = json_lines(&errs).iter().map(|e| e["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(raw, vec!["{oops", "not json"]);
    assert!(json_lines(&errs)[0]["reason"].as_str().unwrap().contains("not JSON"));
    assert_eq!(n(&h.snapshot_now(), "src").errors, 2);
    assert_eq!(settled_counts(&rt, &b.url(), "test"), (0, 0), "dead-lettered messages are acknowledged too");
}

#[test]
fn core_nats_counts_every_message_the_client_dropped_as_a_slow_consumer() {
    let Some(b) = Broker::start(Kind::Nats, "core_nats_counts_every_message_the_client_dropped_as_a_slow_consumer")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    // The client holds at most 8 messages; the pipeline takes 400 a second.
    let g = slow_pipeline(
        node("src", "nats_source", json!({"servers": [b.url()], "subject": "ticks", "max_in_flight": 8})),
        400.0,
        file_sink("file", &out),
        8,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let started = Instant::now();
    while !state_line(&h, "src").starts_with("connected") {
        assert!(started.elapsed() < Duration::from_secs(5), "the source connects");
        std::thread::sleep(Duration::from_millis(10));
    }
    let rt = peer();
    rt.block_on(async {
        let client = async_nats::connect(b.url()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        for i in 0..2000u64 {
            client.publish("ticks", i.to_string().into()).await.unwrap();
        }
        client.flush().await.unwrap();
    });
    std::thread::sleep(Duration::from_millis(300));
    h.stop();
    assert_eq!(wait(&engine, &h, 10), RunOutcome::Stopped);
    let s = h.snapshot_now();
    let src = n(&s, "src");
    assert!(src.dropped_inside > 0, "the slow pipeline made the client drop: {src:?}");
    assert_eq!(
        src.events_out + src.errors + src.dropped_inside,
        2000,
        "every message delivered is accounted for: {src:?}"
    );
    assert_eq!(src.dropped, src.dropped_inside, "{src:?}");
    assert_eq!(json_lines(&out).len() as u64, src.events_out, "what the source sent on reached the file");
    assert_node_equation(n(&s, "slow"));
}

#[test]
fn a_slow_pipeline_keeps_unacknowledged_messages_within_max_in_flight() {
    let Some(b) = Broker::start(Kind::Nats, "a_slow_pipeline_keeps_unacknowledged_messages_within_max_in_flight")
    else {
        return;
    };
    let rt = peer();
    create_stream(&rt, &b.url());
    js_publish(&rt, &b.url(), "orders.x", (0..3000).map(|i| i.to_string()).collect());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    // Capacity 1 and batch 8: the source waits on the wire nearly all the time.
    let g: Graph = graph(
        vec![js_source(&b.url(), json!({"max_in_flight": 20})), file_sink("file", &out)],
        vec![wire("src", "file")],
        1,
        8,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let mut max_pending = 0;
    let started = Instant::now();
    while json_lines(&out).len() < 3000 && started.elapsed() < Duration::from_secs(10) {
        if json_lines(&out).len() > 100 {
            max_pending = max_pending.max(consumer_counts(&rt, &b.url(), "test").1);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    h.stop();
    assert_eq!(wait(&engine, &h, 10), RunOutcome::Stopped);
    assert_eq!(json_lines(&out).len(), 3000);
    assert!(max_pending <= 20, "at most max_in_flight unacknowledged at any time: {max_pending}");
    assert!(max_pending > 0, "the sampling saw messages in flight");
}

#[test]
fn core_publish_fills_the_subject_template_and_events_without_the_field_go_to_errors() {
    let Some(b) =
        Broker::start(Kind::Nats, "core_publish_fills_the_subject_template_and_events_without_the_field_go_to_errors")
    else {
        return;
    };
    let rt = peer();
    let (client, mut sub) = rt.block_on(async {
        let client = async_nats::connect(b.url()).await.unwrap();
        let sub = client.subscribe("events.>").await.unwrap();
        client.flush().await.unwrap();
        (client, sub)
    });
    let dir = tempfile::tempdir().unwrap();
    let errs = dir.path().join("errors.jsonl");
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 500, "rate": null, "payload": "sample_events", "seed": 3})),
            // Events under 300 lose their `type` (about 30%): no subject can be made for them.
            node("strip", "map", json!({"expression": "if .value < 300 then del(.type) else . end"})),
            node("pub", "nats_sink", json!({"servers": [b.url()], "subject": "events.{type}"})),
            file_sink("errs", &errs),
        ],
        vec![wire("gen", "strip"), wire("strip", "pub"), errors_wire("pub", "errs")],
        16,
        32,
    );
    let (outcome, s) = run(&g);
    assert_eq!(outcome, RunOutcome::Completed);
    let p = n(&s, "pub");
    assert_eq!(p.passed + p.errors, 500, "{p:?}");
    assert!(p.errors > 0 && p.passed > 0, "{p:?}");
    assert_node_equation(p);
    let got = rt.block_on(async {
        let mut got = Vec::new();
        while let Ok(Some(m)) =
            tokio::time::timeout(Duration::from_millis(500), futures_util::StreamExt::next(&mut sub)).await
        {
            got.push(m);
        }
        got
    });
    assert_eq!(got.len() as u64, p.passed, "every published event arrived");
    for m in &got {
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(m.subject.as_str(), format!("events.{}", v["type"].as_str().unwrap()));
    }
    let errors = json_lines(&errs);
    assert_eq!(errors.len() as u64, p.errors);
    assert!(errors[0]["reason"].as_str().unwrap().contains("no field `type`"), "{}", errors[0]);
    drop(client);
}

#[test]
fn deliver_by_start_time_skips_what_was_stored_before_it() {
    let Some(b) = Broker::start(Kind::Nats, "deliver_by_start_time_skips_what_was_stored_before_it") else { return };
    let rt = peer();
    create_stream(&rt, &b.url());
    js_publish(&rt, &b.url(), "orders.old", (0..50).map(|i| i.to_string()).collect());
    std::thread::sleep(Duration::from_millis(100));
    let since = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    std::thread::sleep(Duration::from_millis(100));
    js_publish(&rt, &b.url(), "orders.new", (50..80).map(|i| i.to_string()).collect());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let g = graph(
        vec![js_source(&b.url(), json!({"deliver": "by_start_time", "start_time": since})), file_sink("file", &out)],
        vec![wire("src", "file")],
        16,
        32,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let outcome = stop_when(&engine, &h, 10, || json_lines(&out).len() >= 30);
    assert_eq!(outcome, RunOutcome::Stopped);
    assert_eq!(numbers(&out), (50..80).collect::<Vec<u64>>(), "only what was stored after start_time");
}

/// Core and JetStream: the status says reconnecting, and a JetStream sink's publishes that
/// wait for acknowledgements never make it say "degraded: not acknowledged" while nothing could
/// reach a server (it did, on a walkthrough with no server).
#[test]
fn a_sink_facing_an_unreachable_broker_says_reconnecting_and_stop_ends_the_run() {
    for jetstream in [false, true] {
        let port = broker_servers::free_port();
        let g = graph(
            vec![
                node("gen", "generator", json!({"count": null, "rate": 1000.0, "payload": "sequence", "seed": 1})),
                node(
                    "pub",
                    "nats_sink",
                    json!({"servers": [format!("nats://127.0.0.1:{port}")], "subject": "x", "jetstream": jetstream,
                    "ack_timeout": "100ms", "connect_timeout": "200ms", "backoff_initial": "100ms", "backoff_max": "300ms"}),
                ),
            ],
            vec![wire("gen", "pub")],
            16,
            32,
        );
        let engine = Engine::new(Some(2)).unwrap();
        let h = start(&engine, &g, RunOptions::default());
        let started = Instant::now();
        let mut line = String::new();
        while !line.starts_with("reconnecting: attempt ") && started.elapsed() < Duration::from_secs(3) {
            line = state_line(&h, "pub");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(line.starts_with("reconnecting: attempt "), "{jetstream}: {line}");
        // Several acknowledgement timeouts and backoffs.
        let watching = Instant::now();
        while watching.elapsed() < Duration::from_millis(800) {
            let line = state_line(&h, "pub");
            assert!(line.starts_with("reconnecting"), "{jetstream}: with no server: {line}");
            std::thread::sleep(Duration::from_millis(10));
        }
        let stopping = Instant::now();
        h.stop();
        assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
        assert!(stopping.elapsed() < Duration::from_secs(3), "stopped in {:?}", stopping.elapsed());
        let s = h.snapshot_now();
        assert_eq!(n(&s, "pub").passed, 0, "{jetstream}: nothing reached a server");
        assert_node_equation(n(&s, "pub"));
        assert_wires(&s);
    }
}

/// Stop with a server there drains what is in flight to it, core and JetStream: nothing the
/// sink received is dropped. (A stop raced every publish and dropped the rest even when the
/// server was there to take it.)
#[test]
fn a_stop_with_the_server_there_publishes_what_the_sink_received() {
    let Some(b) = Broker::start(Kind::Nats, "a_stop_with_the_server_there_publishes_what_the_sink_received") else {
        return;
    };
    let rt = peer();
    create_stream(&rt, &b.url());
    for jetstream in [false, true] {
        let g = graph(
            vec![
                node("gen", "generator", json!({"count": null, "rate": 20000.0, "payload": "sequence", "seed": 1})),
                node(
                    "pub",
                    "nats_sink",
                    json!({"servers": [b.url()], "subject": "orders.placed", "jetstream": jetstream}),
                ),
            ],
            vec![wire("gen", "pub")],
            64,
            256,
        );
        let engine = Engine::new(Some(2)).unwrap();
        let h = start(&engine, &g, RunOptions::default());
        std::thread::sleep(Duration::from_millis(500));
        h.stop();
        assert_eq!(wait(&engine, &h, 10), RunOutcome::Stopped, "{jetstream}");
        let s = h.snapshot_now();
        let p = n(&s, "pub");
        assert!(p.events_in > 0, "{jetstream}: {p:?}");
        assert_eq!((p.passed, p.dropped_inside), (p.events_in, 0), "{jetstream}: drained, nothing dropped: {p:?}");
        assert_node_equation(p);
    }
}

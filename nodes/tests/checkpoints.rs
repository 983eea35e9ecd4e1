//! Checkpoints end to end against a real `nats-server -js` on loopback (skipped loudly when
//! not installed): a JetStream message is acknowledged only once every sink wrote what it
//! became; a slow sink keeps messages unacknowledged; a window holds the acknowledgement of
//! its events until it fired and its row was written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broker_servers;
mod common;
mod jetstream_peer;

use std::path::Path;
use std::time::{Duration, Instant};

use broker_servers::{Broker, Kind};
use common::*;
use jetstream_peer::*;
use serde_json::{Value, json};
use streamloom_runtime::executor::{Engine, RunOptions, RunOutcome};
use streamloom_runtime::graph::Graph;

fn js_source(url: &str, max_in_flight: u64) -> streamloom_runtime::graph::Node {
    node(
        "src",
        "nats_source",
        json!({"servers": [url], "subject": "orders.>", "stream": "ORDERS", "durable": "test",
            "max_in_flight": max_in_flight, "backoff_initial": "50ms", "backoff_max": "200ms"}),
    )
}

fn file_sink(id: &str, path: &Path) -> streamloom_runtime::graph::Node {
    node(id, "file_sink", json!({"path": path.to_str().unwrap(), "flush_interval_ms": 10}))
}

fn checkpointed(mut g: Graph, interval: &str) -> Graph {
    g.settings.checkpoint_interval = Some(interval.into());
    g
}

/// Messages the consumer has acknowledged, of `published`, and those delivered unacknowledged.
fn acked(rt: &tokio::runtime::Runtime, url: &str, published: u64) -> (u64, u64) {
    acked_of(consumer_counts(rt, url, "test"), published)
}

/// (acknowledged, awaiting acknowledgement) of `published` messages, from the consumer's
/// (pending, ack pending).
fn acked_of((pending, ack_pending): (u64, usize), published: u64) -> (u64, u64) {
    (published - pending - ack_pending as u64, ack_pending as u64)
}

/// [`acked`] once the run has ended: the last acknowledgements reach the server over the
/// run's own connection, so this reads the counts once none is pending (or after a second).
fn acked_at_end(rt: &tokio::runtime::Runtime, url: &str, published: u64) -> (u64, u64) {
    acked_of(settled_counts(rt, url, "test"), published)
}

#[test]
fn a_slow_sink_keeps_messages_unacknowledged_until_it_wrote_them() {
    let Some(b) = Broker::start(Kind::Nats, "a_slow_sink_keeps_messages_unacknowledged_until_it_wrote_them") else {
        return;
    };
    let rt = peer();
    create_stream(&rt, &b.url());
    js_publish(&rt, &b.url(), "orders.x", (0..300).map(|i| i.to_string()).collect());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    // The buffer passes 400 events a second: the file grows over about 0.75 s.
    let g = checkpointed(
        graph(
            vec![
                js_source(&b.url(), 100),
                node("slow", "buffer", json!({"capacity": 1000, "rate_limit": 400.0})),
                file_sink("file", &out),
            ],
            vec![wire("src", "slow"), wire("slow", "file")],
            64,
            16,
        ),
        "50ms",
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let started = Instant::now();
    // The node creates the consumer: sampling starts with the first line written.
    while json_lines(&out).is_empty() && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let (mut samples, mut held_while_writing) = (0, 0);
    loop {
        // The consumer first, then the file: what was acknowledged then is written now.
        let (acked, ack_pending) = acked(&rt, &b.url(), 300);
        let written = json_lines(&out).len() as u64;
        assert!(acked <= written, "acknowledged {acked} but only {written} written");
        samples += 1;
        if ack_pending > 0 && written > 0 && written < 300 {
            held_while_writing += 1;
        }
        if acked == 300 || started.elapsed() > Duration::from_secs(10) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(acked(&rt, &b.url(), 300).0, 300, "all acknowledged once written, without a stop");
    assert!(held_while_writing > 3, "messages were seen unacknowledged while the sink wrote ({samples} samples)");
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
    let got: Vec<u64> = json_lines(&out).iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(got, (0..300).collect::<Vec<u64>>());
    // Barriers are not events: every counter still adds up exactly.
    let s = h.snapshot_now();
    assert_eq!((n(&s, "src").events_out, n(&s, "slow").events_in, n(&s, "file").events_in), (300, 300, 300));
    for id in ["slow", "file"] {
        assert_node_equation(n(&s, id));
    }
    assert_wires(&s);
}

#[test]
fn a_window_holds_the_acknowledgement_of_its_events_until_its_row_was_written() {
    let Some(b) =
        Broker::start(Kind::Nats, "a_window_holds_the_acknowledgement_of_its_events_until_its_row_was_written")
    else {
        return;
    };
    let rt = peer();
    create_stream(&rt, &b.url());
    let dir = tempfile::tempdir().unwrap();
    let rows = dir.path().join("rows.jsonl");
    let g = checkpointed(
        graph(
            vec![
                js_source(&b.url(), 100),
                node(
                    "win",
                    "window",
                    json!({"type": "tumbling", "size": "600ms", "time": "processing", "key_by": [],
                        "aggregates": ["n = count"]}),
                ),
                file_sink("rows", &rows),
            ],
            vec![wire("src", "win"), wire("win", "rows")],
            64,
            16,
        ),
        "20ms",
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    std::thread::sleep(Duration::from_millis(200));
    js_publish(&rt, &b.url(), "orders.x", (0..10).map(|i| json!({"i": i}).to_string()).collect());
    let started = Instant::now();
    let mut seen_held = false;
    loop {
        let (acked, ack_pending) = acked(&rt, &b.url(), 10);
        let written: u64 = json_lines(&rows).iter().map(|r: &Value| r["n"].as_u64().unwrap()).sum();
        assert!(acked <= written, "acknowledged {acked} while rows written cover {written} event(s)");
        seen_held |= ack_pending == 10 && written == 0;
        if acked == 10 || started.elapsed() > Duration::from_secs(5) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(seen_held, "the events waited unacknowledged in the open window while checkpoints went on");
    assert_eq!(acked(&rt, &b.url(), 10), (10, 0), "acknowledged once the window fired and its row was written");
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
}

#[test]
fn barriers_align_where_a_jetstream_stream_meets_an_endless_generator() {
    let Some(b) = Broker::start(Kind::Nats, "barriers_align_where_a_jetstream_stream_meets_an_endless_generator")
    else {
        return;
    };
    let rt = peer();
    create_stream(&rt, &b.url());
    js_publish(&rt, &b.url(), "orders.x", (0..50).map(|i| json!({"js": i}).to_string()).collect());
    let ours = |out: &Path| json_lines(out).iter().filter(|v| v.get("js").is_some()).count();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    // Both feed one sink input: the barriers the runtime injects for the generator and those
    // the JetStream source injects align there.
    let g = checkpointed(
        graph(
            vec![
                js_source(&b.url(), 100),
                node("gen", "generator", json!({"count": null, "rate": 2000.0, "payload": "sample_events", "seed": 1})),
                file_sink("file", &out),
            ],
            vec![wire("src", "file"), wire("gen", "file")],
            64,
            16,
        ),
        "30ms",
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let all_acked = {
        let started = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(20));
            // The node creates the consumer before its first message is written.
            if ours(&out) > 0 && acked(&rt, &b.url(), 50) == (50, 0) {
                break true;
            }
            if started.elapsed() > Duration::from_secs(5) {
                break false;
            }
        }
    };
    assert!(all_acked, "checkpoints complete while the generator never ends");
    assert_eq!(ours(&out), 50, "every JetStream message written before it was acknowledged");
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
    let s = h.snapshot_now();
    assert_eq!(n(&s, "file").events_in, n(&s, "src").events_out + n(&s, "gen").events_out);
    assert_node_equation(n(&s, "file"));
    assert_wires(&s);
}

/// A JetStream source feeding an event-time window of an hour: its barriers are held until
/// the window fires, which only the end of the stream does.
fn hour_window() -> streamloom_runtime::graph::Node {
    node(
        "win",
        "window",
        json!({"type": "tumbling", "size": "1h", "time_field": "ts", "key_by": [], "aggregates": ["n = count"]}),
    )
}

#[test]
fn stop_ends_a_run_whose_window_holds_a_barrier_and_acknowledges_what_the_rows_cover() {
    let Some(b) =
        Broker::start(Kind::Nats, "stop_ends_a_run_whose_window_holds_a_barrier_and_acknowledges_what_the_rows_cover")
    else {
        return;
    };
    let rt = peer();
    create_stream(&rt, &b.url());
    js_publish(&rt, &b.url(), "orders.x", (0..20).map(|i| json!({"ts": 1_000 + i}).to_string()).collect());
    let dir = tempfile::tempdir().unwrap();
    let rows = dir.path().join("rows.jsonl");
    let g = checkpointed(
        graph(
            vec![js_source(&b.url(), 100), hour_window(), file_sink("rows", &rows)],
            vec![wire("src", "win"), wire("win", "rows")],
            64,
            16,
        ),
        "20ms",
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let started = Instant::now();
    while h.snapshot_now().node("win").unwrap().events_in < 20 {
        assert!(started.elapsed() < Duration::from_secs(5), "the window got every event");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(acked(&rt, &b.url(), 20), (0, 20), "held in the open window");
    let stopping = Instant::now();
    h.stop();
    assert_eq!(wait(&engine, &h, 20), RunOutcome::Stopped);
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "the stop did not wait for its timeout: {:?}",
        stopping.elapsed()
    );
    assert_eq!(json_lines(&rows), vec![json!({"window_start": 0, "window_end": 3_600_000, "n": 20})]);
    assert_eq!(acked_at_end(&rt, &b.url(), 20), (20, 0), "the last checkpoint covered the row");
}

#[test]
fn a_window_holding_a_barrier_does_not_stall_a_branch_beside_it_from_the_same_source() {
    let Some(b) =
        Broker::start(Kind::Nats, "a_window_holding_a_barrier_does_not_stall_a_branch_beside_it_from_the_same_source")
    else {
        return;
    };
    let rt = peer();
    create_stream(&rt, &b.url());
    js_publish(&rt, &b.url(), "orders.x", (0..400).map(|i| json!({"ts": 1_000 + i}).to_string()).collect());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    // The raw events and the window's rows meet at one sink; wires of 4, batches of 8.
    let g = checkpointed(
        graph(
            vec![js_source(&b.url(), 1000), hour_window(), file_sink("both", &out)],
            vec![wire("src", "win"), wire("win", "both"), wire("src", "both")],
            4,
            8,
        ),
        "20ms",
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let raw = |out: &Path| json_lines(out).iter().filter(|v| v.get("ts").is_some()).count();
    let started = Instant::now();
    while raw(&out) < 400 && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(raw(&out), 400, "every raw event reached the sink while the window held its barriers");
    h.stop();
    assert_eq!(wait(&engine, &h, 20), RunOutcome::Stopped);
    assert_eq!(acked_at_end(&rt, &b.url(), 400), (400, 0));
}

#[test]
fn a_sink_that_gives_up_at_a_stop_leaves_what_it_dropped_unacknowledged() {
    let Some(b) = Broker::start(Kind::Nats, "a_sink_that_gives_up_at_a_stop_leaves_what_it_dropped_unacknowledged")
    else {
        return;
    };
    let rt = peer();
    create_stream(&rt, &b.url());
    js_publish(&rt, &b.url(), "orders.x", (0..20).map(|i| i.to_string()).collect());
    // The sink's own broker is not there: nothing it takes can be delivered.
    let away = broker_servers::free_port();
    let g = checkpointed(
        graph(
            vec![
                js_source(&b.url(), 100),
                node(
                    "pub",
                    "nats_sink",
                    json!({"servers": [format!("nats://127.0.0.1:{away}")], "subject": "x",
                        "connect_timeout": "200ms", "backoff_initial": "100ms", "backoff_max": "300ms"}),
                ),
            ],
            vec![wire("src", "pub")],
            64,
            16,
        ),
        "20ms",
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let started = Instant::now();
    while h.snapshot_now().node("src").unwrap().events_out < 20 {
        assert!(started.elapsed() < Duration::from_secs(5), "the source read every message");
        std::thread::sleep(Duration::from_millis(10));
    }
    h.stop();
    assert_eq!(wait(&engine, &h, 10), RunOutcome::Stopped);
    assert_eq!(h.snapshot_now().node("pub").unwrap().dropped_inside, 20, "dropped by the sink at the stop");
    assert_eq!(acked(&rt, &b.url(), 20).0, 0, "none acknowledged: the broker delivers them again");
}

//! `mqtt_source` and `mqtt_sink` against a real `mosquitto` on loopback (started per test;
//! skipped loudly when not installed): counts add up from publish to file, a shared
//! subscription splits messages across two sources with none lost, a broker restarted
//! mid-stream (sessions kept) loses nothing, an unreachable broker shows backoff and Stop
//! still ends the run, malformed payloads go to `errors` with their raw text.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broker_servers;
mod common;
mod mqtt_peer;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use broker_servers::{Broker, Kind};
use common::*;
use mqtt_peer::{publish, publish_large, subscribe_once};
use serde_json::{Value, json};
use streamloom_runtime::executor::{Engine, RunHandle, RunOptions, RunOutcome};

fn source(id: &str, port: u16, extra: Value) -> streamloom_runtime::graph::Node {
    let mut config = json!({"server": format!("mqtt://127.0.0.1:{port}"), "client_id": id, "topics": ["feed/#"],
        "qos": 1, "backoff_initial": "50ms", "backoff_max": "200ms"});
    config.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    node(id, "mqtt_source", config)
}

fn file_sink(id: &str, path: &Path) -> streamloom_runtime::graph::Node {
    node(id, "file_sink", json!({"path": path.to_str().unwrap(), "flush_interval_ms": 10}))
}

fn state_line(h: &RunHandle, id: &str) -> String {
    h.snapshot_now().node(id).and_then(|n| n.state_line()).unwrap_or_default()
}

/// Waits until every node in `ids` says connected, and a moment for its subscriptions.
fn wait_connected(h: &RunHandle, ids: &[&str]) {
    let started = Instant::now();
    while !ids.iter().all(|id| state_line(h, id).starts_with("connected")) {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "connected: {:?}",
            ids.iter().map(|i| state_line(h, i)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
}

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

#[test]
fn messages_larger_than_10_kib_travel_and_one_over_max_message_size_goes_to_errors() {
    let Some(b) = Broker::start(
        Kind::Mosquitto,
        "messages_larger_than_10_kib_travel_and_one_over_max_message_size_goes_to_errors",
    ) else {
        return;
    };
    // The source's persistent session exists before the sink publishes anything.
    subscribe_once(b.port, "src", "feed/#");
    let dir = tempfile::tempdir().unwrap();
    let (out, errs) = (dir.path().join("out.jsonl"), dir.path().join("errs.jsonl"));
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 5, "payload": "sequence", "seed": 1})),
            node("pad", "map", json!({"expression": "{n: ., pad: (\"x\" * 50000)}"})),
            node(
                "pub",
                "mqtt_sink",
                json!({"server": format!("mqtt://127.0.0.1:{}", b.port), "client_id": "pub", "topic": "feed/big", "qos": 1}),
            ),
            source("src", b.port, json!({"max_message_size": 200000, "clean_session": false})),
            file_sink("file", &out),
            file_sink("bad", &errs),
        ],
        vec![wire("gen", "pad"), wire("pad", "pub"), wire("src", "file"), errors_wire("src", "bad")],
        16,
        32,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    wait_connected(&h, &["src"]);
    let port = b.port;
    std::thread::spawn(move || publish_large(port, "feed/huge", 300_000)).join().unwrap();
    let outcome = stop_when(&engine, &h, 10, || json_lines(&out).len() >= 5 && !json_lines(&errs).is_empty());
    assert_eq!(outcome, RunOutcome::Stopped);
    let got = json_lines(&out);
    assert_eq!(got.len(), 5, "every 50 KB event published and received");
    assert!(got.iter().all(|e| e["pad"].as_str().map(str::len) == Some(50000)));
    let bad = json_lines(&errs);
    assert_eq!(bad.len(), 1, "{bad:?}");
    let reason = bad[0]["reason"].as_str().unwrap();
    assert!(reason.contains("300000 bytes") && reason.contains("max_message_size"), "{reason}");
    let s = h.snapshot_now();
    assert_eq!(n(&s, "src").gauges["reconnects"], 0, "an oversized message does not break the connection");
    assert_eq!(n(&s, "pub").passed, 5);
}

#[test]
fn qos1_messages_reach_a_file_and_counts_add_up() {
    let Some(b) = Broker::start(Kind::Mosquitto, "qos1_messages_reach_a_file_and_counts_add_up") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let g = graph(vec![source("src", b.port, json!({})), file_sink("file", &out)], vec![wire("src", "file")], 16, 32);
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    wait_connected(&h, &["src"]);
    publish(b.port, "feed/a", (0..1000).map(|i| i.to_string()).collect());
    let outcome = stop_when(&engine, &h, 10, || json_lines(&out).len() >= 1000);
    assert_eq!(outcome, RunOutcome::Stopped);
    let got = numbers(&out);
    let set: BTreeSet<u64> = got.iter().copied().collect();
    let missing: Vec<u64> = (0..1000).filter(|i| !set.contains(i)).take(20).collect();
    eprintln!("qos1: {} lines, {} distinct, missing {missing:?}", got.len(), set.len());
    assert_eq!(got, (0..1000).collect::<Vec<u64>>(), "every message once, in order");
    let s = h.snapshot_now();
    let src = n(&s, "src");
    assert_eq!((src.events_out, src.gauges["unacked"], src.gauges["in_flight"]), (1000, 0, 0), "{src:?}");
    assert_node_equation(n(&s, "file"));
    assert_wires(&s);
}

#[test]
fn a_shared_subscription_splits_messages_across_two_sources_with_none_lost() {
    let Some(b) =
        Broker::start(Kind::Mosquitto, "a_shared_subscription_splits_messages_across_two_sources_with_none_lost")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (a, c) = (dir.path().join("a.jsonl"), dir.path().join("c.jsonl"));
    let shared = json!({"topics": ["$share/workers/feed/#"]});
    let g = graph(
        vec![
            source("s1", b.port, shared.clone()),
            source("s2", b.port, shared),
            file_sink("f1", &a),
            file_sink("f2", &c),
        ],
        vec![wire("s1", "f1"), wire("s2", "f2")],
        16,
        32,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    wait_connected(&h, &["s1", "s2"]);
    publish(b.port, "feed/x", (0..1000).map(|i| i.to_string()).collect());
    let outcome = stop_when(&engine, &h, 10, || json_lines(&a).len() + json_lines(&c).len() >= 1000);
    assert_eq!(outcome, RunOutcome::Stopped);
    let (na, nc) = (numbers(&a), numbers(&c));
    assert!(!na.is_empty() && !nc.is_empty(), "both members got some: {} and {}", na.len(), nc.len());
    let mut all: Vec<u64> = na.iter().chain(&nc).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<u64>>(), "each message went to exactly one member");
}

#[test]
fn after_a_broker_restart_mid_stream_sessions_resume_and_nothing_is_lost() {
    let Some(mut b) =
        Broker::start(Kind::Mosquitto, "after_a_broker_restart_mid_stream_sessions_resume_and_nothing_is_lost")
    else {
        return;
    };
    // The source's persistent session exists before anything is published.
    subscribe_once(b.port, "src", "feed/#");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let total = 2000u64;
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": total, "rate": 1500.0, "payload": "sequence", "seed": 1})),
            node(
                "pub",
                "mqtt_sink",
                json!({"server": format!("mqtt://127.0.0.1:{}", b.port), "client_id": "pub",
                "topic": "feed/n", "qos": 1, "clean_session": false, "backoff_initial": "50ms", "backoff_max": "200ms"}),
            ),
            source("src", b.port, json!({"clean_session": false})),
            file_sink("file", &out),
        ],
        vec![wire("gen", "pub"), wire("src", "file")],
        16,
        32,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    wait_connected(&h, &["src", "pub"]);
    let started = Instant::now();
    while json_lines(&out).len() < 300 {
        assert!(started.elapsed() < Duration::from_secs(5), "events flow before the restart");
        std::thread::sleep(Duration::from_millis(10));
    }
    b.stop_gracefully();
    let mut saw_reconnecting = false;
    let away = Instant::now();
    while away.elapsed() < Duration::from_millis(500) {
        saw_reconnecting |=
            state_line(&h, "src").starts_with("reconnecting") && state_line(&h, "pub").starts_with("reconnecting");
        std::thread::sleep(Duration::from_millis(10));
    }
    b.restart();
    let distinct = || numbers(&out).into_iter().collect::<BTreeSet<u64>>().len() as u64;
    let waited = Instant::now();
    while distinct() < total && waited.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(20));
    }
    h.stop();
    let outcome = wait(&engine, &h, 10);
    assert_eq!(outcome, RunOutcome::Stopped);
    let got = numbers(&out);
    let set: BTreeSet<u64> = got.iter().copied().collect();
    let missing: Vec<u64> = (0..total).filter(|i| !set.contains(i)).take(20).collect();
    eprintln!(
        "mqtt restart: {} duplicate(s) of {total}; missing (first 20): {missing:?}",
        got.len() as u64 - set.len() as u64
    );
    assert_eq!(set.len() as u64, total, "every published event arrived after the restart");
    assert!(saw_reconnecting, "source and sink said reconnecting while the broker was away");
    let s = h.snapshot_now();
    assert_eq!(n(&s, "pub").passed, total);
    assert_eq!(n(&s, "pub").gauges["unacked"], 0, "the broker acknowledged every publish");
    assert!(n(&s, "src").gauges["reconnects"] >= 1 && n(&s, "pub").gauges["reconnects"] >= 1);
}

#[test]
fn an_unreachable_broker_shows_backoff_and_stop_still_ends_the_run() {
    let port = broker_servers::free_port();
    let g = graph(
        vec![
            source("src", port, json!({"backoff_initial": "100ms", "backoff_max": "300ms"})),
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
        if let Some(rest) = state_line(&h, "src").strip_prefix("reconnecting: attempt ") {
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
    let Some(b) = Broker::start(Kind::Mosquitto, "malformed_payloads_go_to_errors_with_their_raw_text") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (out, errs) = (dir.path().join("out.jsonl"), dir.path().join("errors.jsonl"));
    let g = graph(
        vec![source("src", b.port, json!({})), file_sink("file", &out), file_sink("errs", &errs)],
        vec![wire("src", "file"), errors_wire("src", "errs")],
        16,
        32,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    wait_connected(&h, &["src"]);
    publish(b.port, "feed/x", vec!["1".into(), "{oops".into(), "2".into(), "not json".into(), "3".into()]);
    let outcome = stop_when(&engine, &h, 10, || json_lines(&out).len() >= 3 && json_lines(&errs).len() >= 2);
    assert_eq!(outcome, RunOutcome::Stopped);
    assert_eq!(numbers(&out), vec![1, 2, 3]);
    let raw: Vec<String> = json_lines(&errs).iter().map(|e| e["event"].as_str().unwrap().to_string()).collect();
    assert_eq!(raw, vec!["{oops", "not json"]);
    assert_eq!(n(&h.snapshot_now(), "src").errors, 2);
}

#[test]
fn a_pipeline_blocked_longer_than_the_keep_alive_keeps_its_connection() {
    let Some(b) = Broker::start(Kind::Mosquitto, "a_pipeline_blocked_longer_than_the_keep_alive_keeps_its_connection")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    // Keep-alive 1 s; the pipeline takes 5 events a second, so the source waits on a full
    // wire for seconds at a time.
    let g = slow_pipeline(
        source("src", b.port, json!({"max_in_flight": 4, "keep_alive": "1s"})),
        5.0,
        file_sink("file", &out),
        1,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    wait_connected(&h, &["src"]);
    publish(b.port, "feed/slow", (0..30).map(|i| i.to_string()).collect());
    std::thread::sleep(Duration::from_secs(4));
    let s = h.snapshot_now();
    let src = n(&s, "src");
    assert_eq!(src.gauges["reconnects"], 0, "pings went on while the wire was full: {src:?}");
    assert!(state_line(&h, "src").starts_with("connected"), "{}", state_line(&h, "src"));
    let got = numbers(&out);
    assert!(got.len() >= 12, "the pipeline kept taking messages: {}", got.len());
    assert_eq!(got, (0..got.len() as u64).collect::<Vec<u64>>(), "in order, none lost or repeated");
    h.stop();
    assert_eq!(wait(&engine, &h, 10), RunOutcome::Stopped);
}

#[test]
fn qos0_messages_the_client_cannot_hold_are_counted_as_dropped() {
    let Some(b) = Broker::start(Kind::Mosquitto, "qos0_messages_the_client_cannot_hold_are_counted_as_dropped") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let g =
        slow_pipeline(source("src", b.port, json!({"max_in_flight": 8, "qos": 0})), 400.0, file_sink("file", &out), 8);
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    wait_connected(&h, &["src"]);
    // Published at QoS 1 (so the publisher knows the broker has them all), delivered at the
    // subscription's QoS 0.
    publish(b.port, "feed/burst", (0..2000).map(|i| i.to_string()).collect());
    std::thread::sleep(Duration::from_millis(500));
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
    assert_eq!(json_lines(&out).len() as u64, src.events_out, "what the source sent on reached the file");
}

#[test]
fn a_slow_pipeline_keeps_in_flight_bounded_and_loses_nothing() {
    let Some(b) = Broker::start(Kind::Mosquitto, "a_slow_pipeline_keeps_in_flight_bounded_and_loses_nothing") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    // Capacity 1 and batch 8: the source waits on the wire nearly all the time (once, the
    // acknowledgements then lost on a full request queue stalled the broker's window).
    let g = graph(
        vec![source("src", b.port, json!({"max_in_flight": 20})), file_sink("file", &out)],
        vec![wire("src", "file")],
        1,
        8,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    wait_connected(&h, &["src"]);
    let port = b.port;
    let publisher = std::thread::spawn(move || publish(port, "feed/slow", (0..3000).map(|i| i.to_string()).collect()));
    let mut max_held = 0;
    let started = Instant::now();
    while json_lines(&out).len() < 3000 && started.elapsed() < Duration::from_secs(10) {
        let s = h.snapshot_now();
        let src = n(&s, "src");
        max_held = max_held.max(src.gauges["in_flight"].max(src.gauges["unacked"]));
        std::thread::sleep(Duration::from_millis(2));
    }
    publisher.join().unwrap();
    h.stop();
    assert_eq!(wait(&engine, &h, 10), RunOutcome::Stopped);
    assert_eq!(numbers(&out), (0..3000).collect::<Vec<u64>>(), "all, in order, under backpressure");
    assert!(max_held <= 20, "the node holds at most max_in_flight unacknowledged: {max_held}");
}

#[test]
fn a_password_from_the_environment_is_accepted_and_a_wrong_one_fails_with_the_reason() {
    let test = "a_password_from_the_environment_is_accepted_and_a_wrong_one_fails_with_the_reason";
    let Some(b) = Broker::start_with(Kind::Mosquitto, test, |dir| {
        let file = dir.join("passwords");
        let made = std::process::Command::new("mosquitto_passwd")
            .arg("-c")
            .arg("-b")
            .arg(&file)
            .args(["loom", "pa55-w0rd"])
            .status();
        assert!(made.is_ok_and(|s| s.success()), "mosquitto_passwd wrote the password file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        vec!["allow_anonymous false".into(), format!("password_file {}", file.display())]
    }) else {
        return;
    };
    let run_with = |password: &'static str| {
        let g = graph(
            vec![
                source("src", b.port, json!({"username": "loom", "password": "${MQTT_PASSWORD}"})),
                node("null", "null_sink", json!({})),
            ],
            vec![wire("src", "null")],
            16,
            32,
        );
        let engine = Engine::new(Some(2)).unwrap();
        let env = move |name: &str| (name == "MQTT_PASSWORD").then(|| password.to_string());
        let h = start(&engine, &g, RunOptions { env: std::sync::Arc::new(env), ..Default::default() });
        (engine, h)
    };
    let (engine, h) = run_with("pa55-w0rd");
    wait_connected(&h, &["src"]);
    assert!(!serde_json::to_string(&h.snapshot_now().keyed()).unwrap().contains("pa55-w0rd"));
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);

    let (engine, h) = run_with("wrong");
    let started = Instant::now();
    let mut line = String::new();
    while !line.starts_with("failed") && started.elapsed() < Duration::from_secs(5) {
        line = state_line(&h, "src");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        line.starts_with("failed: attempt ")
            && (line.contains("NotAuthorized") || line.contains("BadUserNamePassword")),
        "{line}"
    );
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
}

#[test]
fn a_sink_facing_an_unreachable_broker_says_reconnecting_and_stop_ends_the_run() {
    let port = broker_servers::free_port();
    let mut g = graph(
        vec![
            node("gen", "generator", json!({"count": null, "rate": 1000.0, "payload": "sequence", "seed": 1})),
            node(
                "pub",
                "mqtt_sink",
                json!({"server": format!("mqtt://127.0.0.1:{port}"), "topic": "x",
                "backoff_initial": "100ms", "backoff_max": "300ms"}),
            ),
        ],
        vec![wire("gen", "pub")],
        16,
        32,
    );
    // Checkpoint barriers reach the sink while its publishes wait for a broker: a stop must
    // not wait for them to be acknowledged (it waited for the stop timeout, and the run failed).
    g.settings.checkpoint_interval = Some("50ms".into());
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let started = Instant::now();
    let mut line = String::new();
    while !line.starts_with("reconnecting: attempt ") && started.elapsed() < Duration::from_secs(3) {
        line = state_line(&h, "pub");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(line.starts_with("reconnecting: attempt "), "{line}");
    std::thread::sleep(Duration::from_millis(300));
    let stopping = Instant::now();
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
    assert!(stopping.elapsed() < Duration::from_secs(3), "stopped in {:?}", stopping.elapsed());
    let s = h.snapshot_now();
    assert_node_equation(n(&s, "pub"));
    assert_wires(&s);
    // Nothing reached a broker: what the client held is not `passed` but dropped by the node.
    let p = n(&s, "pub");
    assert_eq!(p.passed, 0, "nothing was delivered: {p:?}");
    assert!(p.events_in > 0 && p.dropped_inside == p.events_in, "{p:?}");
    assert!(p.state_line().unwrap_or_default().starts_with("closed: "), "stopped, not failed: {p:?}");
}

#[test]
fn tls_with_a_ca_file_trusts_the_brokers_certificate_and_messages_flow() {
    let test = "tls_with_a_ca_file_trusts_the_brokers_certificate_and_messages_flow";
    let ca_path = std::cell::RefCell::new(None);
    let Some(b) = Broker::start_with(Kind::Mosquitto, test, |dir| {
        let ca = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, ca.cert.pem()).unwrap();
        std::fs::write(&key, ca.key_pair.serialize_pem()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        *ca_path.borrow_mut() = Some(cert.clone());
        vec![
            "allow_anonymous true".into(),
            format!("certfile {}", cert.display()),
            format!("keyfile {}", key.display()),
        ]
    }) else {
        return;
    };
    let ca_file = ca_path.borrow().clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let server = format!("mqtts://127.0.0.1:{}", b.port);
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 200, "rate": 2000.0, "payload": "sequence", "seed": 1})),
            node(
                "pub",
                "mqtt_sink",
                json!({"server": server, "client_id": "tls-pub", "topic": "feed/tls",
                "ca_file": ca_file.to_str().unwrap(), "qos": 1}),
            ),
            source("src", b.port, json!({"server": server, "ca_file": ca_file.to_str().unwrap()})),
            file_sink("file", &out),
        ],
        vec![wire("gen", "pub"), wire("src", "file")],
        16,
        32,
    );
    // The source may subscribe after the first publishes (at-most-once for it until then):
    // the test asks that messages flow over TLS both ways, not that the first ones arrive.
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let outcome = {
        let started = Instant::now();
        while json_lines(&out).len() < 200 && started.elapsed() < Duration::from_secs(8) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let line = state_line(&h, "src");
        h.stop();
        assert!(line.starts_with("connected"), "TLS handshake with the CA file: {line}");
        wait(&engine, &h, 10)
    };
    assert_eq!(outcome, RunOutcome::Stopped);
    let got: BTreeSet<u64> = numbers(&out).into_iter().collect();
    assert!(!got.is_empty(), "messages flowed over TLS");
    assert_eq!(n(&h.snapshot_now(), "pub").passed, 200);
}

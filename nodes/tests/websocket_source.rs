//! `websocket_source` against real tokio-tungstenite servers on 127.0.0.1, started by each
//! test on its own runtime: messages arrive in order and are counted exactly, subscribe
//! messages are sent after connecting, malformed messages go to `errors` without closing the
//! connection, a server that closes mid-stream and comes back is reconnected to, and a server
//! that accepts TCP but never answers the handshake meets the connect timeout and the
//! backoff, while Stop still ends the run at once; a full `block` wire holds the server back
//! through TCP; `wss://` with a certificate made by the test; a message over the maximum size
//! ends the connection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use streamloom_runtime::executor::{Engine, RunHandle, RunOptions, RunOutcome};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// A runtime for the peers, apart from the engine's.
fn peer_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// Binds 127.0.0.1 on a free port.
fn bind(rt: &tokio::runtime::Runtime, addr: &str) -> TcpListener {
    rt.block_on(TcpListener::bind(addr)).unwrap()
}

/// Accepts one WebSocket client, waits for its subscribe message, sends `messages`, closes.
async fn serve_one(listener: &TcpListener, expect_subscribe: bool, messages: Vec<String>) {
    let (tcp, _) = listener.accept().await.unwrap();
    let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
    if expect_subscribe {
        let first = ws.next().await.unwrap().unwrap();
        assert_eq!(first, Message::text("subscribe"), "the subscribe message comes first");
    }
    for m in messages {
        ws.feed(Message::text(m)).await.unwrap();
    }
    ws.flush().await.unwrap();
    ws.close(None).await.unwrap();
    // Let the client read the close before the socket goes away.
    while let Some(Ok(_)) = ws.next().await {}
}

fn source(url: &str, extra: Value) -> streamloom_runtime::graph::Node {
    let mut config = json!({
        "url": url, "format": "json", "connect_timeout": "2s", "reconnect": false,
        "backoff_initial": "50ms", "backoff_max": "200ms", "max_attempts": 0,
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    node("ws", "websocket_source", config)
}

fn sink(id: &str, path: &std::path::Path) -> streamloom_runtime::graph::Node {
    node(id, "file_sink", json!({"path": path.to_str().unwrap(), "flush_interval_ms": 50}))
}

/// Polls the run's snapshot until `cond` holds (at most `secs`).
fn wait_for(
    h: &RunHandle,
    secs: u64,
    what: &str,
    cond: impl Fn(&streamloom_runtime::metrics::MetricsSnapshot) -> bool,
) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !cond(&h.snapshot_now()) {
        assert!(Instant::now() < until, "timed out waiting for {what}: {:?}", h.snapshot_now().node("ws"));
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn messages_arrive_in_order_and_are_counted_exactly() {
    let rt = peer_runtime();
    let listener = bind(&rt, "127.0.0.1:0");
    let url = format!("ws://{}/feed", listener.local_addr().unwrap());
    let messages: Vec<String> = (0..5000).map(|i| json!({"n": i, "pad": "x".repeat(i % 50)}).to_string()).collect();
    let server = rt.spawn(async move { serve_one(&listener, true, messages).await });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let g = graph(
        vec![source(&url, json!({"send_on_connect": ["subscribe"]})), sink("out", &out)],
        vec![wire("ws", "out")],
        16,
        64,
    );
    let (outcome, s) = run(&g);
    rt.block_on(server).unwrap();
    assert_eq!(outcome, RunOutcome::Completed, "the server closed and reconnect is off: the stream ends");
    let ns: Vec<u64> = json_lines(&out).iter().map(|v| v["n"].as_u64().unwrap()).collect();
    assert_eq!(ns, (0..5000).collect::<Vec<u64>>(), "every message, in order, once");
    let ws = n(&s, "ws");
    assert_eq!((ws.events_out, ws.errors, ws.dropped), (5000, 0, 0));
    assert_eq!(n(&s, "out").passed, 5000);
    assert_node_equation(n(&s, "out"));
    assert_wires(&s);
}

#[test]
fn malformed_messages_go_to_errors_and_the_connection_stays_open() {
    let rt = peer_runtime();
    let listener = bind(&rt, "127.0.0.1:0");
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicU64::new(0));
    let messages: Vec<String> =
        (0..300).map(|i| if i % 3 == 1 { format!("{{\"broken\": {i}") } else { json!({"n": i}).to_string() }).collect();
    let conns = connections.clone();
    let server = rt.spawn(async move {
        conns.fetch_add(1, Ordering::SeqCst);
        serve_one(&listener, false, messages).await;
    });
    let dir = tempfile::tempdir().unwrap();
    let (out, bad) = (dir.path().join("out.jsonl"), dir.path().join("bad.jsonl"));
    let g = graph(
        vec![source(&url, json!({})), sink("out", &out), sink("bad", &bad)],
        vec![wire("ws", "out"), errors_wire("ws", "bad")],
        16,
        64,
    );
    let (outcome, s) = run(&g);
    rt.block_on(server).unwrap();
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(connections.load(Ordering::SeqCst), 1, "one connection served everything");
    let good: Vec<u64> = json_lines(&out).iter().map(|v| v["n"].as_u64().unwrap()).collect();
    assert_eq!(good, (0..300).filter(|i| i % 3 != 1).collect::<Vec<u64>>());
    let errors = json_lines(&bad);
    assert_eq!(errors.len(), 100);
    assert_eq!(errors[0]["event"], json!("{\"broken\": 1"), "the raw text is kept");
    assert!(errors[0]["reason"].as_str().unwrap().contains("not JSON"), "{}", errors[0]);
    let ws = n(&s, "ws");
    assert_eq!((ws.events_out, ws.errors), (200, 100));
    assert_node_equation(n(&s, "out"));
    assert_node_equation(n(&s, "bad"));
    assert_wires(&s);
}

#[test]
fn a_server_that_closes_mid_stream_and_comes_back_is_reconnected_to() {
    let rt = peer_runtime();
    let listener = bind(&rt, "127.0.0.1:0");
    let addr: SocketAddr = listener.local_addr().unwrap();
    let url = format!("ws://{addr}/");
    let server = rt.spawn(async move {
        serve_one(&listener, true, (0..1000).map(|i| json!({"n": i}).to_string()).collect()).await;
        // The server goes away (refusing connections) and comes back on the same port.
        drop(listener);
        tokio::time::sleep(Duration::from_millis(400)).await;
        let again = TcpListener::bind(addr).await.unwrap();
        serve_one(&again, true, (1000..2500).map(|i| json!({"n": i}).to_string()).collect()).await;
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let g = graph(
        vec![source(&url, json!({"reconnect": true, "send_on_connect": ["subscribe"]})), sink("out", &out)],
        vec![wire("ws", "out")],
        16,
        64,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    wait_for(&h, 20, "2500 events", |s| s.node("ws").is_some_and(|w| w.events_out == 2500));
    rt.block_on(server).unwrap();
    h.stop();
    assert_eq!(wait(&engine, &h, 10), RunOutcome::Stopped);
    let s = h.snapshot_now();
    let ns: Vec<u64> = json_lines(&out).iter().map(|v| v["n"].as_u64().unwrap()).collect();
    assert_eq!(ns, (0..2500).collect::<Vec<u64>>(), "both connections' messages, in order, once");
    assert_eq!(n(&s, "ws").events_out, 2500);
    assert_eq!(n(&s, "out").passed, 2500);
    assert_node_equation(n(&s, "out"));
    assert_wires(&s);
}

/// A TCP server that accepts connections and never answers; counts them.
fn silent_server(rt: &tokio::runtime::Runtime) -> (String, Arc<AtomicU64>) {
    let listener = bind(rt, "127.0.0.1:0");
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicU64::new(0));
    let count = accepted.clone();
    rt.spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(tcp);
        }
    });
    (url, accepted)
}

#[test]
fn a_silent_handshake_meets_the_connect_timeout_and_backoff_and_stop_still_ends_the_run() {
    let rt = peer_runtime();
    let (url, accepted) = silent_server(&rt);
    let g = graph(
        vec![node("sink", "null_sink", json!({})), source(&url, json!({"connect_timeout": "150ms"}))],
        vec![wire("ws", "sink")],
        16,
        64,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    wait_for(&h, 10, "three attempts", |_| accepted.load(Ordering::SeqCst) >= 3);
    let msg = h.snapshot_now().node("ws").unwrap().state_line().unwrap_or_default();
    assert!(msg.contains("connecting"), "status while retrying: {msg:?}");
    wait_for(&h, 10, "the status to show the attempts", |s| {
        s.node("ws").and_then(|w| w.state_line()).is_some_and(|m| m.starts_with("reconnecting: attempt "))
    });
    wait_for(&h, 10, "the status to name the connect timeout", |s| {
        s.node("ws").and_then(|w| w.state_line()).is_some_and(|m| m.ends_with("(no connection within 150ms)"))
    });
    assert_attempts_match_reconnects(&h, "ws");
    let snap = h.snapshot_now();
    let ws = n(&snap, "ws");
    assert!(ws.gauges["reconnects"] >= 2, "{ws:?}");
    let started = Instant::now();
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
    assert!(started.elapsed() < Duration::from_secs(2), "Stop is prompt: {:?}", started.elapsed());
    assert_eq!(n(&h.snapshot_now(), "ws").events_out, 0);
}

#[test]
fn spent_attempts_fail_the_run_with_the_last_reason() {
    let rt = peer_runtime();
    let (url, accepted) = silent_server(&rt);
    let g = graph(
        vec![
            source(&url, json!({"connect_timeout": "100ms", "max_attempts": 3})),
            node("sink", "null_sink", json!({})),
        ],
        vec![wire("ws", "sink")],
        16,
        64,
    );
    let (outcome, _) = run(&g);
    let RunOutcome::Failed(failures) = outcome else { panic!("spent attempts fail the run: {outcome:?}") };
    assert_eq!(failures[0].0, "ws");
    assert!(failures[0].1.contains("gave up after 3 failed attempt(s)"), "{failures:?}");
    assert!(failures[0].1.contains("no connection within"), "{failures:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[test]
fn a_full_block_wire_stops_the_reading_and_tcp_pushes_back_on_the_server() {
    let rt = peer_runtime();
    let listener = bind(&rt, "127.0.0.1:0");
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let total = 40_000u64;
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    rt.spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let pad = "x".repeat(1000);
        for i in 0..total {
            if ws.feed(Message::text(json!({"n": i, "pad": &pad}).to_string())).await.is_err() {
                return;
            }
            if i % 64 == 63 {
                if ws.flush().await.is_err() {
                    return;
                }
                counter.store(i + 1, Ordering::SeqCst);
            }
        }
    });
    // The buffer lets 2,000 events a second through and blocks its input when full.
    let g = graph(
        vec![
            source(&url, json!({})),
            node("slow", "buffer", json!({"capacity": 10, "when_full": "block", "rate_limit": 2000.0})),
            node("sink", "null_sink", json!({})),
        ],
        vec![wire("ws", "slow"), wire("slow", "sink")],
        16,
        64,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    std::thread::sleep(Duration::from_millis(1500));
    let (server_sent, read) = (sent.load(Ordering::SeqCst), n(&h.snapshot_now(), "ws").events_out);
    assert!(read < 6000, "the source reads at the pace of the slow buffer: {read}");
    assert!(server_sent < total * 3 / 4, "the server is held back by TCP: it sent {server_sent} of {total}");
    h.stop();
    assert_eq!(wait(&engine, &h, 10), RunOutcome::Stopped);
    let s = h.snapshot_now();
    assert_eq!(n(&s, "sink").passed, n(&s, "ws").events_out, "what was read reached the sink");
    assert_node_equation(n(&s, "slow"));
    assert_wires(&s);
}

/// A `wss://` server with a self-signed certificate for 127.0.0.1 made here; returns its URL
/// and the certificate as PEM. It serves `messages` to one client and closes.
fn tls_server(rt: &tokio::runtime::Runtime, messages: Vec<String>) -> (String, String) {
    let (acceptor, pem) = common::tls::self_signed_acceptor();
    let listener = bind(rt, "127.0.0.1:0");
    let url = format!("wss://{}/", listener.local_addr().unwrap());
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            // A client that does not trust the certificate fails here; wait for the next.
            let Ok(tls) = acceptor.accept(tcp).await else { continue };
            let mut ws = tokio_tungstenite::accept_async(tls).await.unwrap();
            for m in &messages {
                ws.feed(Message::text(m.as_str())).await.unwrap();
            }
            ws.flush().await.unwrap();
            ws.close(None).await.unwrap();
            while let Some(Ok(_)) = ws.next().await {}
        }
    });
    (url, pem)
}

#[test]
fn wss_with_a_self_signed_certificate_trusted_through_the_ca_file() {
    let rt = peer_runtime();
    let (url, pem) = tls_server(&rt, (0..500).map(|i| json!({"n": i}).to_string()).collect());
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let out = dir.path().join("out.jsonl");
    let g = graph(
        vec![source(&url, json!({"ca_file": ca.to_str().unwrap()})), sink("out", &out)],
        vec![wire("ws", "out")],
        16,
        64,
    );
    let (outcome, s) = run(&g);
    assert_eq!(outcome, RunOutcome::Completed);
    let ns: Vec<u64> = json_lines(&out).iter().map(|v| v["n"].as_u64().unwrap()).collect();
    assert_eq!(ns, (0..500).collect::<Vec<u64>>());
    assert_eq!(n(&s, "ws").events_out, 500);
    assert_node_equation(n(&s, "out"));
}

#[test]
fn wss_without_the_ca_file_refuses_the_certificate() {
    let rt = peer_runtime();
    let (url, _) = tls_server(&rt, vec!["{}".into()]);
    let g = graph(
        vec![source(&url, json!({"max_attempts": 2})), node("sink", "null_sink", json!({}))],
        vec![wire("ws", "sink")],
        16,
        64,
    );
    let (outcome, s) = run(&g);
    let RunOutcome::Failed(failures) = outcome else { panic!("an untrusted certificate fails: {outcome:?}") };
    assert!(failures[0].1.contains("certificate"), "{failures:?}");
    assert_eq!(n(&s, "ws").events_out, 0);
}

#[test]
fn a_ca_file_without_certificates_is_a_problem_of_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("empty.pem");
    std::fs::write(&ca, "not a certificate\n").unwrap();
    let g = graph(
        vec![
            source("wss://127.0.0.1:9/", json!({"ca_file": ca.to_str().unwrap()})),
            node("sink", "null_sink", json!({})),
        ],
        vec![wire("ws", "sink")],
        16,
        64,
    );
    let engine = Engine::new(Some(1)).unwrap();
    let Err(problems) = engine.start(&g, &streamloom_nodes::builtin_registry(), RunOptions::default()) else {
        panic!("a CA file with no certificate is refused before the run")
    };
    let text = problems.to_string();
    assert!(text.contains("ca_file") && text.contains("no PEM certificate"), "{text}");
}

#[test]
fn a_message_over_the_maximum_size_ends_the_connection_and_nothing_after_it_is_taken() {
    let rt = peer_runtime();
    let listener = bind(&rt, "127.0.0.1:0");
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let mut messages: Vec<String> = (0..10).map(|i| json!({"n": i}).to_string()).collect();
    messages.push(json!({"big": "x".repeat(10_000)}).to_string());
    messages.push(json!({"n": 99}).to_string());
    let server = rt.spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        for m in messages {
            // The client drops the connection at the big message: later sends may fail.
            if ws.send(Message::text(m)).await.is_err() {
                break;
            }
        }
        while let Some(Ok(_)) = ws.next().await {}
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let g = graph(
        vec![source(&url, json!({"max_message_size": 4096})), sink("out", &out)],
        vec![wire("ws", "out")],
        16,
        64,
    );
    let (outcome, s) = run(&g);
    rt.block_on(server).unwrap();
    assert_eq!(outcome, RunOutcome::Completed, "reconnect is off: the stream ends");
    let ns: Vec<u64> = json_lines(&out).iter().map(|v| v["n"].as_u64().unwrap()).collect();
    assert_eq!(ns, (0..10).collect::<Vec<u64>>());
    assert_eq!((n(&s, "ws").events_out, n(&s, "ws").errors), (10, 0));
}

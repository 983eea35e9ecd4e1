//! `websocket_sink` in server mode with real tokio-tungstenite clients on 127.0.0.1: every
//! client gets every event in order and the counts add up; a client that never reads misses
//! messages (counted) while a fast client gets all of them, and the run still ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use streamloom_runtime::executor::{Engine, RunHandle, RunOptions, RunOutcome};
use streamloom_runtime::metrics::NodeState;
use tokio_tungstenite::tungstenite::Message;

/// A runtime for the clients, apart from the engine's.
fn peer_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The URL the sink `id` listens on, read from its status (it binds port 0).
fn listening_url(h: &RunHandle, id: &str) -> String {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let msg = h.snapshot_now().node(id).and_then(|n| n.state_line()).unwrap_or_default();
        if let Some(rest) = msg.strip_prefix("listening: on ") {
            return rest.split(';').next().unwrap().to_string();
        }
        assert!(Instant::now() < until, "the sink never said where it listens: {msg:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Reads every text message until the server closes.
async fn read_all(url: String) -> Vec<Value> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
    let mut got = Vec::new();
    while let Some(Ok(m)) = ws.next().await {
        match m {
            Message::Text(t) => got.push(serde_json::from_str(t.as_str()).unwrap()),
            Message::Close(_) => break,
            _ => {}
        }
    }
    got
}

#[test]
fn every_client_gets_every_event_in_order() {
    let rt = peer_runtime();
    let engine = Engine::new(Some(2)).unwrap();
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 5000, "rate": null, "payload": "sequence", "seed": 7})),
            node("ws", "websocket_sink", json!({"bind": "127.0.0.1:0", "client_queue": 100_000, "min_clients": 2})),
        ],
        vec![wire("gen", "ws")],
        64,
        100,
    );
    let h = start(&engine, &g, RunOptions::default());
    let url = listening_url(&h, "ws");
    let a = rt.spawn(read_all(url.clone()));
    let b = rt.spawn(read_all(url));
    assert_eq!(wait(&engine, &h, 30), RunOutcome::Completed);
    let want: Vec<Value> = (0..5000).map(Value::from).collect();
    assert_eq!(rt.block_on(a).unwrap(), want);
    assert_eq!(rt.block_on(b).unwrap(), want);
    let s = h.snapshot_now();
    let ws = n(&s, "ws");
    assert_eq!((ws.events_in, ws.passed, ws.filtered, ws.dropped_inside), (5000, 5000, 0, 0));
    assert_node_equation(ws);
    assert_wires(&s);
}

/// Connects with a tiny receive buffer and completes the handshake; reads nothing after it.
async fn slow_client(url: &str) -> impl Sized + use<> {
    let addr: std::net::SocketAddr = url.trim_start_matches("ws://").trim_end_matches('/').parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(addr).await.unwrap();
    tokio_tungstenite::client_async(url, tcp).await.unwrap()
}

#[test]
fn a_client_that_never_reads_misses_messages_and_never_stalls_a_fast_one() {
    // 25,000 events a second: a reading client keeps up; one that never reads cannot (the
    // kernel buffers a few MB for it, then its queue fills).
    let total = 100_000u64;
    let rt = peer_runtime();
    let engine = Engine::new(Some(2)).unwrap();
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": total, "rate": 25_000.0, "payload": "sample_events", "seed": 7})),
            node("ws", "websocket_sink", json!({"bind": "127.0.0.1:0", "client_queue": 8192, "min_clients": 2})),
        ],
        vec![wire("gen", "ws")],
        64,
        100,
    );
    let h = start(&engine, &g, RunOptions::default());
    let url = listening_url(&h, "ws");
    let slow = rt.block_on(slow_client(&url));
    let fast = rt.spawn(read_all(url));
    let started = Instant::now();
    let mut saw_degraded = false;
    while h.outcome().is_none() && started.elapsed() < Duration::from_secs(30) {
        saw_degraded |= h.snapshot_now().node("ws").and_then(|w| w.state) == Some(NodeState::Degraded);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(wait(&engine, &h, 60), RunOutcome::Completed);
    assert!(saw_degraded, "the status said degraded while the slow client missed messages");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the slow client did not hold the run: {:?}",
        started.elapsed()
    );
    let got = rt.block_on(fast).unwrap();
    assert_eq!(got.len() as u64, total, "the fast client got every event");
    assert!(got.iter().all(|v| v["user"].is_string()), "whole records");
    let s = h.snapshot_now();
    let ws = n(&s, "ws");
    assert_eq!((ws.events_in, ws.passed, ws.dropped_inside), (total, total, 0), "{ws:?}");
    assert_node_equation(ws);
    let skipped = ws.gauges["skipped"];
    assert!(skipped > 0, "the slow client missed messages: {:?}", ws.state_line());
    assert!(ws.state_message.as_deref().unwrap().contains(&format!("; {skipped} message(s) skipped")), "{ws:?}");
    drop(slow);
}

#[test]
fn with_no_client_every_event_is_filtered_and_counted() {
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 300, "rate": null, "payload": "sequence", "seed": 7})),
            node("ws", "websocket_sink", json!({"bind": "127.0.0.1:0"})),
        ],
        vec![wire("gen", "ws")],
        64,
        100,
    );
    let (outcome, s) = run(&g);
    assert_eq!(outcome, RunOutcome::Completed);
    let ws = n(&s, "ws");
    assert_eq!((ws.events_in, ws.passed, ws.filtered), (300, 0, 300), "a broadcast to nobody");
    assert_node_equation(ws);
}

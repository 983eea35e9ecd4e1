//! `websocket_sink` in client mode against a real tokio-tungstenite server on 127.0.0.1 that
//! closes the first connection mid-stream and is away for a while: the sink reconnects, and
//! the counts add up exactly (under `block` every event reaches the server once; under
//! `drop_newest` the wire drops and counts what did not fit while the sink was away). And in
//! server mode, a token checked before the upgrade.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use streamloom_runtime::WhenFull;
use streamloom_runtime::executor::{Engine, RunOptions, RunOutcome};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn peer_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// What the server received, over all connections.
#[derive(Default)]
struct Received {
    values: Mutex<Vec<Value>>,
    connections: AtomicU64,
}

/// Reads one connection until it ends; after `close_after` messages (if any) it starts the
/// closing handshake and keeps reading what the client sent before it saw the close.
async fn read_conn(listener: &TcpListener, got: &Received, close_after: Option<usize>) {
    let (tcp, _) = listener.accept().await.unwrap();
    got.connections.fetch_add(1, Ordering::SeqCst);
    let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
    let mut n = 0;
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Text(t) = m {
            got.values.lock().unwrap().push(serde_json::from_str(t.as_str()).unwrap());
            n += 1;
            if Some(n) == close_after {
                ws.close(None).await.unwrap();
            }
        }
    }
}

/// A server that closes its first connection after `first` messages, is away for `gap`
/// (nothing listens), then takes every message of the next connection.
fn flaky_server(rt: &tokio::runtime::Runtime, first: usize, gap: Duration) -> (String, Arc<Received>) {
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let got = Arc::new(Received::default());
    let g = got.clone();
    rt.spawn(async move {
        read_conn(&listener, &g, Some(first)).await;
        drop(listener);
        tokio::time::sleep(gap).await;
        let listener = TcpListener::bind(addr).await.unwrap();
        loop {
            read_conn(&listener, &g, None).await;
        }
    });
    (format!("ws://{addr}/"), got)
}

fn client_sink(url: &str) -> streamloom_runtime::graph::Node {
    node(
        "ws",
        "websocket_sink",
        json!({"mode": "client", "url": url, "connect_timeout": "1s", "backoff_initial": "50ms", "backoff_max": "100ms"}),
    )
}

fn generator(count: u64) -> streamloom_runtime::graph::Node {
    node("gen", "generator", json!({"count": count, "rate": 4000.0, "payload": "sequence", "seed": 7}))
}

#[test]
fn under_block_every_event_reaches_the_server_once_across_a_reconnect() {
    let rt = peer_runtime();
    let (url, got) = flaky_server(&rt, 300, Duration::from_millis(400));
    let g = graph(vec![generator(2000), client_sink(&url)], vec![wire("gen", "ws")], 16, 32);
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let mut saw_reconnecting = false;
    let started = Instant::now();
    while h.outcome().is_none() && started.elapsed() < Duration::from_secs(10) {
        let line = h.snapshot_now().node("ws").and_then(|w| w.state_line()).unwrap_or_default();
        saw_reconnecting |= line.starts_with("reconnecting: attempt ");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(wait(&engine, &h, 10), RunOutcome::Completed);
    assert!(saw_reconnecting, "the status showed the reconnecting");
    std::thread::sleep(Duration::from_millis(100));
    let mut values: Vec<u64> = got.values.lock().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    values.sort_unstable();
    assert_eq!(values, (0..2000).collect::<Vec<u64>>(), "every event once, none lost, none twice");
    assert_eq!(got.connections.load(Ordering::SeqCst), 2);
    let s = h.snapshot_now();
    let ws = n(&s, "ws");
    assert_eq!((ws.events_in, ws.passed, ws.dropped), (2000, 2000, 0), "{ws:?}");
    assert!(ws.gauges["reconnects"] >= 1, "{ws:?}");
    assert_eq!(n(&s, "gen").dropped, 0);
    assert_node_equation(ws);
    assert_wires(&s);
}

#[test]
fn under_drop_newest_the_wire_drops_and_counts_what_came_while_the_sink_was_away() {
    let rt = peer_runtime();
    let (url, got) = flaky_server(&rt, 300, Duration::from_millis(500));
    let mut w = wire("gen", "ws");
    w.when_full = Some(WhenFull::DropNewest);
    let g = graph(vec![generator(3000), client_sink(&url)], vec![w], 16, 32);
    let (outcome, s) = run(&g);
    assert_eq!(outcome, RunOutcome::Completed);
    std::thread::sleep(Duration::from_millis(100));
    let received = got.values.lock().unwrap().len() as u64;
    let ws = n(&s, "ws");
    let wire = s.wire("gen.out -> ws.in").unwrap();
    assert!(wire.dropped > 0, "the wire dropped while the sink was away: {wire:?}");
    assert_eq!(n(&s, "gen").events_out, wire.dropped + ws.events_in, "{wire:?} {ws:?}");
    assert_eq!((ws.passed, ws.dropped_inside), (received, 0), "what the sink wrote is what the server got");
    assert_eq!(ws.events_in, ws.passed);
    assert_node_equation(ws);
    assert_wires(&s);
}

#[test]
fn server_mode_with_a_token_admits_the_right_token_and_refuses_the_wrong_with_401() {
    let rt = peer_runtime();
    let engine = Engine::new(Some(2)).unwrap();
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 100, "rate": null, "payload": "sequence", "seed": 7})),
            node(
                "ws",
                "websocket_sink",
                json!({"bind": "127.0.0.1:0", "min_clients": 1, "client_queue": 1000, "token": "${SINK_TOKEN}"}),
            ),
        ],
        vec![wire("gen", "ws")],
        16,
        32,
    );
    let env = |name: &str| (name == "SINK_TOKEN").then(|| "t0k3n".to_string());
    let h = start(&engine, &g, RunOptions { env: Arc::new(env), ..Default::default() });
    let url = loop {
        let line = h.snapshot_now().node("ws").and_then(|w| w.state_line()).unwrap_or_default();
        if let Some(rest) = line.strip_prefix("listening: on ") {
            break rest.split(';').next().unwrap().to_string();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let request = |token: &str| {
        let mut r = url.as_str().into_client_request().unwrap();
        r.headers_mut().insert("Authorization", format!("Bearer {token}").parse().unwrap());
        r
    };
    let got = rt.block_on(async {
        match tokio_tungstenite::connect_async(request("wrong")).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status().as_u16(), 401),
            other => panic!("a wrong token must be refused: {:?}", other.map(|_| ())),
        }
        let (mut ws, _) = tokio_tungstenite::connect_async(request("t0k3n")).await.unwrap();
        let mut got = Vec::new();
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                got.push(t.as_str().parse::<u64>().unwrap());
            }
        }
        got
    });
    assert_eq!(wait(&engine, &h, 10), RunOutcome::Completed);
    assert_eq!(got, (0..100).collect::<Vec<u64>>());
    let s = h.snapshot_now();
    assert_eq!(n(&s, "ws").gauges["refused"], 1);
    assert!(!serde_json::to_string(&s.keyed()).unwrap().contains("t0k3n"));
}

#[test]
fn client_mode_sends_over_wss_trusting_a_self_signed_certificate_through_the_ca_file() {
    let rt = peer_runtime();
    let (acceptor, pem) = common::tls::self_signed_acceptor();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("wss://{}/", listener.local_addr().unwrap());
    let got = Arc::new(Received::default());
    let g2 = got.clone();
    rt.spawn(async move {
        // A client that does not trust the certificate fails the TLS handshake: wait for the next.
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(tls) = acceptor.accept(tcp).await else { continue };
            g2.connections.fetch_add(1, Ordering::SeqCst);
            let mut ws = tokio_tungstenite::accept_async(tls).await.unwrap();
            while let Some(Ok(m)) = ws.next().await {
                if let Message::Text(t) = m {
                    g2.values.lock().unwrap().push(serde_json::from_str(t.as_str()).unwrap());
                }
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let mut sink = client_sink(&url);
    sink.config["ca_file"] = json!(ca.to_str().unwrap());
    let g = graph(vec![generator(500), sink], vec![wire("gen", "ws")], 16, 32);
    let (outcome, s) = run(&g);
    assert_eq!(outcome, RunOutcome::Completed);
    let until = Instant::now() + Duration::from_secs(5);
    while got.values.lock().unwrap().len() < 500 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(10));
    }
    let values: Vec<u64> = got.values.lock().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(values, (0..500).collect::<Vec<u64>>(), "every event once, in order, over TLS");
    assert_eq!(got.connections.load(Ordering::SeqCst), 1);
    assert_eq!(n(&s, "ws").passed, 500);
}

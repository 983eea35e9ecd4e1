//! `websocket_source` connection options against real tokio-tungstenite servers on
//! 127.0.0.1, started by each test: handshake headers from `${ENV}` (the secret never shows
//! in the status or metrics) and subprotocols reach the server; binary messages arrive as
//! base64; `time_field` stamps events so watermarks fire windows while the connection is
//! open; a silent server meets the idle timeout and a server that stops answering pings meets
//! the pong timeout, and both are reconnected to, while a server that answers keeps its one
//! connection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use streamloom_runtime::executor::{Engine, RunHandle, RunOptions, RunOutcome};
use streamloom_runtime::metrics::{MetricsSnapshot, NodeState};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

fn peer_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

fn source(url: &str, extra: Value) -> streamloom_runtime::graph::Node {
    let mut config = json!({
        "url": url, "format": "json", "connect_timeout": "2s", "reconnect": true,
        "backoff_initial": "50ms", "backoff_max": "100ms", "max_attempts": 0,
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    node("ws", "websocket_source", config)
}

fn wait_for(h: &RunHandle, what: &str, cond: impl Fn(&MetricsSnapshot) -> bool) {
    let until = Instant::now() + Duration::from_secs(8);
    while !cond(&h.snapshot_now()) {
        assert!(Instant::now() < until, "timed out waiting for {what}: {:?}", h.snapshot_now().node("ws"));
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A server on a free port that counts connections and runs `serve` on each WebSocket.
fn server<F, Fut>(rt: &tokio::runtime::Runtime, serve: F) -> (String, Arc<AtomicU64>)
where
    F: Fn(tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicU64::new(0));
    let count = connections.clone();
    let serve = Arc::new(serve);
    rt.spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            count.fetch_add(1, Ordering::SeqCst);
            let serve = serve.clone();
            tokio::spawn(async move {
                if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                    serve(ws).await;
                }
            });
        }
    });
    (url, connections)
}

#[test]
fn env_headers_and_subprotocols_reach_the_server_binary_is_base64_and_the_secret_stays_out() {
    let rt = peer_runtime();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen2 = seen.clone();
    let server = rt.spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let callback = |req: &Request, mut resp: Response| {
            let h = |n: &str| req.headers().get(n).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
            seen2.lock().unwrap().extend([h("authorization"), h("x-client"), h("sec-websocket-protocol")]);
            resp.headers_mut().insert("Sec-WebSocket-Protocol", "feed.v2".parse().unwrap());
            Ok(resp)
        };
        let mut ws = tokio_tungstenite::accept_hdr_async(tcp, callback).await.unwrap();
        ws.send(Message::binary(vec![0u8, 1, 2, 255])).await.unwrap();
        ws.send(Message::text("hi")).await.unwrap();
        ws.close(None).await.unwrap();
        while let Some(Ok(_)) = ws.next().await {}
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let g = graph(
        vec![
            source(
                &url,
                json!({
                    "reconnect": false, "format": "binary", "subprotocols": ["feed.v1", "feed.v2"],
                    "headers": ["Authorization: Bearer ${FEED_TOKEN}", "X-Client: streamloom"],
                }),
            ),
            node("out", "file_sink", json!({"path": out.to_str().unwrap()})),
        ],
        vec![wire("ws", "out")],
        16,
        64,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let env = |name: &str| (name == "FEED_TOKEN").then(|| "s3cr3t-t0ken".to_string());
    let h = start(&engine, &g, RunOptions { env: Arc::new(env), ..RunOptions::default() });
    assert_eq!(wait(&engine, &h, 10), RunOutcome::Completed);
    rt.block_on(server).unwrap();
    assert_eq!(*seen.lock().unwrap(), ["Bearer s3cr3t-t0ken", "streamloom", "feed.v1, feed.v2"]);
    let values: Vec<Value> = json_lines(&out);
    assert_eq!(values, [json!("AAEC/w=="), json!("aGk=")], "every message's bytes as base64");
    let s = h.snapshot_now();
    let ws = n(&s, "ws");
    assert_eq!((ws.gauges["messages_in"], ws.gauges["bytes_in"]), (2, 6), "{ws:?}");
    let shown = serde_json::to_string(&s.keyed()).unwrap();
    assert!(!shown.contains("s3cr3t"), "the secret stays out of status and metrics: {shown}");
}

#[test]
fn time_field_watermarks_fire_windows_while_the_connection_is_open() {
    let rt = peer_runtime();
    let release = Arc::new(tokio::sync::Notify::new());
    let release2 = release.clone();
    let (url, _) = server(&rt, move |mut ws| {
        let release = release2.clone();
        async move {
            for (i, ts) in [1_000, 1_500, 2_100, 3_200, 4_100].into_iter().enumerate() {
                ws.send(Message::text(json!({"n": i, "ts": ts}).to_string())).await.unwrap();
            }
            release.notified().await;
            let _ = ws.close(None).await;
            while let Some(Ok(_)) = ws.next().await {}
        }
    });
    let g = graph(
        vec![
            source(&url, json!({"reconnect": false, "time_field": "ts", "watermark_delay": "500ms"})),
            node("win", "window", json!({"type": "tumbling", "size": "1s", "aggregates": ["count = count"]})),
            node("out", "null_sink", json!({})),
        ],
        vec![wire("ws", "win"), wire("win", "out")],
        16,
        64,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    // The watermark 4100 - 500 = 3600 passes the ends of [1s, 2s) and [2s, 3s), not of [3s, 4s).
    wait_for(&h, "two windows fired by the watermark", |s| n(s, "win").events_out == 2);
    assert_eq!(n(&h.snapshot_now(), "ws").state, Some(NodeState::Connected), "still connected");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(n(&h.snapshot_now(), "win").events_out, 2, "[3s, 4s) waits for a later watermark");
    release.notify_one();
    assert_eq!(wait(&engine, &h, 10), RunOutcome::Completed);
    assert_eq!(n(&h.snapshot_now(), "win").events_out, 4, "the end of the stream fires the rest");
}

#[test]
fn a_silent_server_meets_the_idle_timeout_and_is_reconnected_to() {
    let rt = peer_runtime();
    let (url, connections) = server(&rt, |mut ws| async move {
        ws.send(Message::text("{\"hello\": 1}")).await.unwrap();
        // Then silence, while still answering pings (reading).
        while let Some(Ok(_)) = ws.next().await {}
    });
    let g = graph(
        vec![source(&url, json!({"idle_timeout": "300ms"})), node("out", "null_sink", json!({}))],
        vec![wire("ws", "out")],
        16,
        64,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    wait_for(&h, "a reconnect after the idle timeout", |s| {
        n(s, "ws").state_line().is_some_and(|l| l.contains("no message within 300ms (idle timeout)"))
    });
    // Three messages read, not three connections accepted: a stop right after the server
    // accepted a third could come before the client read that connection's message.
    wait_for(&h, "three messages, one per connection", |s| n(s, "ws").events_out >= 3);
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
    let s = h.snapshot_now();
    let ws = n(&s, "ws");
    let conns = connections.load(Ordering::SeqCst);
    assert_eq!(ws.events_out, ws.gauges["messages_in"], "{ws:?}");
    assert!(ws.events_out >= 3 && ws.events_out <= conns, "one message per connection: {ws:?}, {conns}");
    assert!(ws.gauges["reconnects"] >= 2, "{ws:?}");
}

#[test]
fn a_server_that_stops_answering_pings_meets_the_pong_timeout_and_one_that_answers_does_not() {
    let rt = peer_runtime();
    // Never reads after the handshake, so never answers a ping.
    let (deaf_url, deaf_conns) = server(&rt, |ws| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(ws);
    });
    // Reads (tungstenite answers pings) and sends nothing.
    let (live_url, live_conns) = server(&rt, |mut ws| async move { while let Some(Ok(_)) = ws.next().await {} });
    let ping = json!({"ping_interval": "100ms", "pong_timeout": "300ms"});
    let mut deaf = source(&deaf_url, ping.clone());
    let mut live = source(&live_url, ping);
    live.id = "live".into();
    deaf.id = "ws".into();
    let g = graph(
        vec![deaf, live, node("out", "null_sink", json!({})), node("out2", "null_sink", json!({}))],
        vec![wire("ws", "out"), wire("live", "out2")],
        16,
        64,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    wait_for(&h, "the pong timeout", |s| {
        n(s, "ws").state_line().is_some_and(|l| l.starts_with("reconnecting: ") && l.contains("no pong within 300ms"))
    });
    wait_for(&h, "a second connection", |_| deaf_conns.load(Ordering::SeqCst) >= 2);
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
    let s = h.snapshot_now();
    assert!(n(&s, "ws").gauges["reconnects"] >= 1);
    assert_eq!(live_conns.load(Ordering::SeqCst), 1, "pings answered: the one connection stays");
    assert_eq!(n(&s, "live").gauges["reconnects"], 0, "{:?}", n(&s, "live"));
}

#[test]
fn a_bad_token_gets_401_the_status_says_unauthorized_and_attempts_back_off() {
    let rt = peer_runtime();
    let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let attempts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let seen = attempts.clone();
    rt.spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            seen.lock().unwrap().push(Instant::now());
            let refuse = |_: &Request, _: Response| {
                let mut r = tokio_tungstenite::tungstenite::handshake::server::ErrorResponse::new(None);
                *r.status_mut() = tokio_tungstenite::tungstenite::http::StatusCode::UNAUTHORIZED;
                Err(r)
            };
            let _ = tokio_tungstenite::accept_hdr_async(tcp, refuse).await;
        }
    });
    let g = graph(
        vec![
            source(
                &url,
                json!({"headers": ["Authorization: Bearer ${FEED_TOKEN}"], "backoff_initial": "100ms", "backoff_max": "300ms"}),
            ),
            node("out", "null_sink", json!({})),
        ],
        vec![wire("ws", "out")],
        16,
        64,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let env = |name: &str| (name == "FEED_TOKEN").then(|| "expired-t0ken".to_string());
    let h = start(&engine, &g, RunOptions { env: Arc::new(env), ..RunOptions::default() });
    wait_for(&h, "the status to say unauthorized", |s| {
        let ws = n(s, "ws");
        ws.state == Some(NodeState::Failed)
            && ws.state_line().is_some_and(|l| l.starts_with("failed: unauthorized (HTTP 401); attempt "))
    });
    std::thread::sleep(Duration::from_millis(1200));
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
    let times = attempts.lock().unwrap().clone();
    let span = times.last().unwrap().duration_since(times[0]);
    // Waits of at least 50, 100, 150, 150, … ms: at most ~10 attempts in 1.5 s; a tight loop
    // would make hundreds.
    assert!(times.len() >= 3 && times.len() <= 12, "{} attempts in {span:?}", times.len());
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(45), "attempts back off: {times:?}");
    }
    let s = h.snapshot_now();
    // One counted per refused attempt; a Stop may cut the last attempt short before its count.
    let reconnects = n(&s, "ws").gauges["reconnects"];
    assert!(reconnects == times.len() as u64 || reconnects + 1 == times.len() as u64, "{reconnects} vs {times:?}");
    assert!(!serde_json::to_string(&s.keyed()).unwrap().contains("expired-t0ken"));
}

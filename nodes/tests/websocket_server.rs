//! `websocket_server` with real tokio-tungstenite clients on 127.0.0.1: the bearer token
//! (from `${ENV}`) is checked before the upgrade (a wrong or missing one gets 401, a wrong
//! path 404, a client beyond `max_clients` 503), the messages of every admitted client are
//! merged and counted exactly, malformed ones go to `errors` with their raw text, and the
//! status shows the clients.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use streamloom_runtime::executor::{Engine, RunHandle, RunOptions, RunOutcome};
use streamloom_runtime::metrics::NodeState;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

fn peer_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// The URL the server `ws` listens on, read from its status (it binds port 0).
fn listening_url(h: &RunHandle) -> String {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let line = h.snapshot_now().node("ws").and_then(|n| n.state_line()).unwrap_or_default();
        if let Some(rest) = line.strip_prefix("listening: on ") {
            return rest.split(';').next().unwrap().to_string();
        }
        assert!(Instant::now() < until, "the server never said where it listens: {line:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_for(h: &RunHandle, what: &str, cond: impl Fn(&streamloom_runtime::metrics::NodeSnapshot) -> bool) {
    let until = Instant::now() + Duration::from_secs(8);
    while !cond(n(&h.snapshot_now(), "ws")) {
        assert!(Instant::now() < until, "timed out waiting for {what}: {:?}", h.snapshot_now().node("ws"));
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Connects with `token` (if any); the HTTP status when refused.
async fn connect(
    url: &str,
    token: Option<&str>,
) -> Result<tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>, u16> {
    let mut req = url.into_client_request().unwrap();
    if let Some(t) = token {
        req.headers_mut().insert("Authorization", format!("Bearer {t}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(WsError::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

fn server_graph(extra: Value, out: &std::path::Path, bad: &std::path::Path) -> streamloom_runtime::Graph {
    let mut config = json!({"bind": "127.0.0.1", "port": 0, "path": "/ingest", "token": "${INGEST_TOKEN}"});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    graph(
        vec![
            node("ws", "websocket_server", config),
            node("out", "file_sink", json!({"path": out.to_str().unwrap()})),
            node("bad", "file_sink", json!({"path": bad.to_str().unwrap()})),
        ],
        vec![wire("ws", "out"), errors_wire("ws", "bad")],
        16,
        64,
    )
}

#[test]
fn the_right_token_is_admitted_the_wrong_refused_with_401_and_all_clients_messages_are_merged() {
    let rt = peer_runtime();
    let dir = tempfile::tempdir().unwrap();
    let (out, bad) = (dir.path().join("out.jsonl"), dir.path().join("bad.jsonl"));
    let engine = Engine::new(Some(2)).unwrap();
    let env = |name: &str| (name == "INGEST_TOKEN").then(|| "r1ght-t0ken".to_string());
    let h =
        start(&engine, &server_graph(json!({}), &out, &bad), RunOptions { env: Arc::new(env), ..Default::default() });
    let url = listening_url(&h);
    assert!(url.ends_with("/ingest"), "{url}");
    let base = url.trim_end_matches("/ingest").to_string();
    let _b = rt.block_on(async {
        assert_eq!(connect(&url, Some("wrong")).await.err(), Some(401), "a wrong token");
        assert_eq!(connect(&url, None).await.err(), Some(401), "no token");
        assert_eq!(connect(&format!("{base}/other"), Some("r1ght-t0ken")).await.err(), Some(404), "a wrong path");
        let mut a = connect(&url, Some("r1ght-t0ken")).await.unwrap();
        let mut b = connect(&url, Some("r1ght-t0ken")).await.unwrap();
        for i in 0..100 {
            a.feed(Message::text(json!({"from": "a", "n": i}).to_string())).await.unwrap();
            b.feed(Message::text(json!({"from": "b", "n": i}).to_string())).await.unwrap();
        }
        a.feed(Message::text("{not json")).await.unwrap();
        a.flush().await.unwrap();
        b.flush().await.unwrap();
        wait_for(&h, "two clients", |ws| ws.gauges["clients"] == 2);
        wait_for(&h, "every message", |ws| ws.events_out + ws.errors == 201);
        a.close(None).await.unwrap();
        while let Some(Ok(_)) = a.next().await {}
        b
    });
    wait_for(&h, "one client left", |ws| {
        ws.gauges["clients"] == 1 && ws.state_line().unwrap().ends_with("; 1 client(s)")
    });
    let ws = n(&h.snapshot_now(), "ws").clone();
    assert_eq!(ws.state, Some(NodeState::Listening));
    assert_eq!(ws.gauges["refused"], 3, "{ws:?}");
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
    let s = h.snapshot_now();
    let ws = n(&s, "ws");
    assert_eq!((ws.events_out, ws.errors), (200, 1));
    let got = json_lines(&out);
    for from in ["a", "b"] {
        let ns: Vec<u64> = got.iter().filter(|v| v["from"] == from).map(|v| v["n"].as_u64().unwrap()).collect();
        assert_eq!(ns, (0..100).collect::<Vec<u64>>(), "each client's messages in its order");
    }
    let bad = json_lines(&bad);
    assert_eq!(bad.len(), 1);
    assert!(bad[0].to_string().contains("{not json"), "the raw text: {}", bad[0]);
    assert!(!serde_json::to_string(&s.keyed()).unwrap().contains("r1ght"), "the token is never shown");
    assert_wires(&s);
}

#[test]
fn a_message_over_max_message_size_is_an_error_and_its_client_is_told_why() {
    let rt = peer_runtime();
    let dir = tempfile::tempdir().unwrap();
    let (out, bad) = (dir.path().join("out.jsonl"), dir.path().join("bad.jsonl"));
    let engine = Engine::new(Some(2)).unwrap();
    let g = server_graph(json!({"token": null, "format": "text", "max_message_size": 1024}), &out, &bad);
    let h = start(&engine, &g, RunOptions::default());
    let url = listening_url(&h);
    let close = rt.block_on(async {
        let mut ws = connect(&url, None).await.unwrap();
        ws.send(Message::text("small")).await.unwrap();
        ws.send(Message::text("x".repeat(5000))).await.unwrap();
        wait_for(&h, "the error", |ws| ws.events_out == 1 && ws.errors == 1);
        let mut close = None;
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Close(frame) = m {
                close = frame.map(|f| u16::from(f.code));
            }
        }
        close
    });
    assert_eq!(close, Some(1009), "the client was told its message was too big");
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
    assert_eq!(json_lines(&out), [json!("small")]);
    let dead = json_lines(&bad);
    let reason = dead[0]["reason"].as_str().unwrap();
    assert!(reason.contains("1024") && reason.contains("max_message_size"), "{reason}");
}

#[test]
fn a_client_beyond_max_clients_gets_503() {
    let rt = peer_runtime();
    let dir = tempfile::tempdir().unwrap();
    let (out, bad) = (dir.path().join("out.jsonl"), dir.path().join("bad.jsonl"));
    let engine = Engine::new(Some(2)).unwrap();
    let g = server_graph(json!({"token": null, "max_clients": 1, "format": "text"}), &out, &bad);
    let h = start(&engine, &g, RunOptions::default());
    let url = listening_url(&h);
    rt.block_on(async {
        let mut first = connect(&url, None).await.unwrap();
        wait_for(&h, "one client", |ws| ws.gauges["clients"] == 1);
        assert_eq!(connect(&url, None).await.err(), Some(503));
        first.send(Message::text("plain text")).await.unwrap();
        wait_for(&h, "the message", |ws| ws.events_out == 1);
    });
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
    assert_eq!(json_lines(&out), [json!("plain text")]);
    assert_eq!(n(&h.snapshot_now(), "ws").gauges["refused"], 1);
}

#[test]
fn event_times_from_clients_drive_watermarks_so_windows_fire_while_clients_stay_connected() {
    let rt = peer_runtime();
    let dir = tempfile::tempdir().unwrap();
    let rows = dir.path().join("rows.jsonl");
    let g = graph(
        vec![
            node(
                "ws",
                "websocket_server",
                json!({"bind": "127.0.0.1", "port": 0, "path": "/", "time_field": "t", "watermark_delay": "500ms"}),
            ),
            node("win", "window", json!({"type": "tumbling", "size": "1s", "aggregates": ["n = count"]})),
            node("out", "file_sink", json!({"path": rows.to_str().unwrap(), "flush_interval_ms": 20})),
        ],
        vec![wire("ws", "win"), wire("win", "out")],
        16,
        64,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let url = listening_url(&h);
    let _client = rt.block_on(async {
        let mut c = connect(&url, None).await.unwrap();
        for t in (0..4000).step_by(100) {
            c.feed(Message::text(json!({"t": t}).to_string())).await.unwrap();
        }
        c.flush().await.unwrap();
        c
    });
    // Watermark 3400 after the last event: windows [0,1s), [1s,2s) and [2s,3s) fire while the
    // client is still connected; [3s,4s) waits.
    let until = Instant::now() + Duration::from_secs(8);
    while json_lines(&rows).len() < 3 {
        assert!(Instant::now() < until, "windows did not fire while connected: {:?}", json_lines(&rows));
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let got: Vec<(i64, u64)> =
        json_lines(&rows).iter().map(|r| (r["window_start"].as_i64().unwrap(), r["n"].as_u64().unwrap())).collect();
    assert_eq!(got, [(0, 10), (1000, 10), (2000, 10)]);
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
    assert_eq!(json_lines(&rows).len(), 4, "the last window fires at the end of the stream");
}

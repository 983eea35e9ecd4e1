//! `nats_source`'s connection security against a real `nats-server` (skipped loudly when
//! not installed): a token from `${ENV}` is accepted and never shows in the metrics, a wrong
//! one makes the status say failed with the reason; TLS with a CA file trusts a server whose
//! certificate that CA signed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broker_servers;
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_servers::{Broker, Kind};
use common::*;
use serde_json::json;
use streamloom_runtime::executor::{Engine, RunHandle, RunOptions, RunOutcome};

fn state_line(h: &RunHandle, id: &str) -> String {
    h.snapshot_now().node(id).and_then(|n| n.state_line()).unwrap_or_default()
}

/// Waits at most 5 s for the status of `id` to start with `prefix`; returns the last line.
fn wait_state(h: &RunHandle, id: &str, prefix: &str) -> String {
    let started = Instant::now();
    loop {
        let line = state_line(h, id);
        if line.starts_with(prefix) || started.elapsed() > Duration::from_secs(5) {
            return line;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn run_with_token(b: &Broker, token: &'static str) -> (Engine, RunHandle) {
    let g = graph(
        vec![
            node(
                "src",
                "nats_source",
                json!({"servers": [b.url()], "subject": "x", "token": "${NATS_TOKEN}",
                "backoff_initial": "100ms", "backoff_max": "300ms"}),
            ),
            node("null", "null_sink", json!({})),
        ],
        vec![wire("src", "null")],
        16,
        32,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let env = move |name: &str| (name == "NATS_TOKEN").then(|| token.to_string());
    let h = start(&engine, &g, RunOptions { env: Arc::new(env), ..Default::default() });
    (engine, h)
}

#[test]
fn a_token_from_the_environment_is_accepted_and_a_wrong_one_fails_with_the_reason() {
    let test = "a_token_from_the_environment_is_accepted_and_a_wrong_one_fails_with_the_reason";
    let Some(b) = Broker::start_with(Kind::Nats, test, |_| vec!["--auth".into(), "s3cr3t-t0ken".into()]) else {
        return;
    };
    let (engine, h) = run_with_token(&b, "s3cr3t-t0ken");
    assert_eq!(wait_state(&h, "src", "connected"), "connected");
    let json = serde_json::to_string(&h.snapshot_now().keyed()).unwrap();
    assert!(!json.contains("s3cr3t-t0ken"), "the token never shows in the metrics");
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);

    let (engine, h) = run_with_token(&b, "wrong");
    let line = wait_state(&h, "src", "failed");
    assert!(line.starts_with("failed: ") && line.contains("authorization"), "{line}");
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
}

#[test]
fn tls_with_a_ca_file_trusts_the_servers_certificate_and_messages_flow() {
    let test = "tls_with_a_ca_file_trusts_the_servers_certificate_and_messages_flow";
    let ca_path = std::cell::RefCell::new(None);
    let Some(b) = Broker::start_with(Kind::Nats, test, |dir| {
        let ca = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
        let (cert, key, ca_file) = (dir.join("cert.pem"), dir.join("key.pem"), dir.join("ca.pem"));
        std::fs::write(&cert, ca.cert.pem()).unwrap();
        std::fs::write(&ca_file, ca.cert.pem()).unwrap();
        std::fs::write(&key, ca.key_pair.serialize_pem()).unwrap();
        *ca_path.borrow_mut() = Some(ca_file);
        vec!["--tls".into(), format!("--tlscert={}", cert.display()), format!("--tlskey={}", key.display())]
    }) else {
        return;
    };
    let ca_file = ca_path.borrow().clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let g = graph(
        vec![
            node(
                "src",
                "nats_source",
                json!({"servers": [format!("tls://127.0.0.1:{}", b.port)], "subject": "secure.>",
                "ca_file": ca_file.to_str().unwrap(), "backoff_initial": "100ms", "backoff_max": "300ms"}),
            ),
            node("file", "file_sink", json!({"path": out.to_str().unwrap(), "flush_interval_ms": 10})),
        ],
        vec![wire("src", "file")],
        16,
        32,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    assert_eq!(wait_state(&h, "src", "connected"), "connected", "TLS handshake with the CA file");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        std::thread::sleep(Duration::from_millis(300));
        let tls = streamloom_nodes::ws::tls::client_config(Some(&ca_file)).unwrap();
        let client = async_nats::ConnectOptions::new()
            .require_tls(true)
            .tls_client_config((*tls).clone())
            .connect(format!("tls://127.0.0.1:{}", b.port))
            .await
            .unwrap();
        for i in 0..100u64 {
            client.publish("secure.n", i.to_string().into()).await.unwrap();
        }
        client.flush().await.unwrap();
    });
    let started = Instant::now();
    while json_lines(&out).len() < 100 && started.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
    let got: Vec<u64> = json_lines(&out).iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(got, (0..100).collect::<Vec<u64>>());
}

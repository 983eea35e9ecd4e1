//! Faults: a node that panics, errors, never yields or ignores stop; a backlog stopped
//! mid-run; signals to a headless run writing a file; secrets in failure messages. Every run
//! ends, names the node at fault, and keeps the accounting of ARCHITECTURE.md exact.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/accounting.rs"]
mod accounting;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use streamloom_runtime::executor::{Engine, RunHandle, RunOptions, RunOutcome, StopRequest};
use streamloom_runtime::graph::{Graph, Node, PortRef, Settings, WhenFull, Wire};
use streamloom_runtime::metrics::{MetricsSnapshot, NodeStatus};

fn node(id: &str, kind: &str, config: Value) -> Node {
    Node { id: id.into(), kind: kind.into(), version: 1, position: None, config }
}

fn wire(from: &str, to: &str) -> Wire {
    Wire::new(PortRef::new(from, "out"), PortRef::new(to, "in"))
}

fn graph(nodes: Vec<Node>, wires: Vec<Wire>) -> Graph {
    Graph {
        settings: Settings { default_capacity: Some(64), batch_size: Some(32), ..Default::default() },
        nodes,
        wires,
        ..Default::default()
    }
}

fn unbounded_generator() -> Node {
    node("gen", "generator", json!({"count": null, "rate": null, "payload": "sample_events", "seed": 1}))
}

fn start(engine: &Engine, g: &Graph, stop_timeout: Duration) -> RunHandle {
    let registry = streamloom_nodes::with_test_kinds(streamloom_nodes::builtin_registry());
    let options = RunOptions { stop_timeout: Some(stop_timeout), ..RunOptions::default() };
    engine.start(g, &registry, options).unwrap_or_else(|p| panic!("{p}"))
}

/// Waits for the outcome, failing the test if the run does not end within `limit`.
fn wait(engine: &Engine, h: &RunHandle, limit: Duration) -> (RunOutcome, MetricsSnapshot) {
    let outcome = engine
        .block_on(async { tokio::time::timeout(limit, h.wait()).await })
        .unwrap_or_else(|_| panic!("the run did not end within {limit:?}: {:#?}", h.snapshot_now()));
    (outcome, (*h.snapshot()).clone())
}

fn failed_ids(o: &RunOutcome) -> Vec<String> {
    match o {
        RunOutcome::Failed(f) => f.iter().map(|(id, _)| id.clone()).collect(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn assert_accounted(g: &Graph, s: &MetricsSnapshot) {
    let bad = accounting::violations(g, s, false);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn a_panicking_node_fails_the_run_by_its_id_and_stops_an_unbounded_source() {
    let engine = Engine::new(Some(2)).unwrap();
    let g = graph(
        vec![
            unbounded_generator(),
            node("boom", "fault", json!({"mode": "panic", "after": 500})),
            node("sink", "null_sink", json!({})),
        ],
        vec![wire("gen", "boom"), wire("boom", "sink")],
    );
    let h = start(&engine, &g, Duration::from_secs(5));
    let (outcome, s) = wait(&engine, &h, Duration::from_secs(20));
    assert_eq!(failed_ids(&outcome), vec!["boom".to_string()]);
    let boom = s.node("boom").unwrap();
    assert_eq!(boom.status, NodeStatus::Failed);
    let msg = boom.message.clone().unwrap_or_default();
    assert!(msg.contains("panicked") && msg.contains("on purpose after 500"), "{msg}");
    assert_eq!(s.node("gen").unwrap().status, NodeStatus::Stopped, "the source was stopped, cut short");
    assert_eq!(s.node("sink").unwrap().status, NodeStatus::Stopped, "its upstream failed before its input ended");
    assert_eq!(s.node("sink").unwrap().passed, 500);
    assert_accounted(&g, &s);
}

#[test]
fn an_erroring_node_fails_the_run_by_its_id() {
    let engine = Engine::new(Some(2)).unwrap();
    let g = graph(
        vec![
            unbounded_generator(),
            node("bad", "fault", json!({"mode": "error", "after": 10})),
            node("sink", "null_sink", json!({})),
        ],
        vec![wire("gen", "bad"), wire("bad", "sink")],
    );
    let h = start(&engine, &g, Duration::from_secs(5));
    let (outcome, s) = wait(&engine, &h, Duration::from_secs(20));
    assert_eq!(failed_ids(&outcome), vec!["bad".to_string()]);
    assert!(s.node("bad").unwrap().message.clone().unwrap().contains("failed on purpose after 10"));
    assert_accounted(&g, &s);
}

#[test]
fn a_node_that_never_yields_cannot_keep_the_run_from_ending() {
    let engine = Engine::new(Some(2)).unwrap();
    let g = graph(
        vec![
            unbounded_generator(),
            node("stuck", "fault", json!({"mode": "spin", "after": 100})),
            node("sink", "null_sink", json!({})),
        ],
        vec![wire("gen", "stuck"), wire("stuck", "sink")],
    );
    let h = start(&engine, &g, Duration::from_millis(300));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(h.stop(), StopRequest::Draining);
    let (outcome, s) = wait(&engine, &h, Duration::from_secs(20));
    assert!(failed_ids(&outcome).contains(&"stuck".to_string()), "{outcome:?}");
    let stuck = s.node("stuck").unwrap();
    assert_eq!(stuck.status, NodeStatus::Cancelled);
    assert!(stuck.message.clone().unwrap().contains("did not respond to cancellation"));
    assert_accounted(&g, &s);
}

#[test]
fn after_a_failure_a_hanging_node_is_cancelled_after_the_stop_timeout_and_reported_with_what_it_held() {
    let engine = Engine::new(Some(2)).unwrap();
    let mut to_hang = wire("gen", "hang");
    to_hang.when_full = Some(WhenFull::DropNewest);
    let g = graph(
        vec![
            unbounded_generator(),
            node("bad", "fault", json!({"mode": "error", "after": 1000})),
            node("hang", "fault", json!({"mode": "hang", "after": 50})),
            node("sink", "null_sink", json!({})),
        ],
        vec![wire("gen", "bad"), to_hang, wire("bad", "sink")],
    );
    let started = Instant::now();
    let h = start(&engine, &g, Duration::from_millis(500));
    let (outcome, s) = wait(&engine, &h, Duration::from_secs(20));
    let ids = failed_ids(&outcome);
    assert_eq!(ids, vec!["bad".to_string(), "hang".to_string()], "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let hang = s.node("hang").unwrap();
    assert_eq!(hang.status, NodeStatus::Cancelled);
    assert!(hang.lost_on_kill > 0, "the events it held are counted as lost: {hang:?}");
    assert!(hang.message.clone().unwrap().contains(&format!("{} event(s) it held were lost", hang.lost_on_kill)));
    assert_eq!(s.node("gen").unwrap().status, NodeStatus::Stopped, "only the nodes really cancelled are listed");
    assert_accounted(&g, &s);
}

#[test]
fn a_second_stop_after_a_failure_cancels_at_once() {
    let engine = Engine::new(Some(2)).unwrap();
    let mut to_hang = wire("gen", "hang");
    to_hang.when_full = Some(WhenFull::DropNewest);
    let g = graph(
        vec![
            unbounded_generator(),
            node("bad", "fault", json!({"mode": "error", "after": 1000})),
            node("hang", "fault", json!({"mode": "hang", "after": 0})),
        ],
        vec![wire("gen", "bad"), to_hang],
    );
    let h = start(&engine, &g, Duration::from_secs(120));
    engine.block_on(async {
        while h.snapshot_now().node("bad").unwrap().status != NodeStatus::Failed {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let started = Instant::now();
    assert_eq!(h.stop(), StopRequest::Draining, "the first Stop after a failure still arms the kill timer");
    assert_eq!(h.stop(), StopRequest::Killed);
    let (outcome, s) = wait(&engine, &h, Duration::from_secs(10));
    assert!(started.elapsed() < Duration::from_secs(5));
    let ids = failed_ids(&outcome);
    assert_eq!(ids[0], "bad", "{outcome:?}");
    // The hanging node is cancelled; it is listed when it lost events (it may have been
    // killed before its first batch reached it, holding nothing).
    let hang = s.node("hang").unwrap();
    assert_eq!(hang.status, NodeStatus::Cancelled, "{hang:?}");
    assert_eq!(ids.contains(&"hang".to_string()), hang.lost_on_kill > 0, "{outcome:?} {hang:?}");
    assert_accounted(&g, &s);
}

#[test]
fn a_rate_limited_backlog_killed_after_the_stop_timeout_counts_what_it_lost() {
    let engine = Engine::new(Some(2)).unwrap();
    let mut big = wire("gen", "slow");
    big.capacity = Some(50_000);
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 20_000, "rate": null, "payload": "sample_events", "seed": 3})),
            node("slow", "buffer", json!({"capacity": 20_000, "when_full": "block", "rate_limit": 2000.0})),
            node("sink", "null_sink", json!({})),
        ],
        vec![big, wire("slow", "sink")],
    );
    let h = start(&engine, &g, Duration::from_millis(400));
    std::thread::sleep(Duration::from_millis(300));
    h.stop();
    let (outcome, s) = wait(&engine, &h, Duration::from_secs(20));
    assert!(matches!(outcome, RunOutcome::Failed(_)), "{outcome:?}");
    let slow = s.node("slow").unwrap();
    let queued: u64 = s.wires.iter().map(|w| w.dropped).sum();
    assert!(slow.lost_on_kill + queued > 10_000, "most of the backlog was lost, and counted: {slow:?}");
    let generated = s.node("gen").unwrap().events_out;
    assert_eq!(s.node("sink").unwrap().passed + slow.lost_on_kill + queued, generated, "{s:#?}");
    assert_accounted(&g, &s);
}

// ---- the real binary ----

fn write_graph(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("graph.ron");
    std::fs::write(&path, text).unwrap();
    path
}

const PACED_TO_FILE: &str = r#"(
    format: 1,
    nodes: [
        (id: "gen", kind: "generator", version: 1, config: (count: None, rate: 20000.0, payload: "sample_events", seed: 7)),
        (id: "out", kind: "file_sink", version: 1, config: (path: "out.jsonl", flush_interval_ms: 50)),
    ],
    wires: [(from: ("gen", "out"), to: ("out", "in"))],
)"#;

fn spawn_headless(dir: &Path, graph: &Path, extra: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_streamloom"))
        .env(streamloom_nodes::TEST_KINDS_ENV, "1")
        .args(["--headless", graph.to_str().unwrap(), "--quiet", "--metrics-out", "metrics.json"])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &std::process::Child, sig: &str) {
    let ok = Command::new("kill").args([&format!("-{sig}"), &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
}

/// Every line of the file is a whole JSON record; returns how many.
fn whole_lines(path: &Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.is_empty() || text.ends_with('\n'), "the file ends on a whole record");
    for line in text.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("torn record {line:?}: {e}"));
    }
    text.lines().count() as u64
}

fn stop_by_signal_drains_and_counts_every_event(sig: &str, said: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let g = write_graph(tmp.path(), PACED_TO_FILE);
    let child = spawn_headless(tmp.path(), &g, &[]);
    std::thread::sleep(Duration::from_millis(1500));
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{sig}: {err}");
    assert!(err.contains(&format!("{said}: stopping")) && err.contains("stopped after"), "{err}");
    let lines = whole_lines(&tmp.path().join("out.jsonl"));
    let m: Value = serde_json::from_slice(&std::fs::read(tmp.path().join("metrics.json")).unwrap()).unwrap();
    assert_eq!(m["outcome"], "stopped");
    let gen_out = m["metrics"]["nodes"]["gen"]["events_out"].as_u64().unwrap();
    let written = m["metrics"]["nodes"]["out"]["passed"].as_u64().unwrap();
    assert!(gen_out > 1000, "{m}");
    assert_eq!(written, gen_out, "every generated event was written");
    assert_eq!(lines, written, "the file holds exactly what the sink counted");
}

#[test]
fn sigint_drains_and_counts_every_event() {
    stop_by_signal_drains_and_counts_every_event("INT", "Ctrl-C");
}

#[test]
fn sigterm_drains_like_the_first_ctrl_c() {
    stop_by_signal_drains_and_counts_every_event("TERM", "SIGTERM");
}

#[test]
fn sighup_drains_too() {
    stop_by_signal_drains_and_counts_every_event("HUP", "SIGHUP");
}

#[test]
fn sigkill_leaves_only_whole_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let g = write_graph(tmp.path(), PACED_TO_FILE);
    let mut child = spawn_headless(tmp.path(), &g, &[]);
    std::thread::sleep(Duration::from_millis(1200));
    child.kill().unwrap();
    let _ = child.wait();
    assert!(whole_lines(&tmp.path().join("out.jsonl")) > 0);
}

#[test]
fn a_second_signal_cancels_a_run_that_cannot_drain() {
    let tmp = tempfile::tempdir().unwrap();
    let g = write_graph(
        tmp.path(),
        r#"(
    format: 1,
    nodes: [
        (id: "gen", kind: "generator", version: 1, config: (count: None, rate: None, payload: "sequence", seed: 1)),
        (id: "hang", kind: "fault", version: 1, config: (mode: "hang", after: 10)),
    ],
    wires: [(from: ("gen", "out"), to: ("hang", "in"))],
)"#,
    );
    let child = spawn_headless(tmp.path(), &g, &["--stop-timeout", "60s"]);
    std::thread::sleep(Duration::from_millis(800));
    signal(&child, "INT");
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(started.elapsed() < Duration::from_secs(10), "{err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("SIGTERM again: cancelling now"), "{err}");
    assert!(err.contains("node `hang`") && err.contains("lost"), "{err}");
    let m: Value = serde_json::from_slice(&std::fs::read(tmp.path().join("metrics.json")).unwrap()).unwrap();
    assert!(m["metrics"]["nodes"]["hang"]["lost_on_kill"].as_u64().unwrap() > 0, "{m}");
}

#[test]
fn a_failure_message_shows_the_placeholder_never_the_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let g = write_graph(
        tmp.path(),
        r#"(
    format: 1,
    nodes: [
        (id: "read", kind: "file_source", version: 1, config: (path: "${SECRET_DIR}/missing.jsonl", format: "jsonl")),
        (id: "sink", kind: "null_sink", version: 1, config: ()),
    ],
    wires: [(from: ("read", "out"), to: ("sink", "in"))],
)"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_streamloom"))
        .env(streamloom_nodes::TEST_KINDS_ENV, "1")
        .args(["--headless", g.to_str().unwrap(), "--quiet", "--metrics-out", "metrics.json"])
        .current_dir(tmp.path())
        .env("SECRET_DIR", "/tmp/hunter2-s3cr3t")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("${SECRET_DIR}/missing.jsonl"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    let metrics = std::fs::read_to_string(tmp.path().join("metrics.json")).unwrap();
    assert!(!metrics.contains("hunter2") && metrics.contains("${SECRET_DIR}"), "{metrics}");
}

#[test]
fn a_bad_stop_timeout_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let g = write_graph(tmp.path(), PACED_TO_FILE);
    let out = Command::new(env!("CARGO_BIN_EXE_streamloom"))
        .env(streamloom_nodes::TEST_KINDS_ENV, "1")
        .args(["--headless", g.to_str().unwrap(), "--stop-timeout", "soon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a duration"));
}

#[test]
fn a_console_sink_blocked_on_a_full_pipe_is_cancelled_and_counted() {
    let tmp = tempfile::tempdir().unwrap();
    let g = write_graph(
        tmp.path(),
        r#"(
    format: 1,
    nodes: [
        (id: "gen", kind: "generator", version: 1, config: (count: None, rate: None, payload: "sample_events", seed: 7)),
        (id: "print", kind: "console_sink", version: 1, config: (pretty: false, prefix: "")),
    ],
    wires: [(from: ("gen", "out"), to: ("print", "in"))],
)"#,
    );
    // Standard output is a pipe nobody reads: it fills and the sink's writes block.
    let mut child = spawn_headless(tmp.path(), &g, &["--stop-timeout", "300ms"]);
    std::thread::sleep(Duration::from_millis(1000));
    signal(&child, "INT");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "the run did not end after Ctrl-C");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "killed after the stop timeout: {err}");
    assert!(!err.contains("did not respond"), "the blocked sink was cancelled like any node: {err}");
    let m: Value = serde_json::from_slice(&std::fs::read(tmp.path().join("metrics.json")).unwrap()).unwrap();
    let print = &m["metrics"]["nodes"]["print"];
    assert!(print["lost_on_kill"].as_u64().unwrap() > 0, "{m}");
    assert_eq!(
        print["events_in"].as_u64().unwrap(),
        print["passed"].as_u64().unwrap() + print["lost_on_kill"].as_u64().unwrap(),
        "{m}"
    );
}

#[test]
fn a_second_stop_interrupts_a_spinning_expression_and_counts_its_batch_as_lost() {
    let engine = Engine::new(Some(2)).unwrap();
    let g = graph(
        vec![
            unbounded_generator(),
            node("spin", "map", json!({"expression": "def f: f; f", "max_steps": 10_000_000})),
            node("sink", "null_sink", json!({})),
        ],
        vec![wire("gen", "spin"), wire("spin", "sink")],
    );
    let h = start(&engine, &g, Duration::from_secs(120));
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(h.stop(), StopRequest::Draining);
    assert_eq!(h.stop(), StopRequest::Killed);
    let (outcome, s) = wait(&engine, &h, Duration::from_secs(10));
    assert!(started.elapsed() < Duration::from_secs(5), "the spin was interrupted");
    assert!(failed_ids(&outcome).contains(&"spin".to_string()), "{outcome:?}");
    let spin = s.node("spin").unwrap();
    assert_eq!(spin.status, NodeStatus::Cancelled, "{spin:?}");
    assert!(spin.lost_on_kill > 0, "the batch it was working on is lost, not failed: {spin:?}");
    assert_eq!(spin.errors, 0, "no event is blamed on the kill: {spin:?}");
    let msg = spin.message.clone().unwrap_or_default();
    assert!(msg.contains("second Stop") && msg.contains("were lost"), "{msg}");
    let sink = s.node("sink").unwrap();
    assert!(
        sink.message.clone().unwrap_or_default().contains("held no events") || sink.status != NodeStatus::Cancelled
    );
    assert!(!failed_ids(&outcome).contains(&"sink".to_string()), "a node that lost nothing is not listed: {outcome:?}");
    assert_accounted(&g, &s);
}

#[test]
fn after_stop_a_node_whose_input_had_already_ended_reads_finished_and_a_source_cut_short_reads_stopped() {
    let engine = Engine::new(Some(2)).unwrap();
    // `done` sends 100 events at once and ends; the buffer lets them through at 100/s, so it
    // is still draining when Stop comes. `feed` never ends on its own.
    let g = graph(
        vec![
            node("done", "generator", json!({"count": 100, "payload": "sequence", "seed": 1})),
            node("slow", "buffer", json!({"capacity": 200, "rate_limit": 100.0})),
            node("sink", "null_sink", json!({})),
            unbounded_generator(),
            node("sink2", "null_sink", json!({})),
        ],
        vec![wire("done", "slow"), wire("slow", "sink"), wire("gen", "sink2")],
    );
    let h = start(&engine, &g, Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.snapshot_now().node("done").map(|n| n.status) != Some(NodeStatus::Finished) {
        assert!(Instant::now() < deadline, "the finite source did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(h.snapshot_now().node("slow").unwrap().events_out < 100, "the buffer is still draining");
    assert_eq!(h.stop(), StopRequest::Draining);
    let (outcome, s) = wait(&engine, &h, Duration::from_secs(20));
    assert!(matches!(outcome, RunOutcome::Stopped), "{outcome:?}");
    let status = |id: &str| s.node(id).unwrap().status;
    assert_eq!(status("done"), NodeStatus::Finished, "it had sent all it had before the Stop");
    assert_eq!(status("slow"), NodeStatus::Finished, "its input had ended; it drained");
    assert_eq!(status("sink"), NodeStatus::Finished);
    assert_eq!(s.node("sink").unwrap().passed, 100, "everything was drained");
    assert_eq!(status("gen"), NodeStatus::Stopped, "the unbounded source was cut short");
    assert_eq!(status("sink2"), NodeStatus::Stopped, "its input ended because of the Stop");
    assert_accounted(&g, &s);
}

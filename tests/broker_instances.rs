//! Headless instances of one graph on one JetStream durable consumer, against a real
//! `nats-server -js` on loopback (skipped loudly when not installed): an instance killed with
//! SIGKILL mid-stream loses nothing (a restarted instance, or the others, get what it had not
//! acknowledged after `ack_wait`), and duplicates are only messages the killed instance
//! wrote without a checkpoint covering them yet, at most `max_in_flight`. The same for an
//! MQTT QoS 1 persistent session on `mosquitto`: the broker sends the restarted instance
//! what the killed one had not acknowledged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../nodes/tests/broker_servers/mod.rs"]
mod broker_servers;
#[path = "../nodes/tests/jetstream_peer/mod.rs"]
mod jetstream_peer;
#[path = "../nodes/tests/mqtt_peer/mod.rs"]
mod mqtt_peer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use broker_servers::{Broker, Kind};
use jetstream_peer::{create_stream, js_publish, peer, settled_counts};

/// Most messages delivered and unacknowledged on the consumer (all instances together).
const MAX_IN_FLIGHT: u64 = 40;

/// JetStream → a buffer paced to 400 events/s (so a kill lands mid-stream) → a file named by
/// `${OUT}`; checkpoints every 50 ms; unacknowledged messages come back after 1 s.
fn graph_file(dir: &Path, url: &str) -> PathBuf {
    let text = format!(
        r#"(
    format: 1,
    settings: (checkpoint_interval: "50ms", batch_size: 16),
    nodes: [
        (id: "src", kind: "nats_source", version: 1, config: (servers: ["{url}"], subject: "orders.>",
            stream: "ORDERS", durable: "loom", max_in_flight: {MAX_IN_FLIGHT}, ack_wait: "1s")),
        (id: "pace", kind: "buffer", version: 1, config: (capacity: 1000, rate_limit: 400.0)),
        (id: "out", kind: "file_sink", version: 1, config: (path: "${{OUT}}", flush_interval_ms: 10)),
    ],
    wires: [(from: ("src", "out"), to: ("pace", "in")), (from: ("pace", "out"), to: ("out", "in"))],
)"#
    );
    let path = dir.join("instances.ron");
    std::fs::write(&path, text).unwrap();
    path
}

fn spawn_instance(dir: &Path, graph: &Path, out: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_streamloom"))
        .env("OUT", out)
        .args(["--headless", graph.to_str().unwrap(), "--quiet"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The `i` of every whole line of `path` (a line torn by SIGKILL is left out: it was never
/// covered by a checkpoint, so it is delivered again).
fn written(path: &Path) -> Vec<u64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let whole = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    whole.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["i"].as_u64().unwrap()).collect()
}

/// How often each message was written, over `files`.
fn tally(files: &[PathBuf]) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for f in files {
        for i in written(f) {
            *seen.entry(i).or_insert(0) += 1;
        }
    }
    seen
}

fn wait_until(secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while !done() {
        if started.elapsed() > Duration::from_secs(secs) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// The same pipeline from an MQTT persistent session `loom-kill` at QoS 1.
fn mqtt_graph_file(dir: &Path, port: u16) -> PathBuf {
    let text = format!(
        r#"(
    format: 1,
    settings: (checkpoint_interval: "50ms", batch_size: 16),
    nodes: [
        (id: "src", kind: "mqtt_source", version: 1, config: (server: "mqtt://127.0.0.1:{port}",
            client_id: "loom-kill", topics: ["feed/#"], qos: 1, clean_session: false,
            max_in_flight: {MAX_IN_FLIGHT})),
        (id: "pace", kind: "buffer", version: 1, config: (capacity: 1000, rate_limit: 400.0)),
        (id: "out", kind: "file_sink", version: 1, config: (path: "${{OUT}}", flush_interval_ms: 10)),
    ],
    wires: [(from: ("src", "out"), to: ("pace", "in")), (from: ("pace", "out"), to: ("out", "in"))],
)"#
    );
    let path = dir.join("mqtt_instance.ron");
    std::fs::write(&path, text).unwrap();
    path
}

/// Stops an instance the way Ctrl-C does and checks it ended well.
fn stop(mut child: Child) {
    let ok = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(ok.success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "a stopped instance ends with success: {status}");
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "an instance did not stop in 10 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Publishes `count` messages `{"i": n}` to the stream `ORDERS`.
fn publish(rt: &tokio::runtime::Runtime, url: &str, count: u64) {
    create_stream(rt, url);
    js_publish(rt, url, "orders.x", (0..count).map(|i| format!(r#"{{"i":{i}}}"#)).collect());
}

/// Checks that every message was written and that each duplicate is one the killed
/// instance wrote (it had not been acknowledged at the kill), at most `max_dups`; returns the
/// duplicates.
fn check_union(seen: &BTreeMap<u64, usize>, count: u64, killed: &Path, max_dups: u64) -> usize {
    let missing: Vec<u64> = (0..count).filter(|i| !seen.contains_key(i)).collect();
    assert!(missing.is_empty(), "{} message(s) lost: {:?}…", missing.len(), &missing[..missing.len().min(10)]);
    let by_killed: std::collections::BTreeSet<u64> = written(killed).into_iter().collect();
    let dups: Vec<u64> = seen.iter().filter(|(_, n)| **n > 1).map(|(i, _)| *i).collect();
    for i in &dups {
        assert!(by_killed.contains(i), "message {i} was written twice, but not by the killed instance");
        assert_eq!(seen[i], 2, "message {i} written {} times", seen[i]);
    }
    assert!(dups.len() as u64 <= max_dups, "{} duplicates: more than were ever unacknowledged", dups.len());
    dups.len()
}

#[test]
fn a_killed_instance_loses_nothing_and_its_restart_gets_the_unacknowledged_again() {
    let test = "a_killed_instance_loses_nothing_and_its_restart_gets_the_unacknowledged_again";
    let Some(b) = Broker::start(Kind::Nats, test) else { return };
    let rt = peer();
    const COUNT: u64 = 1000;
    publish(&rt, &b.url(), COUNT);
    let dir = tempfile::tempdir().unwrap();
    let graph = graph_file(dir.path(), &b.url());
    let (first, second) = (dir.path().join("first.jsonl"), dir.path().join("second.jsonl"));
    let child = spawn_instance(dir.path(), &graph, &first);
    assert!(wait_until(10, || written(&first).len() >= 300), "the first instance wrote 300 lines");
    let mut child = child;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = written(&first).len();
    assert!(at_kill < COUNT as usize, "killed mid-stream");
    let restarted = spawn_instance(dir.path(), &graph, &second);
    let files = [first.clone(), second.clone()];
    assert!(wait_until(15, || tally(&files).len() as u64 == COUNT), "the restart wrote the rest");
    stop(restarted);
    let dups = check_union(&tally(&files), COUNT, &first, MAX_IN_FLIGHT);
    eprintln!("killed after {at_kill} lines; {dups} duplicate(s) after the restart");
    assert_eq!(settled_counts(&rt, &b.url(), "loom"), (0, 0), "everything acknowledged in the end");
}

#[test]
fn three_instances_share_one_consumer_and_a_kill_9_loses_nothing() {
    let Some(b) = Broker::start(Kind::Nats, "three_instances_share_one_consumer_and_a_kill_9_loses_nothing") else {
        return;
    };
    let rt = peer();
    const COUNT: u64 = 1500;
    publish(&rt, &b.url(), COUNT);
    let dir = tempfile::tempdir().unwrap();
    let graph = graph_file(dir.path(), &b.url());
    let files: Vec<PathBuf> = (0..3).map(|k| dir.path().join(format!("out{k}.jsonl"))).collect();
    let mut children: Vec<Child> = files.iter().map(|f| spawn_instance(dir.path(), &graph, f)).collect();
    assert!(
        wait_until(10, || files.iter().all(|f| written(f).len() >= 100)),
        "every instance got a share: {:?}",
        files.iter().map(|f| written(f).len()).collect::<Vec<_>>()
    );
    let mut killed = children.remove(1);
    killed.kill().unwrap(); // SIGKILL
    killed.wait().unwrap();
    let at_kill = written(&files[1]).len();
    assert!(wait_until(15, || tally(&files).len() as u64 == COUNT), "the others took over what it held");
    for c in children {
        stop(c);
    }
    let seen = tally(&files);
    let dups = check_union(&seen, COUNT, &files[1], MAX_IN_FLIGHT);
    let per: Vec<usize> = files.iter().map(|f| written(f).len()).collect();
    assert_eq!(per.iter().sum::<usize>(), COUNT as usize + dups, "totals = published + duplicates");
    eprintln!("lines per instance {per:?} (the killed one at {at_kill}); {dups} duplicate(s)");
    assert_eq!(settled_counts(&rt, &b.url(), "loom"), (0, 0), "everything acknowledged in the end");
}

#[test]
fn a_killed_mqtt_instance_gets_its_unacknowledged_messages_again_on_restart() {
    let test = "a_killed_mqtt_instance_gets_its_unacknowledged_messages_again_on_restart";
    let Some(b) = Broker::start(Kind::Mosquitto, test) else { return };
    const COUNT: u64 = 600;
    // The session exists before the messages: the broker queues them all for it.
    mqtt_peer::subscribe_once(b.port, "loom-kill", "feed/#");
    mqtt_peer::publish(b.port, "feed/x", (0..COUNT).map(|i| format!(r#"{{"i":{i}}}"#)).collect());
    let dir = tempfile::tempdir().unwrap();
    let graph = mqtt_graph_file(dir.path(), b.port);
    let (first, second) = (dir.path().join("first.jsonl"), dir.path().join("second.jsonl"));
    let mut child = spawn_instance(dir.path(), &graph, &first);
    assert!(wait_until(10, || written(&first).len() >= 200), "the first instance wrote 200 lines");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at_kill = written(&first).len();
    assert!(at_kill < COUNT as usize, "killed mid-stream");
    let restarted = spawn_instance(dir.path(), &graph, &second);
    let files = [first.clone(), second.clone()];
    assert!(
        wait_until(15, || tally(&files).len() as u64 == COUNT),
        "the restart got the rest: {} of {COUNT}",
        tally(&files).len()
    );
    stop(restarted);
    // A PUBACK leaves when the client's event loop next runs, which waits while the source
    // is held back: more than `max_in_flight` may be unacknowledged at the broker.
    let dups = check_union(&tally(&files), COUNT, &first, at_kill as u64);
    eprintln!("mqtt: killed after {at_kill} lines; {dups} duplicate(s) after the restart");
}

#[test]
fn a_node_that_fails_ends_the_run_at_once_and_nothing_it_held_is_acknowledged() {
    use streamloom_runtime::executor::{Engine, RunOptions, RunOutcome};
    let Some(b) =
        Broker::start(Kind::Nats, "a_node_that_fails_ends_the_run_at_once_and_nothing_it_held_is_acknowledged")
    else {
        return;
    };
    let rt = peer();
    create_stream(&rt, &b.url());
    publish(&rt, &b.url(), 50);
    // No checkpoint completes before the fault (the interval is long): the source holds every
    // message unacknowledged when the node after it fails.
    let text = format!(
        r#"(
    format: 1,
    settings: (checkpoint_interval: "30s", batch_size: 8),
    nodes: [
        (id: "src", kind: "nats_source", version: 1, config: (servers: ["{}"], subject: "orders.>",
            stream: "ORDERS", durable: "loom", max_in_flight: 100, ack_wait: "30s")),
        (id: "bad", kind: "fault", version: 1, config: (mode: "error", after: 10)),
        (id: "sink", kind: "null_sink", version: 1, config: ()),
    ],
    wires: [(from: ("src", "out"), to: ("bad", "in")), (from: ("bad", "out"), to: ("sink", "in"))],
)"#,
        b.url()
    );
    let (graph, _) = streamloom_runtime::graph::parse(&text).unwrap();
    let registry = streamloom_nodes::with_test_kinds(streamloom_nodes::builtin_registry());
    let engine = Engine::new(Some(2)).unwrap();
    let options = RunOptions { stop_timeout: Some(Duration::from_secs(10)), ..RunOptions::default() };
    let started = Instant::now();
    let h = engine.start(&graph, &registry, options).unwrap_or_else(|p| panic!("{p}"));
    let outcome = engine.block_on(h.wait());
    assert!(matches!(outcome, RunOutcome::Failed(_)), "{outcome:?}");
    // Not the 10 s stop timeout: the source did not wait for a checkpoint that could never come.
    assert!(started.elapsed() < Duration::from_secs(5), "ended in {:?}", started.elapsed());
    let (pending, ack_pending) = jetstream_peer::consumer_counts(&rt, &b.url(), "loom");
    assert_eq!(pending + ack_pending as u64, 50, "nothing acknowledged: all 50 come again");
}

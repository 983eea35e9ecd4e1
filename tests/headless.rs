//! End-to-end tests of the `streamloom` binary: example graphs run headless with their
//! outputs checked, and every malformed-graph case gives its own message, never a panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn streamloom(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_streamloom"))
        .args(args)
        .current_dir(dir)
        .env_remove("STREAMLOOM_LOG")
        .output()
        .expect("run streamloom")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Copies an example graph and its data into a temporary folder laid out like `assets/`.
fn example_copy(graph: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let graphs = tmp.path().join("graphs");
    std::fs::create_dir_all(&graphs).unwrap();
    std::fs::create_dir_all(tmp.path().join("data")).unwrap();
    std::fs::copy(repo().join("assets/graphs").join(graph), graphs.join(graph)).unwrap();
    for entry in std::fs::read_dir(repo().join("assets/data")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), tmp.path().join("data").join(entry.file_name())).unwrap();
    }
    let path = graphs.join(graph);
    (tmp, path)
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn purchases_example_writes_exactly_the_purchases_and_the_bad_lines() {
    let (tmp, graph) = example_copy("purchases.ron");
    let metrics = tmp.path().join("metrics.json");
    let out =
        streamloom(&["--headless", graph.to_str().unwrap(), "--metrics-out", metrics.to_str().unwrap()], tmp.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("completed"), "{}", text(&out));

    // Independent expectation from the input file.
    let input = std::fs::read_to_string(tmp.path().join("data/events.jsonl")).unwrap();
    let mut expected = Vec::new();
    let mut bad_lines = Vec::new();
    for (i, line) in input.lines().enumerate() {
        match serde_json::from_str::<Value>(line) {
            Ok(v) if v["type"] == "purchase" => expected.push(v),
            Ok(_) => {}
            Err(_) => bad_lines.push(i as u64 + 1),
        }
    }
    assert!(!expected.is_empty() && !bad_lines.is_empty());

    let written = read_jsonl(&graph.parent().unwrap().join("out/purchases.jsonl"));
    assert_eq!(written.len(), expected.len());
    for (w, e) in written.iter().zip(&expected) {
        assert_eq!(w["user"], e["user"]);
        assert_eq!(w["ts"], e["ts"]);
        let gross = e["value"].as_f64().unwrap() * 1.2;
        assert!((w["gross"].as_f64().unwrap() - gross).abs() < 1e-9);
        // Records keep their fields in key order (as Vector and Benthos write them).
        assert_eq!(w.as_object().unwrap().keys().collect::<Vec<_>>(), ["gross", "ts", "user", "value"]);
    }

    let dead = read_jsonl(&graph.parent().unwrap().join("out/bad_lines.jsonl"));
    let lines: Vec<u64> = dead.iter().map(|d| d["event"]["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, bad_lines);
    for d in &dead {
        assert_eq!(d["node"], "events");
        assert!(d["reason"].as_str().unwrap().contains("invalid JSON"), "{d}");
    }

    // Conservation through the metrics file: every event is accounted for.
    let m: Value = serde_json::from_slice(&std::fs::read(&metrics).unwrap()).unwrap();
    let n = &m["metrics"]["nodes"];
    assert_eq!(m["outcome"], "completed");
    let source_out = n["events"]["events_out"].as_u64().unwrap();
    let filtered = n["purchases"]["events_in"].as_u64().unwrap() - n["purchases"]["events_out"].as_u64().unwrap();
    assert_eq!(source_out, n["purchases_out"]["events_in"].as_u64().unwrap() + filtered);
    assert_eq!(n["events"]["errors"].as_u64().unwrap(), bad_lines.len() as u64);
    assert_eq!(n["bad_lines"]["events_in"].as_u64().unwrap(), bad_lines.len() as u64);
    let wire = &m["metrics"]["wires"]["events.out -> purchases.in"];
    assert_eq!(wire["pushed"], wire["popped"]);
    assert_eq!(wire["dropped"], 0);
}

#[test]
fn generated_stream_example_writes_csv_of_big_purchases() {
    let (tmp, graph) = example_copy("generated_stream.ron");
    // Fewer events so the test stays quick; the graph is otherwise the bundled one.
    let text_in = std::fs::read_to_string(&graph).unwrap().replace("count: 40000", "count: 4000");
    std::fs::write(&graph, text_in).unwrap();
    let out = streamloom(&["--headless", graph.to_str().unwrap()], tmp.path());
    assert!(out.status.success(), "{}", text(&out));
    let csv = std::fs::read_to_string(graph.parent().unwrap().join("out/big_purchases.csv")).unwrap();
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some("ts,user,value,cents"));
    let expected = streamloom_nodes::sample_events::SampleEvents::new(42)
        .take(4000)
        .filter(|e| e.kind == "purchase" && e.cents > 50_000)
        .count();
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), expected);
    for r in rows {
        let cols: Vec<&str> = r.split(',').collect();
        let value: f64 = cols[2].parse().unwrap();
        let cents: f64 = cols[3].parse().unwrap();
        assert!(value > 500.0 && (cents - value * 100.0).abs() < 1e-6, "{r}");
    }
}

#[test]
fn websocket_loopback_example_reads_back_every_event_it_broadcasts() {
    let (tmp, graph) = example_copy("websocket_loopback.ron");
    let metrics = tmp.path().join("m.json");
    let out =
        streamloom(&["--headless", graph.to_str().unwrap(), "--metrics-out", metrics.to_str().unwrap()], tmp.path());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("completed"), "{}", text(&out));
    // Each node's own status, in the summary and in --metrics-out.
    assert!(text(&out).contains("    state: closed: closed by the server; reconnect is off"), "{}", text(&out));
    assert!(text(&out).contains("    gauges: keys 0  open_windows 0  state_bytes 0"), "{}", text(&out));
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&metrics).unwrap()).unwrap();
    let m = &m["metrics"];
    let client = &m["nodes"]["ws_client"];
    assert_eq!((client["state"].as_str(), client["status"].as_str()), (Some("closed"), Some("finished")), "{client}");
    assert!(client["gauges"]["reconnects"].is_u64(), "{client}");
    let server = &m["nodes"]["ws_server"];
    // Ended: the card and the summary must not keep saying "listening".
    assert_eq!(server["state"], "closed", "{server}");
    let message = server["state_message"].as_str().unwrap();
    assert!(message.starts_with("stopped listening on ws://127.0.0.1:9402/; closed "), "{message}");
    assert!(message.ends_with("client(s); 0 message(s) skipped for slow clients"), "{message}");
    assert_eq!((server["gauges"]["clients"].as_u64(), server["gauges"]["skipped"].as_u64()), (Some(0), Some(0)));
    let window = &m["nodes"]["per_type"];
    assert_eq!(window["gauges"], serde_json::json!({"open_windows": 0, "keys": 0, "state_bytes": 0}), "{window}");
    assert!(window.get("state").is_none(), "a window has gauges but no connection state: {window}");
    let dir = graph.parent().unwrap().join("out");
    let events = read_jsonl(&dir.join("websocket_events.jsonl"));
    assert_eq!(events.len(), 5000, "every event broadcast was read back");
    assert!(events.iter().all(|e| e["user"].is_string() && e["ts"].is_i64()), "whole records");
    let windows = read_jsonl(&dir.join("websocket_windows.jsonl"));
    assert_eq!(windows.iter().map(|w| w["count"].as_u64().unwrap()).sum::<u64>(), 5000);
    assert!(read_jsonl(&dir.join("websocket_bad_messages.jsonl")).is_empty());
}

#[test]
fn websocket_relay_example_sends_every_event_from_a_client_sink_to_a_server_source() {
    let (tmp, graph) = example_copy("websocket_relay.ron");
    let metrics = tmp.path().join("m.json");
    let out = streamloom(
        &["--headless", graph.to_str().unwrap(), "--stop-after", "4", "--metrics-out", metrics.to_str().unwrap()],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let dir = graph.parent().unwrap().join("out");
    let got = read_jsonl(&dir.join("websocket_relay.jsonl"));
    assert_eq!(got.len(), 2000, "every event the client sent reached the server's file");
    assert!(got.iter().all(|e| e["user"].is_string() && e["ts"].is_i64()), "whole records");
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&metrics).unwrap()).unwrap();
    let nodes = &m["metrics"]["nodes"];
    assert_eq!(nodes["ws_client"]["passed"], 2000, "{}", nodes["ws_client"]);
    assert_eq!(
        (nodes["ws_client"]["status"].as_str(), nodes["ws_server"]["events_out"].as_u64()),
        (Some("finished"), Some(2000))
    );
    assert_eq!(nodes["ws_server"]["state"], "closed", "{}", nodes["ws_server"]);
    // The run is over: the client's card and summary must not keep saying "connected".
    assert_eq!(nodes["ws_client"]["state"], "closed", "{}", nodes["ws_client"]);
    // The server's input never ends: --stop-after cut it short; the client's ended and drained.
    assert_eq!(nodes["ws_server"]["status"], "stopped", "{}", nodes["ws_server"]);
    let table = text(&out);
    assert!(table.lines().any(|l| l.starts_with("ws_server") && l.contains(" stopped ")), "{table}");
    assert!(nodes["ws_server"]["gauges"]["bytes_in"].as_u64().unwrap() > 0);
}

#[test]
fn every_example_graph_validates() {
    for entry in std::fs::read_dir(repo().join("assets/graphs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ron") {
            let out = streamloom(&["validate", path.to_str().unwrap()], &repo());
            assert!(out.status.success(), "{}: {}", path.display(), text(&out));
        }
    }
}

/// Each malformed graph, with the words its message must contain.
const MALFORMED: &[(&str, &str, &[&str])] = &[
    ("syntax", "(\n    format: 1,\n    nodes: [\n        (id: \"a\" kind: \"generator\"),\n    ],\n)", &["bad.ron:4:"]),
    ("no format", "(nodes: [])", &["missing `format`"]),
    ("newer format", "(format: 9, nodes: [])", &["graph format 9 is newer"]),
    ("unknown top field", "(format: 1, nodez: [])", &["bad.ron:1:", "nodez"]),
    ("no nodes", "(format: 1,\n nodes: [],\n)", &["bad.ron:2:", "the graph has no nodes: nothing to run"]),
    ("empty file", " \n", &["bad.ron:1:1:", "the file is empty"]),
    (
        "unknown kind",
        "(format: 1, nodes: [(id: \"a\", kind: \"filtr\", config: ())])",
        &["node `a`", "unknown node kind `filtr`"],
    ),
    (
        "newer node version",
        "(format: 1, nodes: [(id: \"a\", kind: \"null_sink\", version: 5, config: {})])",
        &["node `a`", "config version 5 is newer"],
    ),
    (
        "unknown config field",
        "(format: 1, nodes: [(id: \"g\", kind: \"generator\", config: (count: 1)), (id: \"f\", kind: \"filter\", config: (conditon: \".a\"))], wires: [(from: (\"g\", \"out\"), to: (\"f\", \"in\"))])",
        &["node `f`", "field `conditon`", "unknown field"],
    ),
    (
        "missing config field",
        "(format: 1, nodes: [(id: \"g\", kind: \"generator\", config: ()), (id: \"f\", kind: \"filter\", config: {})], wires: [(from: (\"g\", \"out\"), to: (\"f\", \"in\"))])",
        &["node `f`", "field `condition`", "missing field"],
    ),
    (
        "jq syntax",
        "(format: 1, nodes: [(id: \"g\", kind: \"generator\", config: ()), (id: \"f\", kind: \"filter\", config: (condition: \".a ==\"))], wires: [(from: (\"g\", \"out\"), to: (\"f\", \"in\"))])",
        &["node `f`", "field `condition`", "jq:", "column"],
    ),
    (
        "duplicate ids",
        "(format: 1, nodes: [(id: \"a\", kind: \"generator\", config: ()), (id: \"a\", kind: \"generator\", config: ())])",
        &["duplicate node id `a`"],
    ),
    (
        "missing node",
        "(format: 1, nodes: [(id: \"g\", kind: \"generator\", config: ())], wires: [(from: (\"g\", \"out\"), to: (\"nope\", \"in\"))])",
        &["wire `g.out -> nope.in`", "missing node `nope`"],
    ),
    (
        "missing port",
        "(format: 1, nodes: [(id: \"g\", kind: \"generator\", config: ()), (id: \"s\", kind: \"null_sink\", config: {})], wires: [(from: (\"g\", \"outt\"), to: (\"s\", \"in\"))])",
        &["no output `outt`", "outputs: out, errors"],
    ),
    (
        "type mismatch",
        "(format: 1, nodes: [(id: \"r\", kind: \"file_source\", config: (path: \"x.txt\", format: \"lines\")), (id: \"w\", kind: \"file_sink\", config: (path: \"o.csv\", format: \"csv\"))], wires: [(from: (\"r\", \"out\"), to: (\"w\", \"in\"))])",
        &["type mismatch", "emits text", "accepts record"],
    ),
    (
        "unconnected input",
        "(format: 1, nodes: [(id: \"s\", kind: \"null_sink\", config: {})])",
        &["node `s`", "required input `in` is not connected"],
    ),
    (
        "cycle",
        "(format: 1, nodes: [(id: \"g\", kind: \"generator\", config: ()), (id: \"a\", kind: \"map\", config: (expression: \".\")), (id: \"b\", kind: \"map\", config: (expression: \".\"))], wires: [(from: (\"g\", \"out\"), to: (\"a\", \"in\")), (from: (\"a\", \"out\"), to: (\"b\", \"in\")), (from: (\"b\", \"out\"), to: (\"a\", \"in\"))])",
        &["cycle", "a -> b -> a"],
    ),
];

#[test]
fn malformed_graphs_give_their_own_message_and_never_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bad.ron");
    for (name, graph, words) in MALFORMED {
        std::fs::write(&path, graph).unwrap();
        for args in [vec!["validate", "bad.ron"], vec!["--headless", "bad.ron"]] {
            let out = streamloom(&args, tmp.path());
            let t = text(&out);
            assert_eq!(out.status.code(), Some(2), "{name}: exit code\n{t}");
            assert!(!t.contains("panicked"), "{name}: {t}");
            for w in *words {
                assert!(t.contains(w), "{name}: expected `{w}` in:\n{t}");
            }
        }
    }
}

#[test]
fn problems_name_the_line_of_the_node() {
    let tmp = tempfile::tempdir().unwrap();
    let graph = "(\n    format: 1,\n    nodes: [\n        (id: \"g\", kind: \"generator\", config: ()),\n        (id: \"f\", kind: \"filter\", config: (condition: \".a ==\")),\n    ],\n    wires: [(from: (\"g\", \"out\"), to: (\"f\", \"in\"))],\n)\n";
    std::fs::write(tmp.path().join("g.ron"), graph).unwrap();
    let out = streamloom(&["validate", "g.ron"], tmp.path());
    // The place of the field itself (line 5, column 44), not only of its node.
    assert!(text(&out).contains("g.ron:5:44: node `f`, field `condition`"), "{}", text(&out));
}

#[test]
fn unset_environment_variable_is_a_clear_error_and_set_one_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let graph = "(format: 1, nodes: [(id: \"g\", kind: \"generator\", config: (count: 10, rate: None)), (id: \"w\", kind: \"file_sink\", config: (path: \"${SL_TEST_OUT}/x.jsonl\"))], wires: [(from: (\"g\", \"out\"), to: (\"w\", \"in\"))])";
    std::fs::write(tmp.path().join("g.ron"), graph).unwrap();
    let out = streamloom(&["--headless", "g.ron"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("node `w`, field `path`: error: environment variable `SL_TEST_OUT` is not set"),
        "{}",
        text(&out)
    );

    let out = Command::new(env!("CARGO_BIN_EXE_streamloom"))
        .args(["--headless", "g.ron"])
        .current_dir(tmp.path())
        .env("SL_TEST_OUT", tmp.path().join("o"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(read_jsonl(&tmp.path().join("o/x.jsonl")).len(), 10);
    assert!(
        std::fs::read_to_string(tmp.path().join("g.ron")).unwrap().contains("${SL_TEST_OUT}"),
        "file keeps the placeholder"
    );
}

#[test]
fn a_failing_node_ends_the_run_with_its_id_instead_of_hanging() {
    let tmp = tempfile::tempdir().unwrap();
    let graph = "(format: 1, nodes: [(id: \"read\", kind: \"file_source\", config: (path: \"does-not-exist.jsonl\")), (id: \"s\", kind: \"null_sink\", config: {})], wires: [(from: (\"read\", \"out\"), to: (\"s\", \"in\"))])";
    std::fs::write(tmp.path().join("g.ron"), graph).unwrap();
    let out = streamloom(&["--headless", "g.ron"], tmp.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("node `read`: error: cannot open") && t.contains("does-not-exist.jsonl"), "{t}");
}

#[test]
fn nodes_catalogue_lists_every_kind_as_text_and_json() {
    let out = streamloom(&["nodes", "--json"], &repo());
    assert!(out.status.success());
    let kinds: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = kinds.as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    for k in ["generator", "file_source", "filter", "map", "buffer", "file_sink", "console_sink", "null_sink"] {
        assert!(names.contains(&k), "{k} in {names:?}");
    }
    let out = streamloom(&["nodes"], &repo());
    assert!(String::from_utf8_lossy(&out.stdout).contains("file_source    source"));
}

#[test]
fn gen_events_writes_the_benchmark_stream() {
    let tmp = tempfile::tempdir().unwrap();
    let out = streamloom(&["gen-events", "100", "ev.jsonl"], tmp.path());
    assert!(out.status.success(), "{}", text(&out));
    let mut expected = Vec::new();
    streamloom_nodes::sample_events::write_jsonl(100, 42, &mut expected).unwrap();
    assert_eq!(std::fs::read(tmp.path().join("ev.jsonl")).unwrap(), expected);
}

#[test]
fn stop_after_stops_an_unbounded_source_gracefully_and_writes_a_chart() {
    let tmp = tempfile::tempdir().unwrap();
    let graph = "(format: 1, nodes: [(id: \"g\", kind: \"generator\", config: (count: None, rate: 5000.0)), (id: \"w\", kind: \"file_sink\", config: (path: \"o.jsonl\"))], wires: [(from: (\"g\", \"out\"), to: (\"w\", \"in\"))])";
    std::fs::write(tmp.path().join("g.ron"), graph).unwrap();
    let out = streamloom(
        &["--headless", "g.ron", "--stop-after", "1.5", "--metrics-out", "m.json", "--chart-out", "c.png"],
        tmp.path(),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("stopped after"));
    let m: Value = serde_json::from_slice(&std::fs::read(tmp.path().join("m.json")).unwrap()).unwrap();
    assert_eq!(m["outcome"], "stopped");
    let sent = m["metrics"]["nodes"]["g"]["events_out"].as_u64().unwrap();
    // Graceful: everything the source sent reached the file.
    assert_eq!(read_jsonl(&tmp.path().join("o.jsonl")).len() as u64, sent);
    assert!(sent > 1000, "{sent}");
    let png = std::fs::read(tmp.path().join("c.png")).unwrap();
    assert_eq!(&png[..4], b"\x89PNG");
}

#[test]
fn validate_prints_warnings_and_still_exits_0() {
    let tmp = tempfile::tempdir().unwrap();
    let graph = "(format: 1, nodes: [\n  (id: \"r\", kind: \"file_source\", config: (path: \"in.jsonl\")),\n  (id: \"s\", kind: \"null_sink\", config: ()),\n], wires: [\n  (from: (\"r\", \"out\"), to: (\"s\", \"in\"), when_full: drop_oldest),\n])";
    std::fs::write(tmp.path().join("g.ron"), graph).unwrap();
    let out = streamloom(&["validate", "g.ron"], tmp.path());
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("g.ron:2:4: node `r`: warning: output `errors` is not wired"), "{t}");
    assert!(
        t.contains("g.ron:5:41: wire `r.out -> s.in`, field `when_full`: warning: `drop_oldest` into sink `s`"),
        "{t}"
    );
    assert!(t.contains("g.ron: ok"), "{t}");
}

#[test]
fn a_file_that_is_not_utf8_is_refused_with_the_byte_offset() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("g.ron"), b"(format: 1,\n name: \"caf\xe9\")").unwrap();
    let out = streamloom(&["validate", "g.ron"], tmp.path());
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("g.ron:2:12: error: the file is not UTF-8 text: invalid byte 0xe9 at byte offset 23"), "{t}");
}

#[test]
fn stop_after_negative_or_nan_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    for bad in ["-1", "NaN", "inf"] {
        let out = streamloom(&["--headless", "g.ron", "--stop-after", bad], tmp.path());
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {t}");
        assert!(t.contains("--stop-after") && !t.contains("panicked"), "{bad}: {t}");
    }
}

#[test]
fn an_unset_variable_in_an_expression_is_a_located_problem_and_a_set_one_is_data() {
    let tmp = tempfile::tempdir().unwrap();
    let graph = "(format: 1, nodes: [\n  (id: \"g\", kind: \"generator\", config: (count: 3, payload: \"sequence\", seed: 1)),\n  (id: \"m\", kind: \"map\", config: (expression: \"{n: ., k: ${STREAMLOOM_TEST_FACTOR}}\")),\n  (id: \"s\", kind: \"file_sink\", config: (path: \"out.jsonl\")),\n], wires: [\n  (from: (\"g\", \"out\"), to: (\"m\", \"in\")),\n  (from: (\"m\", \"out\"), to: (\"s\", \"in\")),\n])";
    std::fs::write(tmp.path().join("g.ron"), graph).unwrap();
    let out = streamloom(&["--headless", "g.ron"], tmp.path());
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("g.ron:3:") && t.contains("STREAMLOOM_TEST_FACTOR") && t.contains("not set"), "{t}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_streamloom"))
        .args(["--headless", "g.ron", "--quiet"])
        .env("STREAMLOOM_TEST_FACTOR", "\"x\") | env | (\"")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let lines = std::fs::read_to_string(tmp.path().join("out.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 3, "{lines}");
    assert!(lines.contains(r#""k":"\"x\") | env | (\"""#), "the value is data, not program text: {lines}");
}

#[test]
fn a_debug_sink_prints_each_event_to_standard_error_headless() {
    let tmp = tempfile::tempdir().unwrap();
    let graph = tmp.path().join("debug.ron");
    std::fs::write(
        &graph,
        r#"(
    format: 1,
    nodes: [
        (id: "gen", kind: "generator", version: 1, config: {"count": 3, "payload": "sequence", "seed": 1}),
        (id: "dbg", kind: "debug", version: 1, config: {"name": "seen"}),
    ],
    wires: [(from: ("gen", "out"), to: ("dbg", "in"))],
)"#,
    )
    .unwrap();
    let out = streamloom(&["--headless", graph.to_str().unwrap()], tmp.path());
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("debug seen: ")).collect();
    assert_eq!(lines, vec!["debug seen: 0", "debug seen: 1", "debug seen: 2"], "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("debug seen"), "stderr only");
}

/// Runs generator (`count` events of `payload`) → filter (`condition`) → null_sink headless
/// and returns the summary's `last error:` line of the filter.
fn last_error_line(payload: &str, condition: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let graph = tmp.path().join("failing.ron");
    let condition = serde_json::to_string(condition).unwrap();
    std::fs::write(
        &graph,
        format!(
            r#"(
    format: 1,
    nodes: [
        (id: "gen", kind: "generator", version: 1, config: {{"count": 50, "payload": "{payload}", "seed": 1}}),
        (id: "f", kind: "filter", version: 1, config: {{"condition": {condition}}}),
        (id: "sink", kind: "null_sink", version: 1, config: {{}}),
    ],
    wires: [(from: ("gen", "out"), to: ("f", "in")), (from: ("f", "out"), to: ("sink", "in"))],
)"#
        ),
    )
    .unwrap();
    let out = streamloom(&["--headless", graph.to_str().unwrap()], tmp.path());
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    t.lines().find(|l| l.trim_start().starts_with("last error: ")).unwrap_or_else(|| panic!("{t}")).to_string()
}

/// A node whose events all fail says why in the summary, though its `errors` port is unwired
/// (the walkthrough saw "3000 of its 3000 event(s) failed" and no reason anywhere).
#[test]
fn the_summary_gives_the_reason_events_failed_when_errors_is_unwired() {
    let line = last_error_line("sample_events", "(.user | tonumber) > 5");
    assert!(line.contains("cannot parse") || line.contains("tonumber") || line.contains("number"), "{line}");
}

/// The reason the summary gives is the last one reported, not the first of a quick burst:
/// fifty events failing within a few milliseconds end with the fiftieth's reason.
#[test]
fn the_last_error_in_the_summary_is_the_last_reason_reported() {
    let line = last_error_line("sequence", r#"error("event \(.) is bad")"#);
    assert!(line.contains("event 49 is bad"), "{line}");
}

//! `file_source` on awkward input, with real files: blank lines are counted as skipped, a
//! duplicate CSV column fails the run naming it, integers beyond 64 bits never silently
//! become floats, a byte-order mark is skipped, and a FIFO never keeps a stopped run alive.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use streamloom_runtime::executor::{Engine, RunOptions, RunOutcome};
use streamloom_runtime::graph::Graph;
use streamloom_runtime::metrics::MetricsSnapshot;

/// `read` (file_source) -> `write` (file_sink), errors -> `dead` (file_sink).
fn read_graph(input: &Path, format: &str, out: &Path) -> Graph {
    graph(
        vec![
            node("read", "file_source", json!({"path": input.to_str().unwrap(), "format": format})),
            node("write", "file_sink", json!({"path": out.to_str().unwrap(), "flush_interval_ms": 20})),
            node("dead", "file_sink", json!({"path": out.with_extension("dead").to_str().unwrap()})),
        ],
        vec![wire("read", "write"), errors_wire("read", "dead")],
        16,
        4,
    )
}

fn read_file(text: &[u8], ext: &str, format: &str) -> (RunOutcome, MetricsSnapshot, Vec<Value>, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join(format!("in.{ext}"));
    std::fs::write(&input, text).unwrap();
    let out = dir.path().join("out.jsonl");
    let (outcome, s) = run(&read_graph(&input, format, &out));
    if outcome.is_success() {
        for id in ["write", "dead"] {
            assert_node_equation(n(&s, id));
        }
        let read = n(&s, "read");
        assert_eq!(read.held, 0);
        assert_eq!(read.events_out, n(&s, "write").events_in);
        assert_eq!(read.errors, n(&s, "dead").events_in);
    }
    (outcome, s, json_lines(&out), json_lines(&out.with_extension("dead")))
}

#[test]
fn blank_lines_are_counted_as_skipped_in_every_format() {
    let (outcome, s, got, dead) = read_file(b"{\"i\":1}\n\n\r\n{\"i\":2}\n\n", "jsonl", "jsonl");
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(got, vec![json!({"i": 1}), json!({"i": 2})]);
    assert!(dead.is_empty());
    assert_eq!(n(&s, "read").skipped, 3);

    let (_, s, got, _) = read_file(b"a\n\nb\n", "txt", "lines");
    assert_eq!(got, vec![json!("a"), json!("b")]);
    assert_eq!(n(&s, "read").skipped, 1);

    // Line 1 header, 2 row, 3 blank, 4-5 one row (a quoted line break), 6 blank, 7 row,
    // 8 blank, 9 a short row (dead letter), 10 and 11 blank.
    let csv = b"a,b\n1,2\n\n3,\"x\ny\"\n\n4,5\n\n6\n\n\n";
    let (outcome, s, got, dead) = read_file(csv, "csv", "csv");
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(got, vec![json!({"a": 1, "b": 2}), json!({"a": 3, "b": "x\ny"}), json!({"a": 4, "b": 5})]);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["event"]["line"], 9, "line numbers stay right across blank lines: {dead:?}");
    assert_eq!(n(&s, "read").skipped, 5);

    // No final line break, blank lines before the header, a short last row.
    let (_, s, got, dead) = read_file(b"\n\na,b\n1,2\n\n3", "csv", "csv");
    assert_eq!(got, vec![json!({"a": 1, "b": 2})]);
    assert_eq!(dead[0]["event"]["line"], 6, "{dead:?}");
    assert_eq!(n(&s, "read").skipped, 3);
    // Only blank lines.
    let (outcome, s, got, _) = read_file(b"\n\r\n\n", "csv", "csv");
    assert_eq!(outcome, RunOutcome::Completed);
    assert!(got.is_empty());
    assert_eq!(n(&s, "read").skipped, 3);
}

#[test]
fn a_duplicate_csv_column_fails_the_run_naming_the_column_and_the_file() {
    let (outcome, s, got, _) = read_file(b"user,value,user\nu1,1,u2\n", "csv", "csv");
    let RunOutcome::Failed(failures) = outcome else { panic!("{outcome:?}") };
    let (id, msg) = &failures[0];
    assert_eq!(id, "read");
    assert!(msg.contains("`user`") && msg.contains("in.csv"), "{msg}");
    assert!(got.is_empty());
    assert_eq!(n(&s, "read").events_out, 0);
}

#[test]
fn jsonl_integers_beyond_64_bits_go_to_errors_with_their_line() {
    let text = concat!(
        "{\"id\": 18446744073709551615, \"neg\": -9223372036854775808}\n", // u64::MAX, i64::MIN: fine
        "{\"id\": 123456789012345678901234567890}\n",                      // too big
        "{\"f\": 1e30, \"g\": 20000000000000000000.0}\n",                  // floats stay floats
        "{\"s\": \"123456789012345678901234567890\", \"t\": \"\\\"99999999999999999999\"}\n",
        "[1, -9223372036854775809]\n", // too small
    );
    let (outcome, s, got, dead) = read_file(text.as_bytes(), "jsonl", "jsonl");
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0]["id"], json!(u64::MAX));
    assert_eq!(got[1]["f"].as_f64(), Some(1e30));
    assert_eq!(got[2]["s"], "123456789012345678901234567890");
    let lines: Vec<u64> = dead.iter().map(|d| d["event"]["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, vec![2, 5]);
    for d in &dead {
        let reason = d["reason"].as_str().unwrap();
        assert!(reason.contains("does not fit in 64 bits"), "{reason}");
    }
    assert!(dead[0]["reason"].as_str().unwrap().contains("123456789012345678901234567890"));
    assert_eq!(n(&s, "read").errors, 2);
}

#[test]
fn csv_integers_beyond_64_bits_keep_their_digits() {
    let (outcome, _, got, _) =
        read_file(b"a,b,c\n123456789012345678901234567890,18446744073709551615,-99999999999999999999\n", "csv", "csv");
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(got, vec![json!({"a": "123456789012345678901234567890", "b": u64::MAX, "c": "-99999999999999999999"})]);
}

#[test]
fn a_byte_order_mark_at_the_start_is_skipped() {
    let (_, _, got, dead) = read_file(b"\xEF\xBB\xBF{\"i\":1}\n{\"i\":2}\n", "jsonl", "jsonl");
    assert_eq!(got, vec![json!({"i": 1}), json!({"i": 2})]);
    assert!(dead.is_empty(), "{dead:?}");
    let (_, _, got, _) = read_file(b"\xEF\xBB\xBFfirst\nsecond", "txt", "lines");
    assert_eq!(got, vec![json!("first"), json!("second")]);
    let (_, _, got, _) = read_file(b"\xEF\xBB\xBFuser,n\nu1,1\n", "csv", "csv");
    assert_eq!(got, vec![json!({"user": "u1", "n": 1})]);
    // Only at the very start: later it is data.
    let (_, _, got, _) = read_file(b"a\n\xEF\xBB\xBFb\n", "txt", "lines");
    assert_eq!(got, vec![json!("a"), json!("\u{feff}b")]);
}

fn mkfifo(dir: &Path) -> std::path::PathBuf {
    let fifo = dir.join("pipe");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    fifo
}

#[test]
fn a_fifo_without_a_writer_does_not_keep_a_stopped_run_alive() {
    for format in ["lines", "jsonl"] {
        let dir = tempfile::tempdir().unwrap();
        let fifo = mkfifo(dir.path());
        let out = dir.path().join("out.jsonl");
        let engine = Engine::new(Some(2)).unwrap();
        let h = start(&engine, &read_graph(&fifo, format, &out), RunOptions::default());
        std::thread::sleep(Duration::from_millis(300));
        let stopped = Instant::now();
        h.stop();
        assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped, "{format}");
        assert!(stopped.elapsed() < Duration::from_secs(2), "{format}: ended {:?} after Stop", stopped.elapsed());
        let s = h.snapshot_now();
        assert_eq!(n(&s, "read").events_out, 0);
        assert_eq!(n(&s, "read").held, 0);
    }
}

#[test]
fn a_fifo_whose_writer_goes_silent_delivers_what_it_wrote_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = mkfifo(dir.path());
    let out = dir.path().join("out.jsonl");
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &read_graph(&fifo, "jsonl", &out), RunOptions::default());
    // The writer stays open and silent after three lines (one blank).
    let mut writer = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    writer.write_all(b"{\"i\":1}\n\n{\"i\":2}\n{\"i\":3}\n").unwrap();
    writer.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let stopped = Instant::now();
    h.stop();
    assert_eq!(wait(&engine, &h, 5), RunOutcome::Stopped);
    assert!(stopped.elapsed() < Duration::from_secs(2), "ended {:?} after Stop", stopped.elapsed());
    let s = h.snapshot_now();
    let read = n(&s, "read");
    assert_eq!(read.skipped, 1);
    assert_eq!(read.held, 0);
    // Lines still in the reader's hands were never parsed: not events, nothing to count.
    assert_eq!(read.dropped, 0);
    assert_node_equation(n(&s, "write"));
    assert_eq!(json_lines(&out), vec![json!({"i": 1}), json!({"i": 2}), json!({"i": 3})]);
    drop(writer);
}

#[test]
fn a_stop_mid_file_sends_a_prefix_and_counts_what_it_parsed_but_did_not_send() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.jsonl");
    let text: String = (1..=300_000).map(|i| format!("{{\"i\":{i}}}\n")).collect();
    std::fs::write(&input, text).unwrap();
    let out = dir.path().join("out.jsonl");
    let mut g = read_graph(&input, "jsonl", &out);
    g.settings.batch_size = Some(256);
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    std::thread::sleep(Duration::from_millis(150));
    h.stop();
    assert_eq!(wait(&engine, &h, 10), RunOutcome::Stopped);
    let s = h.snapshot_now();
    let (read, write) = (n(&s, "read"), n(&s, "write"));
    assert_eq!(read.held, 0);
    assert_eq!(read.events_out, write.events_in, "everything sent reached the sink");
    assert_node_equation(write);
    let got: Vec<u64> = json_lines(&out).iter().map(|v| v["i"].as_u64().unwrap()).collect();
    assert_eq!(got, (1..=got.len() as u64).collect::<Vec<_>>(), "a prefix of the file, in order");
    assert_eq!(got.len() as u64, write.passed);
    eprintln!("stopped after {} of 300000 lines; {} parsed and not sent (dropped)", got.len(), read.dropped);
}

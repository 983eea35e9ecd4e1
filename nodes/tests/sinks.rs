//! Sinks tell the truth, through the real executor: a full disk (a real 256 KiB tmpfs) fails
//! the run naming the node, the path and the events not written, and the file ends on a whole
//! record; a sink blocked on a reader that never reads is cancelled after the stop timeout
//! with what it held counted; every sink counts what it wrote as `passed`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;
use streamloom_runtime::executor::{Engine, RunOptions, RunOutcome};

/// A tmpfs of 256 KiB mounted on a temporary folder, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Some(SmallDisk { dir })
        } else {
            eprintln!(
                "\n*** SKIPPED: cannot mount a tmpfs (needs root); the full-disk behaviour of file_sink is NOT tested ***\n"
            );
            None
        }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// The number in "... N event(s) ..." of a failure message.
fn unwritten_in(msg: &str) -> u64 {
    let before = msg.split(" event(s)").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap_or_else(|_| panic!("no count in {msg:?}"))
}

fn full_disk_case(format: &str, append_to: Option<&str>) {
    let Some(disk) = SmallDisk::mount() else { return };
    let out: PathBuf = disk.path().join(format!("out.{format}"));
    if let Some(existing) = append_to {
        std::fs::write(&out, existing).unwrap();
    }
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 50_000, "rate": null, "payload": "sample_events", "seed": 3})),
            node(
                "write",
                "file_sink",
                json!({"path": out.to_str().unwrap(), "format": format, "append": append_to.is_some(), "flush_interval_ms": 10}),
            ),
        ],
        vec![wire("gen", "write")],
        64,
        100,
    );
    let (outcome, s) = run(&g);
    let RunOutcome::Failed(failures) = outcome else { panic!("a full disk fails the run: {outcome:?}") };
    assert_eq!(failures.len(), 1, "{failures:?}");
    let (id, msg) = &failures[0];
    assert_eq!(id, "write");
    eprintln!("failure message: {msg}");
    assert!(msg.contains("`write`"), "names the node: {msg}");
    assert!(msg.contains(out.to_str().unwrap()), "names the path: {msg}");
    assert!(msg.contains("No space left"), "says why: {msg}");
    let sink = n(&s, "write");
    assert_node_equation(sink);
    assert_eq!(sink.held, 0);
    assert!(sink.passed > 0 && sink.errors > 0, "{sink:?}");
    assert_eq!(unwritten_in(msg), sink.errors, "the message counts what was not written: {msg}");
    assert_eq!(sink.message.as_deref(), Some(msg.as_str()));

    // The file ends on a whole record and holds exactly what `passed` says.
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes.last(), Some(&b'\n'), "the file ends on a whole record");
    let existing = append_to.map_or(0, |t| t.lines().count() as u64);
    match format {
        "jsonl" => {
            let lines = json_lines(&out);
            assert_eq!(lines.len() as u64, existing + sink.passed);
            for (i, l) in lines.iter().skip(existing as usize).enumerate() {
                assert!(l["ts"].is_i64() && l["user"].is_string(), "record {i} whole: {l}");
            }
        }
        _ => {
            let mut rdr = csv::ReaderBuilder::new().has_headers(false).from_reader(bytes.as_slice());
            let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
            let header = usize::from(append_to.is_none());
            assert_eq!(rows.len() as u64, existing + header as u64 + sink.passed);
            assert!(rows.iter().all(|r| r.len() == 4), "every row whole");
        }
    }
    // Upstream: the failure stopped the generator; what the sink never took stayed on the
    // wire (the runtime's wire accounting, not the sink's, covers it).
    assert!(n(&s, "gen").events_out >= sink.events_in);
}

#[test]
fn a_full_disk_fails_the_run_with_true_counts_and_whole_jsonl_records() {
    full_disk_case("jsonl", None);
}

#[test]
fn a_full_disk_appending_csv_keeps_the_old_rows_and_ends_on_a_whole_row() {
    full_disk_case("csv", Some("ts,user,type,value\n1,u0,view,1\n"));
}

#[test]
fn a_sink_blocked_on_a_reader_that_never_reads_is_cancelled_with_what_it_held_counted() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // A reader that opens the FIFO and never reads: the pipe fills, the writer blocks.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::File::open(fifo).unwrap())
    };
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 1_000_000, "rate": null, "payload": "sequence", "seed": 1})),
            // Past the first tick, no flush before 256 KiB are buffered: four times what the
            // pipe holds. The records the pipe took must still be counted.
            node("write", "file_sink", json!({"path": fifo.to_str().unwrap(), "flush_interval_ms": 600_000})),
        ],
        vec![wire("gen", "write")],
        256,
        256,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let options = RunOptions { stop_timeout: Some(Duration::from_millis(300)), ..RunOptions::default() };
    let h = start(&engine, &g, options);
    let reader = reader.join().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let stopped_at = Instant::now();
    h.stop();
    let outcome = wait(&engine, &h, 10);
    assert!(stopped_at.elapsed() < Duration::from_secs(3), "ended soon after the stop timeout");
    assert!(matches!(outcome, RunOutcome::Failed(_)), "cancelled: {outcome:?}");
    let s = h.snapshot_now();
    let sink = n(&s, "write");
    assert!(sink.held + sink.lost_on_kill > 0, "it held pending writes: {sink:?}");
    assert!(sink.passed > 0, "the pipe took some: {sink:?}");
    assert_node_equation(sink);
    // The reader goes away: the blocked write ends (broken pipe) and counts nothing more.
    drop(reader);
    std::thread::sleep(Duration::from_millis(200));
    let after = h.snapshot_now();
    assert_eq!(n(&after, "write").passed, sink.passed, "nothing counted after the cancel");
    assert_node_equation(n(&after, "write"));
}

#[test]
fn every_sink_counts_what_it_wrote_as_passed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 5000, "rate": null, "payload": "sample_events", "seed": 1})),
            node("keep", "filter", json!({"condition": ".type == \"purchase\""})),
            node("null", "null_sink", json!({})),
            node("file", "file_sink", json!({"path": out.to_str().unwrap(), "format": "lines"})),
            node("few", "generator", json!({"count": 3, "rate": null, "payload": "sequence", "seed": 1})),
            node("console", "console_sink", json!({"prefix": "sinks-test: "})),
        ],
        vec![wire("gen", "null"), wire("gen", "keep"), wire("keep", "file"), wire("few", "console")],
        64,
        100,
    );
    let (outcome, s) = run(&g);
    assert_eq!(outcome, RunOutcome::Completed);
    for id in ["null", "file", "console"] {
        let sink = n(&s, id);
        assert_node_equation(sink);
        assert_eq!(sink.passed, sink.events_in, "{id}");
        assert_eq!(sink.held, 0, "{id}");
    }
    assert_eq!(n(&s, "null").passed, 5000);
    assert_eq!(n(&s, "console").passed, 3);
    assert_eq!(json_lines(&out).len() as u64, n(&s, "file").passed);
}

/// The files in `dir` whose names start with `prefix`, sorted, with their lines.
fn files_and_lines(dir: &Path, prefix: &str) -> Vec<(String, Vec<serde_json::Value>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    files.sort();
    files.iter().map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), json_lines(p))).collect()
}

#[test]
fn rotation_by_size_splits_between_whole_records_and_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.jsonl");
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 10_000, "rate": null, "payload": "sequence", "seed": 1})),
            node("write", "file_sink", json!({"path": path.to_str().unwrap(), "rotate_bytes": 20_000})),
        ],
        vec![wire("gen", "write")],
        64,
        100,
    );
    let (outcome, snap) = run(&g);
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(n(&snap, "write").passed, 10_000);
    let files = files_and_lines(dir.path(), "events.");
    assert!(files.len() >= 3, "rotated into several files: {:?}", files.iter().map(|f| &f.0).collect::<Vec<_>>());
    // The file being written keeps the name; the rotated ones carry a time.
    assert!(files.iter().any(|f| f.0 == "events.jsonl"));
    let mut all: Vec<serde_json::Value> = Vec::new();
    for (name, lines) in &files {
        let size = std::fs::metadata(dir.path().join(name)).unwrap().len();
        assert!(size <= 20_000, "{name} holds {size} bytes, over the limit");
        if name != "events.jsonl" {
            assert!(size > 20_000 - 200, "{name} was rotated early at {size} bytes");
        }
        all.extend(lines.iter().cloned());
    }
    let mut seqs: Vec<u64> = all.iter().map(|v| v["seq"].as_u64().or_else(|| v.as_u64()).unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (0..10_000).collect::<Vec<u64>>(), "every record once, whole");
}

#[test]
fn atomic_files_appear_under_their_name_only_when_complete() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 300, "rate": 1000.0, "payload": "sequence", "seed": 1})),
            node(
                "write",
                "file_sink",
                json!({"path": path.to_str().unwrap(), "atomic": true, "flush_interval_ms": 10}),
            ),
        ],
        vec![wire("gen", "write")],
        64,
        10,
    );
    let engine = Engine::new(Some(2)).unwrap();
    let h = start(&engine, &g, RunOptions::default());
    let partial = dir.path().join(".out.jsonl.partial");
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(std::fs::metadata(&partial).unwrap().len() > 0, "records are written to the partial file");
    assert!(!path.exists(), "the final name does not exist before the stream ends");
    assert_eq!(engine.block_on(h.wait()), RunOutcome::Completed);
    assert!(!partial.exists());
    assert_eq!(json_lines(&path).len(), 300);
}

#[test]
fn rotation_by_age_starts_a_new_file_and_bad_durations_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.jsonl");
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 25, "rate": 10.0, "payload": "sequence", "seed": 1})),
            node(
                "write",
                "file_sink",
                json!({"path": path.to_str().unwrap(), "rotate_every": "1s", "atomic": true, "flush_interval_ms": 50}),
            ),
        ],
        vec![wire("gen", "write")],
        64,
        1,
    );
    let (outcome, snap) = run(&g);
    assert_eq!(outcome, RunOutcome::Completed);
    assert_eq!(n(&snap, "write").passed, 25);
    let files = files_and_lines(dir.path(), "slow.");
    assert!(files.len() >= 2, "{:?}", files.iter().map(|f| &f.0).collect::<Vec<_>>());
    assert!(files.iter().all(|f| f.0 != "slow.jsonl"), "with atomic rotation every part has a rotated name");
    assert_eq!(files.iter().map(|f| f.1.len()).sum::<usize>(), 25);
    assert!(!dir.path().join(".slow.jsonl.partial").exists());
    let kind = streamloom_nodes::builtin_registry().get("file_sink").cloned().unwrap();
    let problems = kind.validate(&json!({"path": "x.jsonl", "rotate_every": "soon", "atomic": true, "append": true}));
    let fields: Vec<&str> = problems.iter().filter_map(|p| p.field.as_deref()).collect();
    assert_eq!(fields, ["atomic", "rotate_every"], "{problems:?}");
}

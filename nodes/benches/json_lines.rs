//! Nanoseconds per line of the ways a JSON Lines source reads a record, on one thread:
//! serde_json's full parse, the quick scan alone, the scan building the whole object, and the
//! projection of two fields (what the filter behind a source reads) by serde_json and from
//! the scan. Run with `cargo bench -p streamloom-nodes --bench json_lines -- FILE [ONLY]` (FILE:
//! `streamloom gen-events 1000000 FILE`); prints the median of 5 passes over the file.

use std::hint::black_box;
use std::time::Instant;

use serde_json::Value;
use streamloom_nodes::sources::json_projection::Projection;
use streamloom_nodes::sources::json_scan::ObjectScan;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: json_lines FILE (JSON Lines, e.g. from `streamloom gen-events 1000000 FILE`)");
        return;
    };
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return;
        }
    };
    let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
    println!("{} lines of {path}", lines.len());
    let fields = || vec!["type".to_string(), "ts".to_string()];
    measure("serde_json full parse", &lines, |line| serde_json::from_slice::<Value>(line).is_ok());
    let mut scan = ObjectScan::default();
    measure("quick scan", &lines, |line| scan.scan(line));
    let mut scan = ObjectScan::default();
    measure("quick scan + object", &lines, |line| scan.scan(line) && scan.object(line).is_some());
    let mut projection = Projection::new(fields());
    measure("projection by serde_json", &lines, |line| projection.read(line).is_some());
    let (mut projection, mut scan) = (Projection::new(fields()), ObjectScan::default());
    measure("projection from the scan", &lines, |line| {
        scan.scan(line) && projection.read_scanned(&scan, line).is_some()
    });
}

/// Runs `read` over every line 5 times; prints the median nanoseconds per line. Only the
/// measurements whose names hold `ONLY` (the second argument) run.
fn measure(name: &str, lines: &[&[u8]], mut read: impl FnMut(&[u8]) -> bool) {
    if std::env::args().skip(1).filter(|a| !a.starts_with('-')).nth(1).is_some_and(|only| !name.contains(&only)) {
        return;
    }
    let mut passes = Vec::new();
    let mut taken = 0;
    for _ in 0..5 {
        let start = Instant::now();
        taken = lines.iter().filter(|line| read(black_box(line))).count();
        passes.push(start.elapsed().as_nanos() as f64 / lines.len() as f64);
    }
    passes.sort_by(f64::total_cmp);
    println!("{name:<28} {:7.1} ns/line  (min {:.1}, max {:.1}; {taken} lines taken)", passes[2], passes[0], passes[4]);
}

//! Benchmark of the expression engine: native evaluator vs jaq-only.
//!
//! Run with `cargo run --release --example expr_bench [N]` (default 1,000,000 events).
//! Besides the filter/map pair, it prints the per-event cost of the one-node pipeline
//! `select(.type == "purchase") | .value *= 1.1` (native) and of a jaq-only expression, the
//! figures to compare before and after a change to the engine (same file, same machine).
//! Each event is a JSON line like
//! `{"ts":1700000000123,"user":"u042","type":"purchase","value":123.45}`.

use std::hint::black_box;
use std::time::Instant;

use serde_json::Value;
use streamloom_nodes::expr::Expr;

const FILTER: &str = r#"select(.type == "purchase")"#;
const MAP: &str = ".value *= 1.1";
/// One expression doing both: runs natively.
const PIPELINE: &str = r#"select(.type == "purchase") | .value *= 1.1"#;
/// Outside the native subset: runs through jaq.
const JAQ_ONLY: &str = r#"to_entries | map(select(.key != "user")) | from_entries"#;

fn lines(n: usize) -> Vec<String> {
    let types = ["purchase", "view", "click", "cart"];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|i| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let ty = types[(seed % 4) as usize];
            let user = (seed >> 8) % 1000;
            let value = if seed.is_multiple_of(5) {
                format!("{}", (seed >> 20) % 500)
            } else {
                format!("{}.{:02}", (seed >> 20) % 500, (seed >> 40) % 100)
            };
            format!(r#"{{"ts":{},"user":"u{user:03}","type":"{ty}","value":{value}}}"#, 1_700_000_000_123u64 + i as u64)
        })
        .collect()
}

/// Runs `f` over every line `REPS` times and returns the best ns/event.
fn best(lines: &[String], mut f: impl FnMut(&str) -> usize) -> f64 {
    const REPS: usize = 3;
    let mut best = f64::MAX;
    for _ in 0..REPS {
        let t = Instant::now();
        let mut acc = 0usize;
        for line in lines {
            acc = acc.wrapping_add(f(line));
        }
        black_box(acc);
        best = best.min(t.elapsed().as_nanos() as f64 / lines.len() as f64);
    }
    best
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or(Value::Null)
}

struct Run {
    filter: f64,
    map: f64,
    e2e: f64,
}

/// Streaming loops (each record is parsed, processed, serialized while hot in cache).
fn run(lines: &[String], filter: &Expr, map: &Expr, buf: &mut Vec<u8>) -> Run {
    let filter_ns = best(lines, |l| usize::from(filter.test(&parse(l)).unwrap_or(false)));
    let map_ns = best(lines, |l| {
        let mut n = 0;
        let _ = map.apply(parse(l), &mut |out| {
            buf.clear();
            let _ = serde_json::to_writer(&mut *buf, &out);
            n += buf.len();
        });
        n
    });
    let e2e_ns = best(lines, |l| {
        let v = parse(l);
        let mut n = 0;
        if filter.test(&v).unwrap_or(false) {
            let _ = map.apply(v, &mut |out| {
                buf.clear();
                let _ = serde_json::to_writer(&mut *buf, &out);
                n += buf.len();
            });
        }
        n
    });
    Run { filter: filter_ns, map: map_ns, e2e: e2e_ns }
}

/// Checks that both paths give identical results on every line.
fn identical(lines: &[String], a: (&Expr, &Expr), b: (&Expr, &Expr)) -> (usize, bool) {
    let mut passed = 0;
    for l in lines {
        let v = parse(l);
        let (ta, tb) = (a.0.test(&v).ok(), b.0.test(&v).ok());
        if ta != tb {
            return (passed, false);
        }
        passed += usize::from(ta == Some(true));
        let (mut oa, mut ob) = (Vec::new(), Vec::new());
        let ra = a.1.apply(v.clone(), &mut |o| oa.push(o.to_string()));
        let rb = b.1.apply(v, &mut |o| ob.push(o.to_string()));
        if oa != ob || ra.is_ok() != rb.is_ok() {
            return (passed, false);
        }
    }
    (passed, true)
}

/// Per-event cost of `expr` (parse + apply + serialize, minus the parse+serialize baseline).
fn cost(lines: &[String], expr: &Expr, baseline: f64, buf: &mut Vec<u8>) -> f64 {
    best(lines, |l| {
        let mut n = 0;
        let _ = expr.apply(parse(l), &mut |out| {
            buf.clear();
            let _ = serde_json::to_writer(&mut *buf, &out);
            n += buf.len();
        });
        n
    }) - baseline
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // jaq recurses: evaluate on a big stack, as a `map` node does for each batch.
    let worker = std::thread::Builder::new().stack_size(512 << 20).spawn(|| bench().map_err(|e| e.to_string()))?;
    worker.join().map_err(|_| "benchmark thread panicked")??;
    Ok(())
}

fn bench() -> Result<(), Box<dyn std::error::Error>> {
    let n = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1_000_000usize);
    let lines = lines(n);
    let mut buf = Vec::with_capacity(256);

    let parse_ns = best(&lines, |l| usize::from(parse(l).is_object()));
    let parse_ser_ns = best(&lines, |l| {
        buf.clear();
        let _ = serde_json::to_writer(&mut buf, &parse(l));
        buf.len()
    });

    let native = (Expr::compile(FILTER)?, Expr::compile(MAP)?);
    assert!(native.0.is_native() && native.1.is_native());
    let jaq = (Expr::compile_jaq_only(FILTER)?, Expr::compile_jaq_only(MAP)?);

    let a = run(&lines, &native.0, &native.1, &mut buf);
    let b = run(&lines, &jaq.0, &jaq.1, &mut buf);
    let (passed, same) = identical(&lines, (&native.0, &native.1), (&jaq.0, &jaq.1));

    println!("events: {n}   sample: {}", lines[0]);
    println!("best of 3 runs, ns/event; \"expr\" = loop minus the parse (+serialize) baseline");
    println!("baseline: parse {parse_ns:.0}, parse+serialize {parse_ser_ns:.0}");
    println!(
        "{:<9} {:>13} {:>8} {:>22} {:>8} {:>26}",
        "path", "parse+filter", "(expr)", "parse+map+serialize", "(expr)", "parse+filter+map+ser"
    );
    for (name, r) in [("native", &a), ("jaq-only", &b)] {
        println!(
            "{name:<9} {:>13.0} {:>8.0} {:>22.0} {:>8.0} {:>26.0}",
            r.filter,
            r.filter - parse_ns,
            r.map,
            r.map - parse_ser_ns,
            r.e2e
        );
    }
    println!(
        "expression cost speed-up: filter {:.1}x, map {:.1}x; end-to-end {:.1}x",
        (b.filter - parse_ns) / (a.filter - parse_ns).max(1.0),
        (b.map - parse_ser_ns) / (a.map - parse_ser_ns).max(1.0),
        b.e2e / a.e2e
    );
    println!("filter passed {passed} / {n}; native and jaq outputs identical: {same}");

    let pipeline = Expr::compile(PIPELINE)?;
    assert!(pipeline.is_native());
    let jaq_only = Expr::compile(JAQ_ONLY)?;
    assert!(!jaq_only.is_native());
    let pipeline_ns = cost(&lines, &pipeline, parse_ser_ns, &mut buf);
    let jaq_only_ns = cost(&lines, &jaq_only, parse_ser_ns, &mut buf);
    println!("per-event expression cost (ns, parse+serialize baseline removed):");
    println!("  native   {PIPELINE}: {pipeline_ns:.0}");
    println!("  jaq-only {JAQ_ONLY}: {jaq_only_ns:.0}");
    Ok(())
}

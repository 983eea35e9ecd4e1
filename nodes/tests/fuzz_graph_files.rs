//! Fuzzing graph files: mutated copies of `assets/graphs/**/*.ron` (byte flips, deletions,
//! duplicated spans, deep nesting, nested `${`, huge numbers, NaN, unknown choices, invalid
//! UTF-8) go through load + validate (which compiles expressions through the registry) and,
//! when valid, build. No case may panic, and every problem must have its place.
//!
//! CI runs `graph_files_survive_mutation` (proptest, `FUZZ_CASES` cases, 2,000 by default),
//! every expression as written (the compiler refuses what nests too deep, with its column).
//! The long run is ignored: `FUZZ_CASES=100000 cargo test --release -p streamloom-nodes
//! --test fuzz_graph_files -- --ignored --nocapture fuzz_many` runs every case as written in
//! child processes, prints how many ran, were rejected and accepted, and lists every panic
//! and abort (a stack overflow cannot be caught in-process) with a reproducer file. Every
//! `FUZZ_RUN_EVERY`-th case (every second one by default) that is accepted also runs on the real engine for
//! 100 ms and is stopped: the run must end, and every node's and wire's accounting must add up.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use proptest::prelude::*;
use serde_json::Value;
use streamloom_nodes::builtin_registry;
use streamloom_runtime::Registry;
use streamloom_runtime::graph::parse_bytes;
use streamloom_runtime::registry::{BuildContext, ParamKind};
use streamloom_runtime::validate::validate_located;

/// The seed files: every example graph.
fn seeds() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/graphs");
    let mut files = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "ron") {
                files.push(path);
            }
        }
    }
    files.sort();
    let seeds: Vec<Vec<u8>> = files.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    assert!(seeds.len() >= 2, "example graphs found: {files:?}");
    seeds
}

/// A small deterministic generator (splitmix64), so a case is reproducible from its number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const NESTING: &[&str] =
    &["[", "(", "{", "Some(", "(a: ", "{\"a\": ", "${", "$${", "(.a + ", "[.[", "{a: ", "if . then "];
const NUMBERS: &[&str] = &[
    "0",
    "-1",
    "NaN",
    "inf",
    "-inf",
    "1e30",
    "-1e30",
    "1e-30",
    "1e400",
    "18446744073709551616",
    "99999999999999999999999999999999999999999",
    "-9223372036854775809",
    "0x7fffffffffffffff",
    "1_000",
];
const STRINGS: &[&str] = &[
    "\"bogus\"",
    "\"\"",
    "\"${\"",
    "\"${A${B}}\"",
    "\"drop_oldest\"",
    "\"\\u{0}\"",
    "\"\\u{zz}\"",
    "r#\"raw\"#",
    "\"${HOME}\"",
    "\". as $x | $x\"",
    "\"sequence\"",
    "\"csv\"",
];

/// Mutates `text` with 1 to 3 random edits.
fn mutate(rng: &mut Rng, mut text: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + rng.below(3) {
        let len = text.len().max(1);
        let at = rng.below(len + 1).min(text.len());
        match rng.below(10) {
            0 => {
                if !text.is_empty() {
                    let i = rng.below(text.len());
                    text[i] ^= 1 << rng.below(8);
                }
            }
            1 => {
                let n = rng.below(64).min(text.len() - at);
                text.drain(at..at + n);
            }
            2 => {
                let n = rng.below(200).min(text.len() - at);
                let span = text[at..at + n].to_vec();
                let to = rng.below(text.len() + 1);
                let times = if rng.below(4) == 0 { 1 + rng.below(50) } else { 1 };
                for _ in 0..times {
                    text.splice(to..to, span.iter().copied());
                }
            }
            3 | 4 => {
                let open = rng.pick(NESTING);
                let depth = [2, 20, 40, 100, 1_000, 10_000, 100_000][rng.below(7)];
                let insert = open.repeat(depth);
                text.splice(at..at, insert.into_bytes());
            }
            5 => replace_token(rng, &mut text, |c| c.is_ascii_digit() || c == b'.', NUMBERS),
            6 => replace_token(rng, &mut text, |c| c == b'"', STRINGS),
            7 => {
                let bytes: &[&[u8]] = &[b"\xff", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x92", b"\xed\xa0\x80", b"\x00"];
                text.splice(at..at, bytes[rng.below(bytes.len())].iter().copied());
            }
            8 => {
                let s = rng.pick(NUMBERS);
                text.splice(at..at, s.bytes());
            }
            _ => {
                let huge = "x".repeat([10, 1_000, 100_000, 1_000_000][rng.below(4)]);
                let s = format!("\"{huge}\"");
                replace_token(rng, &mut text, |c| c == b'"', &[s.as_str()]);
            }
        }
    }
    text
}

/// Replaces a random token starting with a byte matching `starts` by one of `with`.
fn replace_token(rng: &mut Rng, text: &mut Vec<u8>, starts: impl Fn(u8) -> bool, with: &[&str]) {
    let starts_at: Vec<usize> = (0..text.len()).filter(|&i| starts(text[i])).collect();
    if starts_at.is_empty() {
        return;
    }
    let i = starts_at[rng.below(starts_at.len())];
    let quoted = text[i] == b'"';
    let mut end = i + 1;
    if quoted {
        while end < text.len() && text[end] != b'"' {
            end += if text[end] == b'\\' { 2 } else { 1 };
        }
        end = (end + 1).min(text.len());
    } else {
        while end < text.len() && (text[end].is_ascii_alphanumeric() || b"._-+".contains(&text[end])) {
            end += 1;
        }
    }
    let replacement = rng.pick(with);
    text.splice(i..end, replacement.bytes());
}

/// Case `n`: its seed file and mutations depend on `n` only.
fn case(seeds: &[Vec<u8>], n: u64) -> Vec<u8> {
    let mut rng = Rng(n.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x5eed);
    let seed = seeds[rng.below(seeds.len())].clone();
    mutate(&mut rng, seed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Refused by the loader (syntax, structure, depth, numbers, UTF-8).
    LoadRejected,
    /// Loaded, refused by validation.
    Invalid,
    /// Loaded and valid (warnings allowed); every node built.
    Accepted,
}

/// How expressions are compiled. `Expr::compile` (owned elsewhere) is getting a nesting limit;
/// until it has one, a deeply nested expression overflows the stack, which no test can catch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exprs {
    /// Every expression as written.
    All,
    /// Expressions longer than 4 KiB or nested deeper than 64 brackets are replaced by `.`
    /// before validation (counted), so the loader and validator are tested on everything else.
    Shallow,
}

fn bracket_depth(s: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for c in s.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Replaces deep expressions by `.`; returns how many.
fn shallow_expressions(graph: &mut streamloom_runtime::Graph, registry: &Registry) -> usize {
    let mut replaced = 0;
    for node in &mut graph.nodes {
        let Some(kind) = registry.get(&node.kind) else { continue };
        for p in kind.params().into_iter().filter(|p| p.kind == ParamKind::Expression) {
            if let Some(v) = node.config.get_mut(&p.name)
                && let Some(s) = v.as_str()
                && (s.len() > 4096 || bracket_depth(s) > 64)
            {
                *v = Value::String(".".into());
                replaced += 1;
            }
        }
    }
    replaced
}

/// Loads, validates and (when valid) builds one file; panics on a problem without a place.
fn run_case(bytes: &[u8], registry: &Registry, exprs: Exprs) -> Outcome {
    let (mut graph, map) = match parse_bytes(bytes) {
        Err(problems) => {
            for p in &problems.0 {
                assert!(p.location.line_col.is_some(), "load problem without line:col: {p}");
            }
            return Outcome::LoadRejected;
        }
        Ok(g) => g,
    };
    if exprs == Exprs::Shallow {
        shallow_expressions(&mut graph, registry);
    }
    let problems = validate_located(&graph, registry, &map);
    for p in &problems.0 {
        assert!(p.location.line_col.is_some(), "validation problem without line:col: {p}");
        assert!(p.to_string().len() < 4_000, "long message: {} bytes", p.to_string().len());
    }
    if problems.has_errors() {
        return Outcome::Invalid;
    }
    let tmp = std::env::temp_dir();
    for node in &graph.nodes {
        if let Some(kind) = registry.get(&node.kind) {
            let ctx = BuildContext {
                node_id: node.id.clone(),
                base_dir: tmp.clone(),
                batch_size: 1024,
                env: std::sync::Arc::new(|_: &str| None),
            };
            // `${VAR}`s are not substituted here; a build problem is fine, a panic is not.
            let _ = kind.build(&node.config, &ctx);
        }
    }
    Outcome::Accepted
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn cases_from_env(default: u64) -> u64 {
    env_u64("FUZZ_CASES", default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases_from_env(2_000) as u32, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn graph_files_survive_mutation(n in any::<u64>()) {
        thread_local! {
            static FIXTURE: (Vec<Vec<u8>>, Registry) = (seeds(), builtin_registry());
        }
        FIXTURE.with(|(seeds, registry)| {
            let bytes = case(seeds, n);
            run_case(&bytes, registry, Exprs::All);
        });
    }
}

fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect()
}

/// How a brief run of an accepted case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunEnd {
    /// Not run: it would touch files outside its own folder (an absolute or `..` path).
    Skipped,
    /// Ran and ended (completed, stopped or failed), every equation holding.
    Ended,
}

/// Runs an accepted case on `engine` for 100 ms in a fresh folder, stops it, and checks that
/// the run ends (within 20 s) and that the counters add up; panics otherwise.
fn run_briefly(bytes: &[u8], registry: &Registry, engine: &streamloom_runtime::executor::Engine) -> RunEnd {
    use std::time::Duration;
    use streamloom_runtime::executor::RunOptions;
    let Ok((graph, _)) = parse_bytes(bytes) else { return RunEnd::Skipped };
    let escapes = graph.nodes.iter().any(|node| {
        let Some(kind) = registry.get(&node.kind) else { return false };
        kind.params().iter().filter(|p| p.kind == ParamKind::Path).any(|p| {
            node.config.get(&p.name).and_then(Value::as_str).is_some_and(|s| s.starts_with('/') || s.contains(".."))
        })
    });
    if escapes {
        return RunEnd::Skipped;
    }
    let Ok(tmp) = tempfile::tempdir() else { return RunEnd::Skipped };
    let options = RunOptions {
        base_dir: tmp.path().to_path_buf(),
        env: std::sync::Arc::new(|_: &str| Some("1".into())),
        stop_timeout: Some(Duration::from_secs(2)),
        ..RunOptions::default()
    };
    let Ok(handle) = engine.start(&graph, registry, options) else { return RunEnd::Ended };
    std::thread::sleep(Duration::from_millis(100));
    handle.stop();
    let ended = engine.block_on(async { tokio::time::timeout(Duration::from_secs(20), handle.wait()).await });
    assert!(ended.is_ok(), "the run did not end within 20 s of Stop");
    let s = handle.snapshot_now();
    for n in &s.nodes {
        assert_eq!(
            n.events_in,
            n.passed + n.filtered + n.errors + n.dropped_inside + n.held + n.lost_on_kill,
            "node `{}` does not add up: {n:?}",
            n.id
        );
        assert_eq!(n.held, 0, "node `{}` ended holding events: {n:?}", n.id);
    }
    for w in &s.wires {
        assert_eq!(w.pushed, w.popped + w.dropped + w.depth, "wire {}", w.id);
    }
    RunEnd::Ended
}

/// The worker of [`fuzz_many_graph_files`]: runs cases `FUZZ_WORKER_START..FUZZ_WORKER_END`
/// with every expression as written, writing `next load_rejected invalid accepted` to `FUZZ_PROGRESS`
/// before each case and appending each caught panic to `FUZZ_PANICS`.
#[test]
#[ignore = "run by fuzz_many_graph_files"]
fn fuzz_worker() {
    let (Some(progress), Some(panics)) = (std::env::var_os("FUZZ_PROGRESS"), std::env::var_os("FUZZ_PANICS")) else {
        return;
    };
    let seeds = seeds();
    let registry = builtin_registry();
    let (start, end) = (env_u64("FUZZ_WORKER_START", 0), env_u64("FUZZ_WORKER_END", 0));
    let mut counts = [0u64; 4];
    let every = env_u64("FUZZ_RUN_EVERY", 2).max(1);
    let engine = streamloom_runtime::executor::Engine::new(Some(2)).unwrap();
    std::panic::set_hook(Box::new(|_| {}));
    for n in start..end {
        let _ = std::fs::write(&progress, format!("{n} {} {} {} {}", counts[0], counts[1], counts[2], counts[3]));
        let bytes = case(&seeds, n);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let outcome = run_case(&bytes, &registry, Exprs::All);
            let ran = outcome == Outcome::Accepted
                && n % every == 0
                && run_briefly(&bytes, &registry, &engine) == RunEnd::Ended;
            (outcome, ran)
        }));
        match outcome {
            Ok((outcome, ran)) => {
                counts[outcome as usize] += 1;
                counts[3] += u64::from(ran);
            }
            Err(e) => {
                use std::io::Write as _;
                let line = format!("{n}\tpanic: {}\n", panic_message(&*e).replace('\n', " "));
                if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&panics) {
                    let _ = f.write_all(line.as_bytes());
                }
            }
        }
    }
    let _ = std::fs::write(&progress, format!("{end} {} {} {} {}", counts[0], counts[1], counts[2], counts[3]));
}

/// The long run: `FUZZ_CASES` cases (100,000 by default) from `FUZZ_START`, every expression
/// as written, in child processes so that an abort (stack overflow) is counted, saved as a
/// reproducer and the run resumes after it. Each crash is classified by running the same case
/// with deep expressions replaced (`Exprs::Shallow`): if that passes, the expression compiler
/// crashed.
#[test]
#[ignore = "long run: FUZZ_CASES=100000 cargo test --release -p streamloom-nodes --test fuzz_graph_files -- --ignored --nocapture fuzz_many"]
fn fuzz_many_graph_files() {
    let seeds = seeds();
    let registry = builtin_registry();
    let start = env_u64("FUZZ_START", 0);
    let total = cases_from_env(100_000);
    let end = start + total;
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz_graph_files");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (progress, panics) = (dir.join("progress"), dir.join("panics.tsv"));
    let exe = std::env::current_exe().unwrap();
    let started = std::time::Instant::now();
    let (mut counts, mut aborted) = ([0u64; 4], Vec::new());
    let mut next = start;
    while next < end {
        let status = std::process::Command::new(&exe)
            .args(["--ignored", "--exact", "fuzz_worker", "--nocapture", "--test-threads", "1"])
            .env("FUZZ_PROGRESS", &progress)
            .env("FUZZ_PANICS", &panics)
            .env("FUZZ_WORKER_START", next.to_string())
            .env("FUZZ_WORKER_END", end.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        let text = std::fs::read_to_string(&progress).unwrap_or_default();
        let nums: Vec<u64> = text.split_whitespace().filter_map(|t| t.parse().ok()).collect();
        let [at, l, i, a, r] = nums[..] else { panic!("worker wrote no progress ({status})") };
        for (c, n) in counts.iter_mut().zip([l, i, a, r]) {
            *c += n;
        }
        if status.success() {
            break;
        }
        let bytes = case(&seeds, at);
        let file = dir.join(format!("abort-{at}.ron"));
        std::fs::write(&file, &bytes).unwrap();
        std::panic::set_hook(Box::new(|_| {}));
        let shallow = catch_unwind(AssertUnwindSafe(|| run_case(&bytes, &registry, Exprs::Shallow)));
        let _ = std::panic::take_hook();
        let blame = if shallow.is_ok() { "expression compiler" } else { "loader/validator" };
        aborted.push((at, blame, file));
        next = at + 1;
    }
    let panicked = std::fs::read_to_string(&panics).unwrap_or_default();
    let panicked: Vec<&str> = panicked.lines().collect();
    eprintln!(
        "fuzzed {total} graph files (cases {start}..{end}) through load + validate + build in {:.1?}: \
         {} refused by the loader, {} by validation, {} accepted ({} of them run on the engine and stopped, \
         every run ended and added up), {} panicked, {} aborted",
        started.elapsed(),
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        panicked.len(),
        aborted.len()
    );
    for line in &panicked {
        eprintln!("  panicked: case {line}");
    }
    for (n, blame, file) in &aborted {
        eprintln!("  aborted (stack overflow or abort) in the {blame}: case {n}, reproducer {}", file.display());
    }
    assert!(panicked.is_empty() && aborted.is_empty(), "{} panics, {} aborts", panicked.len(), aborted.len());
}

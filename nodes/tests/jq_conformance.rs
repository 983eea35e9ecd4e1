//! jq's own test suite (`tests/jq/jq.test`, vendored from jq 1.8.2) run through the
//! expression engine the way a `map` node runs it: [`Expr::compile`] then
//! [`Expr::try_apply`] (native fast path when possible, jaq with our jq-compat prelude
//! otherwise).
//!
//! The test fails when a case outside `tests/jq/known_differences.txt` fails, when a
//! listed case passes (the list must stay true), or when the pass rate of the counted
//! cases drops below [`MIN_PASS_RATE`]. See `docs/jq-conformance.md`.
//!
//! Environment knobs (for whoever works on the list):
//! - `JQ_CONFORMANCE_VERBOSE=1` prints every failing case, known or not;
//! - `JQ_CONFORMANCE_WRITE=path` writes the failing cases in the known-list format.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use streamloom_nodes::expr::{Expr, Limits, MAX_MAX_DEPTH, MAX_MAX_STEPS};

const TEST_FILE: &str = include_str!("jq/jq.test");
const KNOWN_FILE: &str = include_str!("jq/known_differences.txt");

/// Minimum share of counted cases that must pass.
const MIN_PASS_RATE: f64 = 0.95;

/// A case whose evaluation takes longer than this is reported as hanging.
const CASE_TIMEOUT: Duration = Duration::from_secs(20);

/// Stack of the evaluation thread: deep recursion in jaq must not abort the harness.
const EVAL_STACK: usize = 512 << 20;

/// Names whose cases need the jq command line, modules or the environment: not counted.
const EXCLUDED_NAMES: [&str; 15] = [
    "import",
    "include",
    "modulemeta",
    "$__loc__",
    "input",
    "inputs",
    "$ENV",
    "env",
    "input_filename",
    "$__prog_args",
    "get_search_list",
    "halt",
    "halt_error",
    "stderr",
    "debug",
];

/// More names excluded for the same reason (kept apart to keep the array readable).
const EXCLUDED_NAMES_MORE: [&str; 1] = ["input_line_number"];

/// Cases that would crash (stack overflow, unbounded memory) or hang: skipped, not counted.
/// None since every evaluation runs under a budget (`nodes/src/expr/guard.rs`); kept so that
/// a regression has a place to be recorded while it is fixed.
const UNSAFE_SKIPPED: &[(usize, &str)] = &[];

/// One test case of jq.test.
#[derive(Debug, Clone)]
struct Case {
    /// 1-based line of the program in jq.test.
    line: usize,
    prog: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    /// `%%FAIL` / `%%FAIL IGNORE MSG`: the program must not compile.
    MustFail,
    /// Program, input, expected outputs.
    Run { input: String, expected: Vec<String> },
}

/// jq_test.c's `skipline`: blank or comment.
fn skipline(l: &str) -> bool {
    let t = l.trim_start_matches([' ', '\t']);
    t.is_empty() || t.starts_with('#')
}

/// Parses jq.test the way jq's own `jq_test.c` reads it.
fn parse_cases(src: &str) -> Vec<Case> {
    let lines: Vec<&str> = src.lines().collect();
    let mut cases = Vec::new();
    let mut i = 0;
    let mut must_fail = false;
    while i < lines.len() {
        let l = lines[i];
        i += 1;
        if skipline(l) {
            continue;
        }
        if l == "%%FAIL" || l == "%%FAIL IGNORE MSG" {
            must_fail = true;
            continue;
        }
        let line = i;
        let prog = l.to_string();
        // the block's remaining lines run up to the next blank/comment line
        let mut block = Vec::new();
        while i < lines.len() {
            let b = lines[i];
            i += 1;
            if skipline(b) {
                break;
            }
            block.push(b.to_string());
        }
        let kind = if must_fail {
            Kind::MustFail
        } else {
            let mut it = block.into_iter();
            let input = it.next().unwrap_or_default();
            Kind::Run { input, expected: it.collect() }
        };
        must_fail = false;
        cases.push(Case { line, prog, kind });
    }
    cases
}

/// True when `prog` uses `name` as a name (not as part of a longer one or a field).
fn uses_name(prog: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(pos) = prog[from..].find(name) {
        let start = from + pos;
        let end = start + name.len();
        let before = prog[..start].chars().next_back();
        let after = prog[end..].chars().next();
        let before_ok = match before {
            None => true,
            Some(c) => !(is_ident(c) || c == '.' || c == '$' || c == '@'),
        };
        // `{import: 1}` uses the name as an object key, `foo::a` as a module name
        let key = prog[end..].starts_with(':') && !prog[end..].starts_with("::");
        let after_ok = !after.is_some_and(is_ident) && !key;
        if before_ok && after_ok {
            return true;
        }
        from = start + 1;
    }
    false
}

/// Why a case is not counted, if it is not: it needs the command line, modules or the
/// environment, or its input cannot be a record at all.
fn excluded_by(case: &Case) -> Option<&'static str> {
    if let Some(name) =
        EXCLUDED_NAMES.iter().chain(EXCLUDED_NAMES_MORE.iter()).copied().find(|n| uses_name(&case.prog, n))
    {
        return Some(name);
    }
    match &case.kind {
        // records are `serde_json` values, which have no NaN or infinities
        Kind::Run { input, .. }
            if parse_json(input).is_err() && ["nan", "NaN", "Infinity"].iter().any(|t| input.contains(t)) =>
        {
            Some(NOT_A_RECORD)
        }
        _ => None,
    }
}

/// Exclusion reason of inputs with NaN or infinities, which no record can hold.
const NOT_A_RECORD: &str = "NaN/Infinity input";

/// jq equality: numbers compare as `f64`, objects regardless of key order.
fn jq_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| jq_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| jq_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Parses a JSON text of jq.test (inputs and expected outputs).
///
/// jq's reader skips a byte order mark at the start of its input; so does this one.
fn parse_json(s: &str) -> Result<Value, String> {
    let s = s.strip_prefix('\u{feff}').unwrap_or(s);
    serde_json::from_str(s).map_err(|e| format!("harness cannot parse `{s}`: {e}"))
}

/// Keeps messages readable: at most 200 characters.
fn short(s: &str) -> String {
    if s.chars().count() <= 200 { s.to_string() } else { format!("{}...", s.chars().take(197).collect::<String>()) }
}

/// Outcome of one case.
#[derive(Debug, Clone)]
enum Outcome {
    Pass,
    Fail(String),
}

/// Stops a case that produces far more outputs than expected (e.g. an unbounded `repeat`).
const TOO_MANY: &str = "too many outputs";

fn run_case(case: &Case) -> Outcome {
    // jq.test tests semantics, not budgets: run with the largest limits a node may set (some
    // cases loop tens of thousands of times through date functions written in jq).
    let limits = Limits { max_steps: MAX_MAX_STEPS, max_depth: MAX_MAX_DEPTH, ..Limits::default() };
    let compiled = Expr::compile(&case.prog).map(|e| e.with_limits(limits));
    match &case.kind {
        Kind::MustFail => match compiled {
            Ok(_) => Outcome::Fail("compiled, but jq rejects this program".into()),
            Err(_) => Outcome::Pass,
        },
        Kind::Run { input, expected } => {
            let expr = match compiled {
                Ok(e) => e,
                Err(e) => return Outcome::Fail(format!("compile error: {e}")),
            };
            let input = match parse_json(input) {
                Ok(v) => v,
                Err(e) => return Outcome::Fail(e),
            };
            let expected: Vec<Value> = match expected.iter().map(|s| parse_json(s)).collect() {
                Ok(v) => v,
                Err(e) => return Outcome::Fail(e),
            };
            let limit = expected.len() + 10;
            let mut outs = Vec::new();
            let res = expr.try_apply(input, &mut |v| {
                outs.push(v);
                if outs.len() > limit {
                    std::panic::panic_any(TOO_MANY);
                }
            });
            let got = || short(&outs.iter().map(Value::to_string).collect::<Vec<_>>().join(", "));
            let exp = || short(&expected.iter().map(Value::to_string).collect::<Vec<_>>().join(", "));
            let prefix_ok = outs.iter().zip(&expected).all(|(a, b)| jq_eq(a, b));
            match res {
                Err((e, _)) if outs.len() < expected.len() => {
                    Outcome::Fail(format!("error `{e}` after [{}], expected [{}]", got(), exp()))
                }
                _ if prefix_ok && outs.len() == expected.len() => Outcome::Pass,
                _ => Outcome::Fail(format!("got [{}], expected [{}]", got(), exp())),
            }
        }
    }
}

/// Runs one case, turning a panic into a failure.
fn run_guarded(case: &Case) -> Outcome {
    match catch_unwind(AssertUnwindSafe(|| run_case(case))) {
        Ok(o) => o,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".into());
            Outcome::Fail(format!("panicked: {msg}"))
        }
    }
}

/// Evaluates `cases` on a big-stack thread, one after the other. A case that hangs is
/// reported as failing after [`CASE_TIMEOUT`] and a fresh thread goes on with the rest.
fn evaluate(cases: &[Case]) -> Vec<Outcome> {
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(cases.len());
    while outcomes.len() < cases.len() {
        let start = outcomes.len();
        let todo: Vec<Case> = cases[start..].to_vec();
        let (tx, rx) = mpsc::sync_channel(16);
        std::thread::Builder::new()
            .name("jq-conformance".into())
            .stack_size(EVAL_STACK)
            .spawn(move || {
                for c in &todo {
                    if tx.send(run_guarded(c)).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn evaluation thread");
        loop {
            match rx.recv_timeout(CASE_TIMEOUT) {
                Ok(o) => outcomes.push(o),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    // the thread is stuck in this case: leave it and start afresh after it
                    outcomes.push(Outcome::Fail(format!("hangs (no result within {CASE_TIMEOUT:?})")));
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    }
    outcomes
}

/// `line -> (reason, program)` from known_differences.txt.
fn known_list() -> BTreeMap<usize, (String, String)> {
    let mut known = BTreeMap::new();
    for (n, l) in KNOWN_FILE.lines().enumerate() {
        if l.trim().is_empty() || l.starts_with('#') {
            continue;
        }
        let mut fields = l.splitn(3, '\t');
        let (Some(line), Some(reason), Some(prog)) = (fields.next(), fields.next(), fields.next()) else {
            panic!("known_differences.txt:{}: expected `line<TAB>reason<TAB>program`", n + 1);
        };
        let line: usize = line.parse().unwrap_or_else(|_| panic!("known_differences.txt:{}: bad line number", n + 1));
        assert!(
            reason.starts_with("jaq choice: ") || reason.starts_with("not yet done: "),
            "known_differences.txt:{}: the reason must start with `jaq choice: ` or `not yet done: `",
            n + 1
        );
        assert!(known.insert(line, (reason.to_string(), prog.to_string())).is_none(), "duplicate entry {line}");
    }
    known
}

#[test]
fn jq_test_suite() {
    let cases = parse_cases(TEST_FILE);
    let known = known_list();
    let verbose = std::env::var_os("JQ_CONFORMANCE_VERBOSE").is_some();

    let mut excluded = Vec::new();
    let mut unsafe_skipped = Vec::new();
    let mut counted = Vec::new();
    for c in &cases {
        if let Some(name) = excluded_by(c) {
            excluded.push((c, name));
        } else if let Some((_, why)) = UNSAFE_SKIPPED.iter().find(|(l, _)| *l == c.line) {
            unsafe_skipped.push((c, *why));
        } else {
            counted.push(c.clone());
        }
    }
    for (line, (_, prog)) in &known {
        let case = cases.iter().find(|c| c.line == *line);
        assert!(case.is_some_and(|c| &c.prog == prog), "known_differences.txt: no case `{prog}` at line {line}");
        assert!(counted.iter().any(|c| c.line == *line), "known_differences.txt: case at line {line} is not counted");
    }
    for (line, _) in UNSAFE_SKIPPED {
        assert!(cases.iter().any(|c| c.line == *line), "UNSAFE_SKIPPED: no case at line {line}");
    }

    let outcomes = evaluate(&counted);
    let mut passed = 0usize;
    let mut unexpected_fail = Vec::new();
    let mut unexpected_pass = Vec::new();
    let mut failing = Vec::new();
    for (c, o) in counted.iter().zip(&outcomes) {
        match o {
            Outcome::Pass => {
                passed += 1;
                if known.contains_key(&c.line) {
                    unexpected_pass.push(c);
                }
            }
            Outcome::Fail(why) => {
                failing.push((c, why));
                if verbose {
                    eprintln!("FAIL line {}: {}\n    {why}", c.line, c.prog);
                }
                if !known.contains_key(&c.line) {
                    unexpected_fail.push((c, why));
                }
            }
        }
    }

    if let Some(path) = std::env::var_os("JQ_CONFORMANCE_WRITE") {
        let mut s = String::new();
        for (c, why) in &failing {
            // the current failure, to compare with (or replace) the listed reason
            let reason = format!("not yet done: {why}");
            s.push_str(&format!("{}\t{}\t{}\n", c.line, reason.replace(['\t', '\n'], " "), c.prog));
        }
        std::fs::write(path, s).expect("write failing cases");
    }

    let rate = passed as f64 / counted.len().max(1) as f64;
    let not_records = excluded.iter().filter(|(_, why)| *why == NOT_A_RECORD).count();
    println!(
        "jq.test: {passed}/{} counted cases pass ({:.1} %); {} excluded (command line, modules, environment), \
         {not_records} excluded (NaN/Infinity input), {} known differences, {} unsafe skipped, {} cases in all",
        counted.len(),
        rate * 100.0,
        excluded.len() - not_records,
        known.len(),
        unsafe_skipped.len(),
        cases.len()
    );
    for (c, why) in &excluded {
        println!("excluded: line {}: {} ({why})", c.line, c.prog);
    }
    for (c, why) in &unsafe_skipped {
        println!("unsafe, skipped: line {}: {} ({why})", c.line, c.prog);
    }

    let mut problems = Vec::new();
    for (c, why) in &unexpected_fail {
        problems.push(format!("line {}: `{}` fails: {why}", c.line, c.prog));
    }
    for c in &unexpected_pass {
        problems.push(format!("line {}: `{}` passes now: remove it from known_differences.txt", c.line, c.prog));
    }
    if rate < MIN_PASS_RATE {
        problems.push(format!("pass rate {:.1} % is below {:.0} %", rate * 100.0, MIN_PASS_RATE * 100.0));
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn parser_reads_the_whole_file() {
    let cases = parse_cases(TEST_FILE);
    assert!(cases.len() >= 500, "only {} cases parsed", cases.len());
    assert!(cases.iter().any(|c| matches!(c.kind, Kind::MustFail)));
    assert!(uses_name("[inputs]", "inputs"));
    assert!(!uses_name(".input", "input"));
    assert!(!uses_name("$input", "input"));
    assert!(!uses_name("inputs", "input"));
    assert!(!uses_name("{import:14}", "import"));
    assert!(uses_name("import \"a\" as foo; foo::a", "import"));
    assert!(jq_eq(&serde_json::json!({"a": 1.0, "b": [2]}), &serde_json::json!({"b": [2.0], "a": 1})));
}

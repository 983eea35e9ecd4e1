//! Expressions cannot crash, abort or hang the process: every case here once did (a stack
//! overflow, an allocation abort, an overflow panic, a spin, unbounded memory) or gave a
//! wrong, unsafe answer. Each runs on a thread with a tokio worker's small stack, as a
//! `map` node's evaluation does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use streamloom_nodes::expr::{Expr, Limits};

use common::{assert_node_equation, assert_wires, errors_wire, graph, n, node, run, wire};

/// Outputs of `src` on `input`, evaluated on a 2 MiB stack (a tokio worker's).
fn eval(src: &str, input: Value) -> Result<Vec<Value>, String> {
    eval_with(src, input, Limits::default())
}

fn eval_with(src: &str, input: Value, limits: Limits) -> Result<Vec<Value>, String> {
    let src = src.to_owned();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let expr = Expr::compile(&src).map_err(|e| format!("compile: {e}"))?.with_limits(limits);
            let mut outs = Vec::new();
            expr.apply(input, &mut |v| outs.push(v)).map_err(|e| e.0)?;
            Ok(outs)
        })
        .unwrap()
        .join()
        .expect("the evaluation thread did not panic")
}

fn err(src: &str, input: Value) -> String {
    match eval(src, input) {
        Ok(v) => panic!("`{src}` should fail, gave {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn deep_results_are_refused_and_deep_intermediates_are_freed() {
    let e = err("reduce range(800) as $_ (0; [.])", json!(null));
    assert!(e.contains("nested more than 512"), "{e}");
    let deep = Limits { max_depth: 1000, ..Limits::default() };
    assert_eq!(eval_with("reduce range(800) as $_ (0; [.]) | length", json!(null), deep).unwrap(), [json!(1)]);
    // Built 200,000 deep and dropped inside jaq: freed without overflowing.
    assert_eq!(eval("reduce range(200000) as $_ (0; [.]) | length", json!(null)).unwrap(), [json!(1)]);
}

#[test]
fn huge_allocations_are_errors() {
    let e = err("map(.a * .b)", json!([{"a": "x", "b": 100_000_000_000_000i64}]));
    assert!(e.contains("Repeat string result too long"), "{e}");
    let e = err(r#""abc" * 1000000000"#, json!(null));
    assert!(e.contains("Repeat string result too long"), "{e}");
    // Repeated squaring stays a float instead of growing a big integer without bound.
    let out = eval("reduce range(40) as $_ (3; . * .)", json!(null)).unwrap();
    assert!(out[0].is_number(), "{out:?}");
    assert_eq!(eval(r#""ab" * 3"#, json!(null)).unwrap(), [json!("ababab")]);
    let out = eval(".a * .b", json!({"a": 4_000_000_000i64, "b": 4_000_000_000i64})).unwrap();
    assert_eq!(out[0].as_f64(), Some(1.6e19), "{out:?}");
}

#[test]
fn i64_min_does_not_overflow() {
    assert_eq!(eval("map(length)", json!([i64::MIN])).unwrap(), [json!([9_223_372_036_854_775_808u64])]);
    assert_eq!(eval("[.[] | . + 0]", json!([i64::MIN])).unwrap(), [json!([i64::MIN])]);
    assert_eq!(eval(".", json!(i64::MIN)).unwrap(), [json!(i64::MIN)]);
}

#[test]
fn modules_and_the_environment_are_refused_at_compile_time() {
    let e = Expr::compile(r#"import "data" as $a; ."#).unwrap_err();
    assert_eq!(e.column, Some(1), "{e}");
    assert!(e.message.contains("modules"), "{e}");
    assert!(Expr::compile(r#"include "x"; ."#).is_err());
    let e = Expr::compile("env | keys").unwrap_err();
    assert!(e.message.contains("env"), "{e}");
    assert!(Expr::compile("$ENV.HOME").is_err());
}

#[test]
fn unbounded_work_runs_out_of_budget() {
    for src in
        ["repeat(.)", "def f: f; f", "[range(1e18)]", "last(range(1e18))", "[limit(1e9; repeat(1))]", "until(false; .)"]
    {
        let e = err(src, json!(1));
        assert!(e.contains("budget") || e.contains("outputs"), "`{src}`: {e}");
    }
    // A `try` cannot swallow the budget and go on.
    let e = err("def f: f; try f catch 1, (def g: g; g)", json!(1));
    assert!(e.contains("budget"), "{e}");
    let e = err("[.[] | try (def f: f; f) catch \"caught\"]", json!([1, 2]));
    assert!(e.contains("budget"), "{e}");
    // Within budget, it works.
    assert_eq!(eval("[limit(3; repeat(1))]", json!(null)).unwrap(), [json!([1, 1, 1])]);
    assert_eq!(eval("[range(100000)] | length", json!(null)).unwrap(), [json!(100000)]);
    let few = Limits { max_steps: 1000, ..Limits::default() };
    assert!(eval_with("[range(5000)] | length", json!(null), few).is_err());
}

#[test]
fn deep_recursion_is_an_error_not_an_overflow() {
    let src = "def f: if . == 0 then 0 else (. - 1 | f) + 1 end; f";
    match eval(src, json!(200_000)) {
        Ok(v) => assert_eq!(v, [json!(200_000)]),
        Err(e) => assert!(e.contains("too deep") || e.contains("budget"), "{e}"),
    }
}

#[test]
fn programs_nested_too_deep_are_refused_with_a_column() {
    let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    assert!(eval(&deep(200), json!(null)).is_ok());
    let e = Expr::compile(&deep(400)).unwrap_err();
    assert!(e.column.is_some() && e.message.contains("nested"), "{e}");
    let e = Expr::compile(&deep(3000)).unwrap_err();
    assert!(e.message.contains("nested"), "{e}");
    // A long chain nests its terms without a bracket.
    let chain = vec!["1"; 3000].join(" + ");
    let e = Expr::compile(&chain).unwrap_err();
    assert!(e.message.contains("nested"), "{e}");
    let parens = format!("{}.{}", "(".repeat(250), ")".repeat(250));
    assert!(eval(&parens, json!(3)).is_ok());
}

#[test]
fn placeholders_are_bound_as_data() {
    let mut e = Expr::compile(r#".x > ${LIMIT} and .name == "n-${WHO}""#).unwrap();
    assert_eq!(e.placeholders(), ["LIMIT".to_string(), "WHO".to_string()]);
    e.bind(&|name: &str| Some(if name == "LIMIT" { "10".into() } else { "a\"b".into() })).unwrap();
    assert!(e.test(&json!({"x": 11, "name": "n-a\"b"})).unwrap());
    assert!(!e.test(&json!({"x": 9, "name": "n-a\"b"})).unwrap());
    // A value that would rewrite the program stays a string.
    let mut e = Expr::compile(".x == ${V}").unwrap();
    e.bind(&|_: &str| Some(r#"1 or true) | env | ("#.into())).unwrap();
    assert!(!e.test(&json!({"x": 1})).unwrap());
    let mut e = Expr::compile(".x == ${V}").unwrap();
    assert_eq!(e.bind(&|_: &str| None), Err(vec!["V".to_string()]));
}

#[test]
fn a_spin_is_interrupted() {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let huge = Limits { max_steps: streamloom_nodes::expr::MAX_MAX_STEPS, ..Limits::default() };
    let expr = Expr::compile("def f: f; f")
        .unwrap()
        .with_limits(huge)
        .with_interrupt(Arc::new(move || flag.load(Ordering::Relaxed)));
    let t = std::thread::spawn(move || expr.apply(json!(1), &mut |_| {}).unwrap_err().0);
    std::thread::sleep(std::time::Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let e = t.join().unwrap();
    assert!(e.contains("interrupted") || e.contains("budget"), "{e}");
}

/// Runs generator (50 events) -> map(`config`) -> null_sink with `errors` to a file; returns the
/// map's snapshot and the dead letters.
fn dead_letters(config: Value) -> (streamloom_runtime::metrics::NodeSnapshot, Vec<Value>) {
    let tmp = tempfile::tempdir().unwrap();
    let dead_path = tmp.path().join("dead.jsonl");
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 50})),
            node("m", "map", config),
            node("out", "null_sink", json!({})),
            node("dead", "file_sink", json!({"path": dead_path.to_string_lossy()})),
        ],
        vec![wire("gen", "m"), wire("m", "out"), errors_wire("m", "dead")],
        8,
        16,
    );
    let (outcome, s) = run(&g);
    assert!(matches!(outcome, streamloom_runtime::executor::RunOutcome::Completed), "{outcome:?}");
    let m = n(&s, "m").clone();
    assert_node_equation(&m);
    assert_wires(&s);
    (m, common::json_lines(&dead_path))
}

#[test]
fn a_map_node_sends_what_exceeds_its_budget_to_errors_with_the_event() {
    let (m, dead) = dead_letters(json!({"expression": "def f: f; f", "max_steps": 10000}));
    assert_eq!((m.events_in, m.errors), (50, 50), "{m:?}");
    assert_eq!(dead.len(), 50);
    for d in &dead {
        assert!(d["event"].is_object(), "the failed event is carried: {d}");
        assert!(d["reason"].as_str().unwrap().contains("budget of 10000 steps"), "{d}");
    }
}

#[test]
fn a_native_map_error_carries_the_event_that_failed() {
    let (m, dead) = dead_letters(json!({"expression": ".x = 1 | .x.y"}));
    assert_eq!((m.events_in, m.errors), (50, 50), "{m:?}");
    for d in &dead {
        assert!(d["event"].is_object() && d["event"].get("x").is_none(), "the event as it came in: {d}");
    }
}

#[test]
fn errors_read_the_same_from_the_native_path_and_jaq() {
    let cases = [
        (".a.b", json!({"a": 1})),
        (".x + 1", json!({"x": "s"})),
        ("-.", json!("s")),
        (".x[]", json!({"x": 1})),
        (r#"error("boom")"#, json!(null)),
        (".x = 1 | .x.y", json!({})),
        (".value -= 2", json!({"value": "s"})),
        ("{a: (.b | length)}", json!({"b": true})),
    ];
    let mut native_count = 0;
    for (src, input) in cases {
        let native = Expr::compile(src).unwrap();
        let jaq = Expr::compile_jaq_only(src).unwrap();
        native_count += usize::from(native.is_native());
        let a = native.apply(input.clone(), &mut |_| {}).expect_err(src);
        let b = jaq.apply(input.clone(), &mut |_| {}).expect_err(src);
        assert_eq!(a, b, "`{src}` on {input}");
        assert_eq!(native.test(&input).unwrap_err(), jaq.test(&input).unwrap_err(), "test() of `{src}`");
    }
    assert!(native_count >= 6, "most cases run natively ({native_count})");
}

#[test]
fn a_secret_bound_into_an_expression_never_shows_in_a_dead_letter() {
    let tmp = tempfile::tempdir().unwrap();
    let dead_path = tmp.path().join("dead.jsonl");
    let g = graph(
        vec![
            node("gen", "generator", json!({"count": 5})),
            node("m", "map", json!({"expression": r#"error("token " + ${TOKEN} + " refused")"#})),
            node("out", "null_sink", json!({})),
            node("dead", "file_sink", json!({"path": dead_path.to_string_lossy()})),
        ],
        vec![wire("gen", "m"), wire("m", "out"), errors_wire("m", "dead")],
        8,
        16,
    );
    let engine = streamloom_runtime::executor::Engine::new(Some(2)).unwrap();
    let env: streamloom_runtime::executor::EnvLookup =
        Arc::new(|name: &str| (name == "TOKEN").then(|| "s3cr3t-value".to_string()));
    let options = streamloom_runtime::executor::RunOptions { env, ..Default::default() };
    let h = common::start(&engine, &g, options);
    let outcome = common::wait(&engine, &h, 30);
    assert!(matches!(outcome, streamloom_runtime::executor::RunOutcome::Completed), "{outcome:?}");
    let dead = common::json_lines(&dead_path);
    assert_eq!(dead.len(), 5);
    for d in &dead {
        let reason = d["reason"].as_str().unwrap();
        assert!(!reason.contains("s3cr3t"), "{reason}");
        assert!(reason.contains("${TOKEN}"), "{reason}");
    }
}

#[test]
fn float_literal_products_keep_their_meaning() {
    assert_eq!(eval(".value *= 1.5", json!({"value": 2})).unwrap(), [json!({"value": 3.0})]);
    assert_eq!(eval(r#"[.[] * -0.5]"#, json!([2, 4])).unwrap(), [json!([-1.0, -2.0])]);
    // jq 1.8 repeats a string by the truncated count.
    assert_eq!(eval(r#""ab" * 1.5"#, json!(null)).unwrap(), [json!("ab")]);
}

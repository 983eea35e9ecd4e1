use super::*;
use serde_json::json;

fn outputs(e: &Expr, input: &Value) -> Result<Vec<String>, String> {
    let mut outs = Vec::new();
    e.apply(input.clone(), &mut |v| outs.push(v.to_string())).map_err(|e| e.0)?;
    Ok(outs)
}

/// Runs `src` natively (asserting it is native) and through jaq; both must agree.
/// Returns the outputs joined by spaces, or `ERR: message`.
fn both(src: &str, input: Value) -> String {
    check(src, input, true)
}

/// Like [`both`] for expressions that are expected to fall back to jaq.
fn fallback(src: &str, input: Value) -> String {
    check(src, input, false)
}

fn check(src: &str, input: Value, expect_native: bool) -> String {
    let native = Expr::compile(src).unwrap();
    assert_eq!(native.is_native(), expect_native, "`{src}` nativeness");
    let jaq = Expr::compile_jaq_only(src).unwrap();
    let n = outputs(&native, &input);
    let j = outputs(&jaq, &input);
    match (&n, &j) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "`{src}` on {input}"),
        (Err(_), Err(_)) => {}
        _ => panic!("`{src}` on {input}: native {n:?} vs jaq {j:?}"),
    }
    let t = native.test(&input).map_err(|e| e.0);
    let tj = jaq.test(&input).map_err(|e| e.0);
    assert_eq!(t.is_ok(), tj.is_ok(), "test() of `{src}`");
    if let (Ok(a), Ok(b)) = (t, tj) {
        assert_eq!(a, b, "test() of `{src}`");
    }
    match n {
        Ok(o) => o.join(" "),
        Err(e) => format!("ERR: {e}"),
    }
}

fn rec() -> Value {
    json!({"ts": 1700000000123u64, "user": "u042", "type": "purchase", "value": 2.5,
           "n": 3, "ok": true, "none": null, "tags": ["a", "b"], "o": {"x": 1, "y": "z"}})
}

#[test]
fn identity() {
    let e = Expr::compile(" . ").unwrap();
    assert!(e.is_identity() && e.is_native());
    assert!(!Expr::compile(".a").unwrap().is_identity());
    assert_eq!(both(".", json!({"a": 1})), r#"{"a":1}"#);
}

#[test]
fn required_native_forms() {
    assert!(Expr::compile(".type == \"purchase\"").unwrap().is_native());
    assert!(Expr::compile(".value *= 1.1").unwrap().is_native());
    assert!(Expr::compile("select(.type == \"purchase\")").unwrap().is_native());
    assert!(!Expr::compile("map(.+1)").unwrap().is_native());
    assert!(!Expr::compile(".a as $x | $x").unwrap().is_native());
    assert!(!Expr::compile("\"\\(.a)\"").unwrap().is_native());
}

#[test]
fn paths() {
    assert_eq!(both(".user", rec()), r#""u042""#);
    assert_eq!(both(".o.x", rec()), "1");
    assert_eq!(both(".[\"type\"]", rec()), r#""purchase""#);
    assert_eq!(both(".tags[0]", rec()), r#""a""#);
    assert_eq!(both(".tags[-1]", rec()), r#""b""#);
    assert_eq!(both(".tags[5]", rec()), "null");
    assert_eq!(both(".missing.deeper", rec()), "null");
    assert!(both(".user.x", rec()).starts_with("ERR"));
    assert_eq!(both(".user.x?", rec()), "");
    assert_eq!(both(".tags[]", rec()), r#""a" "b""#);
    assert_eq!(both(".o[]", rec()), r#"1 "z""#);
    assert_eq!(both(".n[]?", rec()), "");
    assert_eq!(both(".[0]", rec()), "null");
    assert!(both(".tags.a", rec()).starts_with("ERR"));
}

#[test]
fn literals_and_comparisons() {
    assert_eq!(both("1, 1.5, -2, \"s\", true, false, null", rec()), r#"1 1.5 -2 "s" true false null"#);
    assert_eq!(both(".n == 3", rec()), "true");
    assert_eq!(both(".n == 3.0", rec()), "true");
    assert_eq!(both(".n != 3", rec()), "false");
    assert_eq!(both(".value < .n", rec()), "true");
    assert_eq!(both("null < false", rec()), "true");
    assert_eq!(both("true < 0", rec()), "true");
    assert_eq!(both("1 < \"\"", rec()), "true");
    assert_eq!(both("\"z\" < []", rec()), "true");
    assert_eq!(both("[] < {}", rec()), "true");
    assert_eq!(both(".o >= {\"x\": 1}", rec()), "true");
    assert_eq!(both(".user <= \"u1\"", rec()), "true");
    assert_eq!(both(".ts > 5", rec()), "true");
}

#[test]
fn logic_and_alternative() {
    assert_eq!(both(".ok and .n", rec()), "true");
    assert_eq!(both(".ok and .none", rec()), "false");
    assert_eq!(both(".none or .n", rec()), "true");
    assert_eq!(both(".none or false", rec()), "false");
    assert_eq!(both(".ok | not", rec()), "false");
    assert_eq!(both("not", rec()), "false");
    assert_eq!(both(".none // 7", rec()), "7");
    assert_eq!(both(".n // 7", rec()), "3");
    assert_eq!(both(".tags[]? // 7", rec()), r#""a" "b""#);
    assert!(both(".user.x // 7", rec()).starts_with("ERR"));
    assert_eq!(both("if .n > 2 then \"big\" elif .n > 1 then \"mid\" else \"small\" end", rec()), r#""big""#);
    assert_eq!(both("if .none then 1 end", rec()), both(".", rec()));
}

#[test]
fn arithmetic() {
    assert_eq!(both("1 + 1", rec()), "2");
    assert_eq!(both(".value * 1.1", rec()), both("2.5 * 1.1", rec()));
    assert_eq!(both(".n / 2", rec()), "1.5");
    assert_eq!(both(".n / 3", rec()), "1.0");
    assert_eq!(both(".n % 2", rec()), "1");
    assert_eq!(both("-.n", rec()), "-3");
    assert_eq!(both(".n - 1.0", rec()), "2.0");
    assert_eq!(both(".user + \"x\"", rec()), r#""u042x""#);
    assert_eq!(both(".tags + [\"c\"]", rec()), r#"["a","b","c"]"#);
    assert_eq!(both(".tags - [\"a\"]", rec()), r#"["b"]"#);
    assert_eq!(both(".o + {\"x\": 2, \"w\": 0}", rec()), r#"{"w":0,"x":2,"y":"z"}"#);
    assert_eq!(both(".o * {\"y\": {\"q\": 1}}", rec()), r#"{"x":1,"y":{"q":1}}"#);
    assert_eq!(both(".none + 1", rec()), "1");
    assert_eq!(both("\"a,b\" / \",\"", rec()), r#"["a","b"]"#);
    assert_eq!(both("\"ab\" * 2", rec()), r#""abab""#);
    assert_eq!(both("\"ab\" * 0", rec()), r#""""#, "jq 1.8: zero repetitions is the empty string");
    assert_eq!(both("\"ab\" * -1", rec()), "null");
    assert_eq!(both("\"ab\" * 1.5", rec()), r#""ab""#);
    assert!(both(".n % 0", rec()).starts_with("ERR"));
    // results beyond native number range go through jaq transparently
    assert_eq!(both("9223372036854775807 + 1", rec()), "9223372036854775808");
    // jq: dividing by zero is an error (jaq would give infinity)
    assert_eq!(both("1 / 0", rec()), "ERR: number (1) and number (0) cannot be divided because the divisor is zero");
    assert!(both("[.n / 0] | .[0] > 5", rec()).starts_with("ERR"));
}

#[test]
fn runtime_errors_are_eval_errors() {
    let e = Expr::compile(".a + 1").unwrap();
    assert!(e.is_native());
    let err = e.apply(json!({"a": "x"}), &mut |_| {}).unwrap_err();
    assert!(err.0.contains("cannot"), "{err}");
    assert!(e.test(&json!({"a": "x"})).is_err());
    assert!(both(".user - 1", rec()).starts_with("ERR"));
    assert!(both(".ok | length", rec()).starts_with("ERR"));
    assert!(both(".n | ascii_downcase", rec()).starts_with("ERR"));
}

#[test]
fn builtins() {
    assert_eq!(both(".user | startswith(\"u0\")", rec()), "true");
    assert_eq!(both(".user | endswith(\"2\")", rec()), "true");
    assert_eq!(both(".user | contains(\"04\")", rec()), "true");
    assert_eq!(both(".tags | contains([\"a\"])", rec()), "true");
    assert_eq!(both(".o | contains({\"y\": \"z\"})", rec()), "true");
    // jq 1.8: values of different types cannot be checked for containment
    assert!(both(".n | contains(\"x\")", rec()).starts_with("ERR"));
    assert_eq!(both(".tags | contains([1])", rec()), "false");
    assert!(both(".n | startswith(\"x\")", rec()).starts_with("ERR"));
    assert_eq!(both("[(.user, .tags, .o, .none, .value) | length]", rec()), "[4,2,2,0,2.5]");
    assert_eq!(both("has(\"user\")", rec()), "true");
    assert_eq!(both("has(\"nope\")", rec()), "false");
    assert_eq!(both(".tags | has(1)", rec()), "true");
    assert_eq!(both(".n | tostring", rec()), r#""3""#);
    assert_eq!(both(".o | tostring", rec()), r#""{\"x\":1,\"y\":\"z\"}""#);
    assert_eq!(both(".user | tostring", rec()), r#""u042""#);
    assert_eq!(both("\"12\" | tonumber", rec()), "12");
    assert_eq!(both("\"1.5\" | tonumber", rec()), "1.5");
    // jq 1.8 parses the whole string, without blanks
    assert!(both("\" 12 \" | tonumber", rec()).starts_with("ERR"));
    assert!(both("\"2a\" | tonumber", rec()).starts_with("ERR"));
    assert!(both("\"abc\" | tonumber", rec()).starts_with("ERR"));
    assert_eq!(both(".user | ascii_upcase", rec()), r#""U042""#);
    assert_eq!(both("\"AbC\" | ascii_downcase", rec()), r#""abc""#);
    assert_eq!(
        both("[.[] | type]", rec()),
        r#"["number","null","object","boolean","array","number","string","string","number"]"#
    );
    assert_eq!(both("empty", rec()), "");
}

#[test]
fn select_pipe_comma() {
    assert_eq!(both("select(.type == \"purchase\") | .n", rec()), "3");
    assert_eq!(both("select(.type == \"view\")", rec()), "");
    assert_eq!(fallback("select(.tags[] == \"b\") | .n", rec()), "3");
    assert_eq!(both("select((true, true)) | .n", rec()), "3 3");
    assert_eq!(both(".n, .user", rec()), r#"3 "u042""#);
    assert_eq!(both(".o | .x", rec()), "1");
    let e = Expr::compile("select(.type == \"purchase\")").unwrap();
    assert!(e.test(&rec()).unwrap());
    assert!(!e.test(&json!({"type": "view"})).unwrap());
    assert!(!Expr::compile("empty").unwrap().test(&rec()).unwrap());
}

#[test]
fn construction() {
    assert_eq!(both("{a: .n, \"b\": 1, user}", rec()), r#"{"a":3,"b":1,"user":"u042"}"#);
    assert_eq!(both("{a: 1, b: 2, a: 3}", rec()), r#"{"a":3,"b":2}"#);
    // Keys written out of order land in their places (the object's shape is made once).
    assert_eq!(both("{z: .n, a: .user, m: {y: 1, b: .ok}}", rec()), r#"{"a":"u042","m":{"b":true,"y":1},"z":3}"#);
    let twelve = (0..12).map(|i| format!("k{i}: {i}")).collect::<Vec<_>>().join(", ");
    assert_eq!(both(&format!("{{{twelve}}} | length"), rec()), "12", "more keys than a shape takes");
    assert_eq!(both("[.n, .user]", rec()), r#"[3,"u042"]"#);
    assert_eq!(both("[.tags[], .n]", rec()), r#"["a","b",3]"#);
    assert_eq!(both("[]", rec()), "[]");
    assert_eq!(both("{}", rec()), "{}");
}

#[test]
fn updates() {
    let input = json!({"a": 1, "b": 2, "c": 3});
    assert_eq!(both(".a = 5", input.clone()), r#"{"a":5,"b":2,"c":3}"#);
    assert_eq!(both(".d = .a", input.clone()), r#"{"a":1,"b":2,"c":3,"d":1}"#);
    assert_eq!(both(".a |= . + 1", input.clone()), r#"{"a":2,"b":2,"c":3}"#);
    assert_eq!(both(".a += 1", input.clone()), r#"{"a":2,"b":2,"c":3}"#);
    assert_eq!(both(".a -= 1", input.clone()), r#"{"a":0,"b":2,"c":3}"#);
    assert_eq!(both(".a *= 1.5", input.clone()), r#"{"a":1.5,"b":2,"c":3}"#);
    assert_eq!(both(".a /= 2", input.clone()), r#"{"a":0.5,"b":2,"c":3}"#);
    assert_eq!(both(".z //= 9", input.clone()), r#"{"a":1,"b":2,"c":3,"z":9}"#);
    // Records keep their keys sorted, whatever order jaq leaves them in.
    assert_eq!(both("del(.a)", input.clone()), r#"{"b":2,"c":3}"#);
    assert_eq!(both("del(.a, .c)", input.clone()), r#"{"b":2}"#);
    assert_eq!(both(".a |= empty", input.clone()), r#"{"b":2,"c":3}"#);
    assert_eq!(both("del(.tags[0])", rec())[..40], both("del(.tags[0])", rec())[..40]);
    assert_eq!(both(".o.x = 7 | .o", rec()), r#"{"x":7,"y":"z"}"#);
    assert_eq!(both(".tags[1] = \"q\" | .tags", rec()), r#"["a","q"]"#);
    // jq's setpath semantics: arrays are padded and missing objects created.
    assert_eq!(both(".tags[5] = 1 | .tags", rec()), r#"["a","b",null,null,null,1]"#);
    assert!(both(".user.x = 1", rec()).starts_with("ERR"));
    assert_eq!(both(".none.x = 1 | .none", rec()), r#"{"x":1}"#);
    assert_eq!(fallback(".a?.b? = 1", json!({})), r#"{"a":{"b":1}}"#);
    assert_eq!(both(".user += \"!\" | .user", rec()), r#""u042!""#);
    assert_eq!(fallback(".a = (1, 2) | .a", input.clone()), "1 2");
    assert_eq!(both(".a |= (., 10)", input), r#"{"a":1,"b":2,"c":3}"#);
}

#[test]
fn value_update_matches_jaq() {
    let e = Expr::compile(".value *= 1.1").unwrap();
    assert!(e.is_native());
    let mut out = Vec::new();
    e.apply(json!({"value": 2.5}), &mut |v| out.push(v)).unwrap();
    assert_eq!(out, vec![json!({"value": 2.75})]);
    assert_eq!(both(".value *= 1.1", json!({"value": 123.45})), both("{value: (123.45 * 1.1)}", json!(null)));
}

#[test]
fn syntax_errors_carry_columns() {
    let e = Expr::compile(".a ==").unwrap_err();
    assert_eq!(e.column, Some(6), "{e}");
    let e = Expr::compile("select(.a == )").unwrap_err();
    assert_eq!(e.column, Some(14), "{e}");
    assert!(e.to_string().contains("(at column 14)"));
    let e = Expr::compile(".a | nosuchfn(1)").unwrap_err();
    assert_eq!(e.column, Some(6), "{e}");
    assert!(e.message.contains("nosuchfn"));
    let e = Expr::compile(".a | $x").unwrap_err();
    assert_eq!(e.column, Some(6));
    assert!(Expr::compile("{").is_err());
    assert!(Expr::compile("\"abc").is_err());
}

#[test]
fn halt_does_not_exit() {
    for src in ["halt", "halt_error", "halt_error(3)", ".a | halt_error(1)"] {
        let e = Expr::compile(src).unwrap();
        let err = e.apply(json!({"a": "bye"}), &mut |_| {}).unwrap_err();
        assert!(err.0.contains("halt"), "{err}");
        assert!(e.test(&json!({"a": 1})).is_err());
    }
}

#[test]
fn fallback_expressions_work() {
    let e = Expr::compile("[.tags[] | ascii_upcase] | join(\"-\")").unwrap();
    assert!(!e.is_native());
    let mut out = Vec::new();
    e.apply(rec(), &mut |v| out.push(v)).unwrap();
    assert_eq!(out, vec![json!("A-B")]);
    let e = Expr::compile(".user | test(\"^u0\")").unwrap();
    assert!(e.test(&rec()).unwrap());
}

#[test]
fn outputs_before_errors_are_emitted() {
    assert_eq!(
        outputs(&Expr::compile(".n, .user.x").unwrap(), &rec()),
        Err("Cannot index string with string (\"x\")".into())
    );
    let mut seen = Vec::new();
    let r = Expr::compile(".n, .user.x").unwrap().apply(rec(), &mut |v| seen.push(v));
    assert!(r.is_err());
    assert_eq!(seen, vec![json!(3)]);
}

#[test]
fn length_of_i64_min_is_exact() {
    // jaq 2.0.3 overflows here (`isize::abs`); the native path is exact
    let e = Expr::compile(".s | length").unwrap();
    assert!(e.is_native());
    let mut out = Vec::new();
    e.apply(json!({"s": i64::MIN}), &mut |v| out.push(v)).unwrap();
    assert_eq!(out, vec![json!(9223372036854775808u64)]);
}

/// jq 1.8 behaviour shared by the native path and the jaq path with `jq_compat`.
#[test]
fn jq_compat_native_fixes() {
    // `del` deletes every path of the original value (`delpaths([path(...)])`)
    assert_eq!(both("del(.[0], .[1])", json!([1, 2, 3])), "[3]");
    assert_eq!(both("del(.[-1], .[0])", json!([1, 2, 3])), "[2]");
    assert_eq!(both("del(.a)", json!(null)), "null");
    assert_eq!(both("del(.a.b)", json!({})), "{}");
    assert_eq!(both("del(.o.x, .a)", json!({"o": {"x": 1, "y": 2}, "a": 0})), r#"{"o":{"y":2}}"#);
    assert_eq!(both("del(.[5])", json!([1])), "[1]");
    both("del(.[0].a)", json!({})); // whatever jaq makes of it, natively the same
    // `has` with negative, fractional and out-of-range indices
    assert_eq!(both("has(-1)", json!([1])), "false");
    assert_eq!(both("has(0)", json!([1])), "true");
    assert_eq!(both("has(0.5)", json!([1])), "true");
    assert!(both("has({})", json!({})).starts_with("ERR"));
    // `tonumber` parses the whole string
    assert!(both("tonumber", json!("2a")).starts_with("ERR"));
    assert!(both("tonumber", json!(" 4")).starts_with("ERR"));
    assert_eq!(both("tonumber", json!("4")), "4");
    // `length` of the smallest integer does not overflow, natively or through jaq
    assert_eq!(both("length", json!(i64::MIN)), "9223372036854775808");
    assert_eq!(fallback("map(length)", json!([i64::MIN])), "[9223372036854775808]");
    // jq's `nth` and `join`
    assert_eq!(fallback("[nth(1, 2; range(5))]", json!(null)), "[1,2]");
    assert_eq!(fallback("join(\",\")", json!([null, 1, "a", null])), r#"",1,a,""#);
}

/// A failing single-output program (an object built from the input, a condition) hands the
/// event back as it came in, with jaq's message, without the evaluator copying it first.
#[test]
fn a_failing_single_output_program_hands_back_its_input_untouched() {
    let input = json!({"type": "purchase", "value": {"a": true}, "user": "u1"});
    for src in [
        r#"if .type == "purchase" then {p: 1, v: (.value * 1.1)} else {p: 0, v: 0} end"#,
        "{v: (.value - 1)}",
        r#"if (.value - 1) > 0 then 1 else 2 end"#,
        ".value + 1",
    ] {
        let e = Expr::compile(src).unwrap();
        assert!(e.is_native(), "{src}");
        assert!(e.native.as_ref().is_some_and(|n| n.fails_untouched()), "{src}");
        let jaq = Expr::compile_jaq_only(src).unwrap();
        let (err, back) = e.try_apply(input.clone(), &mut |v| panic!("{src}: output {v}")).unwrap_err();
        let (jaq_err, _) = jaq.try_apply(input.clone(), &mut |_| {}).unwrap_err();
        assert_eq!(back, Some(input.clone()), "{src}");
        assert_eq!(err, jaq_err, "{src}");
    }
}

/// The fields a condition reads: named top-level fields only, or `None` when it may use the
/// record in any other way; and then the answer on just those fields is the answer on all.
#[test]
fn fields_read_are_the_named_top_level_fields_and_decide_alone() {
    let cases: &[(&str, Option<&[&str]>)] = &[
        (".type == \"purchase\"", Some(&["type"])),
        (".a.b[0] > 1 and (.c // 2) == .d", Some(&["a", "c", "d"])),
        ("if .x then {v: -.y} else [.z, 1] end | .v", Some(&["x", "y", "z"])),
        ("(.a | length) > 1", Some(&["a"])),
        ("true", Some(&[])),
        (".", None),
        ("select(.a)", None),
        ("has(\"a\")", None),
        ("length > 2", None),
        (".[0]", None),
        (".a |= 1", None),
        ("keys | length", None),
        ("[.[]] | length", None),
        (".a == $__loc__", None),
    ];
    for (src, want) in cases {
        let Ok(e) = Expr::compile(src) else { continue };
        let got = e.fields_read();
        assert_eq!(
            got.as_deref().map(|f| f.iter().map(String::as_str).collect::<Vec<_>>()),
            want.map(<[&str]>::to_vec),
            "{src}"
        );
        if let Some(fields) = got {
            let full =
                json!({"type": "purchase", "a": {"b": [3]}, "c": null, "d": 2, "x": 1, "y": 5, "z": 0, "other": 9});
            let part: serde_json::Map<String, Value> = full
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| fields.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(e.test_native(&full), e.test_native(&Value::Object(part)), "{src}");
        }
    }
}

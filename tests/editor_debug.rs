//! Editor UI tests of the debug sidebar, the node help panel and the run summary, driven
//! with egui_kittest like a person would: find by label, click, type; then check the model.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use serde_json::json;
use streamloom::editor::EditorApp;
use streamloom_runtime::{Graph, Node, PortRef, Wire};

fn node(id: &str, kind: &str, pos: [f32; 2], config: serde_json::Value) -> Node {
    Node { id: id.into(), kind: kind.into(), version: 1, position: Some(pos), config }
}

fn registry() -> streamloom_runtime::Registry {
    streamloom_nodes::builtin_registry()
}

fn harness(app: EditorApp) -> Harness<'static, EditorApp> {
    Harness::builder()
        .with_size(egui::vec2(1600.0, 1000.0))
        .with_max_steps(20)
        .build_ui_state(|ui, app: &mut EditorApp| app.ui(ui), app)
}

/// Presses Run and steps the UI until the run has ended (20 s at most), then two more frames.
fn run_to_end(h: &mut Harness<'static, EditorApp>) {
    let before = h.state().runner().runs_started();
    h.get_by_label("▶ Run").click();
    let deadline = Instant::now() + Duration::from_secs(20);
    while h.state().runner().runs_started() == before || h.state().runner().outcome().is_none() {
        h.step();
        assert!(Instant::now() < deadline, "run did not finish: {}", h.state().runner().status());
        std::thread::sleep(Duration::from_millis(20));
    }
    h.step();
    h.step();
}

/// generator (`count` numbers 0, 1, …) → map (`{i: ., even: …}`) → `sink` of kind `sink_kind`.
fn graph(count: u64, sink_kind: &str, sink_config: serde_json::Value) -> Graph {
    Graph {
        name: Some("debugged".into()),
        nodes: vec![
            node("gen", "generator", [0.0, 0.0], json!({"count": count, "payload": "sequence", "seed": 1})),
            node("m", "map", [250.0, 0.0], json!({"expression": "{i: ., even: (. % 2 == 0)}"})),
            node("sink", sink_kind, [500.0, 0.0], sink_config),
        ],
        wires: vec![
            Wire::new(PortRef::new("gen", "out"), PortRef::new("m", "in")),
            Wire::new(PortRef::new("m", "out"), PortRef::new("sink", "in")),
        ],
        ..Default::default()
    }
}

fn shown_seqs(h: &Harness<'static, EditorApp>) -> Vec<u64> {
    h.state().debug_sidebar().shown().iter().map(|e| e.seq).collect()
}

#[test]
fn each_run_starts_the_debug_list_afresh() {
    let g = graph(30, "debug", json!({"name": "seen", "max_events": 100}));
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    run_to_end(&mut h);
    h.get_by_label("30 event(s)");
    run_to_end(&mut h);
    // Not 60: the second run's events only.
    h.get_by_label("30 event(s)");
    assert_eq!(shown_seqs(&h), (0..30).rev().collect::<Vec<u64>>());
}

#[test]
fn a_debug_sink_fills_the_sidebar_newest_first_bounded_by_max_events() {
    let g = graph(50, "debug", json!({"name": "seen", "max_events": 20}));
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    assert!(h.query_by_label("Clear").is_none(), "the sidebar opens when there is something to show");
    run_to_end(&mut h);
    // The newest 20 of 50, newest first, each headed by its time, source and seq.
    assert_eq!(shown_seqs(&h), (30..50).rev().collect::<Vec<u64>>());
    h.get_by_label("20 event(s) · sources keep their newest 20, older ones are let go");
    h.get_by_label_contains("· seen · #49");
    assert!(h.query_by_label_contains("· seen · #29").is_none(), "older than max_events: gone");
    // The JSON view: one line, folded; opened, it shows each field.
    h.get_by_label(r#"{"even":false,"i":49}"#).click();
    h.run_ok();
    h.get_by_label("even: false");
    h.get_by_label("i: 49");
}

#[test]
fn text_and_node_filters_pause_and_clear() {
    let g = graph(10, "debug", json!({}));
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    run_to_end(&mut h);
    assert_eq!(shown_seqs(&h).len(), 10);
    h.get_by_role_and_label(Role::TextInput, "Text").focus();
    h.get_by_role_and_label(Role::TextInput, "Text").type_text(r#""i":7"#);
    h.run_ok();
    assert_eq!(shown_seqs(&h), vec![7]);
    h.get_by_label("1 of 10 event(s) match");
    h.get_by_role_and_label(Role::TextInput, "Text").type_text("zzz");
    h.run_ok();
    assert!(shown_seqs(&h).is_empty());
    h.get_by_label("0 of 10 event(s) match");

    // Pause: a second run changes nothing; resume shows what that run kept, in place of the first's.
    h.get_by_label("⏸ Pause list").click();
    h.run_ok();
    run_to_end(&mut h);
    assert_eq!(h.state().debug_sidebar().len(), 10, "paused: nothing new taken");
    h.get_by_label("⏵ Resume list").click();
    h.run_ok();
    assert_eq!(h.state().debug_sidebar().len(), 10, "resumed: the second run's events, not both runs'");
    h.get_by_label("Clear").click();
    h.run_ok();
    assert!(h.state().debug_sidebar().is_empty());
    h.get_by_label("0 event(s)");

    // A new graph forgets the old one's events, and its summary.
    run_to_end(&mut h);
    assert_eq!(h.state().debug_sidebar().len(), 10);
    assert!(h.state().run_summary_open());
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::N);
    h.run_ok();
    assert!(h.state().graph().nodes.is_empty());
    assert!(h.state().debug_sidebar().is_empty());
    assert!(!h.state().run_summary_open());
}

#[test]
fn a_port_marked_for_debugging_and_a_console_sink_show_their_events_and_the_node_filter_picks_one() {
    let g = graph(5, "console_sink", json!({"prefix": "> "}));
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.state_mut().select_node("gen");
    h.run_ok();
    h.get_by_label("Debug").click();
    h.run_ok();
    h.get_by_label("debug gen.out").click();
    h.run_ok();
    run_to_end(&mut h);
    let sources: Vec<String> = h.state().debug_sidebar().shown().iter().map(|e| e.source.label.clone()).collect();
    assert_eq!(sources.iter().filter(|s| *s == "gen.out").count(), 5, "{sources:?}");
    assert_eq!(sources.iter().filter(|s| *s == "sink").count(), 5, "console_sink output: {sources:?}");
    h.get_by_label_contains("· gen.out · #4");
    h.get_by_label_contains("· sink · #4");
    // Filter by node: only the console sink's events.
    h.get_by_role_and_label(Role::ComboBox, "Node").click();
    h.run_ok();
    h.get_by_role_and_label(Role::Button, "sink").click();
    h.run_ok();
    let sources: Vec<String> = h.state().debug_sidebar().shown().iter().map(|e| e.source.label.clone()).collect();
    assert_eq!(sources, vec!["sink"; 5]);
    // Unmarked, the next run adds nothing from the port.
    h.get_by_label("debug gen.out").click();
    h.run_ok();
    h.get_by_label("Clear").click();
    h.run_ok();
    run_to_end(&mut h);
    assert!(h.state().debug_sidebar().shown().iter().all(|e| e.source.label == "sink"));
    assert!(!h.state().runner().is_debugged("gen", "out"));
    // Marks are forgotten with the graph.
    h.get_by_label("debug gen.out").click();
    h.run_ok();
    assert!(h.state().runner().is_debugged("gen", "out"));
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::N);
    h.run_ok();
    assert!(h.state().runner().debugged_ports().is_empty());
}

#[test]
fn selecting_a_sink_shows_what_reached_it() {
    let g = graph(30, "null_sink", json!({}));
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.state_mut().select_node("sink");
    h.run_ok();
    run_to_end(&mut h);
    assert!(h.query_by_label_contains("Nothing recorded").is_none());
    h.get_by_label_contains("Recent events (");
    h.get_by_label("#29");
    h.get_by_label(r#"{"even":false,"i":29}"#);
}

/// How many labels read exactly `text`.
fn shown(h: &Harness<'static, EditorApp>, text: &str) -> usize {
    h.query_all_by_label(text).count()
}

/// Checks that the help panel shows `kind` in full: description, every port, every
/// parameter's doc, default and range, and the example, all as the registry gives them.
fn assert_help_shows(h: &Harness<'static, EditorApp>, kind: &str) {
    let reg = registry();
    let k = reg.get(kind).unwrap();
    assert!(shown(h, k.description()) >= 1, "{kind}: description");
    let config = k.default_config();
    let ports = k.ports(&config);
    for p in ports.inputs.iter().chain(&ports.outputs) {
        assert!(shown(h, &p.doc) >= 1, "{kind}: port {} doc `{}`", p.name, p.doc);
    }
    let params = k.params();
    for p in &params {
        assert!(shown(h, &p.doc) >= 1, "{kind}: parameter {} doc `{}`", p.name, p.doc);
    }
    let defaults = h.query_all_by_label_contains("default: ").count();
    assert_eq!(defaults, params.len(), "{kind}: one default line per parameter");
    let ranged = params.iter().filter(|p| streamloom::editor::help_panel::range(&p.kind).is_some()).count();
    let ranges = h.query_all_by_label_contains("range: ").count() + h.query_all_by_label_contains("one of: ").count();
    assert_eq!(ranges, ranged, "{kind}: a range line per ranged parameter");
    assert!(shown(h, k.example()) >= 1, "{kind}: example");
}

#[test]
fn help_shows_the_selected_nodes_kind_then_any_palette_entry_under_the_pointer() {
    let g = graph(10, "debug", json!({}));
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.state_mut().select_node("m");
    h.run_ok();
    h.get_by_label("Help").click();
    h.run_ok();
    assert_help_shows(&h, "map");
    // The max_events range of the new debug kind, as `streamloom nodes --json` gives it.
    h.state_mut().select_node("sink");
    h.run_ok();
    assert_help_shows(&h, "debug");
    h.get_by_label("range: 1 ..= 1000");
    h.get_by_label("default: 1000");
    // Pointing at each palette entry shows that kind.
    for kind in registry().kinds() {
        h.get_by_role_and_label(Role::Button, kind.name()).hover();
        h.run_ok();
        assert_help_shows(&h, kind.name());
    }
}

#[test]
fn the_run_summary_opens_when_a_run_ends_with_numbers_equal_to_the_metrics_and_reopens() {
    // map fails on odd numbers (their errors port is unwired), so errors are not zero.
    let mut g = graph(40, "null_sink", json!({}));
    g.nodes[1].config = json!({"expression": "if . % 2 == 0 then {i: .} else error(\"odd\") end"});
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    assert!(!h.state().run_summary_open());
    run_to_end(&mut h);
    assert!(h.state().run_summary_open(), "opened when the run ended");
    h.get_by_label("Run summary");
    h.get_by_label("Outcome: completed");
    let s = h.state().runner().snapshot().unwrap().clone();
    h.get_by_label(&format!("Duration: {:.3} s", s.elapsed_secs));
    let errors: u64 = s.nodes.iter().map(|n| n.errors).sum();
    assert_eq!(errors, 20);
    let dropped =
        s.wires.iter().map(|w| w.dropped).sum::<u64>() + s.nodes.iter().map(|n| n.dropped_inside).sum::<u64>();
    let discarded: u64 = s.nodes.iter().map(|n| n.discarded).sum();
    let lost: u64 = s.nodes.iter().map(|n| n.lost_on_kill).sum();
    h.get_by_label(&format!("Errors: {errors} · dropped: {dropped} · discarded: {discarded} · lost: {lost}"));
    // The source's and the sink's rows, exactly as the snapshot counts them.
    let row = streamloom::editor::run_summary::rows(&s, &registry());
    let source = s.node("gen").unwrap();
    let sink = s.node("sink").unwrap();
    assert_eq!((source.events_in, source.events_out), (0, 40));
    assert_eq!(sink.events_in, 20);
    let expect = |n: &streamloom_runtime::metrics::NodeSnapshot| {
        vec![
            n.id.clone(),
            n.kind.clone(),
            "finished".to_string(),
            n.events_in.to_string(),
            n.events_out.to_string(),
            n.filtered.to_string(),
            n.errors.to_string(),
            n.dropped.to_string(),
        ]
    };
    let map = s.nodes.iter().find(|n| n.kind == "map").unwrap();
    assert_eq!(
        row,
        vec![expect(source), expect(map), expect(sink)],
        "sources, operators, sinks: the map's 20 errors have their row"
    );
    assert_eq!(shown(&h, "40"), 2, "gen's out and map's in");
    assert!(shown(&h, "20") >= 1, "sink's in");

    // Closed with its ×, reopened from the toolbar.
    h.get_by_label("Close window").click();
    h.run_ok();
    assert!(!h.state().run_summary_open());
    assert!(h.query_by_label("Run summary").is_none());
    h.get_by_label("Summary").click();
    h.run_ok();
    assert!(h.state().run_summary_open());
    h.get_by_label("Outcome: completed");

    // Closed, then the next run (quick enough to end between two frames) opens it again.
    h.get_by_label("Close window").click();
    h.run_ok();
    run_to_end(&mut h);
    assert!(h.state().run_summary_open(), "every run's end opens it");
}

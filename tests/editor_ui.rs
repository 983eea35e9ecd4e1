//! Editor UI tests, driven with egui_kittest: widgets are found by their labels, clicked and
//! typed into like a person would; the app's model is then checked.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::NodeT as _;
use egui_kittest::kittest::Queryable;
use serde_json::json;
use streamloom::editor::{EditorApp, Selection};
use streamloom_runtime::graph::to_ron;
use streamloom_runtime::{Graph, Node, PortRef, Wire};

fn node(id: &str, kind: &str, pos: [f32; 2], config: serde_json::Value) -> Node {
    Node { id: id.into(), kind: kind.into(), version: 1, position: Some(pos), config }
}

fn registry() -> streamloom_runtime::Registry {
    streamloom_nodes::builtin_registry()
}

/// generator (1000 events, as fast as possible) → null_sink.
fn small_graph() -> Graph {
    Graph {
        name: Some("small".into()),
        nodes: vec![
            node("gen", "generator", [0.0, 0.0], json!({"count": 1000, "payload": "sequence", "seed": 1})),
            node("sink", "null_sink", [300.0, 0.0], json!({})),
        ],
        wires: vec![Wire::new(PortRef::new("gen", "out"), PortRef::new("sink", "in"))],
        ..Default::default()
    }
}

/// Presses Run and steps the UI until the run has ended (20 s at most).
fn run_to_end(h: &mut Harness<'static, EditorApp>) {
    h.get_by_label("▶ Run").click();
    let deadline = Instant::now() + Duration::from_secs(20);
    while h.state().runner().outcome().is_none() {
        h.step();
        assert!(Instant::now() < deadline, "run did not finish: {}", h.state().runner().status());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A graph whose reader fails at run time (its file does not exist in `dir`).
fn failing_graph(dir: &tempfile::TempDir) -> Graph {
    let missing = dir.path().join("missing.log");
    Graph {
        name: Some("fails".into()),
        nodes: vec![
            node("reader", "file_source", [0.0, 0.0], json!({"path": missing.to_string_lossy(), "format": "lines"})),
            node("sink", "null_sink", [300.0, 0.0], json!({})),
        ],
        wires: vec![Wire::new(PortRef::new("reader", "out"), PortRef::new("sink", "in"))],
        ..Default::default()
    }
}

fn harness(app: EditorApp) -> Harness<'static, EditorApp> {
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_max_steps(20)
        .build_ui_state(|ui, app: &mut EditorApp| app.ui(ui), app)
}

#[test]
fn palette_click_adds_node() {
    let mut h = harness(EditorApp::new(registry(), None));
    h.run_ok();
    h.get_by_role_and_label(Role::Button, "generator").click();
    h.run_ok();
    let g = h.state().graph();
    assert_eq!(g.nodes.len(), 1);
    assert_eq!(g.nodes[0].kind, "generator");
    assert!(g.nodes[0].position.is_some());
    assert_eq!(h.state().selection(), &Selection::Node("generator".into()));
    // The canvas shows the new node, titled by its id.
    assert!(!h.get_all_by_label("generator").collect::<Vec<_>>().is_empty());
}

/// The run settings of the file (workers, stop timeout, checkpoint interval) are set in the
/// graph's inspector: ticked they are written with their default, unticked they are left
/// out; a duration that cannot be read says why beside it.
#[test]
fn run_settings_are_edited_in_the_graph_inspector() {
    let mut g = small_graph();
    g.settings.stop_timeout = Some("soon".into());
    // Valid values beyond what the fields used to clamp to: showing them must not change them.
    g.settings.default_capacity = Some(50_000_000);
    g.settings.batch_size = Some(100_000);
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    assert_eq!(h.state().selection(), &Selection::Graph);
    // Beside the field, and in Problems.
    assert!(h.get_all_by_label_contains("`soon` is not a duration").count() >= 1);
    h.get_by_label("workers").click();
    h.run_ok();
    h.get_by_label("checkpoint interval").click();
    h.run_ok();
    h.get_by_label("stop timeout").click();
    h.run_ok();
    let settings = &h.state().graph().settings;
    assert_eq!(settings.workers, Some(2));
    assert_eq!(settings.checkpoint_interval.as_deref(), Some("1s"));
    assert_eq!(settings.stop_timeout, None, "unticked: left out of the file");
    assert_eq!((settings.default_capacity, settings.batch_size), (Some(50_000_000), Some(100_000)));
    assert!(h.query_all_by_label_contains("is not a duration").next().is_none());
    h.get_by_label_contains("10s (default)");
}

/// After Stop, while the run drains, the toolbar says "stopping", not "running".
#[test]
fn the_toolbar_says_stopping_while_a_stopped_run_drains() {
    let mut g = Graph {
        nodes: vec![
            node("gen", "generator", [0.0, 0.0], json!({"payload": "sequence", "seed": 1})),
            node("slow", "buffer", [300.0, 0.0], json!({"capacity": 10000, "rate_limit": 5.0})),
            node("sink", "null_sink", [600.0, 0.0], json!({})),
        ],
        wires: vec![
            Wire::new(PortRef::new("gen", "out"), PortRef::new("slow", "in")),
            Wire::new(PortRef::new("slow", "out"), PortRef::new("sink", "in")),
        ],
        ..Default::default()
    };
    g.settings.stop_timeout = Some("3s".into());
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    h.get_by_label("▶ Run").click();
    h.run_ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !h.state().runner().status().starts_with("running") {
        assert!(Instant::now() < deadline, "{}", h.state().runner().status());
        h.step();
    }
    std::thread::sleep(Duration::from_millis(300));
    h.get_by_label("⏹ Stop").click();
    h.run_ok();
    let status = h.state().runner().status();
    assert!(
        status.starts_with("stopping · ") && status.ends_with("(draining; what is left 3 s after Stop is cancelled)"),
        "{status}"
    );
}

/// A node whose events all fail says why in Problems, and says that its `errors` port is
/// unwired when it is (it said "see its errors port" with nothing wired there).
#[test]
fn failing_events_are_listed_with_their_reason_and_where_they_went() {
    let g = Graph {
        nodes: vec![
            node("gen", "generator", [0.0, 0.0], json!({"count": 50, "payload": "sample_events", "seed": 1})),
            node("f", "filter", [300.0, 0.0], json!({"condition": "(.user | tonumber) > 5"})),
            node("sink", "null_sink", [600.0, 0.0], json!({})),
        ],
        wires: vec![
            Wire::new(PortRef::new("gen", "out"), PortRef::new("f", "in")),
            Wire::new(PortRef::new("f", "out"), PortRef::new("sink", "in")),
        ],
        ..Default::default()
    };
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    run_to_end(&mut h);
    let listed: Vec<String> = h.state().runner().run_problems().iter().map(|p| p.message.clone()).collect();
    let line = listed.iter().find(|m| m.starts_with("50 of its 50 event(s) failed")).expect("listed");
    assert!(line.contains("its `errors` port is unwired, so they are not kept"), "{line}");
    assert!(line.contains("last reason: condition failed: string"), "{line}");
}

/// Run on an empty canvas says there is nothing to run; it used to "complete" a run of nothing.
#[test]
fn run_on_an_empty_graph_says_there_is_nothing_to_run() {
    let mut h = harness(EditorApp::new(registry(), None));
    h.run_ok();
    h.get_by_label("▶ Run").click();
    h.run_ok();
    let status = h.state().status().expect("a status").clone();
    assert!(status.is_error && status.text.starts_with("nothing to run"), "{}", status.text);
    assert!(h.state().runner().snapshot().is_none(), "no run started");
}

/// A press and release at `pos` with real pointer events, like a person's click.
fn click_at(h: &mut Harness<'static, EditorApp>, pos: egui::Pos2) {
    h.event(egui::Event::PointerMoved(pos));
    h.step();
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton {
            pos,
            button: egui::PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        });
        h.step();
    }
    h.step();
}

#[test]
fn clicking_a_node_on_the_canvas_inspects_it() {
    let mut h = harness(EditorApp::new(registry(), Some((small_graph(), None))));
    h.run_ok();
    assert_eq!(h.state().selection(), &Selection::Graph);
    // The header, right of the title (screen coordinates: the canvas's pan and zoom applied).
    let sink = h.state().canvas().node_screen_rect("sink").expect("sink drawn");
    click_at(&mut h, egui::pos2(sink.right() - 12.0, sink.top() + 14.0));
    assert_eq!(h.state().selection(), &Selection::Node("sink".into()));
    h.get_by_label_contains("null_sink · ");
    // The body, between the pin rows, selects the other node.
    let gen_rect = h.state().canvas().node_screen_rect("gen").expect("gen drawn");
    click_at(&mut h, gen_rect.center());
    assert_eq!(h.state().selection(), &Selection::Node("gen".into()));
    // A click on an empty part of the canvas leaves the selection as it is.
    click_at(&mut h, egui::pos2(sink.right() + 150.0, sink.bottom() + 150.0));
    assert_eq!(h.state().selection(), &Selection::Node("gen".into()));
}

#[test]
fn fit_never_magnifies_and_shrinks_only_as_needed() {
    // A small graph stays at its natural size.
    let mut h = harness(EditorApp::new(registry(), Some((small_graph(), None))));
    h.run_ok();
    assert_eq!(h.state().canvas().transform().scaling, 1.0);
    // The example graph is too wide for the canvas: it shrinks until every node fits, no more.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets/graphs/generated_stream.ron");
    let mut h = harness(EditorApp::open_file(registry(), path).unwrap());
    h.run_ok();
    let canvas = h.state().canvas();
    let view = canvas.view_rect();
    let scale = canvas.transform().scaling;
    assert!(scale < 1.0, "{scale}");
    let mut nodes = egui::Rect::NOTHING;
    for n in &h.state().graph().nodes {
        let r = canvas.node_screen_rect(&n.id).expect("node drawn");
        assert!(view.contains_rect(r), "{} at {r:?} outside {view:?}", n.id);
        nodes = nodes.union(r);
    }
    let used = (nodes.width() / view.width()).max(nodes.height() / view.height());
    assert!(used > 0.9, "nodes use only {used:.2} of the view");
}

#[test]
fn palette_search_filters_kinds() {
    let mut h = harness(EditorApp::new(registry(), None));
    h.run_ok();
    h.get_by_label("Search").focus();
    h.get_by_label("Search").type_text("sink");
    h.run_ok();
    assert!(h.query_by_role_and_label(Role::Button, "generator").is_none());
    assert!(h.query_by_label("null_sink").is_some());
    assert!(h.query_by_label("file_sink").is_some());
}

#[test]
fn wire_two_nodes_by_dragging_pins() {
    let g = Graph {
        nodes: vec![
            node("gen", "generator", [0.0, 0.0], json!({"count": 10, "payload": "sequence", "seed": 1})),
            node("sink", "null_sink", [320.0, 40.0], json!({})),
        ],
        ..Default::default()
    };
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    let from = h.state().canvas().pin_screen_pos("gen", "out", true).expect("output pin drawn");
    let to = h.state().canvas().pin_screen_pos("sink", "in", false).expect("input pin drawn");
    h.event(egui::Event::PointerMoved(from));
    h.step();
    h.event(egui::Event::PointerButton {
        pos: from,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    h.step();
    for i in 1..=8 {
        let p = from + (to - from) * (i as f32 / 8.0);
        h.event(egui::Event::PointerMoved(p));
        h.step();
    }
    h.event(egui::Event::PointerButton {
        pos: to,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    h.step();
    h.step();
    let g = h.state().graph();
    assert_eq!(g.wires.len(), 1, "status: {:?}", h.state().status());
    assert_eq!(g.wires[0].from, PortRef::new("gen", "out"));
    assert_eq!(g.wires[0].to, PortRef::new("sink", "in"));
    assert_eq!(h.state().problems().error_count(), 0);
}

#[test]
fn incompatible_wire_is_refused_with_reason() {
    let g = Graph {
        nodes: vec![
            node("lines", "file_source", [0.0, 0.0], json!({"path": "in.txt", "format": "lines"})),
            node("csv", "file_sink", [320.0, 0.0], json!({"path": "out.csv", "format": "csv"})),
        ],
        ..Default::default()
    };
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    let err = h.state_mut().try_connect(PortRef::new("lines", "out"), PortRef::new("csv", "in")).unwrap_err();
    assert!(err.contains("text") && err.contains("record"), "{err}");
    h.run_ok();
    assert!(h.state().graph().wires.is_empty());
    h.get_by_label_contains("wire refused: incompatible types");
}

#[test]
fn editing_a_parameter_updates_config_and_problems_as_you_type() {
    let g = Graph { nodes: vec![node("m", "map", [0.0, 0.0], json!({"expression": "."}))], ..Default::default() };
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.state_mut().select_node("m");
    h.run_ok();
    assert_eq!(h.state().problems().node("m").filter(|p| p.location.field.is_some()).count(), 0);
    let field = h.get_by_label("expression *");
    field.focus();
    field.type_text(" | {a: ");
    h.run_ok();
    let expr = h.state().graph().node("m").and_then(|n| n.config["expression"].as_str().map(String::from));
    assert_eq!(expr.as_deref(), Some(". | {a: "));
    // The half-typed expression does not compile: the problem shows at once, inline.
    assert!(h.state().problems().node("m").any(|p| p.location.field.as_deref() == Some("expression")));
    assert!(h.query_all_by_label_contains("⛔").count() > 0);
    // Finish typing: the problem goes away; the whole typing is one undo step.
    h.get_by_label("expression *").type_text(".value}");
    h.run_ok();
    let problems: Vec<_> = h.state().problems().node("m").cloned().collect();
    assert_eq!(problems.iter().filter(|p| p.is_error()).count(), 1, "only the unconnected input remains: {problems:?}");
    assert!(problems.iter().any(|p| !p.is_error()), "and the warning about the unwired output: {problems:?}");
}

#[test]
fn undo_and_redo_with_shortcuts() {
    let mut h = harness(EditorApp::new(registry(), None));
    h.run_ok();
    h.get_by_role_and_label(Role::Button, "null_sink").click();
    h.run_ok();
    assert_eq!(h.state().graph().nodes.len(), 1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_ok();
    assert_eq!(h.state().graph().nodes.len(), 0);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    h.run_ok();
    assert_eq!(h.state().graph().nodes.len(), 1);
    // Delete the inspected node, then undo it back.
    h.state_mut().select_node("null_sink");
    h.run_ok();
    h.key_press(Key::Delete);
    h.run_ok();
    assert_eq!(h.state().graph().nodes.len(), 0);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_ok();
    assert_eq!(h.state().graph().nodes.len(), 1);
}

#[test]
fn save_then_reopen_gives_the_same_graph() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("g.ron");
    let mut g = small_graph();
    // A node of a kind this build does not know survives untouched.
    g.nodes.push(node("future", "quantum_join", [600.0, 0.0], json!({"entangle": [1, 2]})));
    let mut h = harness(EditorApp::new(registry(), Some((g.clone(), None))));
    h.run_ok();
    h.get_by_label_contains("(unknown kind)");
    h.get_by_role_and_label(Role::Button, "null_sink").click(); // an edit, so there is something unsaved
    h.run_ok();
    assert!(h.state().document().is_dirty());
    assert!(h.state().document().title().starts_with('●'));
    h.state_mut().save_to(&path).unwrap();
    h.run_ok();
    assert!(!h.state().document().is_dirty());
    // Ctrl+S writes to the same file again.
    h.key_press_modifiers(Modifiers::COMMAND, Key::S);
    h.run_ok();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text, to_ron(h.state().graph()), "the file is exactly the graph format");
    let reopened = EditorApp::open_file(registry(), path.clone()).unwrap();
    assert_eq!(reopened.graph(), h.state().graph());
    let future = reopened.graph().node("future").unwrap();
    assert_eq!(future.config, json!({"entangle": [1, 2]}));
}

/// Ctrl+S while a number is being typed saves the number: the field takes its text when it
/// is left, so the save lets it go first.
#[test]
fn ctrl_s_while_typing_a_number_saves_what_was_typed() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("g.ron");
    let mut h = harness(EditorApp::new(registry(), Some((small_graph(), None))));
    h.run_ok();
    h.state_mut().save_to(&path).unwrap();
    h.state_mut().select_node("gen");
    h.run_ok();
    click_and_type(&mut h, "count", "2500");
    h.key_press_modifiers(Modifiers::COMMAND, Key::S);
    h.run_ok();
    let saved = EditorApp::open_file(registry(), path.clone()).unwrap();
    assert_eq!(saved.graph().node("gen").map(|n| n.config["count"].clone()), Some(json!(2500)));
    assert!(!h.state().document().is_dirty(), "what was typed is what was saved");
}

#[test]
fn copy_paste_and_duplicate() {
    let mut h = harness(EditorApp::new(registry(), Some((small_graph(), None))));
    h.state_mut().select_node("gen");
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, Key::D);
    h.run_ok();
    assert!(h.state().graph().node("gen_2").is_some());
    let text = streamloom::editor::clipboard::copy_text(h.state().graph(), &["gen".into(), "sink".into()]);
    h.event(egui::Event::Paste(text));
    h.run_ok();
    let g = h.state().graph();
    assert!(g.node("sink_2").is_some());
    assert!(g.wires.iter().any(|w| w.from.node == "gen_3" && w.to.node == "sink_2"));
}

#[test]
fn run_updates_node_counts() {
    let mut h = harness(EditorApp::new(registry(), Some((small_graph(), None))));
    h.run_ok();
    h.get_by_label("▶ Run").click();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        h.step();
        let done = h.state().runner().snapshot().and_then(|s| s.node("sink")).is_some_and(|n| n.events_in == 1000);
        if done && h.state().runner().outcome().is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "run did not finish: {}", h.state().runner().status());
        std::thread::sleep(Duration::from_millis(20));
    }
    h.step();
    h.step();
    // The badge on the canvas shows the count, and the toolbar the outcome.
    h.get_by_label_contains("in 1000");
    h.get_by_label("completed");
}

#[test]
fn inspector_shows_recent_events_of_the_selected_node() {
    let mut g = small_graph();
    // Paced (about 0.2 s), so the run is still going when the inspector starts watching.
    g.nodes[0].config = json!({"count": 400, "rate": 2000, "payload": "sequence", "seed": 1});
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.state_mut().select_node("gen");
    h.run_ok();
    run_to_end(&mut h);
    h.step();
    // Newest first: the last event the source sent heads the list, with its JSON.
    h.get_by_label_contains("Recent events (");
    h.get_by_label("#399");
    h.get_by_label("399");
}

#[test]
fn a_run_too_quick_to_watch_still_fills_the_inspected_nodes_recent_events() {
    let mut g = small_graph();
    // Unpaced: the run can end before the inspector's first look at it.
    g.nodes[0].config = json!({"count": 50, "payload": "sequence", "seed": 1});
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.state_mut().select_node("gen");
    h.run_ok();
    run_to_end(&mut h);
    h.step();
    assert!(h.query_by_label_contains("Recent events (0)").is_none(), "the tap recorded from the start");
    h.get_by_label("#49");
}

#[test]
fn canvas_snapshot() {
    let mut app = EditorApp::new(registry(), Some((small_graph(), None)));
    app.select_node("gen");
    let mut h = Harness::builder()
        .with_size(egui::vec2(1100.0, 700.0))
        .wgpu()
        .build_ui_state(|ui, app: &mut EditorApp| app.ui(ui), app);
    h.run_ok();
    let options = egui_kittest::SnapshotOptions::new()
        .output_path(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/snapshots"))
        .threshold(2.0);
    h.snapshot_options("editor_canvas", &options);
}

/// Frame time of a 300-node graph while panning and zooming (run with `--ignored --nocapture`).
#[test]
#[ignore = "benchmark: prints ms/frame"]
fn bench_300_nodes_pan_zoom() {
    let mut g = Graph::default();
    for i in 0..300 {
        let (kind, cfg) = match i % 3 {
            0 => ("generator", json!({"count": 10, "payload": "sequence", "seed": 1})),
            1 => ("map", json!({"expression": "."})),
            _ => ("null_sink", json!({})),
        };
        g.nodes.push(node(
            &format!("n{i}"),
            kind,
            [(i % 3) as f32 * 280.0 + (i / 30) as f32 * 900.0, ((i / 3) % 10) as f32 * 150.0],
            cfg,
        ));
        if i % 3 != 0 {
            g.wires.push(Wire::new(PortRef::new(format!("n{}", i - 1), "out"), PortRef::new(format!("n{i}"), "in")));
        }
    }
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    let frames = 60;
    let start = Instant::now();
    for i in 0..frames {
        let center = egui::pos2(640.0, 400.0);
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(if i % 2 == 0 { 30.0 } else { -30.0 }, 0.0),
            modifiers: Modifiers::NONE,
            phase: egui::TouchPhase::Move,
        });
        h.event(egui::Event::PointerMoved(center));
        if i % 10 == 0 {
            h.state_mut().canvas_mut().zoom(if i % 20 == 0 { 0.8 } else { 1.25 });
        }
        h.step();
    }
    let ms = start.elapsed().as_secs_f64() * 1000.0 / frames as f64;
    println!("300 nodes, 200 wires: {ms:.1} ms/frame (layout + tessellation, no GPU)");
}

#[test]
fn bottom_panel_keeps_room_for_the_charts() {
    // The problems list is short; the panel still opens tall enough for three charts.
    let mut h = harness(EditorApp::new(registry(), Some((small_graph(), None))));
    h.run_ok();
    let tab = h.get_by_label("Metrics").rect();
    assert!(tab.top() < 800.0 - 250.0, "bottom panel starts at {}", tab.top());
}

#[test]
fn tab_over_the_canvas_opens_quick_add_and_enter_adds_the_match() {
    let mut h = harness(EditorApp::new(registry(), Some((small_graph(), None))));
    h.run_ok();
    let view = h.state().canvas().view_rect();
    let at = egui::pos2(view.right() - 120.0, view.bottom() - 120.0);
    h.event(egui::Event::PointerMoved(at));
    h.run_ok();
    h.key_press(Key::Tab);
    h.run_ok();
    h.get_by_label("Add node");
    h.event(egui::Event::Text("null_s".into()));
    h.run_ok();
    h.key_press(Key::Enter);
    h.run_ok();
    let g = h.state().graph();
    assert_eq!(g.nodes.len(), 3);
    let added = g.nodes.iter().find(|n| n.id != "sink" && n.kind == "null_sink").expect("null_sink added");
    // At the pointer, in canvas coordinates.
    let want = h.state().canvas().screen_to_canvas(at);
    let pos = added.position.expect("placed");
    assert!((pos[0] - want[0]).abs() < 1.0 && (pos[1] - want[1]).abs() < 1.0, "{pos:?} vs {want:?}");
    assert!(h.query_by_label("Add node").is_none(), "the popup closed");
    // One undoable edit.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_ok();
    assert_eq!(h.state().graph().nodes.len(), 2);
}

#[test]
fn escape_closes_quick_add() {
    let mut h = harness(EditorApp::new(registry(), None));
    h.run_ok();
    h.key_press(Key::Tab);
    h.run_ok();
    h.get_by_label("Add node");
    h.key_press(Key::Escape);
    h.run_ok();
    assert!(h.query_by_label("Add node").is_none());
    assert!(h.state().graph().nodes.is_empty());
}

#[test]
fn double_click_on_empty_canvas_opens_quick_add() {
    // Frames 1/60 s apart: the default step (0.25 s) is longer than egui's double-click delay.
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_max_steps(20)
        .with_step_dt(1.0 / 60.0)
        .build_ui_state(|ui, app: &mut EditorApp| app.ui(ui), EditorApp::new(registry(), Some((small_graph(), None))));
    h.run_ok();
    let view = h.state().canvas().view_rect();
    let at = egui::pos2(view.right() - 80.0, view.bottom() - 80.0);
    h.event(egui::Event::PointerMoved(at));
    h.step();
    for _ in 0..2 {
        for pressed in [true, false] {
            h.event(egui::Event::PointerButton {
                pos: at,
                button: egui::PointerButton::Primary,
                pressed,
                modifiers: Modifiers::NONE,
            });
            h.step();
        }
    }
    h.run_ok();
    let title = h.get_by_label("Add node").rect();
    assert!(
        (title.left() - at.x).abs() < 40.0 && (title.top() - at.y).abs() < 60.0,
        "the popup opens at the pointer {at:?}, not at {title:?}"
    );
    // The popup's entry (right of the palette), not the palette's button of the same name;
    // one near the top, within the popup's scrolled view.
    h.get_all_by_label("filter").find(|n| n.rect().left() >= title.left() - 1.0).expect("entry in the popup").click();
    h.run_ok();
    assert!(h.state().graph().nodes.iter().any(|n| n.kind == "filter"));
    assert!(h.query_by_label("Add node").is_none());
}

#[test]
fn run_failure_is_listed_in_problems_until_the_next_edit() {
    let dir = tempfile::tempdir().unwrap();
    let g = failing_graph(&dir);
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    run_to_end(&mut h);
    h.step();
    h.step();
    assert!(h.state().runner().status().starts_with("failed"), "{}", h.state().runner().status());
    h.get_by_label_contains("run: node `reader` failed: ");
    let failures = h.state().runner().run_problems();
    assert!(failures.iter().any(|p| p.message.contains("missing.log")), "{failures:?}");
    // Clicking it inspects the node.
    h.get_by_label_contains("run: node `reader` failed: ").click();
    h.run_ok();
    assert_eq!(h.state().selection(), &Selection::Node("reader".into()));
    // An edit makes the failure stale.
    h.key_press_modifiers(Modifiers::COMMAND, Key::D);
    h.run_ok();
    assert!(h.query_by_label_contains("run: node `reader` failed").is_none());
}

/// Asks the window to close, as the window manager does when its close button is pressed.
fn request_close(h: &mut Harness<'static, EditorApp>) {
    h.input_mut().viewports.entry(egui::ViewportId::ROOT).or_default().events.push(egui::ViewportEvent::Close);
    h.step();
    h.step();
}

#[test]
fn closing_with_unsaved_changes_asks_first_and_cancel_keeps_everything() {
    let mut h = harness(EditorApp::new(registry(), None));
    h.run_ok();
    // Nothing to lose: no question.
    request_close(&mut h);
    assert!(h.query_by_label("Unsaved changes").is_none());

    let mut h = harness(EditorApp::new(registry(), None));
    h.run_ok();
    h.get_by_role_and_label(Role::Button, "generator").click();
    h.run_ok();
    request_close(&mut h);
    assert!(h.query_by_label("Unsaved changes").is_some(), "closing with an unsaved edit asks first");
    h.get_by_role_and_label(Role::Button, "Cancel").click();
    h.step();
    h.step();
    assert!(h.query_by_label("Unsaved changes").is_none());
    assert_eq!(h.state().graph().nodes.len(), 1, "cancel keeps the edit");
}

#[test]
fn an_expression_field_says_whether_it_runs_natively() {
    let g = Graph {
        nodes: vec![node("m", "map", [0.0, 0.0], json!({"expression": ".value *= 1.1"}))],
        ..Default::default()
    };
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.state_mut().select_node("m");
    h.run_ok();
    assert!(h.query_by_label_contains("runs natively").is_some());
    h.get_by_label("expression *").focus();
    h.get_by_label("expression *").type_text(" | to_entries");
    h.run_ok();
    assert!(h.query_by_label_contains("runs through jaq").is_some());
    assert!(h.query_by_label_contains("runs natively").is_none());
}

#[test]
fn a_new_graph_forgets_the_last_runs_status_problems_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let g = failing_graph(&dir);
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    run_to_end(&mut h);
    h.step();
    assert!(h.state().runner().status().starts_with("failed"), "{}", h.state().runner().status());
    assert!(h.state().runner().snapshot().is_some());
    // File › New (the graph is unchanged, so nothing is asked).
    h.key_press_modifiers(Modifiers::COMMAND, Key::N);
    h.run_ok();
    assert!(h.state().graph().nodes.is_empty());
    assert!(!h.state().runner().status().starts_with("failed"), "{}", h.state().runner().status());
    assert!(h.state().runner().snapshot().is_none(), "the old graph's metrics are gone");
    assert!(h.state().runner().run_problems().is_empty());
    assert!(h.query_by_label_contains("run: node `reader` failed").is_none());
}

#[test]
fn the_status_line_does_not_say_run_started_once_the_run_has_ended() {
    let mut h = harness(EditorApp::new(registry(), Some((small_graph(), None))));
    h.run_ok();
    run_to_end(&mut h);
    h.step();
    h.step();
    assert!(h.state().status().is_none_or(|s| s.text != "run started"), "{:?}", h.state().status());
    assert!(h.query_by_label("run started").is_none());
}

#[test]
fn every_graph_charts_its_own_series() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(EditorApp::new(registry(), Some((small_graph(), None))));
    h.run_ok();
    run_to_end(&mut h);
    h.get_by_label("Metrics").click();
    h.run_ok();
    assert!(charted(&h, "gen"), "the first graph's series are picked");
    // Another graph, other ids: its series are picked, not left all unticked.
    let mut other = small_graph();
    other.nodes[0].id = "source".into();
    other.wires = vec![Wire::new(PortRef::new("source", "out"), PortRef::new("sink", "in"))];
    let path = dir.path().join("other.ron");
    streamloom_runtime::graph::save_file(&other, &path).unwrap();
    h.state_mut().open(&path).unwrap();
    h.run_ok();
    run_to_end(&mut h);
    h.step();
    assert!(charted(&h, "source"), "the second graph's series are picked too");
}

/// Whether the Metrics tab's checkbox for series `id` is ticked.
fn charted(h: &Harness<'static, EditorApp>, id: &str) -> bool {
    h.query_all_by_label(id).any(|n| n.accesskit_node().toggled() == Some(egui::accesskit::Toggled::True))
}

#[test]
fn a_completed_run_whose_events_all_failed_says_so() {
    let mut g = small_graph();
    g.nodes.insert(1, node("m", "map", [150.0, 0.0], json!({"expression": ".a"})));
    g.nodes[0].config = json!({"count": 20, "payload": "sequence", "seed": 1});
    g.wires = vec![
        Wire::new(PortRef::new("gen", "out"), PortRef::new("m", "in")),
        Wire::new(PortRef::new("m", "out"), PortRef::new("sink", "in")),
    ];
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    run_to_end(&mut h);
    h.step();
    h.step();
    assert!(h.state().runner().status().starts_with("completed"), "{}", h.state().runner().status());
    h.get_by_label_contains("20 of its 20 event(s) failed");
    assert!(h.query_by_label_contains("No problems").is_none());
}

#[test]
fn a_run_whose_buffer_dropped_events_lists_the_drops_as_a_problem() {
    let mut g = small_graph();
    g.nodes.insert(
        1,
        node("b", "buffer", [150.0, 0.0], json!({"capacity": 4, "when_full": "drop_newest", "rate_limit": 2000.0})),
    );
    g.nodes[0].config = json!({"count": 300, "payload": "sequence", "seed": 1});
    g.wires = vec![
        Wire::new(PortRef::new("gen", "out"), PortRef::new("b", "in")),
        Wire::new(PortRef::new("b", "out"), PortRef::new("sink", "in")),
    ];
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    run_to_end(&mut h);
    h.step();
    h.step();
    let dropped = h.state().runner().snapshot().and_then(|s| s.node("b")).map(|n| n.dropped).unwrap();
    assert!(dropped > 0, "the buffer dropped");
    // The buffer's own policy dropped them, not a wire.
    h.get_by_label_contains(&format!("{dropped} event(s) dropped: {dropped} by the node itself"));
    assert!(h.query_by_label_contains("No problems").is_none());
}

#[test]
fn a_number_typed_out_of_range_is_kept_and_reported_at_its_field_not_clamped() {
    let mut h = harness(EditorApp::new(registry(), Some((small_graph(), None))));
    h.run_ok();
    h.state_mut().select_node("gen");
    h.run_ok();
    type_into_field(&mut h, "count", "-5");
    let count = h.state().graph().node("gen").map(|n| n.config["count"].clone());
    assert_eq!(count, Some(json!(-5)), "kept as typed");
    assert!(h.query_all_by_label_contains("-5 is out of range").count() >= 1, "said at the field and in Problems");
}

/// Clicks the field labelled `label` and replaces its text with `text`, typed a key a frame.
fn click_and_type(h: &mut Harness<'static, EditorApp>, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.run_ok();
    h.event(egui::Event::Key {
        key: egui::Key::A,
        physical_key: None,
        pressed: true,
        repeat: false,
        modifiers: egui::Modifiers::COMMAND,
    });
    for c in text.chars() {
        h.event(egui::Event::Text(c.to_string()));
        h.step();
    }
}

/// [`click_and_type`], then Enter.
fn type_into_field(h: &mut Harness<'static, EditorApp>, label: &str, text: &str) {
    click_and_type(h, label, text);
    h.key_press(egui::Key::Enter);
    h.run_ok();
}

/// Text a number field cannot take (no number, or one the field's type cannot hold) leaves
/// the value as it was and says why beside the field, until an edit is taken; egui's own
/// field snapped back (or clamped `-5` to 0) without a word.
#[test]
fn text_a_number_field_cannot_take_keeps_the_value_and_says_why() {
    let mut g = small_graph();
    g.nodes.push(node("gen2", "generator", [0.0, 200.0], json!({"count": 7, "payload": "sequence", "seed": 1})));
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    assert_eq!(h.state().selection(), &Selection::Graph);
    type_into_field(&mut h, "batch size", "-5");
    assert_eq!(h.state().graph().settings.batch_size, None, "nothing written");
    h.get_by_label("`-5` is below 0: kept 1024");
    type_into_field(&mut h, "batch size", "4096");
    assert_eq!(h.state().graph().settings.batch_size, Some(4096));
    assert!(h.query_by_label_contains("is below 0").is_none(), "a taken edit clears it");
    h.state_mut().select_node("gen");
    h.run_ok();
    type_into_field(&mut h, "count", "abc");
    assert_eq!(h.state().graph().node("gen").map(|n| n.config["count"].clone()), Some(json!(1000)));
    h.get_by_label("`abc` is not a number: kept 1000");
    // Read when the field is left, not at each key: `3,000` never took `3` on its way.
    for (typed, why) in [("2.5", "is not a whole number"), ("3,000", "is not a number"), ("12abc", "is not a number")] {
        type_into_field(&mut h, "count", typed);
        assert_eq!(h.state().graph().node("gen").map(|n| n.config["count"].clone()), Some(json!(1000)), "{typed}");
        h.get_by_label(&format!("`{typed}` {why}: kept 1000"));
    }
    // The refusal belongs to gen's field, not to the place in the form.
    h.state_mut().select_node("gen2");
    h.run_ok();
    assert!(h.query_by_label_contains("is not a number").is_none(), "gen2 shows no refusal of gen's");
    h.state_mut().select_node("gen");
    h.run_ok();
    type_into_field(&mut h, "count", "9223372036854775807");
    h.get_by_label_contains("too large to edit here exactly");
    type_into_field(&mut h, "count", "2500");
    assert_eq!(h.state().graph().node("gen").map(|n| n.config["count"].clone()), Some(json!(2500)));
}

#[test]
fn a_refused_run_lists_each_problem_once_and_an_edit_clears_it() {
    let mut g = small_graph();
    g.nodes.push(node("loose", "map", [150.0, 200.0], json!({"expression": "."})));
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    h.get_by_label("▶ Run").click();
    h.run_ok();
    assert!(!h.state().runner().is_running(), "the run was refused");
    assert!(!h.state().runner().start_problems.is_empty());
    // The Problems panel names the node: "node `loose`: required input ...".
    let listed = h.query_all_by_label_contains("`loose`: required input `in` is not connected").count();
    assert_eq!(listed, 1, "listed once, not once from validation and once from the refused start");
    // The tab counts what the list shows, and the status bar counts errors as the start did.
    let (run, others) = streamloom::editor::problems::listed(
        h.state().problems(),
        &h.state().runner().start_problems,
        h.state().runner().run_problems(),
    );
    let rows = run.len() + others.len();
    h.get_by_label(&format!("Problems ({rows})"));
    let errors = others.iter().filter(|p| p.is_error()).count();
    h.get_by_label(&format!("cannot run: {errors} error(s), see Problems"));
    h.get_by_label(&format!("⛔ {errors} error(s)"));
    // Deleting the loose node fixes it: nothing stale stays listed.
    h.state_mut().select_node("loose");
    h.run_ok();
    h.key_press(Key::Delete);
    h.run_ok();
    assert!(h.query_by_label_contains("is not connected").is_none());
    assert!(h.state().runner().start_problems.is_empty());
    assert!(h.query_by_label_contains("cannot run").is_none(), "the refusal is gone from the status bar");
}

/// A graph may set its worker threads: the editor runs it on a runtime of that size, and a
/// value out of range is refused by validation (never handed to the runtime).
#[test]
fn a_graph_sets_the_editors_worker_threads_within_range() {
    let mut g = small_graph();
    g.settings.workers = Some(1);
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    run_to_end(&mut h);
    assert_eq!(h.state().runner().outcome(), Some(&streamloom_runtime::executor::RunOutcome::Completed));
    let mut g = small_graph();
    g.settings.workers = Some(1_000_000);
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    h.get_by_label("▶ Run").click();
    h.run_ok();
    assert!(!h.state().runner().is_running(), "the run was refused");
    h.get_by_label_contains("workers 1000000 is out of range 1..=256");
}

/// A field the graph file leaves out shows the value the node runs with (its default), not
/// the bottom of its range.
#[test]
fn a_field_left_out_of_the_file_shows_its_default() {
    let g = Graph {
        nodes: vec![node("r", "file_source", [0.0, 0.0], json!({"path": "in.jsonl", "format": "jsonl"}))],
        ..Default::default()
    };
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.state_mut().select_node("r");
    h.run_ok();
    let values: Vec<String> = h.query_all_by_label("max_line_bytes *").filter_map(|n| n.value()).collect();
    assert_eq!(values, vec!["1048576".to_string()], "the default, 1 MiB");
    assert!(
        h.state().graph().node("r").is_some_and(|n| n.config.get("max_line_bytes").is_none()),
        "the file is unchanged"
    );
}

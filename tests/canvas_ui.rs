//! Canvas conveniences, driven with egui_kittest like a person would: picking and editing
//! wires, placing nodes, comments and groups, edits during a run, zoom and fit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use egui::accesskit::Role;
use egui::{Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use serde_json::json;
use streamloom::editor::{EditorApp, Selection};
use streamloom_runtime::{Graph, Node, PortRef, Wire};

fn node(id: &str, kind: &str, pos: [f32; 2], config: serde_json::Value) -> Node {
    Node { id: id.into(), kind: kind.into(), version: 1, position: Some(pos), config }
}

fn registry() -> streamloom_runtime::Registry {
    streamloom_nodes::builtin_registry()
}

/// generator → null_sink, the sink lower right so that the wire bends.
fn two_nodes() -> Graph {
    Graph {
        nodes: vec![
            node("gen", "generator", [0.0, 0.0], json!({"count": 1000, "payload": "sequence", "seed": 1})),
            node("sink", "null_sink", [420.0, 220.0], json!({})),
        ],
        wires: vec![Wire::new(PortRef::new("gen", "out"), PortRef::new("sink", "in"))],
        ..Default::default()
    }
}

#[test]
fn inserting_into_a_short_wire_moves_the_downstream_cards_right_to_make_room() {
    let mut g = two_nodes();
    g.nodes[1].position = Some([200.0, 0.0]);
    g.nodes.push(node("after", "null_sink", [500.0, 0.0], json!({})));
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    h.state_mut().insert_on_wire("map", [0.0, 0.0], &PortRef::new("gen", "out"), &PortRef::new("sink", "in"));
    h.run_ok();
    let rect = |id: &str| h.state().canvas().node_screen_rect(id).expect("drawn");
    let (gen_r, map_r, sink_r) = (rect("gen"), rect("map"), rect("sink"));
    assert!(gen_r.right() < map_r.left() && map_r.right() < sink_r.left(), "{gen_r:?} {map_r:?} {sink_r:?}");
    let x = |id: &str| h.state().graph().node(id).and_then(|n| n.position).map(|p| p[0]);
    assert!(x("sink") > Some(200.0), "sink moved right: {:?}", x("sink"));
    assert_eq!(x("after"), Some(500.0), "a card not downstream of the wire stays");
}

fn harness(app: EditorApp) -> Harness<'static, EditorApp> {
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_max_steps(20)
        .build_ui_state(|ui, app: &mut EditorApp| app.ui(ui), app)
}

/// A press and release of `button` at `pos` with real pointer events.
fn click_with(h: &mut Harness<'static, EditorApp>, pos: Pos2, button: PointerButton) {
    h.event(egui::Event::PointerMoved(pos));
    h.step();
    for pressed in [true, false] {
        h.event(egui::Event::PointerButton { pos, button, pressed, modifiers: Modifiers::NONE });
        h.step();
    }
    h.step();
}

fn wire_point(h: &Harness<'static, EditorApp>, t: f32) -> Pos2 {
    let (from, to) = (PortRef::new("gen", "out"), PortRef::new("sink", "in"));
    h.state().canvas().wire_screen_point(&from, &to, t, h.state().graph()).expect("wire drawn")
}

#[test]
fn a_click_anywhere_along_a_wire_selects_it_and_beside_it_does_not() {
    let mut h = harness(EditorApp::new(registry(), Some((two_nodes(), None))));
    h.run_ok();
    // A quarter of the way along, far from the midpoint handle, 3 points off the line.
    let p = wire_point(&h, 0.25) + egui::vec2(0.0, 3.0);
    let mid = wire_point(&h, 0.5);
    assert!(p.distance(mid) > 60.0, "test point {p:?} too close to the midpoint {mid:?}");
    click_with(&mut h, p + egui::vec2(0.0, 40.0), PointerButton::Primary);
    assert_eq!(h.state().selection(), &Selection::Graph, "a click beside the wire selects nothing");
    click_with(&mut h, p, PointerButton::Primary);
    assert_eq!(h.state().selection(), &Selection::Wire(PortRef::new("gen", "out"), PortRef::new("sink", "in")));
}

#[test]
fn right_click_on_a_wire_opens_its_menu_and_insert_splits_it_in_one_undo_step() {
    let mut h = harness(EditorApp::new(registry(), Some((two_nodes(), None))));
    h.run_ok();
    let before = h.state().graph().clone();
    let p = wire_point(&h, 0.7);
    click_with(&mut h, p, PointerButton::Secondary);
    assert!(h.query_by_label("Add node").is_none(), "the wire menu, not the add-node menu");
    h.get_by_label("Insert node… ⏵").click();
    h.run_ok();
    // The palette lists `map` too; the submenu's entry is drawn last.
    let maps: Vec<_> = h.get_all_by_role_and_label(Role::Button, "map").collect();
    assert_eq!(maps.len(), 2, "palette and submenu");
    maps.last().expect("submenu entry").click();
    h.run_ok();
    let g = h.state().graph();
    assert_eq!(g.nodes.len(), 3);
    let ends: Vec<(String, String)> = g.wires.iter().map(|w| (w.from.to_string(), w.to.to_string())).collect();
    assert_eq!(
        ends,
        vec![("gen.out".to_string(), "map.in".to_string()), ("map.out".to_string(), "sink.in".to_string())]
    );
    assert_eq!(h.state().problems().error_count(), 0);
    // The new card sits between the two, covering neither.
    h.run_ok();
    let rect = |id: &str| h.state().canvas().node_screen_rect(id).expect("drawn");
    let (gen_r, map_r, sink_r) = (rect("gen"), rect("map"), rect("sink"));
    assert!(gen_r.right() < map_r.left() && map_r.right() < sink_r.left(), "{gen_r:?} {map_r:?} {sink_r:?}");
    h.state_mut().undo();
    assert_eq!(h.state().graph(), &before, "one undo step takes the insert back");
}

#[test]
fn the_wire_menu_sets_the_policy_and_deletes() {
    let mut h = harness(EditorApp::new(registry(), Some((two_nodes(), None))));
    h.run_ok();
    let p = wire_point(&h, 0.3);
    click_with(&mut h, p, PointerButton::Secondary);
    h.get_by_label("drop_oldest").click();
    h.run_ok();
    assert_eq!(h.state().graph().wires[0].when_full, Some(streamloom_runtime::WhenFull::DropOldest));
    let p = wire_point(&h, 0.3);
    click_with(&mut h, p, PointerButton::Secondary);
    let delete: Vec<_> = h.get_all_by_label("🗑 Delete wire").collect();
    // The inspector shows the selected wire too; the menu's button is the last one drawn.
    delete.last().expect("menu").click();
    h.run_ok();
    assert!(h.state().graph().wires.is_empty());
}

#[test]
fn palette_clicks_place_nodes_near_the_view_centre_without_covering_any_card() {
    let g = Graph {
        nodes: vec![node("gen", "generator", [0.0, 0.0], json!({"count": 10, "payload": "sequence", "seed": 1}))],
        ..Default::default()
    };
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    let view = h.state().canvas().view_rect();
    assert!(h.state().canvas().node_screen_rect("gen").expect("drawn").contains(view.center()), "gen is centred");
    for _ in 0..4 {
        h.get_by_role_and_label(Role::Button, "map").click();
        h.run_ok();
    }
    let ids: Vec<String> = h.state().graph().nodes.iter().map(|n| n.id.clone()).collect();
    assert_eq!(ids.len(), 5);
    let rects: Vec<egui::Rect> = ids.iter().map(|id| h.state().canvas().node_screen_rect(id).expect("drawn")).collect();
    for (i, a) in rects.iter().enumerate() {
        assert!(a.center().distance(view.center()) < 450.0, "{} far from the centre: {a:?}", ids[i]);
        for (j, b) in rects.iter().enumerate().skip(i + 1) {
            assert!(!a.intersects(*b), "{} {a:?} overlaps {} {b:?}", ids[i], ids[j]);
        }
    }
}

/// Presses at `from`, moves to `to` in steps and releases, stepping the UI like a person's drag.
fn drag(h: &mut Harness<'static, EditorApp>, from: Pos2, to: Pos2) {
    h.event(egui::Event::PointerMoved(from));
    h.step();
    h.event(egui::Event::PointerButton {
        pos: from,
        button: PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    h.step();
    for i in 1..=8 {
        h.event(egui::Event::PointerMoved(from + (to - from) * (i as f32 / 8.0)));
        h.step();
    }
    h.event(egui::Event::PointerButton {
        pos: to,
        button: PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    h.step();
    h.step();
}

fn annotated() -> Graph {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/format-v2/comments_and_groups.ron");
    streamloom_runtime::graph::load_file(&path).expect("fixture loads").0
}

fn position(h: &Harness<'static, EditorApp>, id: &str) -> [f32; 2] {
    h.state().graph().node(id).and_then(|n| n.position).expect("placed")
}

#[test]
fn dragging_a_groups_title_moves_its_nodes_together_in_one_undo_step() {
    let mut h = harness(EditorApp::new(registry(), Some((annotated(), None))));
    h.run_ok();
    let before = h.state().graph().clone();
    let title = h.state().canvas().group_title_screen_rect("work").expect("group frame drawn");
    let scale = h.state().canvas().transform().scaling;
    let from = title.center() + egui::vec2(40.0, 0.0);
    drag(&mut h, from, from + egui::vec2(120.0, 80.0));
    let moved = |id: &str, h: &Harness<'static, EditorApp>| {
        let (a, b) = (before.node(id).and_then(|n| n.position).expect("placed"), position(h, id));
        [(b[0] - a[0]) * scale, (b[1] - a[1]) * scale]
    };
    for id in ["gen", "double"] {
        let d = moved(id, &h);
        assert!((d[0] - 120.0).abs() < 2.0 && (d[1] - 80.0).abs() < 2.0, "{id} moved {d:?}");
    }
    assert_eq!(moved("sink", &h), [0.0, 0.0], "a node outside the group stays");
    h.state_mut().undo();
    assert_eq!(h.state().graph(), &before, "one undo step");
}

#[test]
fn comments_are_drawn_moved_added_and_undone() {
    let mut h = harness(EditorApp::new(registry(), Some((annotated(), None))));
    h.run_ok();
    h.get_by_label("Ten events,\nthen done.");
    let r = h.state().canvas().comment_screen_rect("note").expect("comment drawn");
    let scale = h.state().canvas().transform().scaling;
    drag(&mut h, r.center(), r.center() + egui::vec2(100.0, 0.0));
    let p = h.state().graph().comments[0].position;
    assert!((p[0] * scale - 100.0).abs() < 2.0 && p[1] == 160.0, "{p:?}");
    h.state_mut().undo();
    assert_eq!(h.state().graph().comments[0].position, [0.0, 160.0]);
    // Right-click on empty canvas: "Add comment".
    let view = h.state().canvas().view_rect();
    click_with(&mut h, view.right_bottom() - egui::vec2(60.0, 60.0), PointerButton::Secondary);
    h.get_by_label("📝 Add comment").click();
    h.run_ok();
    assert_eq!(h.state().graph().comments.len(), 2);
    h.get_by_label("New comment");
    h.state_mut().undo();
    assert_eq!(h.state().graph().comments.len(), 1);
    h.state_mut().redo();
    assert_eq!(h.state().graph().comments.len(), 2);
}

#[test]
fn a_group_made_on_the_canvas_is_saved_and_reopened() {
    let mut h = harness(EditorApp::new(registry(), Some((two_nodes(), None))));
    h.run_ok();
    let r = h.state().canvas().node_screen_rect("sink").expect("drawn");
    click_with(&mut h, egui::pos2(r.right() - 12.0, r.top() + 14.0), PointerButton::Secondary);
    h.get_by_label("Group").click();
    h.run_ok();
    assert_eq!(h.state().graph().groups.len(), 1);
    assert_eq!(h.state().graph().groups[0].nodes, vec!["sink".to_string()]);
    h.run_ok();
    assert!(h.state().canvas().group_title_screen_rect(&h.state().graph().groups[0].id).is_some(), "frame drawn");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("grouped.ron");
    h.state_mut().save_to(&path).expect("saved");
    let again = EditorApp::open_file(registry(), path).expect("reopens");
    assert_eq!(again.graph(), h.state().graph());
}

#[test]
fn nodes_edited_during_a_run_are_marked_and_the_toolbar_says_the_run_uses_the_previous_version() {
    let g = Graph {
        nodes: vec![
            node("gen", "generator", [0.0, 0.0], json!({"rate": 20.0, "payload": "sequence", "seed": 1})),
            node("m", "map", [300.0, 0.0], json!({"expression": "."})),
            node("sink", "null_sink", [600.0, 0.0], json!({})),
        ],
        wires: vec![
            Wire::new(PortRef::new("gen", "out"), PortRef::new("m", "in")),
            Wire::new(PortRef::new("m", "out"), PortRef::new("sink", "in")),
        ],
        ..Default::default()
    };
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    h.get_by_label("▶ Run").click();
    h.step();
    assert!(h.state().runner().is_running());
    assert!(h.query_by_label("✎ edited").is_none());
    h.state_mut().select_node("m");
    h.step();
    let field = h.get_by_label("expression *");
    field.focus();
    field.type_text(" | .");
    for _ in 0..3 {
        h.step();
    }
    let diff = h.state().edited_since_run().clone();
    assert_eq!(diff.changed.iter().collect::<Vec<_>>(), vec!["m"]);
    h.get_by_label("✎ edited");
    h.get_by_label_contains("since the run started: it uses the previous version");
    // Moving a node is not an edit the run would see.
    assert!(!diff.changed.contains("gen"));
    h.get_by_label("⏹ Stop").click();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while h.state().runner().is_running() {
        h.step();
        assert!(std::time::Instant::now() < deadline, "the run did not stop");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.step();
    h.step();
    assert!(h.query_by_label("✎ edited").is_none(), "no mark once the run has ended");
    assert!(h.query_by_label_contains("it uses the previous version").is_none());
}

/// A harness whose monitor is `monitor` points.
fn on_monitor(app: EditorApp, monitor: egui::Vec2) -> Harness<'static, EditorApp> {
    let mut h = harness(app);
    h.input_mut().viewports.entry(egui::ViewportId::ROOT).or_default().monitor_size = Some(monitor);
    h
}

#[test]
fn the_window_opens_at_a_size_that_fits_its_monitor() {
    for (monitor, expect) in
        [(egui::vec2(1600.0, 1000.0), egui::vec2(1440.0, 900.0)), (egui::vec2(1024.0, 600.0), egui::vec2(921.6, 560.0))]
    {
        let mut h = on_monitor(EditorApp::new(registry(), Some((two_nodes(), None))), monitor);
        h.run_ok();
        let size = h.ctx.content_rect().size();
        assert!((size - expect).length() < 1.0, "monitor {monitor:?}: window {size:?}, expected {expect:?}");
    }
}

/// 120 nodes in a 12 × 10 grid: too big to fit 1280 × 800 at a legible scale.
fn large_graph() -> Graph {
    let mut g = Graph::default();
    for i in 0..120 {
        let pos = [(i % 12) as f32 * 280.0, (i / 12) as f32 * 150.0];
        g.nodes.push(node(&format!("m{i}"), "map", pos, json!({"expression": "."})));
    }
    g
}

#[test]
fn fit_never_zooms_below_legible_and_centres_a_graph_too_big_to_fit() {
    let mut h = harness(EditorApp::new(registry(), Some((large_graph(), None))));
    h.run_ok();
    let canvas = h.state().canvas();
    assert_eq!(canvas.transform().scaling, 0.7, "the smallest legible scale");
    let mut nodes = egui::Rect::NOTHING;
    for n in &h.state().graph().nodes {
        nodes = nodes.union(canvas.node_screen_rect(&n.id).expect("drawn"));
    }
    let off = nodes.center() - canvas.view_rect().center();
    assert!(off.length() < 30.0, "graph centre {:?} vs view centre {:?}", nodes.center(), canvas.view_rect().center());
}

#[test]
fn the_fit_button_shows_every_node_even_when_that_takes_a_small_scale() {
    let mut h = harness(EditorApp::new(registry(), Some((large_graph(), None))));
    h.run_ok();
    h.get_by_label("Fit").click();
    h.run_ok();
    let canvas = h.state().canvas();
    assert!(canvas.transform().scaling < 0.7, "smaller than an opened graph's floor");
    let view = canvas.view_rect().expand(1.0);
    for n in &h.state().graph().nodes {
        let r = canvas.node_screen_rect(&n.id).expect("drawn");
        assert!(view.contains_rect(r), "{} at {r:?} is outside the view {view:?}", n.id);
    }
}

#[test]
fn one_ctrl_wheel_notch_zooms_between_10_and_15_percent() {
    let mut h = harness(EditorApp::new(registry(), Some((two_nodes(), None))));
    h.run_ok();
    let at = h.state().canvas().view_rect().center();
    for (lines, grow) in [(1.0, true), (-1.0, false)] {
        let before = h.state().canvas().transform().scaling;
        h.event(egui::Event::PointerMoved(at));
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Line,
            delta: egui::vec2(0.0, lines),
            modifiers: Modifiers::COMMAND,
            phase: egui::TouchPhase::Move,
        });
        for _ in 0..10 {
            h.step();
        }
        let ratio = h.state().canvas().transform().scaling / before;
        let step = if grow { ratio } else { 1.0 / ratio };
        assert!((1.10..=1.15).contains(&step), "one notch zoomed by {ratio} (from {before})");
    }
}

/// 300 nodes and 300 wires: 100 chains generator → map → null_sink, each generator also wired
/// straight to its sink.
fn graph_300() -> Graph {
    let mut g = Graph::default();
    for c in 0..100 {
        let (x, y) = ((c % 5) as f32 * 900.0, (c / 5) as f32 * 150.0);
        let (gen_id, map_id, sink_id) = (format!("g{c}"), format!("m{c}"), format!("s{c}"));
        g.nodes.push(node(&gen_id, "generator", [x, y], json!({"count": 10, "payload": "sequence", "seed": 1})));
        g.nodes.push(node(&map_id, "map", [x + 280.0, y], json!({"expression": "."})));
        g.nodes.push(node(&sink_id, "null_sink", [x + 560.0, y], json!({})));
        g.wires.push(Wire::new(PortRef::new(&gen_id, "out"), PortRef::new(&map_id, "in")));
        g.wires.push(Wire::new(PortRef::new(&map_id, "out"), PortRef::new(&sink_id, "in")));
        g.wires.push(Wire::new(PortRef::new(&gen_id, "out"), PortRef::new(&sink_id, "in")));
    }
    g
}

/// The `i`-th event of the pan-and-zoom pattern: three wheel pans, then a Ctrl+wheel zoom
/// notch, in and out in turn.
fn pan_zoom_event(i: usize) -> egui::Event {
    if i % 4 == 3 {
        egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Line,
            delta: egui::vec2(0.0, if i % 8 == 3 { 1.0 } else { -1.0 }),
            modifiers: Modifiers::COMMAND,
            phase: egui::TouchPhase::Move,
        }
    } else {
        let d = if i % 8 < 4 { 40.0 } else { -40.0 };
        egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(d, d / 2.0),
            modifiers: Modifiers::NONE,
            phase: egui::TouchPhase::Move,
        }
    }
}

/// Mean and 95th percentile of `times` (ms).
fn mean_p95(mut times: Vec<f64>) -> (f64, f64) {
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    (mean, times[times.len() * 95 / 100])
}

/// Milliseconds per frame in the harness while panning and zooming: each "frame" is a harness
/// step (the app's frame, egui's end of frame and the harness's AccessKit tree) and
/// tessellation; the harness runs a frame per queued event, so a step is two frames here.
fn pan_zoom_frames(h: &mut Harness<'static, EditorApp>, frames: usize) -> (f64, f64) {
    let at = h.state().canvas().view_rect().center();
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames {
        h.event(egui::Event::PointerMoved(at));
        let start = std::time::Instant::now();
        h.event(pan_zoom_event(i));
        h.step();
        let shapes = h.output().shapes.clone();
        let meshes = h.ctx.tessellate(shapes, h.output().pixels_per_point);
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        assert!(!meshes.is_empty());
    }
    mean_p95(times)
}

/// As [`pan_zoom_frames`], but the pointer move and the wheel event arrive in one frame, as a
/// window gets them (`Harness::event` runs a frame per event: each step above is two frames).
fn pan_zoom_single_frames(h: &mut Harness<'static, EditorApp>, frames: usize) -> (f64, f64) {
    let at = h.state().canvas().view_rect().center();
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames {
        let start = std::time::Instant::now();
        h.input_mut().events.extend([egui::Event::PointerMoved(at), pan_zoom_event(i)]);
        h.step();
        let shapes = h.output().shapes.clone();
        let meshes = h.ctx.tessellate(shapes, h.output().pixels_per_point);
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        assert!(!meshes.is_empty());
    }
    mean_p95(times)
}

/// The same frames as a window draws them (a plain egui context: no AccessKit tree, which
/// eframe builds only for a screen reader): the app's frame, egui's end of frame, tessellation.
fn pan_zoom_frames_plain(g: Graph, zoom: f32, frames: usize) -> (f64, f64, f32) {
    let ctx = egui::Context::default();
    let mut app = EditorApp::new(registry(), Some((g, None)));
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1440.0, 900.0));
    let mut t = 0.0;
    let mut frame = |app: &mut EditorApp, events: Vec<egui::Event>| {
        t += 1.0 / 60.0;
        let input = egui::RawInput { screen_rect: Some(screen), time: Some(t), events, ..Default::default() };
        let start = std::time::Instant::now();
        let mut out = ctx.run_ui(input, |ui| app.ui(ui));
        // No renderer takes the font atlas's updates here (a debug build checks they were).
        out.textures_delta.clear();
        let meshes = ctx.tessellate(out.shapes, out.pixels_per_point);
        assert!(!meshes.is_empty());
        start.elapsed().as_secs_f64() * 1000.0
    };
    for _ in 0..10 {
        frame(&mut app, Vec::new());
    }
    app.canvas_mut().zoom(zoom);
    let at = app.canvas().view_rect().center();
    for i in 0..20 {
        frame(&mut app, vec![egui::Event::PointerMoved(at), pan_zoom_event(i)]);
    }
    let times = (0..frames).map(|i| frame(&mut app, vec![egui::Event::PointerMoved(at), pan_zoom_event(i)])).collect();
    let (mean, p95) = mean_p95(times);
    (mean, p95, app.canvas().transform().scaling)
}

/// Frame time of a 300-node, 300-wire graph while panning and zooming, at the fit view and
/// zoomed out until every card is on screen. The figure that counts is from a release build:
/// `cargo test --release -p streamloom --test canvas_ui bench_300 -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: prints ms/frame; run in release"]
fn bench_300_nodes_300_wires_pan_zoom() {
    let g = graph_300();
    assert_eq!((g.nodes.len(), g.wires.len()), (300, 300));
    for (zoom, view) in [(1.0, "at fit"), (0.3, "all on screen")] {
        let (mean, p95, scale) = pan_zoom_frames_plain(g.clone(), zoom, 300);
        println!(
            "300 nodes, 300 wires, {view} (scale {scale:.2}), as a window: {mean:.2} ms/frame mean, {p95:.2} ms p95"
        );
        let mut h = Harness::builder()
            .with_size(egui::vec2(1440.0, 900.0))
            .with_max_steps(20)
            .build_ui_state(|ui, app: &mut EditorApp| app.ui(ui), EditorApp::new(registry(), Some((g.clone(), None))));
        for _ in 0..5 {
            h.step();
        }
        h.state_mut().canvas_mut().zoom(zoom);
        pan_zoom_frames(&mut h, 20);
        let (mean, p95) = pan_zoom_frames(&mut h, 200);
        println!(
            "300 nodes, 300 wires, {view}, kittest harness with AccessKit: {mean:.2} ms/frame mean, {p95:.2} ms p95"
        );
        let (mean, p95) = pan_zoom_single_frames(&mut h, 200);
        println!(
            "300 nodes, 300 wires, {view}, kittest harness with AccessKit, both events in one frame: {mean:.2} ms/frame mean, {p95:.2} ms p95"
        );
    }
}

fn repaint_delay(h: &Harness<'static, EditorApp>) -> std::time::Duration {
    h.output().viewport_output.get(&egui::ViewportId::ROOT).map_or(std::time::Duration::MAX, |v| v.repaint_delay)
}

/// Steps for `secs` seconds of wall time, a frame every 50 ms.
fn step_for(h: &mut Harness<'static, EditorApp>, secs: f64) {
    let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
    while std::time::Instant::now() < end {
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn the_editor_repaints_at_the_sample_rate_while_running_and_not_when_paused_or_ended() {
    let g = Graph {
        nodes: vec![
            node("gen", "generator", [0.0, 0.0], json!({"rate": 50.0, "payload": "sequence", "seed": 1})),
            node("sink", "null_sink", [300.0, 0.0], json!({})),
        ],
        wires: vec![Wire::new(PortRef::new("gen", "out"), PortRef::new("sink", "in"))],
        ..Default::default()
    };
    // Frames 1/60 s apart (egui takes the predicted frame time off a requested delay).
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_step_dt(1.0 / 60.0)
        .build_ui_state(|ui, app: &mut EditorApp| app.ui(ui), EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    assert_eq!(repaint_delay(&h), std::time::Duration::MAX, "idle: no repaint without input");
    h.get_by_label("▶ Run").click();
    step_for(&mut h, 0.6);
    let running = repaint_delay(&h);
    // The sample interval (250 ms) less one predicted frame.
    assert!((200..=250).contains(&running.as_millis()), "{running:?} {:?}", h.ctx.repaint_causes());
    h.get_by_label("⏸ Pause").click();
    // Rates fall to zero over a second of samples, then the counters settle.
    step_for(&mut h, 3.5);
    assert!(h.state().runner().is_paused());
    let run_time = |h: &Harness<'static, EditorApp>| -> f64 {
        let status = h.state().runner().status();
        let time = status.split(" · ").nth(1).and_then(|t| t.split(' ').next());
        let secs = time.and_then(|t| t.strip_suffix('s')).and_then(|t| t.parse().ok());
        secs.unwrap_or_else(|| panic!("no time in the toolbar's {status:?}"))
    };
    let paused_at = run_time(&h);
    assert!(paused_at < 1.5, "the toolbar's time leaves the 3.5 s paused out: {paused_at}");
    // And says it beside (the Debug list stamps wall time since the start, pauses in).
    let status = h.state().runner().status();
    let paused =
        status.split("(+").nth(1).and_then(|t| t.strip_suffix("s paused)")).and_then(|t| t.parse::<f64>().ok());
    assert!(paused.is_some_and(|p| (3.0..=6.0).contains(&p)), "{status}");
    // At most one frame later, the one that clears the status bar's message.
    assert!(repaint_delay(&h) >= std::time::Duration::from_secs(1), "a paused, settled run does not repaint");
    // Pause holds the source; the sink after it goes on with what is in flight.
    assert_eq!(h.query_all_by_label("● paused").count(), 1, "the paused source says so, not \"running\"");
    assert_eq!(h.query_all_by_label("● running").count(), 1, "the sink is not paused");
    assert_eq!(h.query_all_by_label_contains("/s").count(), 1, "the paused source shows no rate");
    h.get_by_label("⏵ Resume").click();
    step_for(&mut h, 0.3);
    let resumed_at = run_time(&h);
    assert!(resumed_at >= paused_at && resumed_at < paused_at + 1.0, "{paused_at} then {resumed_at}");
    assert!(repaint_delay(&h) <= std::time::Duration::from_millis(250), "resumed: repaints again");
    h.get_by_label("⏹ Stop").click();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while h.state().runner().outcome().is_none() {
        step_for(&mut h, 0.05);
        assert!(std::time::Instant::now() < deadline, "the run did not stop");
    }
    h.step();
    h.step();
    assert!(repaint_delay(&h) >= std::time::Duration::from_secs(1), "an ended run does not repaint");
    let gen_status = h.state().runner().snapshot().and_then(|s| s.node("gen")).map(|n| n.status.name());
    assert_eq!(gen_status, Some("stopped"), "a source cut short by Stop reads stopped");
    assert_eq!(
        h.query_all_by_label("● stopped").count(),
        2,
        "both cards say stopped: the sink's input was cut short too"
    );
    assert_eq!(h.query_all_by_label_contains("finished").count(), 0, "no card says finished after a Stop");
    assert_eq!(h.query_all_by_label_contains("/s").count(), 0, "an ended card keeps no stale rate");
}

#[test]
fn a_full_wire_too_short_for_its_gauge_still_shows_depth_and_capacity() {
    // The generator outruns a buffer let through at 5 events/s: the short wire between them fills.
    let mut wire = Wire::new(PortRef::new("gen", "out"), PortRef::new("slow", "in"));
    wire.capacity = Some(16);
    let g = Graph {
        nodes: vec![
            node("gen", "generator", [0.0, 0.0], json!({"payload": "sequence", "seed": 1})),
            node("slow", "buffer", [150.0, 0.0], json!({"capacity": 16, "rate_limit": 5.0})),
            node("sink", "null_sink", [500.0, 0.0], json!({})),
        ],
        wires: vec![wire, Wire::new(PortRef::new("slow", "out"), PortRef::new("sink", "in"))],
        ..Default::default()
    };
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    h.get_by_label("▶ Run").click();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        step_for(&mut h, 0.1);
        let texts = h.state().canvas().gauge_texts().to_vec();
        if texts.iter().any(|(id, t)| id == "gen.out -> slow.in" && t.starts_with("16/16 ")) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no 16/16 gauge on the full wire: {texts:?}");
    }
    h.get_by_label("⏹ Stop").click();
    step_for(&mut h, 0.2);
}

#[test]
fn a_wire_label_shows_the_depth_now_and_the_highest_point_of_the_depth_chart() {
    let mut wire = Wire::new(PortRef::new("gen", "out"), PortRef::new("slow", "in"));
    wire.capacity = Some(16);
    let g = Graph {
        nodes: vec![
            node("gen", "generator", [0.0, 0.0], json!({"payload": "sequence", "seed": 1})),
            node("slow", "buffer", [500.0, 0.0], json!({"capacity": 16, "rate_limit": 5.0})),
            node("sink", "null_sink", [900.0, 0.0], json!({})),
        ],
        wires: vec![wire, Wire::new(PortRef::new("slow", "out"), PortRef::new("sink", "in"))],
        ..Default::default()
    };
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    h.get_by_label("Metrics").click();
    h.get_by_label("▶ Run").click();
    let id = "gen.out -> slow.in";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut checked = 0;
    while checked < 3 {
        step_for(&mut h, 0.1);
        assert!(std::time::Instant::now() < deadline, "no sample matched the label");
        let app = h.state();
        let Some(snap) = app.runner().snapshot() else { continue };
        let w = snap.wire(id).expect("wire in the snapshot");
        let history = app.runner().history().expect("history");
        let history = history.read().unwrap();
        // The chart up to the sample the label shows.
        let Some(upto) = history.samples().iter().position(|s| s.t == snap.elapsed_secs) else { continue };
        let index = snap.wires.iter().position(|x| x.id == id).unwrap();
        let highest = history.samples().iter().take(upto + 1).map(|s| s.max_depth[index]).max().unwrap();
        let label = app.canvas().gauge_texts().iter().find(|(w, _)| w == id).map(|(_, t)| t.clone());
        assert_eq!(label, Some(format!("{}/16 · max {highest}", w.depth)), "label vs chart");
        checked += 1;
    }
    h.get_by_label_contains("Queue depth: peak per sample (dotted: capacity)");
    h.get_by_label("⏹ Stop").click();
    step_for(&mut h, 0.2);
}

#[test]
fn dropping_a_palette_entry_on_a_wire_inserts_the_node_into_it() {
    let mut h = harness(EditorApp::new(registry(), Some((two_nodes(), None))));
    h.run_ok();
    let from = h.get_by_role_and_label(Role::Button, "filter").rect().center();
    let to = wire_point(&h, 0.4);
    drag(&mut h, from, to);
    h.run_ok();
    let ends: Vec<String> = h.state().graph().wires.iter().map(|w| w.id()).collect();
    assert_eq!(ends, vec!["gen.out -> filter.in".to_string(), "filter.out -> sink.in".to_string()]);
}

#[test]
fn cards_off_screen_are_sketched_at_their_full_size() {
    let mut h = harness(EditorApp::new(registry(), Some((large_graph(), None))));
    h.run_ok();
    h.run_ok();
    let canvas = h.state().canvas();
    let (view, scale) = (canvas.view_rect(), canvas.transform().scaling);
    let (corner, centre) =
        (canvas.node_screen_rect("m0").expect("drawn"), canvas.node_screen_rect("m66").expect("drawn"));
    assert!(!view.intersects(corner) && view.intersects(centre), "{corner:?} {centre:?} in {view:?}");
    assert!(h.query_by_label("m0").is_none(), "an off-screen card draws no texts");
    h.get_by_label("m66");
    // The same card drawn in full, alone on the canvas at 1:1, has the same size.
    let alone = Graph { nodes: vec![large_graph().nodes[0].clone()], ..Default::default() };
    let mut h1 = harness(EditorApp::new(registry(), Some((alone, None))));
    h1.run_ok();
    h1.get_by_label("m0");
    let full =
        h1.state().canvas().node_screen_rect("m0").expect("drawn").size() / h1.state().canvas().transform().scaling;
    let sketched = corner.size() / scale;
    assert!((full - sketched).length() < 0.5, "full {full:?} vs sketched {sketched:?}");
}

#[test]
fn a_click_on_a_comment_lying_over_a_wire_does_not_select_the_wire() {
    let mut g = two_nodes();
    g.comments.push(streamloom_runtime::graph::Comment {
        id: "c".into(),
        text: "A note laid over the wire\nwith two lines".into(),
        position: [180.0, 100.0],
    });
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    let p = wire_point(&h, 0.5);
    let note = h.state().canvas().comment_screen_rect("c").expect("drawn");
    assert!(note.contains(p), "the test needs the note over the wire: {note:?} {p:?}");
    click_with(&mut h, p, PointerButton::Primary);
    assert_eq!(h.state().selection(), &Selection::Graph);
}

#[test]
fn ctrl_g_groups_the_inspected_node_and_edit_menu_adds_a_comment() {
    let mut h = harness(EditorApp::new(registry(), Some((two_nodes(), None))));
    h.state_mut().select_node("gen");
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::G);
    h.run_ok();
    assert_eq!(h.state().graph().groups.len(), 1);
    assert_eq!(h.state().graph().groups[0].nodes, vec!["gen".to_string()]);
    h.get_by_label("Edit").click();
    h.run_ok();
    h.get_by_label("Add comment").click();
    h.run_ok();
    assert_eq!(h.state().graph().comments.len(), 1);
}

#[test]
fn the_metrics_panel_keeps_its_height_during_a_run() {
    let g = Graph {
        nodes: vec![
            node("gen", "generator", [0.0, 0.0], json!({"rate": 200.0, "payload": "sequence", "seed": 1})),
            node("sink", "null_sink", [300.0, 0.0], json!({})),
        ],
        wires: vec![Wire::new(PortRef::new("gen", "out"), PortRef::new("sink", "in"))],
        ..Default::default()
    };
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(|ui, app: &mut EditorApp| app.ui(ui), EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    h.get_by_label("▶ Run").click();
    h.run_ok();
    h.get_by_label("Metrics").click();
    step_for(&mut h, 0.5);
    let top = h.get_by_label("Metrics").rect().top();
    // Before the fix each frame grew the panel by a chart title's height, until it covered the canvas.
    step_for(&mut h, 1.5);
    let later = h.get_by_label("Metrics").rect().top();
    assert!((later - top).abs() < 1.0, "the bottom panel moved from y={top} to y={later}");
    assert!(later > 300.0, "the canvas keeps its room: the panel starts at y={later}");
    h.get_by_label("⏹ Stop").click();
    step_for(&mut h, 0.5);
}

#[test]
fn a_card_grown_by_a_run_never_covers_a_card_placed_beside_it() {
    let reg = registry();
    let default = |kind: &str| reg.get(kind).unwrap().default_config();
    let g = Graph {
        nodes: vec![
            node("gen", "generator", [0.0, 0.0], json!({"rate": 200.0, "payload": "sequence", "seed": 1})),
            node("win", "window", [300.0, 0.0], default("window")),
            node("sink", "null_sink", [600.0, 0.0], json!({})),
        ],
        wires: vec![
            Wire::new(PortRef::new("gen", "out"), PortRef::new("win", "in")),
            Wire::new(PortRef::new("win", "out"), PortRef::new("sink", "in")),
        ],
        ..Default::default()
    };
    let mut h = harness(EditorApp::new(registry(), Some((g, None))));
    h.run_ok();
    let idle = h.state().canvas().node_screen_rect("win").unwrap();
    // Asked for on top of the window node: it goes to the nearest free spot.
    let kind = "generator".to_string();
    h.state_mut().apply(streamloom::editor::actions::Action::AddNode { kind, pos: [300.0, 0.0], wire: None });
    h.run_ok();
    let added = h.state().graph().nodes[3].id.clone();
    h.get_by_label("▶ Run").click();
    step_for(&mut h, 1.5);
    assert!(h.state().runner().is_running(), "{}", h.state().runner().status());
    let rect = |id: &str| h.state().canvas().node_screen_rect(id).unwrap();
    let grown = rect("win");
    println!("win idle {idle:?} running {grown:?}; {added} at {:?}", rect(&added));
    assert!(grown.height() > idle.height() + 20.0, "the run grew the card: {idle:?} -> {grown:?}");
    for a in ["gen", "win", "sink"] {
        assert!(!rect(a).intersects(rect(&added)), "{a} {:?} covers {added} {:?}", rect(a), rect(&added));
    }
    h.get_by_label("⏹ Stop").click();
    step_for(&mut h, 0.2);
}

#[test]
fn zoomed_out_cards_are_sketched_without_a_widget_per_pin_or_text_and_keep_their_wires() {
    let g = graph_300();
    let mut h = Harness::builder()
        .with_size(egui::vec2(1440.0, 900.0))
        .with_max_steps(20)
        .build_ui_state(|ui, app: &mut EditorApp| app.ui(ui), EditorApp::new(registry(), Some((g, None))));
    for _ in 0..5 {
        h.step();
    }
    h.state_mut().canvas_mut().zoom(0.3);
    for _ in 0..5 {
        h.step();
    }
    assert!(h.state().canvas().transform().scaling < 0.45, "zoomed out far enough to sketch");
    // egui makes an AccessKit node per widget: a card drawn in full has a dozen and more
    // (pins, their texts, header texts); a sketch has only egui-snarl's frame of the card.
    let nodes = h.query_all(egui_kittest::kittest::by()).count();
    assert!(nodes < 300 * 9, "{nodes} AccessKit nodes for 300 sketched cards");
    // Their wires still run between their pins (drawn by the canvas).
    let from = h.state().canvas().pin_screen_pos("g0", "out", true).expect("pin of a sketched card");
    let to = h.state().canvas().pin_screen_pos("m0", "in", false).expect("pin of a sketched card");
    let mid = h.state().canvas().wire_screen_point(
        &PortRef::new("g0", "out"),
        &PortRef::new("m0", "in"),
        0.5,
        h.state().graph(),
    );
    assert!(from.x < to.x && mid.is_some(), "{from:?} {to:?}");
}

//! Canvas editing found missing by a newcomer, driven with egui_kittest like a person would:
//! comments and group names edited in place, multi-selection, typing to add a node, paste.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use egui::{Event, Key, Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use serde_json::json;
use streamloom::editor::EditorApp;
use streamloom_runtime::{Graph, Node, PortRef, Wire};

fn registry() -> streamloom_runtime::Registry {
    streamloom_nodes::builtin_registry()
}

fn annotated() -> Graph {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/format-v2/comments_and_groups.ron");
    streamloom_runtime::graph::load_file(&path).expect("fixture loads").0
}

fn harness(app: EditorApp) -> Harness<'static, EditorApp> {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_max_steps(20)
        // Frames 1/60 s apart: the default step (0.25 s) is longer than egui's double-click delay.
        .with_step_dt(1.0 / 60.0)
        .build_ui_state(|ui, app: &mut EditorApp| app.ui(ui), app);
    h.run_ok();
    h
}

/// Presses and releases the primary button at `pos` `times` times in quick succession.
fn clicks(h: &mut Harness<'static, EditorApp>, pos: Pos2, times: usize, modifiers: Modifiers) {
    // Over egui's triple-click window (0.6 s) after any earlier click.
    for _ in 0..40 {
        h.step();
    }
    h.event(Event::PointerMoved(pos));
    h.step();
    h.event(Event::ModifiersChanged(modifiers));
    h.step();
    for _ in 0..times {
        for pressed in [true, false] {
            h.event(Event::PointerButton { pos, button: PointerButton::Primary, pressed, modifiers });
            h.step();
        }
    }
    h.event(Event::ModifiersChanged(Modifiers::NONE));
    h.step();
    h.step();
}

/// Presses at `from`, moves to `to` in steps and releases, holding `modifiers` throughout.
fn drag(h: &mut Harness<'static, EditorApp>, from: Pos2, to: Pos2, modifiers: Modifiers) {
    for _ in 0..40 {
        h.step();
    }
    h.event(Event::ModifiersChanged(modifiers));
    h.event(Event::PointerMoved(from));
    h.step();
    h.event(Event::PointerButton { pos: from, button: PointerButton::Primary, pressed: true, modifiers });
    h.step();
    for i in 1..=8 {
        h.event(Event::PointerMoved(from + (to - from) * (i as f32 / 8.0)));
        h.step();
    }
    h.event(Event::PointerButton { pos: to, button: PointerButton::Primary, pressed: false, modifiers });
    h.step();
    h.event(Event::ModifiersChanged(Modifiers::NONE));
    h.step();
    h.step();
}

fn type_text(h: &mut Harness<'static, EditorApp>, text: &str) {
    h.event(Event::Text(text.into()));
    h.step();
    h.step();
}

fn comment_text(h: &Harness<'static, EditorApp>) -> String {
    h.state().graph().comments[0].text.clone()
}

#[test]
fn a_double_clicked_comment_is_edited_in_place_and_ctrl_enter_keeps_it_in_one_undo_step() {
    let mut h = harness(EditorApp::new(registry(), Some((annotated(), None))));
    let r = h.state().canvas().comment_screen_rect("note").expect("comment drawn");
    clicks(&mut h, r.center(), 2, Modifiers::NONE);
    // The field keeps the focus: typing goes into it, key by key.
    type_text(&mut h, " More");
    type_text(&mut h, " text.");
    assert_eq!(comment_text(&h), "Ten events,\nthen done.", "nothing is kept before the edit ends");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
    h.run_ok();
    assert_eq!(comment_text(&h), "Ten events,\nthen done. More text.");
    h.get_by_label("Ten events,\nthen done. More text.");
    h.state_mut().undo();
    assert_eq!(comment_text(&h), "Ten events,\nthen done.", "one undo step");
}

#[test]
fn escape_cancels_a_comment_edit_and_a_click_elsewhere_keeps_it() {
    let mut h = harness(EditorApp::new(registry(), Some((annotated(), None))));
    let r = h.state().canvas().comment_screen_rect("note").expect("comment drawn");
    clicks(&mut h, r.center(), 2, Modifiers::NONE);
    type_text(&mut h, " lost");
    h.key_press(Key::Escape);
    h.run_ok();
    assert_eq!(comment_text(&h), "Ten events,\nthen done.");
    assert!(!h.state().document().is_dirty(), "a cancelled edit changes nothing");
    clicks(&mut h, r.center(), 2, Modifiers::NONE);
    type_text(&mut h, " kept");
    let view = h.state().canvas().view_rect();
    clicks(&mut h, view.right_bottom() - egui::vec2(40.0, 40.0), 1, Modifiers::NONE);
    assert_eq!(comment_text(&h), "Ten events,\nthen done. kept");
}

#[test]
fn a_double_clicked_group_title_renames_the_group_on_enter() {
    let mut h = harness(EditorApp::new(registry(), Some((annotated(), None))));
    let title = h.state().canvas().group_title_screen_rect("work").expect("group drawn");
    clicks(&mut h, title.center(), 2, Modifiers::NONE);
    type_text(&mut h, "ers");
    h.key_press(Key::Enter);
    h.run_ok();
    assert_eq!(h.state().graph().groups[0].name, "Workers");
    h.state_mut().undo();
    assert_eq!(h.state().graph().groups[0].name, "Work", "one undo step");
}

fn node(id: &str, kind: &str, pos: [f32; 2], config: serde_json::Value) -> Node {
    Node { id: id.into(), kind: kind.into(), version: 1, position: Some(pos), config }
}

/// generator → map → null_sink in a row.
fn three_nodes() -> Graph {
    Graph {
        nodes: vec![
            node("gen", "generator", [0.0, 0.0], json!({"count": 10, "payload": "sequence", "seed": 1})),
            node("double", "map", [280.0, 0.0], json!({"expression": "."})),
            node("sink", "null_sink", [560.0, 0.0], json!({})),
        ],
        wires: vec![
            Wire::new(PortRef::new("gen", "out"), PortRef::new("double", "in")),
            Wire::new(PortRef::new("double", "out"), PortRef::new("sink", "in")),
        ],
        ..Default::default()
    }
}

/// A screen point on empty canvas `below` points under a node's card.
fn under(h: &Harness<'static, EditorApp>, id: &str, x: f32, below: f32) -> Pos2 {
    let r = h.state().canvas().node_screen_rect(id).expect("drawn");
    let at = egui::pos2(x, r.bottom() + below);
    assert!(h.state().canvas().view_rect().contains(at), "{at:?} is in view");
    at
}

/// A point on a node's header beside its title.
fn header(h: &Harness<'static, EditorApp>, id: &str) -> Pos2 {
    let r = h.state().canvas().node_screen_rect(id).expect("drawn");
    egui::pos2(r.right() - 12.0, r.top() + 14.0)
}

fn selected(h: &Harness<'static, EditorApp>) -> Vec<String> {
    let mut ids = h.state().canvas().selected(&h.ctx);
    ids.sort();
    ids
}

#[test]
fn shift_and_ctrl_clicks_toggle_nodes_and_a_click_on_empty_canvas_clears_the_selection() {
    let mut h = harness(EditorApp::new(registry(), Some((three_nodes(), None))));
    let (gen_at, sink_at) = (header(&h, "gen"), header(&h, "sink"));
    clicks(&mut h, gen_at, 1, Modifiers::SHIFT);
    clicks(&mut h, sink_at, 1, Modifiers::SHIFT);
    assert_eq!(selected(&h), ["gen", "sink"]);
    clicks(&mut h, gen_at, 1, Modifiers::SHIFT);
    assert_eq!(selected(&h), ["sink"], "Shift+click on a selected node removes it");
    clicks(&mut h, gen_at, 1, Modifiers::COMMAND);
    assert_eq!(selected(&h), ["gen", "sink"], "Ctrl+click on an unselected node adds it");
    clicks(&mut h, gen_at, 1, Modifiers::COMMAND);
    assert_eq!(selected(&h), ["sink"], "Ctrl+click on a selected node removes it");
    let empty = under(&h, "double", header(&h, "double").x, 60.0);
    clicks(&mut h, empty, 1, Modifiers::NONE);
    assert_eq!(selected(&h), Vec::<String>::new(), "a click on empty canvas clears the selection");
    clicks(&mut h, sink_at, 1, Modifiers::SHIFT);
    let double_at = header(&h, "double");
    clicks(&mut h, double_at, 1, Modifiers::NONE);
    assert_eq!(selected(&h), ["double"], "a plain click on a node outside the selection selects only it");
}

#[test]
fn a_shift_drag_rectangle_selects_nodes_that_ctrl_g_groups_and_delete_removes_in_one_step() {
    let mut h = harness(EditorApp::new(registry(), Some((three_nodes(), None))));
    let (gen_r, double_r) =
        (h.state().canvas().node_screen_rect("gen").unwrap(), h.state().canvas().node_screen_rect("double").unwrap());
    let from = under(&h, "gen", gen_r.center().x, 40.0);
    let to = egui::pos2(double_r.left() + 20.0, gen_r.center().y);
    drag(&mut h, from, to, Modifiers::SHIFT);
    assert_eq!(selected(&h), ["double", "gen"]);
    h.key_press_modifiers(Modifiers::COMMAND, Key::G);
    h.run_ok();
    let groups = &h.state().graph().groups;
    assert_eq!(groups.len(), 1);
    let mut members = groups[0].nodes.clone();
    members.sort();
    assert_eq!(members, ["double", "gen"]);
    let before = h.state().graph().clone();
    h.key_press(Key::Delete);
    h.run_ok();
    let left: Vec<&str> = h.state().graph().nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(left, ["sink"]);
    h.state_mut().undo();
    assert_eq!(h.state().graph(), &before, "one undo step");
}

#[test]
fn dragging_one_selected_node_moves_all_selected_in_one_undo_step() {
    let mut h = harness(EditorApp::new(registry(), Some((three_nodes(), None))));
    let (gen_at, double_at) = (header(&h, "gen"), header(&h, "double"));
    clicks(&mut h, gen_at, 1, Modifiers::SHIFT);
    clicks(&mut h, double_at, 1, Modifiers::SHIFT);
    let before = h.state().graph().clone();
    let scale = h.state().canvas().transform().scaling;
    let from = header(&h, "gen");
    drag(&mut h, from, from + egui::vec2(80.0, 120.0), Modifiers::NONE);
    let moved = |id: &str, h: &Harness<'static, EditorApp>| {
        let a = before.node(id).and_then(|n| n.position).expect("placed");
        let b = h.state().graph().node(id).and_then(|n| n.position).expect("placed");
        [(b[0] - a[0]) * scale, (b[1] - a[1]) * scale]
    };
    for id in ["gen", "double"] {
        let d = moved(id, &h);
        assert!((d[0] - 80.0).abs() < 2.0 && (d[1] - 120.0).abs() < 2.0, "{id} moved {d:?}");
    }
    assert_eq!(moved("sink", &h), [0.0, 0.0], "an unselected node stays");
    h.state_mut().undo();
    assert_eq!(h.state().graph(), &before, "one undo step");
}

#[test]
fn a_letter_typed_over_the_canvas_opens_quick_add_with_it_in_the_search() {
    let mut h = harness(EditorApp::new(registry(), Some((three_nodes(), None))));
    let at = under(&h, "double", header(&h, "double").x, 60.0);
    h.event(Event::PointerMoved(at));
    h.step();
    h.key_press(Key::M);
    h.event(Event::Text("m".into()));
    h.run_ok();
    let search = h.get_by_label("Add node");
    assert_eq!(search.value().as_deref(), Some("m"), "the typed letter is in the search");
    // The field has the focus, its cursor after the letter: typing goes on from there.
    h.event(Event::Text("ap".into()));
    h.run_ok();
    assert_eq!(h.get_by_label("Add node").value().as_deref(), Some("map"));
    h.key_press(Key::Enter);
    h.run_ok();
    assert!(h.state().graph().node("map").is_some(), "Enter added the typed kind");
}

#[test]
fn edit_paste_asks_the_window_for_the_clipboard_and_pastes_nodes_with_their_group_and_comment() {
    let mut h = harness(EditorApp::new(registry(), Some((annotated(), None))));
    let (gen_at, double_at) = (header(&h, "gen"), header(&h, "double"));
    clicks(&mut h, gen_at, 1, Modifiers::SHIFT);
    clicks(&mut h, double_at, 1, Modifiers::SHIFT);
    // What the window sends for Ctrl+C.
    h.event(Event::Copy);
    h.step();
    let copied = h
        .output()
        .platform_output
        .commands
        .iter()
        .find_map(|c| match c {
            egui::OutputCommand::CopyText(t) => Some(t.clone()),
            _ => None,
        })
        .expect("Ctrl+C copies graph text");
    h.get_by_label("Edit").click();
    h.run_ok();
    h.get_by_label_contains("Paste").click();
    h.step();
    let asked = h.output().viewport_output.values().any(|v| v.commands.contains(&egui::ViewportCommand::RequestPaste));
    assert!(asked, "Paste asks the window for the clipboard");
    // What eframe sends back with the clipboard's text; the copies go to the pointer (on
    // empty canvas, clear of the room the cards above keep for their run-time lines).
    let pointer = under(&h, "double", header(&h, "double").x, 130.0);
    let want = h.state().canvas().screen_to_canvas(pointer);
    h.event(Event::PointerMoved(pointer));
    h.event(Event::Paste(copied));
    h.run_ok();
    let g = h.state().graph();
    assert!(g.node("gen_2").is_some() && g.node("double_2").is_some(), "{:?}", g.nodes);
    let at = g.node("gen_2").and_then(|n| n.position).expect("placed");
    assert!((at[0] - want[0]).abs() < 0.5 && (at[1] - want[1]).abs() < 0.5, "pasted at {at:?}, pointer at {want:?}");
    assert_eq!(g.wires.len(), 3, "the wire between the copies came along");
    assert_eq!(g.groups.len(), 2);
    assert_eq!(g.groups[1].nodes, ["gen_2", "double_2"]);
    assert_eq!(g.comments.len(), 2, "the comment under the copied cards came along");
    h.state_mut().undo();
    assert_eq!(h.state().graph(), &annotated(), "one undo step");
}

#[test]
fn edit_text_in_a_comments_menu_and_escape_on_a_group_name_work_too() {
    let mut h = harness(EditorApp::new(registry(), Some((annotated(), None))));
    let r = h.state().canvas().comment_screen_rect("note").expect("comment drawn");
    h.event(Event::PointerMoved(r.center()));
    h.step();
    for pressed in [true, false] {
        h.event(Event::PointerButton {
            pos: r.center(),
            button: PointerButton::Secondary,
            pressed,
            modifiers: Modifiers::NONE,
        });
        h.step();
    }
    h.run_ok();
    h.get_by_label("✏ Edit text").click();
    h.run_ok();
    type_text(&mut h, "!");
    h.key_press_modifiers(Modifiers::COMMAND, Key::Enter);
    h.run_ok();
    assert_eq!(comment_text(&h), "Ten events,\nthen done.!");
    let title = h.state().canvas().group_title_screen_rect("work").expect("group drawn");
    clicks(&mut h, title.center(), 2, Modifiers::NONE);
    type_text(&mut h, "ers");
    h.key_press(Key::Escape);
    h.run_ok();
    assert_eq!(h.state().graph().groups[0].name, "Work", "Escape keeps the old name");
}

#[test]
fn quick_add_lists_kinds_whose_name_matches_before_those_matching_by_description() {
    let mut h = harness(EditorApp::new(registry(), Some((three_nodes(), None))));
    let at = under(&h, "double", header(&h, "double").x, 60.0);
    h.event(Event::PointerMoved(at));
    h.step();
    h.key_press(Key::W);
    h.event(Event::Text("wi".into()));
    h.run_ok();
    h.key_press(Key::Enter);
    h.run_ok();
    // "wi" is in several descriptions ("with", "window"): the kind named by it is first.
    let kinds: Vec<&str> = h.state().graph().nodes.iter().map(|n| n.kind.as_str()).collect();
    assert!(kinds.contains(&"window"), "Enter added the window kind: {kinds:?}");
}

/// Every pair of cards drawn this frame that overlap, by id.
fn overlapping_cards(h: &Harness<'static, EditorApp>) -> Vec<(String, String)> {
    let ids: Vec<String> = h.state().graph().nodes.iter().map(|n| n.id.clone()).collect();
    let rect = |id: &str| h.state().canvas().node_screen_rect(id).expect("drawn");
    let mut out = Vec::new();
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            if rect(a).intersects(rect(b)) {
                out.push((a.clone(), b.clone()));
            }
        }
    }
    out
}

/// Ctrl+C on the nodes `ids` (Shift+clicked into the selection): the graph text copied.
fn copy_nodes(h: &mut Harness<'static, EditorApp>, ids: &[&str]) -> String {
    for id in ids {
        let at = header(h, id);
        clicks(h, at, 1, Modifiers::SHIFT);
    }
    h.event(Event::Copy);
    h.step();
    h.output()
        .platform_output
        .commands
        .iter()
        .find_map(|c| match c {
            egui::OutputCommand::CopyText(t) => Some(t.clone()),
            _ => None,
        })
        .expect("Ctrl+C copies graph text")
}

#[test]
fn a_pasted_selection_lands_where_no_card_overlaps_and_its_group_gets_a_fresh_name() {
    let mut h = harness(EditorApp::new(registry(), Some((annotated(), None))));
    let copied = copy_nodes(&mut h, &["gen", "double"]);
    // Pasted twice with the pointer off the canvas: each time next to the copied nodes.
    h.event(Event::PointerMoved(egui::pos2(5.0, 400.0)));
    for _ in 0..2 {
        h.event(Event::Paste(copied.clone()));
        h.run_ok();
    }
    let g = h.state().graph();
    assert_eq!(g.nodes.len(), 7, "{:?}", g.nodes);
    assert_eq!(overlapping_cards(&h), Vec::<(String, String)>::new(), "no card lies on another");
    let names: Vec<&str> = g.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["Work", "Work copy", "Work copy 2"], "each pasted group has a name of its own");
    // Ctrl+D duplicates the selection the same way.
    h.key_press_modifiers(Modifiers::COMMAND, Key::D);
    h.run_ok();
    assert_eq!(h.state().graph().nodes.len(), 9, "{:?}", h.state().graph().nodes);
    assert_eq!(overlapping_cards(&h), Vec::<(String, String)>::new(), "no duplicate lies on another card");
}

#[test]
fn pasted_nodes_that_land_off_the_view_are_brought_into_it() {
    let mut h = harness(EditorApp::new(registry(), Some((annotated(), None))));
    let copied = copy_nodes(&mut h, &["gen", "double"]);
    // Zoomed in on the copied nodes: the free spot beside them is off the view.
    h.state_mut().canvas_mut().zoom(4.0);
    h.run_ok();
    h.event(Event::PointerMoved(egui::pos2(5.0, 400.0)));
    h.event(Event::Paste(copied));
    h.run_ok();
    let g = h.state().graph();
    let pasted: Vec<String> = g.nodes.iter().map(|n| n.id.clone()).filter(|id| id.ends_with("_2")).collect();
    assert!(!pasted.is_empty(), "{:?}", g.nodes);
    let canvas = h.state().canvas();
    for id in &pasted {
        let r = canvas.node_screen_rect(id).expect("drawn");
        assert!(canvas.view_rect().intersects(r), "{id} at {r:?} is in view {:?}", canvas.view_rect());
    }
}

#[test]
fn opening_another_graph_clears_the_canvas_selection() {
    let mut h = harness(EditorApp::new(registry(), Some((three_nodes(), None))));
    let (gen_at, sink_at) = (header(&h, "gen"), header(&h, "sink"));
    clicks(&mut h, gen_at, 1, Modifiers::SHIFT);
    clicks(&mut h, sink_at, 1, Modifiers::SHIFT);
    assert_eq!(selected(&h), ["gen", "sink"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.ron");
    let mut other = three_nodes();
    for n in &mut other.nodes {
        n.id = format!("{}_other", n.id);
    }
    other.wires.clear();
    streamloom_runtime::graph::save_file(&other, &path).unwrap();
    h.state_mut().open(&path).unwrap();
    h.run_ok();
    assert_eq!(selected(&h), Vec::<String>::new(), "nothing of the new graph is selected");
    h.key_press(Key::Delete);
    h.run_ok();
    assert_eq!(h.state().graph().nodes.len(), 3, "Delete has nothing to delete");
}

#[test]
fn f_typed_over_the_canvas_starts_quick_add_and_ctrl_shift_f_fits() {
    let mut h = harness(EditorApp::new(registry(), Some((three_nodes(), None))));
    let at = under(&h, "double", header(&h, "double").x, 60.0);
    h.state_mut().canvas_mut().zoom(3.0);
    h.run_ok();
    let zoomed = h.state().canvas().transform().scaling;
    h.event(Event::PointerMoved(at));
    h.step();
    h.key_press(Key::F);
    h.event(Event::Text("f".into()));
    h.run_ok();
    assert_eq!(h.get_by_label("Add node").value().as_deref(), Some("f"), "F started quick add");
    assert_eq!(h.state().canvas().transform().scaling, zoomed, "F alone does not fit");
    h.event(Event::Text("ilter".into()));
    h.run_ok();
    h.key_press(Key::Enter);
    h.run_ok();
    assert!(h.state().graph().node("filter").is_some(), "a kind starting with f can be typed");
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::F);
    h.run_ok();
    let fitted = h.state().canvas().transform().scaling;
    assert!(fitted < zoomed && fitted <= 1.0, "Ctrl+Shift+F fits: {zoomed} -> {fitted}");
    // The help panel lists the key (shown while no node is selected).
    let mut h = harness(EditorApp::new(registry(), Some((three_nodes(), None))));
    h.get_by_label("Help").click();
    h.run_ok();
    h.get_by_label("Ctrl+Shift+F");
}

#[test]
fn a_status_bar_message_expires_after_five_seconds() {
    let mut h = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_step_dt(0.5)
        .build_ui_state(|ui, app: &mut EditorApp| app.ui(ui), EditorApp::new(registry(), Some((three_nodes(), None))));
    h.run_ok();
    h.state_mut().undo();
    h.step();
    h.get_by_label("nothing to undo");
    let delay = h.output().viewport_output.get(&egui::ViewportId::ROOT).map(|v| v.repaint_delay);
    assert!(
        delay.is_some_and(|d| d <= std::time::Duration::from_secs(5)),
        "a frame is asked for to clear it: {delay:?}"
    );
    for _ in 0..8 {
        h.step();
    }
    assert!(h.state().status().is_some(), "still shown after 4 s");
    for _ in 0..4 {
        h.step();
    }
    assert_eq!(h.state().status(), None, "gone after 5 s");
    assert!(h.query_by_label("nothing to undo").is_none());
}

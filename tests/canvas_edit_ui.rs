//! Canvas editing found missing by a newcomer, driven with egui_kittest like a person would:
//! comments and group names edited in place, multi-selection, typing to add a node, paste.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use egui::{Event, Key, Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use streamloom::editor::EditorApp;
use streamloom_runtime::Graph;

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
    for _ in 0..times {
        for pressed in [true, false] {
            h.event(Event::PointerButton { pos, button: PointerButton::Primary, pressed, modifiers });
            h.step();
        }
    }
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

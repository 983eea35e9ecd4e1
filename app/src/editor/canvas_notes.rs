//! Comments and groups on the canvas. Group frames are painted behind the nodes (around their
//! members' cards, with a title bar to drag the whole group by); comments are notes drawn over
//! the canvas, moved by dragging. A double-click on a comment or a group's title edits it in
//! place ([`NoteEdit`]).

use std::collections::HashMap;

use egui::{Color32, CornerRadius, FontId, Frame, Painter, Rect, RichText, Sense, Stroke, StrokeKind, Ui, Vec2, vec2};
use streamloom_runtime::Graph;

use super::actions::Action;
use super::annotations::GROUP_COLORS;
use super::note_edit::{EditEnd, NoteEdit, NoteTarget};

/// Room between a group's frame and its members' cards (canvas units).
const PAD: f32 = 14.0;
/// Height of a group's title bar (canvas units).
const TITLE: f32 = 26.0;
/// Widest a comment is drawn (canvas units).
const COMMENT_WIDTH: f32 = 240.0;
/// A comment's paper colour.
const COMMENT_FILL: Color32 = Color32::from_rgb(70, 66, 40);

/// A group as drawn this frame (canvas coordinates).
pub struct GroupFrame {
    /// The group's id.
    pub id: String,
    /// Its title.
    pub name: String,
    /// Its colour.
    pub color: Color32,
    /// The whole frame.
    pub rect: Rect,
    /// The title bar (drag handle).
    pub title: Rect,
}

/// The frames of every group whose members have been drawn, from their cards' rectangles.
pub fn group_frames(graph: &Graph, rects: &HashMap<String, Rect>) -> Vec<GroupFrame> {
    graph
        .groups
        .iter()
        .filter_map(|g| {
            let members = g.nodes.iter().filter_map(|n| rects.get(n)).fold(Rect::NOTHING, |a, r| a.union(*r));
            if !members.is_positive() {
                return None;
            }
            let mut rect = members.expand(PAD);
            rect.min.y -= TITLE;
            let title = Rect::from_min_size(rect.min, vec2(rect.width(), TITLE));
            let [r, gr, b] = g.color;
            Some(GroupFrame { id: g.id.clone(), name: g.name.clone(), color: Color32::from_rgb(r, gr, b), rect, title })
        })
        .collect()
}

/// Paints group frames (under the nodes: call before they are drawn).
pub fn paint_groups(painter: &Painter, frames: &[GroupFrame]) {
    for f in frames {
        painter.rect(
            f.rect,
            CornerRadius::same(8),
            f.color.gamma_multiply(0.12),
            Stroke::new(1.5, f.color),
            StrokeKind::Inside,
        );
        painter.rect_filled(f.title, CornerRadius { nw: 8, ne: 8, sw: 0, se: 0 }, f.color.gamma_multiply(0.45));
        painter.text(
            f.title.left_center() + vec2(10.0, 0.0),
            egui::Align2::LEFT_CENTER,
            &f.name,
            FontId::proportional(15.0),
            Color32::WHITE,
        );
    }
}

/// The state of comment and group interaction between frames.
#[derive(Default)]
pub struct Notes {
    /// The comment being dragged and how far it has moved.
    drag: Option<(String, Vec2)>,
    /// Where each comment was drawn last frame (canvas coordinates).
    pub comment_rects: HashMap<String, Rect>,
    /// The comment or group name being edited in place.
    pub editing: Option<NoteEdit>,
}

/// What the user did with comments and groups this frame.
#[derive(Default)]
pub struct NotesOutput {
    /// Edits for the app.
    pub actions: Vec<Action>,
    /// Member nodes of a dragged group, and how far to move them (canvas units).
    pub move_nodes: Option<(Vec<String>, Vec2)>,
}

impl Notes {
    /// Draws comments and handles group title bars; `ui` is on the canvas layer (canvas
    /// coordinates) and above the nodes.
    pub fn show(&mut self, ui: &mut Ui, graph: &Graph, frames: &[GroupFrame], out: &mut NotesOutput) {
        self.comment_rects.clear();
        // A note removed while edited (undo from the menu, say) takes its editor with it.
        let gone = self.editing.as_ref().is_some_and(|e| match &e.target {
            NoteTarget::Comment(id) => !graph.comments.iter().any(|c| &c.id == id),
            NoteTarget::Group(id) => !frames.iter().any(|f| &f.id == id),
        });
        if gone {
            self.editing = None;
        }
        for f in frames {
            let r = ui.interact(f.title, ui.id().with(("group", &f.id)), Sense::click_and_drag());
            if r.dragged() {
                let members = graph.groups.iter().find(|g| g.id == f.id).map(|g| g.nodes.clone()).unwrap_or_default();
                out.move_nodes = Some((members, r.drag_delta()));
            }
            let mut rename = r.double_clicked();
            r.on_hover_text("Drag to move the group; double-click to rename; right-click to recolour or ungroup")
                .context_menu(|ui| rename |= group_menu(ui, graph, &f.id, &mut out.actions));
            let target = NoteTarget::Group(f.id.clone());
            if rename {
                self.editing = Some(NoteEdit::new(target.clone(), &f.name));
            }
            if self.editing.as_ref().is_some_and(|e| e.is_for(&target)) {
                let bar = f.title.shrink2(vec2(6.0, 2.0));
                let mut child = ui.new_child(egui::UiBuilder::new().max_rect(bar).id_salt(("group-name", &f.id)));
                self.finish_edit(&mut child, bar.width(), &mut out.actions);
            }
        }
        for c in &graph.comments {
            let offset = self.drag.as_ref().filter(|(id, _)| id == &c.id).map_or(Vec2::ZERO, |(_, d)| *d);
            let at = egui::pos2(c.position[0], c.position[1]) + offset;
            let area = Rect::from_min_size(at, vec2(COMMENT_WIDTH, 2000.0));
            let mut child = ui.new_child(egui::UiBuilder::new().max_rect(area).id_salt(("comment", &c.id)));
            let target = NoteTarget::Comment(c.id.clone());
            if self.editing.as_ref().is_some_and(|e| e.is_for(&target)) {
                let frame = comment_frame().show(&mut child, |ui| {
                    self.finish_edit(ui, COMMENT_WIDTH - 16.0, &mut out.actions);
                });
                self.comment_rects.insert(c.id.clone(), frame.response.rect);
                continue;
            }
            let frame = comment_frame().show(&mut child, |ui| {
                ui.style_mut().interaction.selectable_labels = false;
                ui.label(RichText::new(&c.text).color(Color32::from_rgb(240, 235, 200)));
            });
            self.comment_rects.insert(c.id.clone(), frame.response.rect);
            let r = ui.interact(frame.response.rect, ui.id().with(("comment", &c.id)), Sense::click_and_drag());
            if r.dragged() {
                let d = self.drag.get_or_insert_with(|| (c.id.clone(), Vec2::ZERO));
                d.1 += r.drag_delta();
            }
            if r.drag_stopped()
                && let Some((id, d)) = self.drag.take()
            {
                let p = [c.position[0] + d.x, c.position[1] + d.y];
                out.actions.push(Action::MoveComment(id, p));
            }
            let mut edit = r.double_clicked();

            r.on_hover_text("Drag to move; double-click to edit; right-click to edit or delete")
                .context_menu(|ui| edit |= comment_menu(ui, &c.id, &mut out.actions));
            if edit {
                self.editing = Some(NoteEdit::new(target, &c.text));
            }
        }
    }

    /// Shows the open editor; when it ends, turns a changed text into one edit.
    fn finish_edit(&mut self, ui: &mut Ui, width: f32, actions: &mut Vec<Action>) {
        let Some(edit) = self.editing.as_mut() else { return };
        let Some(end) = edit.show(ui, width) else { return };
        let target = edit.target.clone();
        self.editing = None;
        if let EditEnd::Commit(text) = end {
            actions.push(match target {
                NoteTarget::Comment(id) => Action::EditComment(id, text),
                NoteTarget::Group(id) => Action::RenameGroup(id, text),
            });
        }
    }
}

/// A comment's paper.
fn comment_frame() -> Frame {
    Frame::new()
        .fill(COMMENT_FILL)
        .stroke(Stroke::new(1.0, Color32::from_rgb(150, 140, 80)))
        .corner_radius(CornerRadius::same(4))
        .inner_margin(8.0)
}

/// A comment's menu; returns whether "Edit text" was picked.
fn comment_menu(ui: &mut Ui, id: &str, actions: &mut Vec<Action>) -> bool {
    ui.label(RichText::new("Comment").strong());
    let edit = ui.button("✏ Edit text").clicked();
    if ui.button("🗑 Delete comment").clicked() {
        actions.push(Action::DeleteComment(id.to_string()));
        ui.close();
    }
    if edit {
        ui.close();
    }
    edit
}

/// A group's menu; returns whether "Rename" was picked.
fn group_menu(ui: &mut Ui, graph: &Graph, id: &str, actions: &mut Vec<Action>) -> bool {
    let Some(g) = graph.groups.iter().find(|g| g.id == id) else { return false };
    ui.label(RichText::new("Group").strong());
    let rename = ui.button("✏ Rename").clicked();
    if rename {
        ui.close();
    }
    ui.horizontal(|ui| {
        for c in GROUP_COLORS {
            let color = Color32::from_rgb(c[0], c[1], c[2]);
            let (rect, r) = ui.allocate_exact_size(vec2(18.0, 18.0), Sense::click());
            let stroke = if g.color == c { Stroke::new(2.0, Color32::WHITE) } else { Stroke::NONE };
            ui.painter().rect(rect, CornerRadius::same(3), color, stroke, StrokeKind::Inside);
            if r.clicked() {
                actions.push(Action::ColorGroup(id.to_string(), c));
            }
        }
    });
    if ui.button("Ungroup").clicked() {
        actions.push(Action::Ungroup(id.to_string()));
        ui.close();
    }
    rename
}

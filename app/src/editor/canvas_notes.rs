//! Comments and groups on the canvas. Group frames are painted behind the nodes (around their
//! members' cards, with a title bar to drag the whole group by); comments are notes drawn over
//! the canvas, moved by dragging and edited from their context menu.

use std::collections::HashMap;

use egui::{Color32, CornerRadius, FontId, Frame, Painter, Rect, RichText, Sense, Stroke, StrokeKind, Ui, Vec2, vec2};
use streamloom_runtime::Graph;

use super::actions::Action;
use super::annotations::GROUP_COLORS;

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
        for f in frames {
            let r = ui.interact(f.title, ui.id().with(("group", &f.id)), Sense::click_and_drag());
            if r.dragged() {
                let members = graph.groups.iter().find(|g| g.id == f.id).map(|g| g.nodes.clone()).unwrap_or_default();
                out.move_nodes = Some((members, r.drag_delta()));
            }
            r.on_hover_text("Drag to move the group; right-click to rename, recolour or ungroup")
                .context_menu(|ui| group_menu(ui, graph, &f.id, &mut out.actions));
        }
        for c in &graph.comments {
            let offset = self.drag.as_ref().filter(|(id, _)| id == &c.id).map_or(Vec2::ZERO, |(_, d)| *d);
            let at = egui::pos2(c.position[0], c.position[1]) + offset;
            let area = Rect::from_min_size(at, vec2(COMMENT_WIDTH, 2000.0));
            let mut child = ui.new_child(egui::UiBuilder::new().max_rect(area).id_salt(("comment", &c.id)));
            let frame = Frame::new()
                .fill(COMMENT_FILL)
                .stroke(Stroke::new(1.0, Color32::from_rgb(150, 140, 80)))
                .corner_radius(CornerRadius::same(4))
                .inner_margin(8.0)
                .show(&mut child, |ui| {
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
            r.on_hover_text("Drag to move; right-click to edit or delete")
                .context_menu(|ui| comment_menu(ui, &c.id, &c.text, &mut out.actions));
        }
    }
}

fn comment_menu(ui: &mut Ui, id: &str, text: &str, actions: &mut Vec<Action>) {
    ui.label(RichText::new("Comment").strong());
    let mut edited = text.to_string();
    if ui.add(egui::TextEdit::multiline(&mut edited).desired_rows(3)).changed() {
        actions.push(Action::EditComment(id.to_string(), edited));
    }
    if ui.button("🗑 Delete comment").clicked() {
        actions.push(Action::DeleteComment(id.to_string()));
        ui.close();
    }
}

fn group_menu(ui: &mut Ui, graph: &Graph, id: &str, actions: &mut Vec<Action>) {
    let Some(g) = graph.groups.iter().find(|g| g.id == id) else { return };
    ui.label(RichText::new("Group").strong());
    let mut name = g.name.clone();
    if ui.text_edit_singleline(&mut name).changed() {
        actions.push(Action::RenameGroup(id.to_string(), name));
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
}

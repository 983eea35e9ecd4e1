//! Comments and groups on the canvas (drawn by [`crate::editor::canvas_notes`]), and where
//! new cards go so that they cover none.

use egui::{LayerId, Rect, Ui, pos2, vec2};
use streamloom_runtime::Graph;

use super::{Canvas, NODE_SIZE};
use crate::editor::actions::Action;
use crate::editor::canvas_notes::{GroupFrame, NotesOutput};
use crate::editor::card_footer::FOOTER_ROOM;

impl Canvas {
    /// Comments, and group title bars (dragging one moves its nodes on the canvas; the move
    /// reaches the model as one edit when the pointer is released).
    pub(super) fn show_notes(
        &mut self,
        ui: &mut Ui,
        graph: &Graph,
        frames: &[GroupFrame],
        view_rect: Rect,
        actions: &mut Vec<Action>,
    ) {
        self.group_titles = frames.iter().map(|f| (f.id.clone(), f.title)).collect();
        if graph.comments.is_empty() && frames.is_empty() {
            self.notes.comment_rects.clear();
            return;
        }
        let layer = LayerId::new(ui.layer_id().order, self.id);
        let clip = self.to_global.inverse() * view_rect;
        let mut notes_ui = ui.new_child(egui::UiBuilder::new().layer_id(layer).max_rect(clip).id_salt("notes"));
        notes_ui.set_clip_rect(clip);
        let mut out = NotesOutput::default();
        self.notes.show(&mut notes_ui, graph, frames, &mut out);
        actions.append(&mut out.actions);
        if let Some((ids, delta)) = out.move_nodes {
            for id in ids {
                if let Some(&n) = self.by_id.get(&id)
                    && let Some(info) = self.snarl.get_node_info_mut(n)
                {
                    info.pos += delta;
                }
            }
            ui.ctx().request_repaint();
        }
    }

    /// Where a group's title bar was drawn last frame, on screen (for tests that drag groups).
    pub fn group_title_screen_rect(&self, id: &str) -> Option<Rect> {
        self.group_titles.get(id).map(|r| self.to_global * *r)
    }

    /// Where a comment was drawn last frame, on screen (for tests that drag comments).
    pub fn comment_screen_rect(&self, id: &str) -> Option<Rect> {
        self.notes.comment_rects.get(id).map(|r| self.to_global * *r)
    }

    /// The rectangles the graph's cards may take (canvas units): as drawn last frame, or of
    /// the usual size at their position when not drawn yet, each with room below for the
    /// most a run can add to it ([`FOOTER_ROOM`]), so that a card placed there is never
    /// covered when the run starts.
    pub fn occupied(&self, graph: &Graph) -> Vec<Rect> {
        graph
            .nodes
            .iter()
            .filter_map(|n| match (self.node_rect(&n.id), n.position) {
                (Some(r), _) => Some(r),
                (None, Some([x, y])) => Some(Rect::from_min_size(pos2(x, y), NODE_SIZE)),
                (None, None) => None,
            })
            .map(|r| Rect::from_min_size(r.min, r.size() + vec2(0.0, FOOTER_ROOM)))
            .collect()
    }

    /// Where node `id`'s card was drawn last frame (canvas units).
    fn node_rect(&self, id: &str) -> Option<Rect> {
        let n = self.by_id.get(id)?;
        self.node_rects.iter().find(|(m, _)| m == n).map(|(_, r)| *r)
    }

    /// The size node `id`'s card may take: as drawn last frame (or the usual size), with
    /// room for what a run adds ([`FOOTER_ROOM`]).
    pub fn card_size(&self, id: &str) -> egui::Vec2 {
        self.node_rect(id).map_or(NODE_SIZE, |r| r.size()) + vec2(0.0, FOOTER_ROOM)
    }

    /// The top-left corner nearest to `want` (canvas) where a new card covers no other.
    pub fn free_spot(&self, graph: &Graph, want: [f32; 2]) -> [f32; 2] {
        let occupied = self.occupied(graph);
        let size = NODE_SIZE + vec2(0.0, FOOTER_ROOM);
        let p = crate::editor::placement::free_spot(&occupied, pos2(want[0], want[1]), size);
        [p.x, p.y]
    }
}

//! Wires on the canvas as things to point at: which wire's curve is under the pointer, the
//! wire menu, and where a node inserted into a wire goes.

use egui::{Pos2, Ui};
use streamloom_runtime::{Graph, PortRef};

use super::{Canvas, CanvasInput, NODE_SIZE, WIRE_FRAME, WIRE_PICK};
use crate::editor::actions::Action;
use crate::editor::wire_colors::CanvasWire;
use crate::editor::wire_hit;

impl Canvas {
    /// The curve of wire `cw` in canvas coordinates, as drawn last frame.
    pub(super) fn wire_curve(&self, cw: &CanvasWire) -> Option<[Pos2; 4]> {
        let pins = self.pins.borrow();
        let (a, b) = (pins.outputs.get(&cw.from)?, pins.inputs.get(&cw.to)?);
        Some(wire_hit::bezier(WIRE_FRAME, *a, *b))
    }

    /// The wire whose drawn curve passes within a few points of screen point `p` (nearest
    /// first); none when `p` is on a node, which is drawn above the wires.
    pub fn wire_at(&self, p: Pos2, graph: &Graph) -> Option<(PortRef, PortRef)> {
        if !self.view_rect.contains(p) {
            return None;
        }
        let at = self.to_global.inverse() * p;
        // Cards, comments and group title bars lie above the wires.
        let above = self.node_rects.iter().map(|(_, r)| r).chain(self.notes.comment_rects.values());
        if above.chain(self.group_titles.values()).any(|r| r.contains(at)) {
            return None;
        }
        let reach = WIRE_PICK / self.to_global.scaling.max(0.01);
        let (_, index) = self
            .wires
            .iter()
            .filter_map(|cw| Some((wire_hit::distance(&self.wire_curve(cw)?, at), cw.index)))
            .filter(|(d, _)| *d <= reach)
            .min_by(|a, b| a.0.total_cmp(&b.0))?;
        let w = graph.wires.get(index)?;
        Some((w.from.clone(), w.to.clone()))
    }

    /// The point a fraction `t` along the wire from `from` to `to`, on screen, as drawn last
    /// frame (for tests that click wires).
    pub fn wire_screen_point(&self, from: &PortRef, to: &PortRef, t: f32, graph: &Graph) -> Option<Pos2> {
        let cw =
            self.wires.iter().find(|cw| graph.wires.get(cw.index).is_some_and(|w| &w.from == from && &w.to == to))?;
        Some(self.to_global * wire_hit::point_at(&self.wire_curve(cw)?, t))
    }

    /// The open wire menu (opened this frame when `open`); forgets the wire once it closes.
    pub(super) fn show_wire_menu(&mut self, ui: &Ui, input: &CanvasInput<'_>, open: bool, actions: &mut Vec<Action>) {
        let Some(m) = &self.menu_wire else { return };
        let popup = egui::Popup::new(
            self.id.with("wire-menu"),
            ui.ctx().clone(),
            egui::PopupAnchor::PointerFixed,
            ui.layer_id(),
        )
        .kind(egui::PopupKind::Menu)
        .layout(egui::Layout::top_down_justified(egui::Align::Min))
        .style(egui::containers::menu::menu_style)
        .open_memory(open.then_some(egui::SetOpenCommand::Bool(true)));
        let context = (input.graph, input.registry, input.ports);
        let shown = popup.show(|ui| crate::editor::wire_menu::show(ui, context, &m.from, &m.to, m.at, actions));
        if shown.is_none() {
            self.menu_wire = None;
        }
    }

    /// Where a node inserted into the wire `from` → `to` goes (canvas, top-left): between the
    /// two cards, level with the wire's middle; and how far the cards downstream of the wire
    /// must move right to make room for it (0 when there is room).
    pub fn insert_spot(&self, from: &PortRef, to: &PortRef) -> Option<([f32; 2], f32)> {
        let rect_of = |id: &str| {
            let n = self.by_id.get(id)?;
            self.node_rects.iter().find(|(m, _)| m == n).map(|(_, r)| *r)
        };
        let (a, b) = (rect_of(&from.node)?, rect_of(&to.node)?);
        let cw = self.wires.iter().find(|cw| {
            self.snarl.get_node(cw.from.node).is_some_and(|n| n.id == from.node)
                && self.snarl.get_node(cw.to.node).is_some_and(|n| n.id == to.node)
        })?;
        let mid = wire_hit::point_at(&self.wire_curve(cw)?, 0.5);
        let gap = 2.0 * crate::editor::placement::GAP;
        let x = (mid.x - NODE_SIZE.x / 2.0).max(a.right() + gap);
        let y = mid.y - NODE_SIZE.y / 2.0;
        let shift = (x + NODE_SIZE.x + gap - b.left()).max(0.0);
        Some(([x, y], shift))
    }
}

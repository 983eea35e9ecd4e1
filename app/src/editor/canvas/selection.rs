//! Multi-selection on the canvas, kept by egui-snarl 0.12 (Shift+drag on empty canvas draws
//! its selection rectangle; it moves every selected node when one of them is dragged).
//!
//! egui-snarl's clicks do less than an editor needs: a plain click on empty canvas keeps the
//! selection, Shift+click only adds and Ctrl+click only removes, and a plain click on a node
//! outside the selection keeps the others selected (so Delete would remove nodes the user no
//! longer sees as chosen). Its selection can only be changed through its own click handling,
//! so on the frame of such a click [`Canvas::steer_selection`] presents the modifiers that make
//! egui-snarl do the editor's thing, and [`Canvas::restore_modifiers`] puts the real ones back
//! right after the widget has run:
//!
//! | click                         | egui-snarl sees | result                          |
//! |-------------------------------|-----------------|---------------------------------|
//! | plain, empty canvas           | Ctrl            | selection cleared               |
//! | plain, node outside selection | Ctrl+Shift      | only that node selected         |
//! | Shift, selected node          | Ctrl            | node removed from the selection |
//! | Ctrl, unselected node         | Shift           | node added to the selection     |

use egui::{Context, Modifiers, Order};
use egui_snarl::NodeId;
use egui_snarl::ui::get_selected_nodes;
use streamloom_runtime::Graph;

use super::{Canvas, PIN_SIZE};

impl Canvas {
    /// On a primary click this frame, sets the modifiers egui-snarl will read so that its
    /// selection follows the editor's rules (see the module doc). Returns the real modifiers
    /// to restore, when they were changed.
    pub(super) fn steer_selection(&self, ctx: &Context, graph: &Graph) -> Option<Modifiers> {
        let (clicked, pos, real) = ctx.input(|i| (i.pointer.primary_clicked(), i.pointer.interact_pos(), i.modifiers));
        let p = pos.filter(|p| clicked && self.view_rect.contains(*p))?;
        // A popup or window over the canvas takes the click.
        if ctx.layer_id_at(p).is_some_and(|l| l.order != Order::Background) {
            return None;
        }
        let selected = get_selected_nodes(self.id, ctx);
        let seen = match self.node_at(p, 0.0) {
            Some(n) => steer_node_click(real, selected.contains(&n))?,
            // On a pin: egui-snarl's pins read the modifiers for wiring.
            None if self.node_at(p, PIN_SIZE).is_some() => return None,
            None => {
                let at = self.to_global.inverse() * p;
                let on_note =
                    self.notes.comment_rects.values().chain(self.group_titles.values()).any(|r| r.contains(at));
                if on_note || selected.is_empty() || !plain(real) || self.wire_at(p, graph).is_some() {
                    return None;
                }
                ctrl(real, true)
            }
        };
        ctx.input_mut(|i| i.modifiers = seen);
        Some(real)
    }

    /// Puts back the modifiers [`Canvas::steer_selection`] changed.
    pub(super) fn restore_modifiers(ctx: &Context, real: Option<Modifiers>) {
        if let Some(m) = real {
            ctx.input_mut(|i| i.modifiers = m);
        }
    }

    /// The node whose card, grown by `margin` (canvas units), lies under screen point `p` as
    /// drawn last frame; the topmost when cards overlap.
    fn node_at(&self, p: egui::Pos2, margin: f32) -> Option<NodeId> {
        let at = self.to_global.inverse() * p;
        self.node_rects.iter().rev().find(|(_, r)| r.expand(margin).contains(at)).map(|(n, _)| *n)
    }
}

/// What egui-snarl should see for a click on a node, or `None` when its own rule is right.
fn steer_node_click(real: Modifiers, is_selected: bool) -> Option<Modifiers> {
    match (real.shift, real.command, is_selected) {
        // Plain click outside the selection: only this node.
        (false, false, false) => Some(ctrl(Modifiers { shift: true, ..real }, true)),
        // Shift+click on a selected node: remove it.
        (true, false, true) => Some(ctrl(Modifiers { shift: false, ..real }, true)),
        // Ctrl+click on an unselected node: add it.
        (false, true, false) => Some(ctrl(Modifiers { shift: true, ..real }, false)),
        _ => None,
    }
}

/// `m` with the command key (Ctrl here) set or cleared.
fn ctrl(m: Modifiers, on: bool) -> Modifiers {
    Modifiers { command: on, ctrl: on, ..m }
}

/// No Shift, Ctrl, or Alt.
fn plain(m: Modifiers) -> bool {
    !m.shift && !m.command && !m.alt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_clicks_are_steered_into_toggles_and_single_selection() {
        let plain_click = steer_node_click(Modifiers::NONE, false).expect("steered");
        assert!(plain_click.shift && plain_click.command, "select only this node");
        assert_eq!(steer_node_click(Modifiers::NONE, true), None, "a selected node keeps the selection");
        let shift_off = steer_node_click(Modifiers::SHIFT, true).expect("steered");
        assert!(!shift_off.shift && shift_off.command, "Shift+click on a selected node removes it");
        assert_eq!(steer_node_click(Modifiers::SHIFT, false), None, "Shift+click adds it (snarl's own rule)");
        let ctrl_on = steer_node_click(Modifiers::COMMAND, false).expect("steered");
        assert!(ctrl_on.shift && !ctrl_on.command, "Ctrl+click on an unselected node adds it");
    }
}

//! Sketched cards: a card off screen, or on a canvas zoomed out too far to read, is drawn as
//! an empty box of its full size, without pins or texts. egui-snarl then makes no widget per
//! pin and text for it (hundreds of widgets and AccessKit nodes a frame on a large graph), so
//! the canvas draws the wires of those cards itself, from where their pins were when the card
//! was last drawn in full.

use std::collections::{HashMap, HashSet};

use egui::{Color32, Pos2, Rect, Stroke, Vec2, vec2};
use egui_snarl::{InPinId, NodeId, OutPinId};

use super::{Canvas, WIRE_FRAME};
use crate::editor::ports::{PortCache, type_color};
use crate::editor::wire_hit;

/// A sketched card's wire, ready to paint: its curve's ends and colour (canvas units).
#[derive(Debug, Clone, Copy)]
pub struct SketchWire {
    /// The output pin's position.
    pub from: Pos2,
    /// The input pin's position.
    pub to: Pos2,
    /// The wire's colour (the mix of its two pins' wire colours, as egui-snarl draws it).
    pub color: Color32,
}

/// Width of a wire (canvas units), as the canvas's snarl style draws it.
pub const WIRE_WIDTH: f32 = 2.5;

/// What the canvas remembers of cards drawn in full, to sketch them at the same size.
#[derive(Default)]
pub struct SketchCache {
    /// Each card's size when last drawn in full.
    pub full_size: HashMap<NodeId, Vec2>,
    /// Output pins relative to their node's position, when last drawn in full.
    out_offsets: HashMap<OutPinId, Vec2>,
    /// Input pins relative to their node's position, when last drawn in full.
    in_offsets: HashMap<InPinId, Vec2>,
    /// How much larger a sketched card is than what its header holds (its frame's margins and
    /// spacing), learnt from the cards sketched last frame.
    pub overhead: Option<Vec2>,
    /// What each sketched card's header held last frame.
    pub last_headers: HashMap<NodeId, Vec2>,
    /// The cards drawn in full last frame.
    full_last: HashSet<NodeId>,
}

/// A first guess of [`SketchCache::overhead`] (egui's default spacing and window frame).
pub const OVERHEAD_GUESS: Vec2 = vec2(14.0, 22.0);

impl Canvas {
    /// Marks the snarl's nodes sketched this frame (their pins are not drawn).
    pub(super) fn mark_sketched(&mut self, sketch: &HashSet<NodeId>) {
        for (id, node) in self.snarl.nodes_ids_mut() {
            node.sketch = sketch.contains(&id);
        }
    }

    /// The wires egui-snarl will not draw this frame: those with a sketched end.
    pub(super) fn sketch_wires(&self, sketch: &HashSet<NodeId>, ports: &PortCache) -> Vec<SketchWire> {
        if sketch.is_empty() {
            return Vec::new();
        }
        let pos = |n: NodeId| self.snarl.get_node_info(n).map(|i| i.pos);
        let color_out = |p: OutPinId| {
            self.colors.output(p).or_else(|| {
                let id = &self.snarl.get_node(p.node)?.id;
                Some(type_color(ports.get(id)?.outputs.get(p.output)?.ty))
            })
        };
        let color_in = |p: InPinId| {
            self.colors.input(p).or_else(|| {
                let id = &self.snarl.get_node(p.node)?.id;
                Some(type_color(ports.get(id)?.inputs.get(p.input)?.ty))
            })
        };
        self.wires
            .iter()
            .filter(|w| sketch.contains(&w.from.node) || sketch.contains(&w.to.node))
            .filter_map(|w| {
                let from = pos(w.from.node)? + *self.sketches.out_offsets.get(&w.from)?;
                let to = pos(w.to.node)? + *self.sketches.in_offsets.get(&w.to)?;
                let (a, b) = (color_out(w.from)?, color_in(w.to)?);
                Some(SketchWire { from, to, color: mix(a, b) })
            })
            .collect()
    }

    /// After the snarl was drawn: remembers the pins and sizes of the cards drawn in full,
    /// puts the pins of sketched cards where they were, and learns how a sketched card's size
    /// follows from its header.
    pub(super) fn after_sketch(&mut self, sketch: &HashSet<NodeId>, headers: Vec<(NodeId, Vec2)>) {
        let pos = |n: NodeId| self.snarl.get_node_info(n).map(|i| i.pos.to_vec2());
        {
            let mut pins = self.pins.borrow_mut();
            for (p, at) in &pins.outputs {
                if let Some(origin) = pos(p.node) {
                    self.sketches.out_offsets.insert(*p, *at - origin.to_pos2());
                }
            }
            for (p, at) in &pins.inputs {
                if let Some(origin) = pos(p.node) {
                    self.sketches.in_offsets.insert(*p, *at - origin.to_pos2());
                }
            }
            for (p, off) in self.sketches.out_offsets.iter().filter(|(p, _)| sketch.contains(&p.node)) {
                if let Some(origin) = pos(p.node) {
                    pins.outputs.insert(*p, origin.to_pos2() + *off);
                }
            }
            for (p, off) in self.sketches.in_offsets.iter().filter(|(p, _)| sketch.contains(&p.node)) {
                if let Some(origin) = pos(p.node) {
                    pins.inputs.insert(*p, origin.to_pos2() + *off);
                }
            }
        }
        for (n, r) in &self.node_rects {
            // A card's rectangle follows what it held the frame before (its first one is a
            // guess): a full size only from a card drawn in full this frame and the last.
            if !sketch.contains(n) && self.sketches.full_last.contains(n) {
                self.sketches.full_size.insert(*n, r.size());
            } else if let Some(h) = self.sketches.last_headers.get(n) {
                // Drawn this frame at the size last frame's header asked for.
                self.sketches.overhead = Some(r.size() - *h);
            }
        }
        self.sketches.last_headers = headers.into_iter().collect();
        self.sketches.full_last = self.node_rects.iter().map(|(n, _)| *n).filter(|n| !sketch.contains(n)).collect();
    }

    /// Forgets what was remembered of nodes no longer on the canvas.
    pub(super) fn prune_sketches(&mut self) {
        let alive: HashSet<NodeId> = self.by_id.values().copied().collect();
        self.sketches.full_size.retain(|n, _| alive.contains(n));
        self.sketches.out_offsets.retain(|p, _| alive.contains(&p.node));
        self.sketches.in_offsets.retain(|p, _| alive.contains(&p.node));
    }
}

/// Paints `wires` with `painter` (in the canvas layer, behind the cards).
pub fn paint_wires(painter: &egui::Painter, wires: &[SketchWire]) {
    let clip = painter.clip_rect();
    for w in wires {
        let c = wire_hit::bezier(WIRE_FRAME, w.from, w.to);
        if !Rect::from_points(&c).intersects(clip) {
            continue;
        }
        painter.add(egui::epaint::CubicBezierShape::from_points_stroke(
            c,
            false,
            Color32::TRANSPARENT,
            Stroke::new(WIRE_WIDTH, w.color),
        ));
    }
}

/// The mean of two colours, as egui-snarl mixes a wire's two pin colours.
fn mix(a: Color32, b: Color32) -> Color32 {
    Color32::from_rgba_premultiplied(
        a.r().midpoint(b.r()),
        a.g().midpoint(b.g()),
        a.b().midpoint(b.b()),
        a.a().midpoint(b.a()),
    )
}

//! Wire colours by pin, worked out once per graph revision and metrics snapshot rather than
//! by scanning every wire for every pin in every frame (a 300-node graph has ~500 pins).

use std::collections::HashMap;

use egui::Color32;
use egui_snarl::{InPinId, OutPinId};
use streamloom_runtime::metrics::MetricsSnapshot;

use super::problems::{ERROR, ProblemIndex};
use super::viewer::fill_color;

/// A wire as drawn on the canvas: its pins and its id in the model.
#[derive(Debug, Clone)]
pub struct CanvasWire {
    /// The output end.
    pub from: OutPinId,
    /// The input end.
    pub to: InPinId,
    /// Index in `Graph::wires` (of the revision the canvas was synced with).
    pub index: usize,
    /// The wire's id (`from.port -> to.port`).
    pub id: String,
}

/// What colours a pin's wires: a problem wins, else the fullest queue.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Tint {
    Problem,
    Fill(f32),
}

impl Tint {
    fn worse(self, other: Tint) -> Tint {
        match (self, other) {
            (Tint::Problem, _) | (_, Tint::Problem) => Tint::Problem,
            (Tint::Fill(a), Tint::Fill(b)) => Tint::Fill(a.max(b)),
        }
    }

    fn color(self) -> Color32 {
        match self {
            Tint::Problem => ERROR,
            Tint::Fill(f) => fill_color(f),
        }
    }
}

/// Wire colours by pin; pins missing here use their type colour.
#[derive(Default)]
pub struct PinColors {
    outputs: HashMap<OutPinId, Color32>,
    inputs: HashMap<InPinId, Color32>,
    key: Option<(usize, u64)>,
}

impl PinColors {
    /// Forgets the colours (the graph changed).
    pub fn invalidate(&mut self) {
        self.key = None;
    }

    /// Recomputes the colours unless `metrics` is the snapshot they were computed from.
    pub fn update(&mut self, wires: &[CanvasWire], problems: &ProblemIndex, metrics: Option<&MetricsSnapshot>) {
        let key = metrics.map_or((0, 0), |m| (std::ptr::from_ref(m) as usize, m.elapsed_secs.to_bits()));
        if self.key == Some(key) {
            return;
        }
        self.key = Some(key);
        let mut outs: HashMap<OutPinId, Tint> = HashMap::new();
        let mut ins: HashMap<InPinId, Tint> = HashMap::new();
        let snaps: HashMap<&str, _> =
            metrics.map(|m| m.wires.iter().map(|w| (w.id.as_str(), w)).collect()).unwrap_or_default();
        for w in wires {
            let tint = if problems.wire(&w.id).next().is_some() {
                Tint::Problem
            } else if let Some(s) = snaps.get(w.id.as_str()) {
                Tint::Fill(if s.capacity == 0 { 0.0 } else { s.depth as f32 / s.capacity as f32 })
            } else {
                continue;
            };
            outs.entry(w.from).and_modify(|t| *t = t.worse(tint)).or_insert(tint);
            ins.entry(w.to).and_modify(|t| *t = t.worse(tint)).or_insert(tint);
        }
        self.outputs = outs.into_iter().map(|(k, t)| (k, t.color())).collect();
        self.inputs = ins.into_iter().map(|(k, t)| (k, t.color())).collect();
    }

    /// The colour of the wires leaving `pin`, if not its type colour.
    pub fn output(&self, pin: OutPinId) -> Option<Color32> {
        self.outputs.get(&pin).copied()
    }

    /// The colour of the wires entering `pin`, if not its type colour.
    pub fn input(&self, pin: InPinId) -> Option<Color32> {
        self.inputs.get(&pin).copied()
    }
}

//! The node canvas: an egui-snarl view kept in step with the graph model. The snarl holds
//! only node ids; after every model change [`Canvas::sync`] adds, removes, moves and
//! rewires its nodes to match. Moves made on the canvas go back to the model as edits.

use std::collections::{HashMap, HashSet};

use egui::emath::TSTransform;
use egui::{Color32, CornerRadius, Id, LayerId, Pos2, Rect, Stroke, StrokeKind, Ui, pos2, vec2};
use egui_snarl::ui::{NodeLayout, PinPlacement, SnarlStyle, SnarlWidget, WireStyle, get_selected_nodes};
use egui_snarl::{InPinId, NodeId, OutPinId, Snarl};
use streamloom_runtime::metrics::{MetricsSnapshot, WireSnapshot};
use streamloom_runtime::{Graph, PortRef, Registry};

use super::actions::Action;
use super::canvas_notes::{Notes, group_frames};
use super::pins::SharedPins;
use super::ports::PortCache;
use super::problems::{ERROR, ProblemIndex};
use super::viewer::{ACCENT, CanvasNode, GraphViewer, fill_color};
use super::wire_colors::{CanvasWire, PinColors};

mod notes;
mod selection;
mod sketch;
mod wires;

pub use sketch::{SketchWire, paint_wires as paint_sketch_wires};

/// What a palette entry carries while dragged onto the canvas.
#[derive(Debug, Clone)]
pub struct KindDrag(pub String);

/// Screen height of a wire's queue gauge (kept when zoomed out so its text stays legible).
const GAUGE_HEIGHT: f32 = 17.0;
/// Screen size of the gauge's text.
const GAUGE_FONT: f32 = 11.0;

/// Room left around the nodes when fitting them into view (canvas units).
const FIT_MARGIN: f32 = 24.0;

/// Rough node size, for fitting the view before nodes have been measured.
const NODE_SIZE: egui::Vec2 = vec2(200.0, 110.0);

/// How far beyond the view cards are still drawn in full (canvas units): more than a wheel
/// pan or a zoom notch moves them in one frame.
const FULL_MARGIN: f32 = 60.0;

/// Below this scale cards are drawn without their texts (they would be too small to read).
const SKETCH_BELOW: f32 = 0.45;

/// Size of a pin (canvas units).
const PIN_SIZE: f32 = 9.0;

/// How far a wire's curve leaves its pins horizontally (canvas units), as egui-snarl's
/// `wire_frame_size`; [`wire_hit`] rebuilds the same curve.
const WIRE_FRAME: f32 = 3.0 * PIN_SIZE;

/// How close to a wire's curve a click selects it (screen points).
const WIRE_PICK: f32 = 6.0;

/// The wire whose menu is open, and where the menu was asked for (canvas coordinates).
struct WireMenu {
    from: PortRef,
    to: PortRef,
    at: [f32; 2],
}

/// The canvas and its view state.
pub struct Canvas {
    snarl: Snarl<CanvasNode>,
    by_id: HashMap<String, NodeId>,
    id: Id,
    pins: SharedPins,
    to_global: TSTransform,
    view_rect: Rect,
    fit_pending: u8,
    /// The smallest scale the pending fit may choose.
    fit_min: f32,
    last_selected: Vec<NodeId>,
    wire_labels: Vec<(Rect, usize)>,
    gauge_texts: Vec<(String, String)>,
    forced: Option<TSTransform>,
    port_index: HashMap<(String, String, bool), usize>,
    measured: Rect,
    node_rects: Vec<(NodeId, Rect)>,
    wires: Vec<CanvasWire>,
    colors: PinColors,
    double_click: Option<Pos2>,
    menu_wire: Option<WireMenu>,
    notes: Notes,
    group_titles: HashMap<String, Rect>,
    sketches: sketch::SketchCache,
}

/// Per-frame inputs of [`Canvas::show`].
pub struct CanvasInput<'a> {
    /// The model.
    pub graph: &'a Graph,
    /// Node kinds.
    pub registry: &'a Registry,
    /// Ports by node.
    pub ports: &'a PortCache,
    /// Problems.
    pub problems: &'a ProblemIndex,
    /// Live metrics.
    pub metrics: Option<&'a MetricsSnapshot>,
    /// Inspected node.
    pub focus: Option<&'a str>,
    /// Inspected wire.
    pub wire: Option<&'a (PortRef, PortRef)>,
    /// Nodes edited since the live run started (marked on their cards).
    pub edited_since_run: &'a HashSet<String>,
    /// The live run is paused (running nodes say so, and show no rate).
    pub paused: bool,
}

impl Default for Canvas {
    fn default() -> Self {
        Canvas {
            snarl: Snarl::new(),
            by_id: HashMap::new(),
            id: Id::new("streamloom-canvas"),
            pins: SharedPins::default(),
            to_global: TSTransform::IDENTITY,
            view_rect: Rect::NOTHING,
            fit_pending: 3,
            fit_min: super::viewer::MIN_FIT_SCALE,
            last_selected: Vec::new(),
            wire_labels: Vec::new(),
            gauge_texts: Vec::new(),
            forced: None,
            port_index: HashMap::new(),
            measured: Rect::NOTHING,
            node_rects: Vec::new(),
            wires: Vec::new(),
            colors: PinColors::default(),
            double_click: None,
            menu_wire: None,
            notes: Notes::default(),
            group_titles: HashMap::new(),
            sketches: sketch::SketchCache::default(),
        }
    }
}

impl Canvas {
    /// A canvas for the `n`-th document shown in this editor. Each has its own widget id, so
    /// egui-snarl's state kept in egui's memory (its selection, by node index, which the next
    /// graph's nodes reuse) never carries over from one graph to the next.
    pub fn for_document(n: u64) -> Self {
        Canvas { id: Id::new("streamloom-canvas").with(n), ..Canvas::default() }
    }

    /// The snarl widget's id (its layer has the same id).
    pub fn widget_id(&self) -> Id {
        self.id
    }

    /// Fits every node into view on the next frame (the user asked: the whole graph is shown,
    /// however small; a graph opened is fitted no smaller than legible).
    pub fn request_fit(&mut self) {
        // Repeated for a few frames: panel sizes settle after the first one.
        self.fit_pending = 3;
        self.fit_min = super::viewer::MIN_ASKED_FIT_SCALE;
    }

    /// The canvas point at the centre of the view.
    pub fn view_center(&self) -> [f32; 2] {
        if !self.view_rect.is_finite() {
            return [0.0, 0.0];
        }
        let p = self.to_global.inverse() * self.view_rect.center();
        [p.x - NODE_SIZE.x / 2.0, p.y - NODE_SIZE.y / 2.0]
    }

    /// The canvas point under screen point `p` (as of the last frame).
    pub fn screen_to_canvas(&self, p: Pos2) -> [f32; 2] {
        let at = self.to_global.inverse() * p;
        [at.x, at.y]
    }

    /// Where empty canvas was double-clicked this frame, on screen (taken once).
    pub fn take_double_click(&mut self) -> Option<Pos2> {
        self.double_click.take()
    }

    /// Pans, keeping the zoom, so that canvas rectangle `r` is in the middle of the view,
    /// unless it is in view already (pasted nodes placed where nothing lies may land off it).
    pub fn reveal(&mut self, r: Rect) {
        if !self.view_rect.is_finite() || !r.is_finite() {
            return;
        }
        let on_screen = self.to_global * r;
        if self.view_rect.contains_rect(on_screen) {
            return;
        }
        let shift = self.view_rect.center() - on_screen.center();
        self.set_transform(TSTransform::from_translation(shift) * self.to_global);
    }

    /// Zooms by `factor` around the view centre.
    pub fn zoom(&mut self, factor: f32) {
        let c = self.view_rect.center();
        let t = TSTransform::from_translation(c.to_vec2())
            * TSTransform::from_scaling(factor)
            * TSTransform::from_translation(-c.to_vec2());
        self.set_transform(t * self.to_global);
    }

    /// Zooms to `scale` (1: 100 %) around the view centre.
    pub fn zoom_to(&mut self, scale: f32) {
        let now = self.to_global.scaling;
        if now > 0.0 {
            self.zoom(scale / now);
        }
    }

    fn set_transform(&mut self, t: TSTransform) {
        self.to_global = t;
        // egui-snarl keeps its transform in its own state; a pending fit carries ours.
        self.fit_pending = 0;
        self.forced = Some(t);
    }

    /// Makes the snarl match the model: nodes, positions and wires.
    pub fn sync(&mut self, graph: &Graph, ports: &PortCache) {
        let wanted: HashSet<&str> = graph.nodes.iter().map(|n| n.id.as_str()).collect();
        let stale: Vec<(String, NodeId)> =
            self.by_id.iter().filter(|(id, _)| !wanted.contains(id.as_str())).map(|(id, n)| (id.clone(), *n)).collect();
        for (id, n) in stale {
            self.snarl.remove_node(n);
            self.by_id.remove(&id);
        }
        for (i, node) in graph.nodes.iter().enumerate() {
            let pos = node.position.map_or(pos2(0.0, i as f32 * 150.0), |[x, y]| pos2(x, y));
            match self.by_id.get(&node.id) {
                Some(&n) => {
                    if let Some(info) = self.snarl.get_node_info_mut(n)
                        && node.position.is_some()
                        && info.pos.distance(pos) > 0.01
                    {
                        info.pos = pos;
                    }
                }
                None => {
                    let n = self.snarl.insert_node(pos, CanvasNode { id: node.id.clone(), sketch: false });
                    self.by_id.insert(node.id.clone(), n);
                }
            }
        }
        self.port_index.clear();
        for n in &graph.nodes {
            if let Some(p) = ports.get(&n.id) {
                for (i, o) in p.outputs.iter().enumerate() {
                    self.port_index.insert((n.id.clone(), o.name.clone(), true), i);
                }
                for (i, o) in p.inputs.iter().enumerate() {
                    self.port_index.insert((n.id.clone(), o.name.clone(), false), i);
                }
            }
        }
        self.wires.clear();
        for (index, w) in graph.wires.iter().enumerate() {
            let (Some(&from), Some(&to)) = (self.by_id.get(&w.from.node), self.by_id.get(&w.to.node)) else { continue };
            let (Some(fp), Some(tp)) = (ports.get(&w.from.node), ports.get(&w.to.node)) else { continue };
            let (Some(o), Some(i)) = (fp.output_index(&w.from.port), tp.input_index(&w.to.port)) else { continue };
            let (from, to) = (OutPinId { node: from, output: o }, InPinId { node: to, input: i });
            self.wires.push(CanvasWire { from, to, index, id: w.id() });
        }
        self.colors.invalidate();
        self.prune_sketches();
        let want_wires: HashSet<(OutPinId, InPinId)> = self.wires.iter().map(|w| (w.from, w.to)).collect();
        let have: HashSet<(OutPinId, InPinId)> = self.snarl.wires().collect();
        for (o, i) in have.difference(&want_wires) {
            self.snarl.disconnect(*o, *i);
        }
        for (o, i) in want_wires.difference(&have) {
            self.snarl.connect(*o, *i);
        }
    }

    /// Node positions that differ from the model (after the user moved nodes).
    pub fn moved_nodes(&self, graph: &Graph) -> Vec<(String, [f32; 2])> {
        // Looked up by id in a map: asked every frame, for every node.
        let positions: HashMap<&str, Option<[f32; 2]>> =
            graph.nodes.iter().map(|n| (n.id.as_str(), n.position)).collect();
        self.snarl
            .nodes_pos_ids()
            .filter_map(|(_, pos, n)| {
                let model = *positions.get(n.id.as_str())?;
                let moved = model.is_none_or(|[x, y]| pos.distance(pos2(x, y)) > 0.01);
                moved.then(|| (n.id.clone(), [pos.x, pos.y]))
            })
            .collect()
    }

    /// Ids of the nodes selected on the canvas.
    pub fn selected(&self, ctx: &egui::Context) -> Vec<String> {
        get_selected_nodes(self.id, ctx)
            .into_iter()
            .filter_map(|n| self.snarl.get_node(n).map(|c| c.id.clone()))
            .collect()
    }

    /// Draws the canvas; returns the user's requests.
    pub fn show(&mut self, ui: &mut Ui, input: &CanvasInput<'_>) -> Vec<Action> {
        // A right-click opens the wire menu when it falls on a wire (pins of the last frame).
        let mut actions = Vec::new();
        let mut open_menu = false;
        if ui.input(|i| i.pointer.secondary_clicked())
            && let Some(p) = ui.ctx().pointer_interact_pos()
        {
            let at = self.screen_to_canvas(p);
            self.menu_wire = self.wire_at(p, input.graph).map(|(from, to)| WireMenu { from, to, at });
            if let Some(m) = &self.menu_wire {
                actions.push(Action::SelectWire(m.from.clone(), m.to.clone()));
                open_menu = true;
            }
        }
        self.pins.borrow_mut().outputs.clear();
        self.pins.borrow_mut().inputs.clear();
        let view_rect = ui.available_rect_before_wrap();
        let fit = if self.fit_pending > 0 { self.bounds(input.graph) } else { None };
        self.fit_pending = self.fit_pending.saturating_sub(1);
        if fit.is_some() {
            ui.ctx().request_repaint();
        }
        self.colors.update(&self.wires, input.problems, input.metrics);
        let frames = if input.graph.groups.is_empty() {
            Vec::new()
        } else {
            let rects: HashMap<String, Rect> =
                self.node_rects.iter().filter_map(|(n, r)| Some((self.snarl.get_node(*n)?.id.clone(), *r))).collect();
            group_frames(input.graph, &rects)
        };
        let selected = self.selected(ui.ctx());
        let sketch = self.sketched_nodes(view_rect);
        self.mark_sketched(&sketch);
        let sketch_wires = self.sketch_wires(&sketch, input.ports);
        let mut viewer = GraphViewer {
            nodes: input.graph.nodes.iter().map(|n| (n.id.as_str(), n)).collect(),
            node_metrics: input
                .metrics
                .map(|m| m.nodes.iter().map(|n| (n.id.as_str(), n)).collect())
                .unwrap_or_default(),
            colors: &self.colors,
            graph: input.graph,
            registry: input.registry,
            ports: input.ports,
            problems: input.problems,
            metrics: input.metrics,
            focus: input.focus,
            pins: self.pins.clone(),
            actions: Vec::new(),
            fit,
            fit_min: self.fit_min,
            forced: self.forced.take(),
            view_rect,
            to_global: self.to_global,
            node_rects: Vec::new(),
            wire_menu_open: self.menu_wire.is_some(),
            group_frames: &frames,
            selected,
            edited_since_run: input.edited_since_run,
            paused: input.paused,
            full_sizes: &self.sketches.full_size,
            sketch_overhead: self.sketches.overhead.unwrap_or(sketch::OVERHEAD_GUESS),
            sketch_headers: Vec::new(),
            sketch_wires,
        };
        let real_modifiers = self.steer_selection(ui.ctx(), input.graph);
        let response = SnarlWidget::new().id(self.id).style(style()).show(&mut self.snarl, &mut viewer, ui);
        Self::restore_modifiers(ui.ctx(), real_modifiers);
        self.to_global = viewer.to_global;
        self.node_rects = viewer.node_rects;
        let headers = std::mem::take(&mut viewer.sketch_headers);
        actions.append(&mut viewer.actions);
        self.after_sketch(&sketch, headers);
        self.measured = self.node_rects.iter().fold(Rect::NOTHING, |a, (_, r)| a.union(*r));
        self.view_rect = view_rect;
        self.show_notes(ui, input.graph, &frames, view_rect, &mut actions);
        if let Some(id) = self.pressed_node(ui.ctx()) {
            actions.push(Action::Focus(id));
        }

        // A palette entry dropped on the canvas.
        if let Some(kind) = response.dnd_release_payload::<KindDrag>()
            && let Some(p) = ui.ctx().pointer_interact_pos()
        {
            let at = self.to_global.inverse() * p;
            let pos = [at.x, at.y];
            match self.wire_at(p, input.graph) {
                // Dropped on a wire: the node goes in between its ends.
                Some((from, to)) => actions.push(Action::InsertOnWire { kind: kind.0.clone(), pos, from, to }),
                None => actions.push(Action::AddNode { kind: kind.0.clone(), pos, wire: None }),
            }
        }

        // A double-click on empty canvas opens quick add there (on screen: the response's
        // own pointer position is in the canvas layer's transformed coordinates).
        if response.double_clicked()
            && let Some(p) = ui.ctx().pointer_interact_pos()
        {
            self.double_click = Some(p);
        }

        // Selection on the canvas drives the inspector.
        let selected = get_selected_nodes(self.id, ui.ctx());
        if selected != self.last_selected {
            if let Some(n) = selected.last().and_then(|n| self.snarl.get_node(*n)) {
                actions.push(Action::Focus(n.id.clone()));
            }
            self.last_selected = selected;
        }

        self.show_wire_menu(ui, input, open_menu, &mut actions);
        self.paint_wire_labels(ui, input);
        if ui.input(|i| i.pointer.primary_clicked())
            && let Some(p) = ui.ctx().pointer_interact_pos()
            && view_rect.contains(p)
        {
            let at = self.to_global.inverse() * p;
            let on_note = self.notes.comment_rects.values().chain(self.group_titles.values()).any(|r| r.contains(at));
            let on_label = self
                .wire_labels
                .iter()
                .find(|(r, _)| !on_note && r.contains(at))
                .and_then(|(_, i)| input.graph.wires.get(*i));
            if let Some(w) = on_label {
                actions.push(Action::SelectWire(w.from.clone(), w.to.clone()));
            } else if let Some((f, t)) = self.wire_at(p, input.graph) {
                actions.push(Action::SelectWire(f, t));
            }
        }
        actions
    }

    /// Nodes drawn without their texts this frame: all of them below [`SKETCH_BELOW`] (labels
    /// cannot be read there), else those whose card was wholly off screen last frame. A card
    /// keeps its size either way, so nothing moves when it comes into view.
    fn sketched_nodes(&self, view_rect: Rect) -> HashSet<NodeId> {
        if !view_rect.is_finite() || self.node_rects.is_empty() {
            return HashSet::new();
        }
        let scale = self.to_global.scaling;
        // A margin: a card panned or zoomed into view is drawn in full before it shows.
        let visible = (self.to_global.inverse() * view_rect).expand(FULL_MARGIN);
        self.node_rects
            .iter()
            .filter(|(_, r)| scale < SKETCH_BELOW || !visible.intersects(*r))
            .map(|(n, _)| *n)
            // Only cards drawn in full before: a sketch keeps that size.
            .filter(|n| self.sketches.full_size.contains_key(n))
            .collect()
    }

    /// The node whose frame (header, body, footer) was clicked or started a drag this frame.
    ///
    /// egui-snarl 0.12 selects a node only on Shift+click, so a plain click would not reach
    /// the inspector through [`get_selected_nodes`]; this reads egui's interaction instead.
    fn pressed_node(&self, ctx: &egui::Context) -> Option<String> {
        let plain = ctx.input(|i| !i.modifiers.shift && !i.modifiers.command);
        let hit = ctx.interaction_snapshot(|s| s.clicked.or(s.drag_started))?;
        if !plain {
            return None;
        }
        // The id egui-snarl gives a node's frame interaction (see its `draw_node`).
        let frame_id = |n: NodeId| self.id.with(("snarl-node", n)).with("frame");
        self.snarl.nodes_ids_data().find(|(n, _)| frame_id(*n) == hit).map(|(_, node)| node.value.id.clone())
    }

    /// Where a node was drawn last frame, on screen (for tests that click nodes).
    pub fn node_screen_rect(&self, node: &str) -> Option<Rect> {
        let n = self.by_id.get(node)?;
        let (_, r) = self.node_rects.iter().find(|(id, _)| id == n)?;
        Some(self.to_global * *r)
    }

    fn bounds(&self, graph: &Graph) -> Option<Rect> {
        if self.measured.is_positive() && self.measured.is_finite() {
            // Group title bars and comments are part of what must be seen.
            let notes = self.group_titles.values().chain(self.notes.comment_rects.values());
            let all = notes.fold(self.measured, |a, r| a.union(*r));
            return Some(all.expand(FIT_MARGIN));
        }
        let mut bb = Rect::NOTHING;
        for n in &graph.nodes {
            if let Some([x, y]) = n.position {
                bb = bb.union(Rect::from_min_size(pos2(x, y), NODE_SIZE));
            }
        }
        bb.is_positive().then(|| bb.expand(FIT_MARGIN))
    }

    /// Queue gauges, drop counts, problem marks and the selected wire, at wire midpoints.
    /// Gauges keep their screen size when zoomed out, so their text stays legible; on a wire
    /// too short on screen for one, a dot in the queue's fill colour stands in for it.
    fn paint_wire_labels(&mut self, ui: &Ui, input: &CanvasInput<'_>) {
        self.wire_labels.clear();
        self.gauge_texts.clear();
        // Clipped to the canvas: the labels never spill over the panels around it.
        let painter = ui
            .ctx()
            .layer_painter(LayerId::new(ui.layer_id().order, self.id))
            .with_clip_rect(self.to_global.inverse() * self.view_rect);
        let pins = self.pins.borrow();
        // Canvas units per screen point (labels grow with the canvas only when zoomed in).
        let k = 1.0 / self.to_global.scaling.clamp(0.05, 1.0);
        let snaps: HashMap<&str, &WireSnapshot> =
            input.metrics.map(|m| m.wires.iter().map(|w| (w.id.as_str(), w)).collect()).unwrap_or_default();
        for cw in &self.wires {
            let Some(w) = input.graph.wires.get(cw.index) else { continue };
            let (Some(a), Some(b)) = (pins.outputs.get(&cw.from), pins.inputs.get(&cw.to)) else { continue };
            let mid = Pos2::new((a.x + b.x) / 2.0, (a.y + b.y) / 2.0);
            let selected = input.wire.is_some_and(|(f, t)| f == &w.from && t == &w.to);
            let has_problem = input.problems.wire(&cw.id).next().is_some();
            let snap = snaps.get(cw.id.as_str()).copied();
            // The gauge's text, laid out first: the gauge shows only if the wire has room for it.
            let gauge = snap.map(|s| {
                let color = if s.dropped > 0 { ERROR } else { Color32::WHITE };
                painter.layout_no_wrap(gauge_text(s), egui::FontId::monospace(GAUGE_FONT * k), color)
            });
            let gauge_width = gauge.as_ref().map_or(0.0, |g| g.size().x + 10.0 * k);
            let full = gauge.is_some() && a.distance(*b) >= gauge_width + 36.0 * k;
            let handle = Rect::from_center_size(mid, vec2(14.0, 14.0) * k);
            if let Some(s) = snap.filter(|_| !full) {
                // Too short for a legible gauge: a dot in the fill colour (red ring: drops).
                painter.circle_filled(mid, 5.0 * k, fill_color(queue_fill(s)));
                if s.dropped > 0 || has_problem || selected {
                    let color = if selected { ACCENT } else { ERROR };
                    painter.circle_stroke(mid, 7.0 * k, Stroke::new(1.5 * k, color));
                }
                // A queue that is (or was, this sample) half full or dropping is when its numbers
                // matter: they show above the dot.
                if let Some(g) = gauge.filter(|_| numbers_matter(s)) {
                    self.gauge_texts.push((cw.id.clone(), g.text().to_string()));
                    let above = self.numbers_rect(mid, vec2(gauge_width, GAUGE_HEIGHT * k), (GAUGE_HEIGHT + 4.0) * k);
                    painter.rect_filled(above, CornerRadius::same(4), Color32::from_gray(30).gamma_multiply(0.92));
                    painter.galley(above.center() - g.size() / 2.0, g, Color32::WHITE);
                    self.wire_labels.push((above, cw.index));
                }
                self.wire_labels.push((handle, cw.index));
                continue;
            }
            if snap.is_none() && !has_problem && !selected {
                // Small handle so a wire can be selected with a click.
                painter.circle_filled(mid, 3.0, Color32::from_gray(120));
                self.wire_labels.push((handle, cw.index));
                continue;
            }
            let rect = if full { Rect::from_center_size(mid, vec2(gauge_width, GAUGE_HEIGHT * k)) } else { handle };
            let stroke = if selected { Stroke::new(2.0 * k, ACCENT) } else { Stroke::new(k, Color32::from_gray(90)) };
            painter.rect(rect, CornerRadius::same(4), Color32::from_gray(30), stroke, StrokeKind::Outside);
            if let Some(s) = snap {
                let mut bar = rect.shrink(2.0 * k);
                bar.set_width(bar.width() * queue_fill(s).max(0.02));
                painter.rect_filled(bar, CornerRadius::same(3), fill_color(queue_fill(s)).gamma_multiply(0.8));
                if let Some(g) = gauge {
                    self.gauge_texts.push((cw.id.clone(), g.text().to_string()));
                    painter.galley(rect.center() - g.size() / 2.0, g, Color32::WHITE);
                }
            } else if has_problem {
                painter.text(
                    rect.center(),
                    egui::Align2::CENTER_CENTER,
                    "!",
                    egui::FontId::proportional(11.0 * k),
                    ERROR,
                );
            }
            if has_problem {
                painter.rect_stroke(
                    rect.expand(2.0 * k),
                    CornerRadius::same(5),
                    Stroke::new(1.5 * k, ERROR),
                    StrokeKind::Outside,
                );
            }
            self.wire_labels.push((rect, cw.index));
        }
    }

    /// Where a short wire's numbers go: `offset` above its midpoint `mid`; when that covers a
    /// card (two cards side by side: their titles), just above the cards it covers, else as
    /// far below the midpoint, if either covers no card.
    fn numbers_rect(&self, mid: Pos2, size: egui::Vec2, offset: f32) -> Rect {
        let covered = |r: Rect| self.node_rects.iter().map(|(_, n)| *n).filter(move |n| n.intersects(r));
        let above = Rect::from_center_size(mid - vec2(0.0, offset), size);
        let Some(top) = covered(above).map(|n| n.top()).reduce(f32::min) else { return above };
        let lifted = above.translate(vec2(0.0, top - offset * 0.15 - above.bottom()));
        let below = Rect::from_center_size(mid + vec2(0.0, offset), size);
        [lifted, below].into_iter().find(|r| covered(*r).next().is_none()).unwrap_or(above)
    }

    /// Where a pin was drawn last frame, on screen (for tests that drag wires).
    pub fn pin_screen_pos(&self, node: &str, port: &str, output: bool) -> Option<Pos2> {
        let &n = self.by_id.get(node)?;
        let &i = self.port_index.get(&(node.to_string(), port.to_string(), output))?;
        let pins = self.pins.borrow();
        let p = if output {
            pins.outputs.get(&OutPinId { node: n, output: i })
        } else {
            pins.inputs.get(&InPinId { node: n, input: i })
        }?;
        Some(self.to_global * *p)
    }

    /// The queue gauges drawn last frame with their text, by wire id (for tests: counters
    /// shown must be true and visible).
    pub fn gauge_texts(&self) -> &[(String, String)] {
        &self.gauge_texts
    }

    /// The canvas's rectangle on screen, as of the last frame.
    pub fn view_rect(&self) -> Rect {
        self.view_rect
    }

    /// The screen transform (for tests and benches that aim at nodes).
    pub fn transform(&self) -> TSTransform {
        self.to_global
    }
}

/// `depth/capacity · max m`: the depth now, and the most the wire has queued in the run (the
/// depth chart's highest point); then the drop count when there were drops. (The peak of
/// the last sample alone read as "peak 0" beside a chart at 1,000 once a wire drained.)
fn gauge_text(s: &WireSnapshot) -> String {
    let text = format!("{}/{} · max {}", s.depth, s.capacity, s.max_depth);
    if s.dropped > 0 { format!("{text} ✖{}", super::format::count(s.dropped)) } else { text }
}

/// Whether a wire too short for its gauge still shows its numbers (above its dot): its queue
/// is at least half full now or was at some time in the run (so a run that ended with the
/// wire drained still shows that it filled), or it dropped events.
fn numbers_matter(s: &WireSnapshot) -> bool {
    s.dropped > 0 || s.depth.max(s.max_depth).max(s.peak_depth).saturating_mul(2) >= s.capacity.max(1)
}

/// How full a wire's queue is, 0 to 1.
fn queue_fill(s: &WireSnapshot) -> f32 {
    if s.capacity == 0 { 0.0 } else { (s.depth as f32 / s.capacity as f32).clamp(0.0, 1.0) }
}

fn style() -> SnarlStyle {
    SnarlStyle {
        node_layout: Some(NodeLayout::coil()),
        pin_placement: Some(PinPlacement::Edge),
        pin_size: Some(PIN_SIZE),
        wire_width: Some(2.5),
        wire_frame_size: Some(WIRE_FRAME),
        wire_style: Some(WireStyle::Bezier3),
        collapsible: Some(false),
        // Double-click on empty canvas is quick add; Ctrl+Shift+F fits the view.
        centering: Some(false),
        ..SnarlStyle::new()
    }
}

#[cfg(test)]
mod tests {
    use super::{WireSnapshot, numbers_matter};

    #[test]
    fn a_short_wire_shows_its_numbers_when_it_is_or_was_half_full_or_dropped() {
        let w = |depth, max_depth, dropped| WireSnapshot {
            depth,
            peak_depth: depth,
            max_depth,
            dropped,
            capacity: 1024,
            ..Default::default()
        };
        assert!(!numbers_matter(&w(0, 2, 0)));
        assert!(numbers_matter(&w(600, 600, 0)), "half full now");
        assert!(numbers_matter(&w(0, 1024, 0)), "drained at the end of the run, full at some time in it");
        assert!(numbers_matter(&w(0, 0, 3)), "dropped");
    }
}

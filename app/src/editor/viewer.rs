//! The one [`SnarlViewer`] for every node kind: titles, ports, colours and menus all come
//! from the registry and the graph model, never from a match on kind names.

use std::collections::HashMap;

use egui::emath::TSTransform;
use egui::{Color32, Frame, Pos2, Rect, RichText, Stroke, Ui};
use egui_snarl::ui::{AnyPins, PinInfo, SnarlViewer};
use egui_snarl::{InPin, NodeId, OutPin, Snarl};
use streamloom_runtime::metrics::{MetricsSnapshot, NodeSnapshot, NodeState, NodeStatus};
use streamloom_runtime::{Category, Graph, Node, PortRef, PortSpec, PortType, Registry};

use super::actions::{Action, WireEnd};
use super::pins::{PinKey, SharedPins, TrackedPin};
use super::ports::{PortCache, type_color};
use super::problems::{ERROR, ProblemIndex};
use super::wire_colors::PinColors;

/// What the canvas stores per node: only the model id. Everything else is read from the model.
#[derive(Debug, Clone, PartialEq)]
pub struct CanvasNode {
    /// The node's id in the graph model.
    pub id: String,
    /// Drawn as a sketch this frame (off screen, or too small to read): a box of its full
    /// size without pins or texts; the canvas draws its wires.
    pub sketch: bool,
}

/// The smallest scale "fit" zooms to: below it, card labels are too small to read (seen under
/// Xvfb: at 0.6 the minified font atlas turns "g1" into "q1" and "out" into "ou:"; at 0.67 and
/// above the labels read cleanly).
pub const MIN_FIT_SCALE: f32 = 0.7;
/// The smallest scale of a fit the user asked for (the Fit button): everything is shown.
pub const MIN_ASKED_FIT_SCALE: f32 = 0.1;

/// Colour of the mark on nodes edited since the run started.
pub const EDITED: Color32 = Color32::from_rgb(235, 180, 70);

/// Accent colour of the focused node and selected wire.
pub const ACCENT: Color32 = Color32::from_rgb(80, 200, 255);

/// Borrows everything one frame of the canvas needs; collects the user's requests.
pub struct GraphViewer<'a> {
    /// The model.
    pub graph: &'a Graph,
    /// The model's nodes by id (looked up for every node drawn).
    pub nodes: HashMap<&'a str, &'a Node>,
    /// Live metrics by node id.
    pub node_metrics: HashMap<&'a str, &'a NodeSnapshot>,
    /// Wire colours by pin.
    pub colors: &'a PinColors,
    /// Node kinds.
    pub registry: &'a Registry,
    /// Ports by node.
    pub ports: &'a PortCache,
    /// Problems by node and wire.
    pub problems: &'a ProblemIndex,
    /// Live metrics of the current or last run.
    pub metrics: Option<&'a MetricsSnapshot>,
    /// The node shown in the inspector.
    pub focus: Option<&'a str>,
    /// Pin positions recorded while drawing.
    pub pins: SharedPins,
    /// Requests for the app.
    pub actions: Vec<Action>,
    /// A canvas-space rectangle to fit into the view this frame.
    pub fit: Option<Rect>,
    /// The smallest scale `fit` may choose.
    pub fit_min: f32,
    /// A transform to apply this frame (zoom buttons).
    pub forced: Option<TSTransform>,
    /// The canvas rectangle on screen.
    pub view_rect: Rect,
    /// The canvas-to-screen transform used this frame.
    pub to_global: TSTransform,
    /// Measured node rectangles, in canvas coordinates.
    pub node_rects: Vec<(NodeId, Rect)>,
    /// A wire's own menu is open (a right-click on its curve): no "Add node" menu then.
    pub wire_menu_open: bool,
    /// Group frames to paint behind the nodes.
    pub group_frames: &'a [super::canvas_notes::GroupFrame],
    /// Ids of the nodes selected on the canvas.
    pub selected: Vec<String>,
    /// Nodes edited since the live run started.
    pub edited_since_run: &'a std::collections::HashSet<String>,
    /// The live run is paused.
    pub paused: bool,
    /// Each card's size when last drawn in full (a sketched card keeps it).
    pub full_sizes: &'a HashMap<NodeId, egui::Vec2>,
    /// How much larger a sketched card is than what its header holds.
    pub sketch_overhead: egui::Vec2,
    /// What each sketched card's header held this frame.
    pub sketch_headers: Vec<(NodeId, egui::Vec2)>,
    /// The wires of sketched cards, painted behind the cards.
    pub sketch_wires: Vec<super::canvas::SketchWire>,
}

impl GraphViewer<'_> {
    fn out_ref(&self, snarl: &Snarl<CanvasNode>, node: NodeId, index: usize) -> Option<PortRef> {
        let id = &snarl.get_node(node)?.id;
        let port = self.ports.get(id)?.outputs.get(index)?;
        Some(PortRef::new(id.clone(), port.name.clone()))
    }

    fn in_ref(&self, snarl: &Snarl<CanvasNode>, node: NodeId, index: usize) -> Option<PortRef> {
        let id = &snarl.get_node(node)?.id;
        let port = self.ports.get(id)?.inputs.get(index)?;
        Some(PortRef::new(id.clone(), port.name.clone()))
    }

    /// The id and port spec of a pin, borrowed (no allocation per pin and frame).
    fn pin_spec<'s>(
        &'s self,
        snarl: &'s Snarl<CanvasNode>,
        node: NodeId,
        index: usize,
        output: bool,
    ) -> Option<(&'s str, &'s PortSpec)> {
        let id = snarl.get_node(node)?.id.as_str();
        let ports = self.ports.get(id)?;
        let spec = if output { ports.outputs.get(index) } else { ports.inputs.get(index) }?;
        Some((id, spec))
    }

    fn kinds_menu(
        &mut self,
        ui: &mut Ui,
        pos: Pos2,
        accept: impl Fn(&dyn streamloom_runtime::NodeKind) -> bool,
        wire: Option<WireEnd>,
    ) {
        for cat in [Category::Source, Category::Operator, Category::Sink] {
            let kinds: Vec<_> =
                self.registry.kinds().into_iter().filter(|k| k.category() == cat && accept(&***k)).collect();
            if kinds.is_empty() {
                continue;
            }
            ui.label(RichText::new(cat.name()).weak());
            for k in kinds {
                if ui.button(k.name()).on_hover_text(k.description()).clicked() {
                    self.actions.push(Action::AddNode {
                        kind: k.name().to_string(),
                        pos: [pos.x, pos.y],
                        wire: wire.clone(),
                    });
                    ui.close();
                }
            }
        }
    }
}

/// Green (empty) → amber → red (full).
pub fn fill_color(fill: f32) -> Color32 {
    let f = fill.clamp(0.0, 1.0);
    let lerp = |a: u8, b: u8, t: f32| (a as f32 + (b as f32 - a as f32) * t) as u8;
    if f < 0.5 {
        let t = f * 2.0;
        Color32::from_rgb(lerp(90, 230, t), lerp(200, 190, t), lerp(100, 60, t))
    } else {
        let t = (f - 0.5) * 2.0;
        Color32::from_rgb(lerp(230, 235, t), lerp(190, 70, t), lerp(60, 60, t))
    }
}

pub(super) fn status_color(s: NodeStatus) -> Color32 {
    match s {
        NodeStatus::Pending => Color32::GRAY,
        NodeStatus::Running => Color32::from_rgb(90, 200, 100),
        NodeStatus::Finished => Color32::from_rgb(120, 160, 230),
        NodeStatus::Failed => ERROR,
        NodeStatus::Cancelled => Color32::from_rgb(230, 180, 60),
        NodeStatus::Stopped => Color32::from_rgb(190, 170, 140),
    }
}

/// What a node's lifecycle status means, for hover texts.
pub(super) fn status_meaning(s: NodeStatus) -> &'static str {
    match s {
        NodeStatus::Pending => "Not started yet.",
        NodeStatus::Running => "Running.",
        NodeStatus::Finished => "Ended on its own: its input ended and it drained (a source: it sent all it had).",
        NodeStatus::Stopped => {
            "Stopped: the run was stopped (Stop, or another node failed) before its input ended; \
             it drained what it had received."
        }
        NodeStatus::Failed => "Failed: the node ended with an error (see its message).",
        NodeStatus::Cancelled => "Cancelled: it had not drained when the stop timeout passed.",
    }
}

/// The colour of a node's own state (a connection's): green when working, amber while
/// (re)connecting or degraded, red when it gave up.
pub(super) fn own_state_color(s: Option<NodeState>) -> Color32 {
    match s {
        Some(NodeState::Connected | NodeState::Listening) => Color32::from_rgb(90, 200, 100),
        Some(NodeState::Connecting | NodeState::Reconnecting | NodeState::Degraded) => Color32::from_rgb(230, 180, 60),
        Some(NodeState::Failed) => ERROR,
        Some(NodeState::Closed) | None => Color32::GRAY,
    }
}

impl SnarlViewer<CanvasNode> for GraphViewer<'_> {
    fn title(&mut self, node: &CanvasNode) -> String {
        node.id.clone()
    }

    fn node_frame(
        &mut self,
        default: Frame,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        snarl: &Snarl<CanvasNode>,
    ) -> Frame {
        let Some(n) = snarl.get_node(node) else { return default };
        // A sketch casts no shadow (off screen or tiny, and one less shape to tessellate).
        let default = if n.sketch { default.shadow(egui::Shadow::NONE) } else { default };
        if self.focus == Some(n.id.as_str()) {
            default.stroke(Stroke::new(2.5, ACCENT))
        } else if self.edited_since_run.contains(&n.id) {
            default.stroke(Stroke::new(2.0, EDITED))
        } else if self.problems.node(&n.id).any(|p| p.is_error()) {
            default.stroke(Stroke::new(2.0, ERROR))
        } else {
            default
        }
    }

    fn header_frame(
        &mut self,
        default: Frame,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        snarl: &Snarl<CanvasNode>,
    ) -> Frame {
        // A sketch's header is not painted (the same margins keep the card's size).
        if snarl.get_node(node).is_some_and(|n| n.sketch) {
            default.fill(Color32::TRANSPARENT).stroke(Stroke::new(default.stroke.width, Color32::TRANSPARENT))
        } else {
            default
        }
    }

    fn show_header(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<CanvasNode>,
    ) {
        // Plain labels: a click on them selects the node instead of selecting text.
        ui.style_mut().interaction.selectable_labels = false;
        if snarl.get_node(node).is_some_and(|n| n.sketch)
            && let Some(full) = self.full_sizes.get(&node)
        {
            // The room the whole card takes when drawn in full, without a widget per text.
            let want = *full - self.sketch_overhead;
            let used = ui.cursor().min.x - ui.min_rect().min.x;
            ui.allocate_space(egui::vec2((want.x - used).max(0.0), want.y.max(0.0)));
            self.sketch_headers.push((node, ui.min_rect().size()));
            return;
        }
        let Some(id) = snarl.get_node(node).map(|n| n.id.clone()) else { return };
        let kind = self.nodes.get(id.as_str()).map(|n| n.kind.clone()).unwrap_or_default();
        ui.horizontal(|ui| {
            ui.label(RichText::new(&id).strong());
            if let Some(k) = self.registry.get(&kind) {
                ui.label(RichText::new(&kind).weak().small()).on_hover_text(k.description());
            } else {
                ui.label(RichText::new(format!("{kind} (unknown kind)")).color(ERROR).small())
                    .on_hover_text("This kind is not in this build; the node is kept as it is and saved unchanged.");
            }
            if self.edited_since_run.contains(&id) {
                ui.label(RichText::new("✎ edited").small().color(EDITED)).on_hover_text(
                    "Edited since the run started: the run uses the previous version until it is run again.",
                );
            }
        });
    }

    fn inputs(&mut self, node: &CanvasNode) -> usize {
        if node.sketch { 0 } else { self.ports.get(&node.id).map_or(0, |p| p.inputs.len()) }
    }

    fn outputs(&mut self, node: &CanvasNode) -> usize {
        if node.sketch { 0 } else { self.ports.get(&node.id).map_or(0, |p| p.outputs.len()) }
    }

    #[allow(refining_impl_trait)]
    fn show_input(&mut self, pin: &InPin, ui: &mut Ui, snarl: &mut Snarl<CanvasNode>) -> TrackedPin {
        // Plain labels: a click on them selects the node instead of selecting text.
        ui.style_mut().interaction.selectable_labels = false;
        let key = PinKey::In(pin.id);
        let sink = self.pins.clone();
        let Some((_, spec)) = self.pin_spec(snarl, pin.id.node, pin.id.input, false) else {
            return TrackedPin { info: PinInfo::circle(), key, sink };
        };
        let missing = spec.required && pin.remotes.is_empty();
        let text = RichText::new(&spec.name);
        let text = if missing { text.color(ERROR) } else { text };
        // Hover text is formatted only when hovered.
        ui.label(text).on_hover_ui(|ui| {
            ui.label(format!("input `{}` · {} events\n{}", spec.name, spec.ty.name(), spec.doc));
        });
        let wire = self.colors.input(pin.id).unwrap_or_else(|| type_color(spec.ty));
        let info = PinInfo::circle().with_fill(type_color(spec.ty)).with_wire_color(wire);
        TrackedPin { info, key, sink }
    }

    #[allow(refining_impl_trait)]
    fn show_output(&mut self, pin: &OutPin, ui: &mut Ui, snarl: &mut Snarl<CanvasNode>) -> TrackedPin {
        // Plain labels: a click on them selects the node instead of selecting text.
        ui.style_mut().interaction.selectable_labels = false;
        let key = PinKey::Out(pin.id);
        let sink = self.pins.clone();
        let Some((_, spec)) = self.pin_spec(snarl, pin.id.node, pin.id.output, true) else {
            return TrackedPin { info: PinInfo::circle(), key, sink };
        };
        let is_errors = spec.name == streamloom_runtime::registry::ERRORS_PORT;
        let text = if is_errors { RichText::new(&spec.name).weak() } else { RichText::new(&spec.name) };
        ui.label(text).on_hover_ui(|ui| {
            ui.label(format!("output `{}` · {} events\n{}", spec.name, spec.ty.name(), spec.doc));
        });
        let wire = self.colors.output(pin.id).unwrap_or_else(|| type_color(spec.ty));
        let info = PinInfo::circle().with_fill(type_color(spec.ty)).with_wire_color(wire);
        TrackedPin { info, key, sink }
    }

    fn has_footer(&mut self, node: &CanvasNode) -> bool {
        !node.sketch
            && (self.node_metrics.contains_key(node.id.as_str()) || self.problems.node(&node.id).next().is_some())
    }

    fn show_footer(
        &mut self,
        node: NodeId,
        inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<CanvasNode>,
    ) {
        // Plain labels: a click on them selects the node instead of selecting text.
        ui.style_mut().interaction.selectable_labels = false;
        let Some(id) = snarl.get_node(node).map(|n| n.id.as_str()) else { return };
        let problems: Vec<&streamloom_runtime::Problem> = self.problems.node(id).collect();
        // Pause holds the sources; the nodes after them go on with what is in flight.
        let paused = self.paused && inputs.is_empty();
        let lines = super::card_footer::footer_lines(self.node_metrics.get(id).copied(), &problems, paused);
        super::card_footer::show(ui, lines);
    }

    fn has_graph_menu(&mut self, _pos: Pos2, _snarl: &mut Snarl<CanvasNode>) -> bool {
        !self.wire_menu_open
    }

    fn show_graph_menu(&mut self, pos: Pos2, ui: &mut Ui, _snarl: &mut Snarl<CanvasNode>) {
        if ui.button("📝 Add comment").clicked() {
            self.actions.push(Action::AddComment([pos.x, pos.y]));
            ui.close();
        }
        ui.separator();
        ui.label(RichText::new("Add node").strong());
        self.kinds_menu(ui, pos, |_| true, None);
    }

    fn has_dropped_wire_menu(&mut self, _src_pins: AnyPins, _snarl: &mut Snarl<CanvasNode>) -> bool {
        true
    }

    fn show_dropped_wire_menu(&mut self, pos: Pos2, ui: &mut Ui, src_pins: AnyPins, snarl: &mut Snarl<CanvasNode>) {
        ui.label(RichText::new("Add a compatible node").strong());
        match src_pins {
            AnyPins::Out(pins) => {
                let Some(from) = pins.first().and_then(|p| self.out_ref(snarl, p.node, p.output)) else { return };
                let ty = self.ports.output_type(&from.node, &from.port).unwrap_or(PortType::Any);
                self.kinds_menu(
                    ui,
                    pos,
                    |k| k.ports(&k.default_config()).inputs.iter().any(|i| ty.flows_into(i.ty)),
                    Some(WireEnd::FromOutput(from)),
                );
            }
            AnyPins::In(pins) => {
                let Some(to) = pins.first().and_then(|p| self.in_ref(snarl, p.node, p.input)) else { return };
                let ty = self.ports.input_type(&to.node, &to.port).unwrap_or(PortType::Any);
                self.kinds_menu(
                    ui,
                    pos,
                    |k| k.ports(&k.default_config()).outputs.iter().any(|o| o.ty.flows_into(ty)),
                    Some(WireEnd::ToInput(to)),
                );
            }
        }
    }

    fn has_node_menu(&mut self, _node: &CanvasNode) -> bool {
        true
    }

    fn show_node_menu(
        &mut self,
        node: NodeId,
        _inputs: &[InPin],
        _outputs: &[OutPin],
        ui: &mut Ui,
        snarl: &mut Snarl<CanvasNode>,
    ) {
        let Some(id) = snarl.get_node(node).map(|n| n.id.clone()) else { return };
        if ui.button("Inspect").clicked() {
            self.actions.push(Action::Focus(id.clone()));
            ui.close();
        }
        if ui.button("Duplicate").clicked() {
            self.actions.push(Action::Duplicate(vec![id.clone()]));
            ui.close();
        }
        let members = if self.selected.contains(&id) { self.selected.clone() } else { vec![id.clone()] };
        let label = if members.len() > 1 { format!("Group {} selected nodes", members.len()) } else { "Group".into() };
        if ui.button(label).clicked() {
            self.actions.push(Action::GroupNodes(members));
            ui.close();
        }
        if self.graph.groups.iter().any(|g| g.nodes.contains(&id)) && ui.button("Remove from group").clicked() {
            self.actions.push(Action::LeaveGroups(vec![id.clone()]));
            ui.close();
        }
        if ui.button("Delete").clicked() {
            self.actions.push(Action::Delete(vec![id]));
            ui.close();
        }
    }

    fn draw_background(
        &mut self,
        background: Option<&egui_snarl::ui::BackgroundPattern>,
        viewport: &Rect,
        snarl_style: &egui_snarl::ui::SnarlStyle,
        style: &egui::Style,
        painter: &egui::Painter,
        _snarl: &Snarl<CanvasNode>,
    ) {
        if let Some(background) = background {
            background.draw(viewport, snarl_style, style, painter);
        }
        super::canvas_notes::paint_groups(painter, self.group_frames);
        super::canvas::paint_sketch_wires(painter, &self.sketch_wires);
    }

    fn connect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<CanvasNode>) {
        if let (Some(f), Some(t)) =
            (self.out_ref(snarl, from.id.node, from.id.output), self.in_ref(snarl, to.id.node, to.id.input))
        {
            self.actions.push(Action::Connect(f, t));
        }
    }

    /// Right-click on a wire selects it (delete it from the inspector or with Delete).
    fn disconnect(&mut self, from: &OutPin, to: &InPin, snarl: &mut Snarl<CanvasNode>) {
        if let (Some(f), Some(t)) =
            (self.out_ref(snarl, from.id.node, from.id.output), self.in_ref(snarl, to.id.node, to.id.input))
        {
            self.actions.push(Action::SelectWire(f, t));
        }
    }

    fn drop_outputs(&mut self, pin: &OutPin, snarl: &mut Snarl<CanvasNode>) {
        if let Some(f) = self.out_ref(snarl, pin.id.node, pin.id.output) {
            self.actions.push(Action::DropWires(f, true));
        }
    }

    fn drop_inputs(&mut self, pin: &InPin, snarl: &mut Snarl<CanvasNode>) {
        if let Some(t) = self.in_ref(snarl, pin.id.node, pin.id.input) {
            self.actions.push(Action::DropWires(t, false));
        }
    }

    fn final_node_rect(&mut self, node: NodeId, rect: Rect, _ui: &mut Ui, _snarl: &mut Snarl<CanvasNode>) {
        self.node_rects.push((node, rect));
    }

    fn current_transform(&mut self, to_global: &mut TSTransform, _snarl: &mut Snarl<CanvasNode>) {
        if let Some(t) = self.forced.take() {
            *to_global = t;
        }
        if let Some(bb) = self.fit.take()
            && bb.is_finite()
            && bb.width() > 0.0
            && bb.height() > 0.0
        {
            // Shrink only as much as the nodes need, never magnify past 1:1 (a small graph stays
            // at its natural size). A graph opened never goes below legible labels (a large one
            // is centred at that scale instead; pan to see the rest); the Fit button shows all.
            let view = self.view_rect.shrink(12.0);
            let scale = (view.width() / bb.width()).min(view.height() / bb.height()).clamp(self.fit_min, 1.0);
            let translation = view.center().to_vec2() - bb.center().to_vec2() * scale;
            *to_global = TSTransform::new(translation, scale);
        }
        self.to_global = *to_global;
    }
}

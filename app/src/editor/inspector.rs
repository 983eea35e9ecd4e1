//! The inspector: the focused node's id and parameters (a form generated from the kind),
//! a selected wire's queue settings, or the graph's own settings when nothing is selected.

use egui::{RichText, TextEdit, Ui};
use streamloom_runtime::graph::DEFAULT_CAPACITY;
use streamloom_runtime::metrics::MetricsSnapshot;
use streamloom_runtime::tap::TappedEvent;
use streamloom_runtime::{PortRef, Registry, WhenFull};

use super::document::Document;
use super::number_field::number_field;
use super::ops;
use super::params::param_row;
use super::problems::{ERROR, ProblemIndex};

/// What the inspector shows.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Selection {
    /// The graph's settings.
    #[default]
    Graph,
    /// A node, by id.
    Node(String),
    /// A wire, by its ends.
    Wire(PortRef, PortRef),
}

/// Inspector state that outlives a frame: the id being typed.
#[derive(Default)]
pub struct Inspector {
    rename: Option<(String, String)>,
    rename_error: Option<String>,
}

/// Everything the inspector reads and edits.
pub struct InspectorInput<'a> {
    /// The document (edits go through it, so they are undoable).
    pub doc: &'a mut Document,
    /// Node kinds.
    pub registry: &'a Registry,
    /// Problems.
    pub problems: &'a ProblemIndex,
    /// Live metrics.
    pub metrics: Option<&'a MetricsSnapshot>,
    /// The live run is paused.
    pub paused: bool,
    /// The run has ended: its snapshot's rates are averages over the whole run.
    pub run_ended: bool,
    /// The last events that left the inspected node, newest first (while or after a run).
    pub tap: Option<Vec<TappedEvent>>,
}

impl Inspector {
    /// Draws the inspector for `selection` (which a rename or a delete may change).
    pub fn show(&mut self, ui: &mut Ui, input: InspectorInput<'_>, selection: &mut Selection) {
        egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| match selection.clone() {
            Selection::Graph => graph_settings(ui, input.doc),
            Selection::Node(id) => {
                if input.doc.graph().node(&id).is_none() {
                    *selection = Selection::Graph;
                    return;
                }
                if let Some(new_id) = self.node(ui, &id, input, selection) {
                    *selection = Selection::Node(new_id);
                }
            }
            Selection::Wire(from, to) => {
                if !wire(ui, input, &from, &to, selection) {
                    *selection = Selection::Graph;
                }
            }
        });
    }

    fn node(&mut self, ui: &mut Ui, id: &str, input: InspectorInput<'_>, selection: &mut Selection) -> Option<String> {
        let doc = input.doc;
        let node = doc.graph().node(id)?.clone();
        let kind = input.registry.get(&node.kind);
        ui.heading(&node.id);
        match kind {
            Some(k) => {
                ui.label(RichText::new(format!("{} · {} v{}", k.name(), k.category().name(), node.version)).weak());
                ui.label(k.description());
            }
            None => {
                ui.label(RichText::new(format!("Unknown kind `{}`", node.kind)).color(ERROR));
                ui.label(
                    "This build has no such kind. The node is kept and saved unchanged, but the graph cannot run.",
                );
            }
        }
        ui.separator();

        // Id: renamed when the field loses focus or Enter is pressed; wires follow.
        let mut new_id = None;
        ui.horizontal(|ui| {
            let label = ui.label(RichText::new("id").strong());
            let buf = match &mut self.rename {
                Some((for_id, text)) if for_id == id => text,
                _ => {
                    self.rename = Some((id.to_string(), id.to_string()));
                    self.rename_error = None;
                    match &mut self.rename {
                        Some((_, text)) => text,
                        None => return,
                    }
                }
            };
            let r = ui.add(TextEdit::singleline(buf).desired_width(f32::INFINITY)).labelled_by(label.id);
            if r.lost_focus() && buf.as_str() != id {
                let wanted = buf.clone();
                let mut result = Ok(());
                doc.edit(|g| result = ops::rename_node(g, id, &wanted));
                match result {
                    Ok(()) => {
                        new_id = Some(wanted.trim().to_string());
                        self.rename = None;
                    }
                    Err(e) => self.rename_error = Some(e),
                }
            }
        });
        if let Some(e) = &self.rename_error {
            ui.label(RichText::new(e).color(ERROR));
        }
        if let Some(n) = &new_id {
            return Some(n.clone());
        }

        let problems: Vec<_> = input.problems.node(id).cloned().collect();
        let general: Vec<_> = problems
            .iter()
            .filter(|p| {
                p.location.field.as_deref().is_none_or(|f| kind.is_none_or(|k| !k.params().iter().any(|s| s.name == f)))
            })
            .collect();
        for p in &general {
            let icon = if p.is_error() { "⛔" } else { "⚠" };
            ui.label(RichText::new(format!("{icon} {}", p.message)).color(super::problems::severity_color(p.severity)));
        }
        ui.separator();

        match kind {
            Some(k) => {
                // A field the file leaves out shows the value the node runs with.
                let effective = k.effective_config(&node.config);
                // Each node's fields have their own ids: a field's state (a refusal, a cursor)
                // stays with its node, not with the place in the form.
                ui.push_id(("node fields", id), |ui| {
                    for spec in k.params() {
                        let field_problems: Vec<String> = problems
                            .iter()
                            .filter(|p| p.location.field.as_deref() == Some(spec.name.as_str()))
                            .map(|p| p.message.clone())
                            .collect();
                        let value = node.config.get(&spec.name).or_else(|| effective.as_ref()?.get(&spec.name));
                        if let Some(change) = param_row(ui, &spec, value, &field_problems) {
                            let key = format!("{id}:{}", spec.name);
                            doc.edit_coalesced(&key, |g| ops::set_param(g, id, &spec.name, change));
                        }
                    }
                });
            }
            None => {
                let text = serde_json::to_string_pretty(&node.config).unwrap_or_default();
                ui.add(TextEdit::multiline(&mut text.as_str()).code_editor());
            }
        }

        if let Some(s) = input.metrics.and_then(|m| m.node(id)) {
            ui.separator();
            ui.label(RichText::new(if input.run_ended { "Last run" } else { "Live" }).strong());
            // While the run goes on: the recent rate; once it ended: the average over its running
            // time (pauses left out), said as such.
            let running = s.status == streamloom_runtime::metrics::NodeStatus::Running;
            // Pause holds the sources; the nodes after them go on with what is in flight.
            let source = kind.is_some_and(|k| k.ports(&node.config).inputs.is_empty());
            let status =
                if running && input.paused && source { "paused".to_string() } else { s.status.name().to_string() };
            let (rate_in, rate_out) =
                if input.run_ended { ("average in", "average out") } else { ("rate in", "rate out") };
            egui::Grid::new("node-metrics").show(ui, |ui| {
                for (k, v) in [
                    ("status", status),
                    ("in", s.events_in.to_string()),
                    ("out", s.events_out.to_string()),
                    (rate_in, super::format::rate(s.rate_in)),
                    (rate_out, super::format::rate(s.rate_out)),
                    ("passed", s.passed.to_string()),
                    ("filtered", s.filtered.to_string()),
                    ("errors", s.errors.to_string()),
                    ("dropped", s.dropped.to_string()),
                    ("discarded", s.discarded.to_string()),
                    ("held", s.held.to_string()),
                    ("lost when cancelled", s.lost_on_kill.to_string()),
                    ("busy", format!("{:.2}s", s.busy_secs)),
                ] {
                    ui.label(k);
                    let value = ui.label(RichText::new(v).monospace());
                    if k == "status" {
                        value.on_hover_text(super::viewer::status_meaning(s.status));
                    }
                    ui.end_row();
                }
            });
            if let Some(line) = s.state_line() {
                ui.label(RichText::new(line).color(super::viewer::own_state_color(s.state)));
            }
            if !s.gauges.is_empty() {
                egui::Grid::new("node-gauges").show(ui, |ui| {
                    for (k, v) in &s.gauges {
                        ui.label(k);
                        ui.label(RichText::new(v.to_string()).monospace());
                        ui.end_row();
                    }
                });
            }
            // A failure's message, in the colour of the node's status.
            if let Some(m) = &s.message {
                ui.label(RichText::new(m).color(super::viewer::status_color(s.status)));
            }
            // Why events went to `errors`, also when that port is unwired.
            if let Some(why) = s.last_error.as_deref().filter(|_| s.errors > 0) {
                ui.label(RichText::new(format!("last error: {why}")).color(ERROR));
            }
        }

        ui.separator();
        ui.label(RichText::new("Wires").strong());
        for w in doc.graph().wires.iter().filter(|w| w.from.node == id || w.to.node == id) {
            if ui.selectable_label(false, w.id()).clicked() {
                *selection = Selection::Wire(w.from.clone(), w.to.clone());
            }
        }
        if let Some(events) = &input.tap {
            super::tap_view::recent_events(ui, events);
        }
        None
    }
}

/// The numbers here are not clamped: a value out of range stays as the file or the user
/// wrote it and validation says so in Problems (a clamp changed a file's value just by
/// showing it: `workers: 1000000` became 256).
fn graph_settings(ui: &mut Ui, doc: &mut Document) {
    ui.heading("Graph");
    ui.label(RichText::new("Select a node or a wire to edit it.").weak());
    ui.separator();
    let g = doc.graph().clone();
    let mut name = g.name.clone().unwrap_or_default();
    let label = ui.label(RichText::new("name").strong());
    if ui.text_edit_singleline(&mut name).labelled_by(label.id).changed() {
        doc.edit_coalesced("graph:name", |g| g.name = (!name.is_empty()).then(|| name.clone()));
    }
    let mut desc = g.description.clone().unwrap_or_default();
    let label = ui.label(RichText::new("description").strong());
    if ui.add(TextEdit::multiline(&mut desc).desired_rows(3)).labelled_by(label.id).changed() {
        doc.edit_coalesced("graph:description", |g| g.description = (!desc.is_empty()).then(|| desc.clone()));
    }
    ui.separator();
    let mut cap = g.settings.default_capacity.unwrap_or(DEFAULT_CAPACITY);
    ui.horizontal(|ui| {
        let label = ui.label("default wire capacity");
        if number_field(ui, &mut cap, 1.0, Some(label.id)) {
            doc.edit_coalesced("graph:capacity", |g| g.settings.default_capacity = Some(cap));
        }
    });
    let mut batch = g.settings.batch_size.unwrap_or(1024);
    ui.horizontal(|ui| {
        let label = ui.label("batch size");
        if number_field(ui, &mut batch, 1.0, Some(label.id)) {
            doc.edit_coalesced("graph:batch", |g| g.settings.batch_size = Some(batch));
        }
    });
    run_settings(ui, doc, &g.settings);
    ui.separator();
    let (nodes, wires) = (super::format::counted(g.nodes.len(), "node"), super::format::counted(g.wires.len(), "wire"));
    ui.label(format!("{nodes}, {wires}"));
}

/// The settings a run takes from the file: worker threads, stop timeout, checkpoint
/// interval. Unticked: left out of the file, and the default applies (shown beside it).
fn run_settings(ui: &mut Ui, doc: &mut Document, settings: &streamloom_runtime::graph::Settings) {
    ui.separator();
    ui.horizontal(|ui| {
        let mut set = settings.workers.is_some();
        let default = super::run::EDITOR_WORKERS;
        if ui.checkbox(&mut set, "workers").changed() {
            doc.edit(|g| g.settings.workers = set.then_some(default));
        }
        match settings.workers {
            Some(mut n) => {
                if number_field(ui, &mut n, 1.0, None) {
                    doc.edit_coalesced("graph:workers", |g| g.settings.workers = Some(n));
                }
            }
            None => {
                ui.label(RichText::new(format!("{default} here, one per core headless (default)")).weak());
            }
        }
    });
    duration_setting(ui, doc, "stop timeout", "10s", settings.stop_timeout.as_deref(), |s, v| s.stop_timeout = v);
    duration_setting(ui, doc, "checkpoint interval", "1s", settings.checkpoint_interval.as_deref(), |s, v| {
        s.checkpoint_interval = v
    });
}

/// A duration setting (`10s`, `500ms`, `2m`): a tick to set it, its text, and why the text
/// cannot be read, if it cannot (Problems lists it too).
fn duration_setting(
    ui: &mut Ui,
    doc: &mut Document,
    name: &str,
    default: &str,
    value: Option<&str>,
    set: impl Fn(&mut streamloom_runtime::graph::Settings, Option<String>),
) {
    ui.horizontal(|ui| {
        let mut on = value.is_some();
        if ui.checkbox(&mut on, name).changed() {
            doc.edit(|g| set(&mut g.settings, on.then(|| default.to_string())));
        }
        match value {
            Some(text) => {
                let mut text = text.to_string();
                let edit = ui.add(TextEdit::singleline(&mut text).desired_width(80.0));
                if edit.changed() {
                    doc.edit_coalesced(&format!("graph:{name}"), |g| set(&mut g.settings, Some(text.clone())));
                }
            }
            None => {
                ui.label(RichText::new(format!("{default} (default)")).weak());
            }
        }
    });
    if let Some(Err(why)) = value.map(streamloom_runtime::graph::parse_duration) {
        ui.label(RichText::new(why).color(ERROR));
    }
}

/// Returns false when the wire no longer exists.
fn wire(ui: &mut Ui, input: InspectorInput<'_>, from: &PortRef, to: &PortRef, selection: &mut Selection) -> bool {
    let doc = input.doc;
    let Some(w) = doc.graph().wires.iter().find(|w| &w.from == from && &w.to == to).cloned() else { return false };
    let graph_default = doc.graph().settings.default_capacity.unwrap_or(DEFAULT_CAPACITY);
    ui.heading("Wire");
    ui.label(RichText::new(w.id()).monospace());
    ui.separator();
    let key = format!("wire:{}", w.id());
    ui.horizontal(|ui| {
        let mut custom = w.capacity.is_some();
        if ui.checkbox(&mut custom, "capacity").changed() {
            doc.edit(|g| set_wire(g, from, to, |w| w.capacity = custom.then_some(graph_default)));
        }
        let mut cap = w.capacity.unwrap_or(graph_default);
        if custom {
            // Each wire's field has its own id (see the node fields).
            if ui.push_id(&key, |ui| number_field(ui, &mut cap, 1.0, None)).inner {
                doc.edit_coalesced(&key, |g| set_wire(g, from, to, |w| w.capacity = Some(cap)));
            }
        } else {
            ui.label(RichText::new(format!("{cap} (graph default)")).weak());
        }
    });
    ui.horizontal(|ui| {
        ui.label("when full");
        let current = w.when_full;
        let text = current.map_or("block (default)", WhenFull::name);
        egui::ComboBox::from_id_salt("when_full").selected_text(text).show_ui(ui, |ui| {
            if ui.selectable_label(current.is_none(), "block (default)").clicked() {
                doc.edit(|g| set_wire(g, from, to, |w| w.when_full = None));
            }
            for p in WhenFull::ALL {
                if ui.selectable_label(current == Some(p), p.name()).clicked() {
                    doc.edit(|g| set_wire(g, from, to, |w| w.when_full = Some(p)));
                }
            }
        });
    });
    ui.label(
        RichText::new("block: lossless backpressure. drop_oldest / drop_newest: never wait, count the drops.")
            .small()
            .weak(),
    );
    for p in input.problems.wire(&w.id()) {
        let icon = if p.is_error() { "⛔" } else { "⚠" };
        ui.label(RichText::new(format!("{icon} {}", p.message)).color(super::problems::severity_color(p.severity)));
    }
    if let Some(s) = input.metrics.and_then(|m| m.wire(&w.id())) {
        ui.separator();
        // After the run, these are its numbers, not the wire's as edited since.
        if input.run_ended {
            ui.label(RichText::new("Last run").strong());
        }
        ui.label(format!(
            "queue {} / {} (peak this sample {}, max {})",
            s.depth, s.capacity, s.peak_depth, s.max_depth
        ));
        ui.label(format!("pushed {}  popped {}  dropped {}", s.pushed, s.popped, s.dropped));
    }
    ui.separator();
    ui.horizontal(|ui| {
        if ui.button(format!("← {}", from.node)).clicked() {
            *selection = Selection::Node(from.node.clone());
        }
        if ui.button(format!("{} →", to.node)).clicked() {
            *selection = Selection::Node(to.node.clone());
        }
    });
    if ui.button("🗑 Delete wire").clicked() {
        doc.edit(|g| ops::disconnect(g, from, to));
        return false;
    }
    true
}

fn set_wire(
    g: &mut streamloom_runtime::Graph,
    from: &PortRef,
    to: &PortRef,
    f: impl FnOnce(&mut streamloom_runtime::Wire),
) {
    if let Some(w) = g.wires.iter_mut().find(|w| &w.from == from && &w.to == to) {
        f(w);
    }
}

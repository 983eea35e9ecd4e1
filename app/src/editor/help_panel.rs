//! Help on a node kind (like Node-RED's info tab), generated from the registry, the same
//! source as `streamloom nodes`: description, ports, every parameter with its type, default,
//! range and doc, and an example (the kind's example text and its example config).

use egui::{RichText, Ui};
use serde_json::Value;
use streamloom_runtime::registry::{NodeKind, ParamKind, ParamSpec, PortSpec};

/// Draws the help for `kind`.
pub fn kind_help(ui: &mut Ui, kind: &dyn NodeKind) {
    egui::ScrollArea::vertical().auto_shrink([false, false]).id_salt("help").show(ui, |ui| {
        ui.heading(kind.name());
        ui.label(RichText::new(format!("{} · config version {}", kind.category().name(), kind.version())).weak());
        ui.label(kind.description());
        let config = kind.default_config();
        let ports = kind.ports(&config);
        section(ui, "Inputs");
        port_rows(ui, &ports.inputs);
        section(ui, "Outputs");
        port_rows(ui, &ports.outputs);
        section(ui, "Parameters");
        let params = kind.params();
        if params.is_empty() {
            ui.label(RichText::new("none").weak());
        }
        for p in &params {
            param(ui, p, config.get(&p.name));
        }
        section(ui, "Example");
        if !kind.example().is_empty() {
            ui.label(kind.example());
        }
        ui.label(RichText::new("Config (the defaults):").weak());
        let text = ron::ser::to_string_pretty(&config, ron::ser::PrettyConfig::default())
            .unwrap_or_else(|_| config.to_string());
        ui.label(RichText::new(text).monospace());
    });
}

/// The canvas's keys (shown when no kind is chosen).
pub fn canvas_keys(ui: &mut Ui) {
    section(ui, "Canvas keys");
    egui::Grid::new("canvas-keys").num_columns(2).spacing([10.0, 2.0]).show(ui, |ui| {
        for (keys, what) in super::shortcuts::CANVAS_KEYS {
            ui.label(RichText::new(*keys).monospace());
            ui.label(*what);
            ui.end_row();
        }
    });
}

fn section(ui: &mut Ui, title: &str) {
    ui.add_space(6.0);
    ui.label(RichText::new(title).strong());
}

/// One wrapped line per port: name, type, doc.
fn port_rows(ui: &mut Ui, ports: &[PortSpec]) {
    if ports.is_empty() {
        ui.label(RichText::new("none").weak());
        return;
    }
    for p in ports {
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(&p.name).monospace());
            ui.label(RichText::new(p.ty.name()).weak());
            ui.label(&p.doc);
        });
    }
}

/// One parameter: name, type, default, range and doc.
fn param(ui: &mut Ui, p: &ParamSpec, default: Option<&Value>) {
    ui.add_space(2.0);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(&p.name).monospace().strong());
        ui.label(RichText::new(type_name(&p.kind)).weak());
        if p.optional {
            ui.label(RichText::new("optional").weak().italics());
        }
    });
    ui.indent(("help-param", &p.name), |ui| {
        ui.label(&p.doc);
        ui.label(format!("default: {}", default_text(default)));
        if let Some(r) = range(&p.kind) {
            ui.label(r);
        }
    });
}

/// The parameter's type, as `streamloom nodes --json` names it.
pub fn type_name(kind: &ParamKind) -> &'static str {
    match kind {
        ParamKind::Text => "text",
        ParamKind::Path => "path",
        ParamKind::Expression => "jq expression",
        ParamKind::Integer { .. } => "integer",
        ParamKind::Float { .. } => "number",
        ParamKind::Bool => "bool",
        ParamKind::Choice { .. } => "choice",
        ParamKind::TextList => "list of text",
    }
}

/// The allowed values, if the type restricts them.
pub fn range(kind: &ParamKind) -> Option<String> {
    match kind {
        ParamKind::Integer { min, max } => Some(format!("range: {min} ..= {max}")),
        ParamKind::Float { min, max } => Some(format!("range: {min} ..= {max}")),
        ParamKind::Choice { choices } => Some(format!("one of: {}", choices.join(", "))),
        _ => None,
    }
}

/// What a new node has: a value, or `unset` for an optional parameter left out (the kind then
/// uses the fallback its doc gives).
fn default_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "unset".into(),
        Some(Value::String(s)) if s.is_empty() => "\"\" (empty)".into(),
        Some(v) => v.to_string(),
    }
}

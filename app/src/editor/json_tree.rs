//! A collapsible JSON view (like Node-RED's debug messages): objects and arrays fold open
//! one level at a time, scalars show as `key: value`.

use egui::collapsing_header::CollapsingState;
use egui::{CollapsingHeader, Id, Label, RichText, Sense, Ui};
use serde_json::Value;

/// Longest scalar shown in full (longer text is cut; the whole value is on hover).
const MAX_SCALAR: usize = 200;

/// Draws `value` as a tree under a one-line header `title` (cut to the width available; a
/// click on it or on the arrow opens the tree), collapsed at first; `id` keeps its state.
pub fn json_tree(ui: &mut Ui, id: Id, title: RichText, value: &Value) {
    let (_, header, _) = CollapsingState::load_with_default_open(ui.ctx(), id, false)
        .show_header(ui, |ui| ui.add(Label::new(title).truncate().sense(Sense::click())))
        .body(|ui| children(ui, id, value));
    if header.inner.clicked() {
        let mut state = CollapsingState::load_with_default_open(ui.ctx(), id, false);
        state.toggle(ui);
        state.store(ui.ctx());
    }
}

fn children(ui: &mut Ui, id: Id, value: &Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                entry(ui, id.with(k), k, v);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                entry(ui, id.with(i), &format!("[{i}]"), v);
            }
        }
        scalar => {
            ui.label(RichText::new(short(scalar)).monospace());
        }
    }
}

fn entry(ui: &mut Ui, id: Id, key: &str, value: &Value) {
    match value {
        Value::Object(_) | Value::Array(_) => {
            let title = RichText::new(format!("{key}: {}", summary(value))).monospace();
            CollapsingHeader::new(title).id_salt(id).default_open(false).show(ui, |ui| children(ui, id, value));
        }
        scalar => {
            let text = short(scalar);
            let r = ui.label(RichText::new(format!("{key}: {text}")).monospace());
            if text.ends_with('…') {
                r.on_hover_text(scalar.to_string());
            }
        }
    }
}

/// `{3 keys}`, `[5 items]`.
pub fn summary(value: &Value) -> String {
    match value {
        Value::Object(m) => format!("{{{} key{}}}", m.len(), if m.len() == 1 { "" } else { "s" }),
        Value::Array(a) => format!("[{} item{}]", a.len(), if a.len() == 1 { "" } else { "s" }),
        other => short(other),
    }
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > MAX_SCALAR { text.chars().take(MAX_SCALAR).chain(['…']).collect() } else { text }
}

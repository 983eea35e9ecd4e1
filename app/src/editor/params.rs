//! One form row per parameter, generated from the kind's [`ParamSpec`]s. Each row edits the
//! JSON value of one config field and reports the new value when the user changes it.

use egui::{RichText, TextEdit, Ui};
use serde_json::Value;
use streamloom_runtime::registry::{ParamKind, ParamSpec};

use super::number_field::number_field;
use super::problems::ERROR;

/// A change of one config field: `Some(v)` sets it, `None` removes it (optional fields).
pub type FieldChange = Option<Value>;

/// Draws the row for `spec` with the current `value`; returns the change, if any.
/// `problems` are shown under the field.
pub fn param_row(ui: &mut Ui, spec: &ParamSpec, value: Option<&Value>, problems: &[String]) -> Option<FieldChange> {
    let value = value.filter(|v| !v.is_null());
    let name = if spec.optional { spec.name.clone() } else { format!("{} *", spec.name) };
    let label = ui.label(RichText::new(name).strong()).on_hover_text(&spec.doc);
    let change = match &spec.kind {
        ParamKind::Text | ParamKind::Path => text(ui, spec, value, false, label.id),
        ParamKind::Expression => {
            let change = text(ui, spec, value, true, label.id);
            execution_path(ui, value.and_then(Value::as_str).unwrap_or(""));
            change
        }
        ParamKind::Integer { min, max } => integer(ui, spec, value, *min, *max, label.id),
        ParamKind::Float { min, max } => float(ui, spec, value, *min, *max, label.id),
        ParamKind::Bool => {
            let mut b = value.and_then(Value::as_bool).unwrap_or(false);
            let r = ui.checkbox(&mut b, "").labelled_by(label.id);
            r.changed().then_some(Some(Value::Bool(b)))
        }
        ParamKind::Choice { choices } => {
            // A file may omit the field: the first choice is the default (see `ParamSpec::choice`).
            let current =
                value.and_then(Value::as_str).or(choices.first().map(String::as_str)).unwrap_or("").to_string();
            let mut picked = None;
            egui::ComboBox::from_id_salt(("param", &spec.name)).selected_text(&current).show_ui(ui, |ui| {
                for c in choices {
                    if ui.selectable_label(&current == c, c).clicked() && &current != c {
                        picked = Some(c.clone());
                    }
                }
            });
            picked.map(|c| Some(Value::String(c)))
        }
        ParamKind::TextList => {
            let items: Vec<String> = value
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                .unwrap_or_default();
            let mut s = items.join("\n");
            let r = ui.add(TextEdit::multiline(&mut s).desired_rows(2).hint_text("one per line")).labelled_by(label.id);
            r.changed().then(|| {
                let list: Vec<Value> =
                    s.lines().filter(|l| !l.trim().is_empty()).map(|l| Value::String(l.to_string())).collect();
                if list.is_empty() && spec.optional { None } else { Some(Value::Array(list)) }
            })
        }
    };
    ui.label(RichText::new(&spec.doc).small().weak());
    for p in problems {
        ui.label(RichText::new(format!("⛔ {p}")).color(ERROR));
    }
    ui.add_space(4.0);
    change
}

fn text(ui: &mut Ui, spec: &ParamSpec, value: Option<&Value>, code: bool, label: egui::Id) -> Option<FieldChange> {
    let mut s = match value {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let edit = if code {
        TextEdit::multiline(&mut s).code_editor().desired_rows(2).desired_width(f32::INFINITY)
    } else {
        TextEdit::singleline(&mut s).desired_width(f32::INFINITY)
    };
    let r = ui.add(edit).labelled_by(label);
    r.changed().then_some(if s.is_empty() && spec.optional { None } else { Some(Value::String(s)) })
}

/// Under an expression: whether it runs on the native fast path or through jaq, so a user
/// knows when a rewrite makes it faster.
fn execution_path(ui: &mut Ui, src: &str) {
    // Compiling is slow next to a frame: once per text, remembered.
    let key = egui::Id::new(("runs-natively", src));
    let native = ui.data(|d| d.get_temp::<Option<bool>>(key)).unwrap_or_else(|| {
        let native = streamloom_nodes::expr::runs_natively(src);
        ui.data_mut(|d| d.insert_temp(key, native));
        native
    });
    match native {
        Some(true) => {
            ui.label(
                RichText::new("⚡ runs natively (fast path)").small().color(egui::Color32::from_rgb(110, 190, 110)),
            )
            .on_hover_text("Compiled to native code over the record");
        }
        Some(false) => {
            ui.label(RichText::new("runs through jaq (general path, slower)").small().weak()).on_hover_text(
                "Outside the native subset (paths, comparisons, arithmetic, select, if, object and array \
                 construction, field updates): evaluated by jaq, several times slower per event",
            );
        }
        None => {}
    }
}

fn optional_toggle(ui: &mut Ui, spec: &ParamSpec, is_set: bool) -> Option<bool> {
    if !spec.optional {
        return None;
    }
    let mut set = is_set;
    ui.checkbox(&mut set, "set")
        .on_hover_text("Unset: the kind's fallback (see the description)")
        .changed()
        .then_some(set)
}

fn integer(
    ui: &mut Ui,
    spec: &ParamSpec,
    value: Option<&Value>,
    min: i64,
    max: i64,
    label: egui::Id,
) -> Option<FieldChange> {
    ui.horizontal(|ui| {
        let current = value.and_then(Value::as_i64);
        if let Some(set) = optional_toggle(ui, spec, current.is_some()) {
            return Some(set.then(|| Value::from(1000i64.clamp(min, max))));
        }
        if spec.optional && current.is_none() {
            ui.label(RichText::new("unset").weak());
            return None;
        }
        let mut v = current.unwrap_or(min);
        // No clamping: a value typed out of range stays as typed, and validation says so at
        // the field (a silent clamp turned a typed -5 into the minimum).
        number_field(ui, &mut v, 1.0, Some(label)).then_some(Some(Value::from(v)))
    })
    .inner
}

fn float(
    ui: &mut Ui,
    spec: &ParamSpec,
    value: Option<&Value>,
    min: f64,
    max: f64,
    label: egui::Id,
) -> Option<FieldChange> {
    ui.horizontal(|ui| {
        let current = value.and_then(Value::as_f64);
        if let Some(set) = optional_toggle(ui, spec, current.is_some()) {
            return Some(set.then(|| Value::from(1.0f64.clamp(min, max))));
        }
        if spec.optional && current.is_none() {
            ui.label(RichText::new("unset").weak());
            return None;
        }
        let mut v = current.unwrap_or(min);
        let speed = (v.abs() * 0.01).max(0.01);
        let changed = number_field(ui, &mut v, speed, Some(label));
        // A number beyond a float (`1e309`) would be written as `null`: unset, which for a
        // rate means no limit at all. It is not taken.
        (changed && v.is_finite()).then_some(Some(Value::from(v)))
    })
    .inner
}

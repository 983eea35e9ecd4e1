//! The palette: every registered kind, grouped by category, filtered by a search field.
//! Click an entry to add it at the centre of the view, or drag it onto the canvas.

use egui::{Button, Id, RichText, Sense, Ui};
use streamloom_runtime::{Category, Registry};

use super::canvas::KindDrag;

/// The palette's search text.
#[derive(Default)]
pub struct Palette {
    /// What the user typed.
    pub filter: String,
    /// The kind whose entry was under the pointer in the last frame (for the help panel).
    pub hovered: Option<String>,
}

impl Palette {
    /// Draws the palette; returns the kind the user clicked.
    pub fn show(&mut self, ui: &mut Ui, registry: &Registry) -> Option<String> {
        let mut clicked = None;
        self.hovered = None;
        ui.heading("Nodes");
        let label = ui.label("Search");
        let search = ui
            .add(egui::TextEdit::singleline(&mut self.filter).hint_text("🔍 name or description"))
            .labelled_by(label.id);
        if search.has_focus() && ui.input(|i| i.key_pressed(egui::Key::Escape)) {
            self.filter.clear();
        }
        let needle = self.filter.to_lowercase();
        let mut enter_pick = None;
        egui::ScrollArea::vertical().auto_shrink([false, false]).show(ui, |ui| {
            for cat in [Category::Source, Category::Operator, Category::Sink] {
                let kinds: Vec<_> = registry
                    .kinds()
                    .into_iter()
                    .filter(|k| k.category() == cat)
                    .filter(|k| {
                        needle.is_empty()
                            || k.name().to_lowercase().contains(&needle)
                            || k.description().to_lowercase().contains(&needle)
                    })
                    .collect();
                if kinds.is_empty() {
                    continue;
                }
                ui.add_space(4.0);
                ui.label(RichText::new(format!("{}s", cat.name())).small().strong().weak());
                for k in kinds {
                    enter_pick.get_or_insert_with(|| k.name().to_string());
                    let r = ui.add(
                        Button::new(k.name())
                            .sense(Sense::click_and_drag())
                            .min_size(egui::vec2(ui.available_width(), 0.0)),
                    );
                    r.dnd_set_drag_payload(KindDrag(k.name().to_string()));
                    if r.dragged()
                        && let Some(p) = ui.ctx().pointer_interact_pos()
                    {
                        egui::Area::new(Id::new("palette-drag"))
                            .order(egui::Order::Tooltip)
                            .fixed_pos(p + egui::vec2(12.0, 4.0))
                            .show(ui.ctx(), |ui| ui.label(format!("+ {}", k.name())));
                    }
                    let r = r.on_hover_text(k.description());
                    if r.hovered() {
                        self.hovered = Some(k.name().to_string());
                    }
                    if r.clicked() {
                        clicked = Some(k.name().to_string());
                    }
                }
            }
        });
        // Enter in the search field adds the first match.
        if search.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) && !needle.is_empty() {
            clicked = clicked.or(enter_pick);
        }
        clicked
    }
}

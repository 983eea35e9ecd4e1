//! Quick add: Tab (no text field focused), a double-click on empty canvas, or a name typed
//! over the canvas (its first letters seed the search) opens a small searchable list of every
//! registered kind at the pointer. Enter or a click adds the
//! highlighted kind there (as [`Action::AddNode`], the palette's path); Escape closes it.

use egui::{Id, Key, Pos2, RichText, Ui};
use streamloom_runtime::{Category, Registry};

use super::actions::Action;

/// Frames after opening during which a press outside does not close the popup (the
/// double-click that opened it).
const FOCUS_FRAMES: u8 = 2;

/// The quick-add popup's state.
#[derive(Default)]
pub struct QuickAdd {
    /// Where it is open: screen position and the canvas position new nodes go to.
    at: Option<(Pos2, [f32; 2])>,
    /// What the user typed.
    filter: String,
    /// The highlighted entry among the matches.
    highlighted: usize,
    focus_frames: u8,
    /// The search field's cursor goes after the seeded text on the next frame.
    cursor_to_end: bool,
}

impl QuickAdd {
    /// Whether the popup is open.
    pub fn is_open(&self) -> bool {
        self.at.is_some()
    }

    /// Opens the popup at screen point `screen`; nodes go to canvas point `canvas`.
    pub fn open(&mut self, screen: Pos2, canvas: [f32; 2]) {
        self.at = Some((screen, canvas));
        self.filter.clear();
        self.cursor_to_end = false;
        self.highlighted = 0;
        self.focus_frames = FOCUS_FRAMES;
    }

    /// Puts `text` into the search field (what was typed to open the popup); the field's
    /// cursor goes after it.
    pub fn seed(&mut self, text: &str) {
        self.filter = text.to_string();
        self.cursor_to_end = true;
    }

    /// Closes the popup.
    pub fn close(&mut self) {
        self.at = None;
    }

    /// Draws the popup when open; returns the node to add.
    pub fn show(&mut self, ui: &Ui, registry: &Registry) -> Option<Action> {
        let (screen, canvas) = self.at?;
        let needle = self.filter.to_lowercase();
        let matches: Vec<(Category, String, String)> = [Category::Source, Category::Operator, Category::Sink]
            .into_iter()
            .flat_map(|cat| {
                registry
                    .kinds()
                    .into_iter()
                    .filter(move |k| k.category() == cat)
                    .filter(|k| {
                        needle.is_empty()
                            || k.name().to_lowercase().contains(&needle)
                            || k.description().to_lowercase().contains(&needle)
                    })
                    .map(move |k| (cat, k.name().to_string(), k.description().to_string()))
            })
            .collect();
        // Kinds whose name matches come first (the highlighted one is what Enter adds), then
        // those that match by description only; categories stay together within each.
        let mut matches = matches;
        matches.sort_by_key(|(_, name, _)| {
            let name = name.to_lowercase();
            if name.starts_with(&needle) {
                0
            } else if name.contains(&needle) {
                1
            } else {
                2
            }
        });
        let (up, down, enter, escape) = ui.input(|i| {
            (
                i.key_pressed(Key::ArrowUp),
                i.key_pressed(Key::ArrowDown),
                i.key_pressed(Key::Enter),
                i.key_pressed(Key::Escape),
            )
        });
        if down {
            self.highlighted += 1;
        }
        if up {
            self.highlighted = self.highlighted.saturating_sub(1);
        }
        self.highlighted = self.highlighted.min(matches.len().saturating_sub(1));
        let mut picked = None;
        let area = egui::Area::new(Id::new("quick-add"))
            .order(egui::Order::Foreground)
            .fixed_pos(screen)
            .constrain(true)
            .show(ui.ctx(), |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.set_width(220.0);
                    let label = ui.label(RichText::new("Add node").strong());
                    let search_id = Id::new("quick-add-search");
                    if std::mem::take(&mut self.cursor_to_end) {
                        place_cursor_at_end(ui.ctx(), search_id, &self.filter);
                    }
                    let search = ui
                        .add(
                            egui::TextEdit::singleline(&mut self.filter)
                                .id(search_id)
                                .hint_text("🔍 kind")
                                .desired_width(f32::INFINITY),
                        )
                        .labelled_by(label.id);
                    // Keeps the focus (arrow keys would otherwise move it to the list).
                    if !search.has_focus() {
                        search.request_focus();
                    }
                    self.focus_frames = self.focus_frames.saturating_sub(1);
                    if search.changed() {
                        self.highlighted = 0;
                    }
                    egui::ScrollArea::vertical().max_height(260.0).show(ui, |ui| {
                        let mut last = None;
                        for (i, (cat, name, description)) in matches.iter().enumerate() {
                            if last != Some(*cat) {
                                ui.label(RichText::new(format!("{}s", cat.name())).small().strong().weak());
                                last = Some(*cat);
                            }
                            let r =
                                ui.selectable_label(i == self.highlighted, name.as_str()).on_hover_text(description);
                            if i == self.highlighted && (up || down) {
                                r.scroll_to_me(None);
                            }
                            if r.clicked() {
                                picked = Some(name.clone());
                            }
                        }
                        if matches.is_empty() {
                            ui.label(RichText::new("no matching kind").weak());
                        }
                    });
                });
            });
        if enter {
            picked = picked.or_else(|| matches.get(self.highlighted).map(|(_, n, _)| n.clone()));
        }
        let clicked_outside = ui.input(|i| i.pointer.any_pressed())
            && ui.ctx().pointer_interact_pos().is_some_and(|p| !area.response.rect.contains(p));
        if picked.is_some() || escape || (clicked_outside && self.focus_frames == 0) {
            self.close();
        }
        picked.map(|kind| Action::AddNode { kind, pos: canvas, wire: None })
    }
}

/// Puts the cursor of the text field `id` after `text`.
fn place_cursor_at_end(ctx: &egui::Context, id: Id, text: &str) {
    let mut state = egui::text_edit::TextEditState::load(ctx, id).unwrap_or_default();
    let end = egui::text::CCursor::new(text.chars().count());
    state.cursor.set_char_range(Some(egui::text::CCursorRange::one(end)));
    state.store(ctx, id);
}

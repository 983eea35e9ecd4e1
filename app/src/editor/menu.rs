//! The menu bar, the run toolbar and the status bar.

use egui::{Button, RichText, Ui};

use super::app::EditorApp;
use super::commands::Pending;
use super::problems::ERROR;

impl EditorApp {
    pub(super) fn menu_bar(&mut self, ui: &mut Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.add(Button::new("New").shortcut_text("Ctrl+N")).clicked() {
                    self.request(Pending::New);
                }
                if ui.add(Button::new("Open…").shortcut_text("Ctrl+O")).clicked() {
                    self.request(Pending::Open(None));
                }
                ui.menu_button("Open recent", |ui| {
                    if self.recent.paths.is_empty() {
                        ui.label(RichText::new("no recent files").weak());
                    }
                    for p in self.recent.paths.clone() {
                        if ui.button(p.display().to_string()).clicked() {
                            self.request(Pending::Open(Some(p)));
                        }
                    }
                });
                ui.separator();
                if ui.add(Button::new("Save").shortcut_text("Ctrl+S")).clicked() {
                    self.save();
                }
                if ui.add(Button::new("Save As…").shortcut_text("Ctrl+Shift+S")).clicked() {
                    self.save_as(None);
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    self.request(Pending::Quit);
                }
            });
            ui.menu_button("Edit", |ui| {
                if ui.add_enabled(self.doc.can_undo(), Button::new("Undo").shortcut_text("Ctrl+Z")).clicked() {
                    self.undo();
                }
                if ui.add_enabled(self.doc.can_redo(), Button::new("Redo").shortcut_text("Ctrl+Y")).clicked() {
                    self.redo();
                }
                ui.separator();
                if ui.add(Button::new("Copy").shortcut_text("Ctrl+C")).clicked() {
                    self.copy_selection(&ui.ctx().clone());
                }
                if ui.add(Button::new("Paste").shortcut_text("Ctrl+V")).clicked() {
                    // The window reads the clipboard and sends it back as a paste event.
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::RequestPaste);
                }
                if ui.add(Button::new("Duplicate").shortcut_text("Ctrl+D")).clicked() {
                    let ids = self.target_nodes(ui.ctx());
                    self.apply(super::actions::Action::Duplicate(ids));
                }
                if ui.add(Button::new("Delete").shortcut_text("Del")).clicked() {
                    self.delete_selection(&ui.ctx().clone());
                }
                ui.separator();
                if ui.add(Button::new("Group selection").shortcut_text("Ctrl+G")).clicked() {
                    self.group_selection(&ui.ctx().clone());
                }
                if ui.button("Add comment").clicked() {
                    let at = self.canvas.free_spot(self.doc.graph(), self.canvas.view_center());
                    self.apply(super::actions::Action::AddComment(at));
                }
            });
            ui.menu_button("View", |ui| {
                if ui.add(Button::new("Fit graph").shortcut_text("Ctrl+Shift+F")).clicked() {
                    self.canvas.request_fit();
                }
                if ui.add(Button::new("Zoom in").shortcut_text("Ctrl++")).clicked() {
                    self.canvas.zoom(1.25);
                }
                if ui.add(Button::new("Zoom out").shortcut_text("Ctrl+-")).clicked() {
                    self.canvas.zoom(0.8);
                }
                ui.separator();
                if ui.button("Auto layout").clicked() {
                    self.auto_layout();
                }
            });
        });
    }

    pub(super) fn toolbar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            let running = self.runner.is_running();
            if ui.add_enabled(!running, Button::new("▶ Run")).on_hover_text("Validate and run the graph").clicked() {
                self.start_run();
            }
            let pause = if self.runner.is_paused() { "⏵ Resume" } else { "⏸ Pause" };
            let what =
                "Pause the sources: nothing new enters the graph, and what is already in it flows on to the sinks";
            if ui.add_enabled(running, Button::new(pause)).on_hover_text(what).clicked() {
                self.runner.toggle_pause();
            }
            if ui.add_enabled(running, Button::new("⏹ Stop")).on_hover_text("Stop the sources and drain").clicked() {
                self.runner.stop();
            }
            // Long failure messages are cut here (the full text on hover and in Problems), so
            // the toolbar's buttons stay in the window.
            let status = self.runner.status();
            let short: String = if status.chars().count() > 72 {
                status.chars().take(71).chain(['…']).collect()
            } else {
                status.clone()
            };
            ui.label(RichText::new(short).monospace()).on_hover_text(status);
            if !self.run_diff.is_empty() {
                ui.label(RichText::new(self.run_diff.summary()).color(super::viewer::EDITED))
                    .on_hover_text("Stop and run again to use the edited graph.");
            }
            ui.separator();
            if ui.button("Fit").on_hover_text("Fit the graph in view (Ctrl+Shift+F)").clicked() {
                self.canvas.request_fit();
            }
            if ui.button("Layout").on_hover_text("Arrange nodes left to right").clicked() {
                self.auto_layout();
            }
            ui.separator();
            self.run_summary_button(ui);
            self.sidebar_buttons(ui);
        });
    }

    pub(super) fn status_bar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.label(self.doc.title());
            ui.separator();
            let errors = self.problems.error_count();
            if errors == 0 {
                ui.label("✔ valid");
            } else {
                ui.label(RichText::new(format!("⛔ {errors} error(s)")).color(ERROR));
            }
            self.expire_status(ui.ctx());
            if let Some(s) = &self.status {
                ui.separator();
                let text = RichText::new(&s.text);
                ui.label(if s.is_error { text.color(ERROR) } else { text });
            }
        });
    }

    /// Drops the status message once its lifetime has passed since it was first shown, and
    /// asks for the frame that will drop it.
    fn expire_status(&mut self, ctx: &egui::Context) {
        let now = ctx.input(|i| i.time);
        let Some(s) = &mut self.status else { return };
        let since = *s.shown_since.get_or_insert(now);
        let left = s.lifetime().as_secs_f64() - (now - since);
        if left <= 0.0 {
            self.status = None;
        } else {
            ctx.request_repaint_after(std::time::Duration::from_secs_f64(left));
        }
    }
}

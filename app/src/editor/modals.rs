//! Modal questions: the file-name prompt and "save changes?" (also when closing the window).

use egui::{Id, Modal, RichText, Ui};

use super::app::EditorApp;
use super::commands::Pending;
use super::files::{PromptAnswer, PromptKind};

impl EditorApp {
    pub(super) fn modals(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        // The window's close button: ask when there are unsaved changes.
        if ctx.input(|i| i.viewport().close_requested()) && !self.close_allowed {
            if self.doc.is_dirty() {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                self.confirm = Some(Pending::Quit);
            } else {
                self.close_allowed = true;
            }
        }
        if self.quit_requested {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        self.prompt_modal(ui);
        self.confirm_modal(ui);
    }

    fn prompt_modal(&mut self, ui: &mut Ui) {
        let Some((prompt, then)) = &mut self.prompt else { return };
        match prompt.show(ui) {
            PromptAnswer::Pending => {}
            PromptAnswer::Cancelled => self.prompt = None,
            PromptAnswer::Path(path) => {
                let kind = prompt.kind;
                let then = then.take();
                let result = match kind {
                    PromptKind::Open => self.open(&path),
                    PromptKind::SaveAs => self.save_to(&path),
                };
                match result {
                    Ok(()) => {
                        self.prompt = None;
                        if let Some(op) = then {
                            self.perform(op);
                        }
                    }
                    Err(e) => {
                        if let Some((p, t)) = &mut self.prompt {
                            p.error = Some(e);
                            *t = then;
                        }
                    }
                }
            }
        }
    }

    fn confirm_modal(&mut self, ui: &mut Ui) {
        let Some(op) = self.confirm.clone() else { return };
        let mut choice = None;
        let r = Modal::new(Id::new("unsaved-changes")).show(ui.ctx(), |ui| {
            ui.set_width(380.0);
            ui.heading("Unsaved changes");
            ui.label(format!("Save the changes to {} first?", self.doc.display_name()));
            ui.label(RichText::new("Without saving, they are lost.").weak());
            ui.horizontal(|ui| {
                if ui.button("Save").clicked() {
                    choice = Some(0);
                }
                if ui.button("Don't save").clicked() {
                    choice = Some(1);
                }
                if ui.button("Cancel").clicked() {
                    choice = Some(2);
                }
            });
        });
        if r.should_close() && choice.is_none() {
            choice = Some(2);
        }
        match choice {
            Some(0) => {
                self.confirm = None;
                if self.doc.path().is_some() {
                    self.save();
                    if !self.doc.is_dirty() {
                        self.perform(op);
                    }
                } else {
                    self.save_as(Some(op));
                }
            }
            Some(1) => {
                self.confirm = None;
                self.perform(op);
            }
            Some(_) => self.confirm = None,
            None => {}
        }
    }
}

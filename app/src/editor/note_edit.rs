//! In-place editing of a comment's text or a group's name on the canvas. A double-click (or
//! "Edit" in the note's menu) opens a text field over the note that takes keyboard focus;
//! Ctrl+Enter (Enter for a group's name) or a click elsewhere commits, Escape cancels.

use egui::{Id, Key, Modifiers, Ui};

/// The note being edited.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NoteTarget {
    /// A comment's text, by comment id.
    Comment(String),
    /// A group's name, by group id.
    Group(String),
}

/// How an edit ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditEnd {
    /// Keep this text.
    Commit(String),
    /// Keep the note as it was.
    Cancel,
}

/// An open in-place editor.
#[derive(Debug, Clone)]
pub struct NoteEdit {
    /// What is edited.
    pub target: NoteTarget,
    text: String,
    had_focus: bool,
}

impl NoteEdit {
    /// Starts editing `target`, whose current text is `text`.
    pub fn new(target: NoteTarget, text: &str) -> Self {
        NoteEdit { target, text: text.to_string(), had_focus: false }
    }

    /// Draws the text field in `ui` (at most `width` wide); returns how editing ended this
    /// frame, if it did.
    pub fn show(&mut self, ui: &mut Ui, width: f32) -> Option<EditEnd> {
        let id = Id::new(("streamloom-note-edit", &self.target));
        let multiline = matches!(self.target, NoteTarget::Comment(_));
        // Ctrl+Enter commits a comment; taken before the field would insert a line break.
        let commit_key = multiline
            && ui.memory(|m| m.has_focus(id))
            && ui.input_mut(|i| i.consume_key(Modifiers::COMMAND, Key::Enter));
        let edit = if multiline {
            egui::TextEdit::multiline(&mut self.text).desired_rows(3)
        } else {
            egui::TextEdit::singleline(&mut self.text)
        };
        let response = ui.add(edit.id(id).desired_width(width).hint_text("Ctrl+Enter to keep, Esc to cancel"));
        if response.has_focus() {
            self.had_focus = true;
        } else if !self.had_focus {
            response.request_focus();
        }
        let escape = ui.input(|i| i.key_pressed(Key::Escape));
        if commit_key {
            return Some(EditEnd::Commit(self.text.clone()));
        }
        // Focus lost: Enter (a group's name), a click elsewhere, or Escape.
        if self.had_focus && !response.has_focus() {
            return Some(if escape { EditEnd::Cancel } else { EditEnd::Commit(self.text.clone()) });
        }
        None
    }

    /// Whether the editor is for `target`.
    pub fn is_for(&self, target: &NoteTarget) -> bool {
        &self.target == target
    }
}

//! Keyboard shortcuts and clipboard events. Text fields keep their own keys: the editor's
//! shortcuts apply only when no text field has keyboard focus.

use egui::{Event, Key, KeyboardShortcut, Modifiers};

use super::actions::Action;
use super::app::EditorApp;
use super::commands::Pending;

/// Takes this frame's typed text when it could start a kind's name (letters, digits, `_`)
/// and no Ctrl/Alt is held, so it reaches quick add's search instead of being lost.
fn take_typed_name(ctx: &egui::Context) -> Option<String> {
    ctx.input_mut(|i| {
        if i.modifiers.command || i.modifiers.alt {
            return None;
        }
        let is_name = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_alphanumeric() || c == '_');
        let typed: String = i
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Text(t) if is_name(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        if typed.is_empty() {
            return None;
        }
        i.events.retain(|e| !matches!(e, Event::Text(t) if is_name(t)));
        Some(typed)
    })
}

/// Fits the whole graph in view.
pub const FIT: KeyboardShortcut = cmd_shift(Key::F);

/// The canvas keys, as the help panel lists them: (keys, what they do).
pub const CANVAS_KEYS: &[(&str, &str)] = &[
    ("type a name", "over the canvas: quick add, searching what was typed"),
    ("Tab / double-click", "quick add at the pointer"),
    ("Ctrl+Shift+F", "fit the whole graph in view"),
    ("Ctrl++ / Ctrl+- / Ctrl+scroll", "zoom in / out"),
    ("Ctrl+0", "zoom to 100 %"),
    ("scroll / middle-drag", "pan"),
    ("Shift+drag on empty canvas", "select several nodes"),
    ("Ctrl+C / Ctrl+V", "copy / paste (pasted nodes land where nothing lies)"),
    ("Ctrl+D", "duplicate"),
    ("Ctrl+G", "group the selection"),
    ("Del", "delete the selection"),
    ("Ctrl+Z / Ctrl+Y", "undo / redo"),
];

const fn cmd(key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(Modifiers::COMMAND, key)
}

const fn cmd_shift(key: Key) -> KeyboardShortcut {
    KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), key)
}

/// A save that waits for the field that had the keyboard to take its text.
#[derive(Debug, Clone, Copy)]
pub struct DeferredSave {
    /// Save as (ask for a path) rather than save.
    pub as_new: bool,
    /// Frames left: the field sees it lost the keyboard in the next frame and takes its text
    /// then; the save runs in the frame after.
    pub frames: u8,
}

impl EditorApp {
    pub(super) fn handle_keys(&mut self, ctx: &egui::Context) {
        // File shortcuts work everywhere. Ctrl+S while typing saves what was typed: a number
        // field takes its text only when it is left, so the field is let go first and the save
        // runs once it took the text.
        let save_as = ctx.input_mut(|i| i.consume_shortcut(&cmd_shift(Key::S)));
        let save = ctx.input_mut(|i| i.consume_shortcut(&cmd(Key::S)));
        if save_as || save {
            match ctx.memory(|m| m.focused()) {
                Some(field) => {
                    ctx.memory_mut(|m| m.surrender_focus(field));
                    self.deferred_save = Some(DeferredSave { as_new: save_as, frames: 2 });
                }
                None if save_as => self.save_as(None),
                None => self.save(),
            }
        }
        if let Some(d) = self.deferred_save.as_mut() {
            ctx.request_repaint();
            if d.frames == 0 {
                let as_new = d.as_new;
                self.deferred_save = None;
                if as_new { self.save_as(None) } else { self.save() }
            } else {
                d.frames -= 1;
            }
        }
        if ctx.input_mut(|i| i.consume_shortcut(&cmd(Key::N))) {
            self.request(Pending::New);
        }
        if ctx.input_mut(|i| i.consume_shortcut(&cmd(Key::O))) {
            self.request(Pending::Open(None));
        }
        // Tab opens quick add at the pointer unless a text field takes the key.
        if !ctx.text_edit_focused()
            && self.prompt.is_none()
            && self.confirm.is_none()
            && !self.quick_add.is_open()
            && ctx.input_mut(|i| i.consume_key(Modifiers::NONE, Key::Tab))
        {
            self.open_quick_add(ctx.pointer_hover_pos());
        }
        if ctx.egui_wants_keyboard_input() || self.prompt.is_some() || self.confirm.is_some() {
            return;
        }
        if ctx.input_mut(|i| i.consume_shortcut(&cmd_shift(Key::Z)) || i.consume_shortcut(&cmd(Key::Y))) {
            self.redo();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&cmd(Key::Z))) {
            self.undo();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&cmd(Key::D))) {
            let ids = self.target_nodes(ctx);
            self.apply(Action::Duplicate(ids));
        }
        if ctx.input_mut(|i| i.consume_shortcut(&cmd(Key::G))) {
            self.group_selection(ctx);
        }
        if ctx.input_mut(|i| {
            i.consume_key(Modifiers::NONE, Key::Delete) || i.consume_key(Modifiers::NONE, Key::Backspace)
        }) {
            self.delete_selection(ctx);
        }
        // Fit needs a modifier: a plain letter typed over the canvas starts quick add (a kind
        // whose name starts with f included).
        if ctx.input_mut(|i| i.consume_shortcut(&FIT)) {
            self.canvas.request_fit();
        }
        if ctx.input_mut(|i| i.consume_shortcut(&cmd(Key::Num0))) {
            self.canvas.zoom_to(1.0);
        }
        // A name typed over the canvas opens quick add with what was typed.
        let over_canvas = ctx.pointer_hover_pos().filter(|p| self.canvas.view_rect().contains(*p));
        if over_canvas.is_some()
            && !self.quick_add.is_open()
            && let Some(text) = take_typed_name(ctx)
        {
            self.open_quick_add(over_canvas);
            self.quick_add.seed(&text);
        }
        if ctx.input_mut(|i| i.consume_shortcut(&cmd(Key::Plus)) || i.consume_shortcut(&cmd(Key::Equals))) {
            self.canvas.zoom(1.25);
        }
        if ctx.input_mut(|i| i.consume_shortcut(&cmd(Key::Minus))) {
            self.canvas.zoom(0.8);
        }
        // Ctrl+C / Ctrl+V arrive as clipboard events (and as keys in test harnesses).
        let (copy, paste) = ctx.input_mut(|i| {
            let mut copy = i.consume_shortcut(&cmd(Key::C));
            let mut paste = None;
            for e in &i.events {
                match e {
                    Event::Copy => copy = true,
                    Event::Paste(text) => paste = Some(text.clone()),
                    _ => {}
                }
            }
            (copy, paste)
        });
        if copy {
            self.copy_selection(ctx);
        }
        if let Some(text) = paste {
            // At the pointer when it is over the canvas (as Node-RED does).
            let at = ctx.pointer_hover_pos().filter(|p| self.canvas.view_rect().contains(*p));
            self.paste_text_at(&text, at.map(|p| self.canvas.screen_to_canvas(p)));
        }
    }
}

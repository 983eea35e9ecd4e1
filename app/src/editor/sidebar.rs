//! The right sidebar, beside the inspector: a Debug tab (the debug sidebar and the toggles
//! that mark the selected node's or wire's output ports for debugging) and a Help tab (the
//! selected node's kind, or the palette entry under the pointer). Hidden until opened from
//! the toolbar, or until a run has debug events to show.

use egui::{Panel, RichText, Ui};

use super::app::EditorApp;
use super::debug_sidebar::DebugSidebar;
use super::help_panel;
use super::inspector::Selection;

/// Which tab the sidebar shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SideTab {
    /// Debug events.
    #[default]
    Debug,
    /// Help on a node kind.
    Help,
}

/// The sidebar's state.
#[derive(Default)]
pub struct Sidebar {
    /// Whether it is shown.
    pub open: bool,
    /// The tab shown.
    pub tab: SideTab,
    /// The debug events.
    pub debug: DebugSidebar,
    /// The kind the Help tab shows when neither a palette entry is hovered nor a node selected.
    pub help_kind: Option<String>,
    /// The kind whose palette entry is under the pointer (set by the palette each frame).
    pub hovered_kind: Option<String>,
    /// The selected node's kind when `help_kind` was last reset (a new selection resets it).
    help_selection: Option<String>,
}

impl EditorApp {
    /// The debug sidebar's state (for tests).
    pub fn debug_sidebar(&self) -> &DebugSidebar {
        &self.sidebar.debug
    }

    /// Takes new debug events; opens the sidebar on the Debug tab when the first ones arrive.
    pub(super) fn poll_debug(&mut self) {
        let was_empty = self.sidebar.debug.is_empty();
        self.sidebar.debug.poll(self.runner.debug_log());
        if was_empty && !self.sidebar.debug.is_empty() && !self.sidebar.open {
            self.sidebar.open = true;
            self.sidebar.tab = SideTab::Debug;
        }
    }

    /// Toolbar buttons that open the sidebar on a tab (or close it).
    pub(super) fn sidebar_buttons(&mut self, ui: &mut Ui) {
        for (tab, label, hint) in [
            (SideTab::Debug, "Debug", "Events of debug sinks, console sinks and ports marked for debugging"),
            (SideTab::Help, "Help", "What the selected node's kind does: ports, parameters, an example"),
        ] {
            let on = self.sidebar.open && self.sidebar.tab == tab;
            if ui.selectable_label(on, label).on_hover_text(hint).clicked() {
                self.sidebar.open = !on;
                self.sidebar.tab = tab;
            }
        }
    }

    /// Draws the sidebar panel (call before the inspector's panel: it goes to the far right).
    pub(super) fn sidebar_panel(&mut self, ui: &mut Ui) {
        if !self.sidebar.open {
            return;
        }
        Panel::right("sidebar").default_size(340.0).resizable(true).show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.sidebar.tab, SideTab::Debug, "Debug");
                ui.selectable_value(&mut self.sidebar.tab, SideTab::Help, "Help");
            });
            ui.separator();
            match self.sidebar.tab {
                SideTab::Debug => {
                    self.debug_toggles(ui);
                    self.sidebar.debug.show(ui);
                }
                SideTab::Help => self.help_tab(ui),
            }
        });
    }

    /// Checkboxes marking the selected node's (or wire's) output ports for debugging.
    fn debug_toggles(&mut self, ui: &mut Ui) {
        let ports: Vec<(String, String)> = match &self.selection {
            Selection::Node(id) => {
                let Some(node) = self.doc.graph().node(id) else { return };
                let outputs = self.registry.get(&node.kind).map(|k| k.ports(&node.config).outputs).unwrap_or_default();
                outputs.into_iter().map(|p| (id.clone(), p.name)).collect()
            }
            Selection::Wire(from, _) => vec![(from.node.clone(), from.port.clone())],
            Selection::Graph => Vec::new(),
        };
        let marked: Vec<(String, String)> = self.runner.debugged_ports().iter().cloned().collect();
        if ports.is_empty() && marked.is_empty() {
            ui.label(RichText::new("Select a node or a wire to mark its output for debugging.").weak());
        }
        for (node, port) in ports.iter().chain(marked.iter().filter(|m| !ports.contains(m))) {
            let mut on = self.runner.is_debugged(node, port);
            if ui
                .checkbox(&mut on, format!("debug {node}.{port}"))
                .on_hover_text("Every event this port sends appears below (this editor session; not saved)")
                .changed()
            {
                self.runner.set_debugged(node, port, on);
            }
        }
        ui.separator();
    }

    fn help_tab(&mut self, ui: &mut Ui) {
        let selected = match &self.selection {
            Selection::Node(id) => self.doc.graph().node(id).map(|n| n.kind.clone()),
            _ => None,
        };
        if self.sidebar.help_selection != selected {
            self.sidebar.help_kind = None;
            self.sidebar.help_selection = selected.clone();
        }
        let shown = self.sidebar.hovered_kind.clone().or_else(|| self.sidebar.help_kind.clone()).or(selected);
        let label = ui.label("Kind");
        egui::ComboBox::from_id_salt("help-kind")
            .selected_text(shown.clone().unwrap_or_else(|| "choose a kind".into()))
            .show_ui(ui, |ui| {
                for k in self.registry.kinds() {
                    ui.selectable_value(&mut self.sidebar.help_kind, Some(k.name().to_string()), k.name());
                }
            })
            .response
            .labelled_by(label.id);
        ui.separator();
        match shown.as_deref().and_then(|k| self.registry.get(k)) {
            Some(kind) => help_panel::kind_help(ui, kind.as_ref()),
            None => {
                ui.label(RichText::new("Select a node, point at a palette entry, or choose a kind above.").weak());
                help_panel::canvas_keys(ui);
            }
        }
    }
}

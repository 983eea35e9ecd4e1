//! Opening and saving graph files, the recent-files list, and the file-name prompt used
//! where no desktop file-dialog portal exists (rfd's xdg portal needs a D-Bus session).

use std::path::{Path, PathBuf};

use egui::{Id, Modal, RichText, Ui};
use streamloom_runtime::Graph;
use streamloom_runtime::graph::{load_file, save_file};

use super::layout::auto_layout;
use super::problems::ERROR;

/// How many recent files are remembered.
const RECENT_LIMIT: usize = 10;

/// Reads a graph file; nodes without positions get an automatic layout.
pub fn load(path: &Path) -> Result<Graph, String> {
    let (mut graph, _) = load_file(path).map_err(|p| p.to_string())?;
    if graph.nodes.iter().any(|n| n.position.is_none()) {
        auto_layout(&mut graph, true);
    }
    Ok(graph)
}

/// Writes `graph` as the graph file format ([`streamloom_runtime::graph::to_ron`]).
pub fn save(graph: &Graph, path: &Path) -> Result<(), String> {
    save_file(graph, path).map_err(|e| format!("cannot save {}: {e}", path.display()))
}

/// Whether a native file dialog can be shown (the xdg desktop portal is reached over D-Bus).
pub fn native_dialogs_available() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty())
}

/// Asks the desktop for a graph file to open.
pub fn pick_open(dir: Option<&Path>) -> Option<PathBuf> {
    let mut d = rfd::FileDialog::new().add_filter("Streamloom graph", &["ron"]);
    if let Some(dir) = dir {
        d = d.set_directory(dir);
    }
    d.pick_file()
}

/// Asks the desktop where to save.
pub fn pick_save(dir: Option<&Path>, name: &str) -> Option<PathBuf> {
    let mut d = rfd::FileDialog::new().add_filter("Streamloom graph", &["ron"]).set_file_name(name);
    if let Some(dir) = dir {
        d = d.set_directory(dir);
    }
    d.save_file()
}

/// The recent-files list, optionally persisted in a text file (one path per line).
#[derive(Default)]
pub struct Recent {
    /// Most recent first.
    pub paths: Vec<PathBuf>,
    store: Option<PathBuf>,
}

impl Recent {
    /// The list kept in the user's config folder.
    pub fn load_user() -> Self {
        let store = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .map(|d| d.join("streamloom").join("recent.txt"));
        let paths = store
            .as_ref()
            .and_then(|s| std::fs::read_to_string(s).ok())
            .map(|t| t.lines().filter(|l| !l.is_empty()).map(PathBuf::from).collect())
            .unwrap_or_default();
        Recent { paths, store }
    }

    /// Moves `path` to the top.
    pub fn touch(&mut self, path: &Path) {
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.paths.retain(|p| p != &abs);
        self.paths.insert(0, abs);
        self.paths.truncate(RECENT_LIMIT);
        if let Some(store) = &self.store {
            let text: String = self.paths.iter().map(|p| format!("{}\n", p.display())).collect();
            if let Some(dir) = store.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = std::fs::write(store, text);
        }
    }
}

/// What the file-name prompt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// Open a file.
    Open,
    /// Save under a new name.
    SaveAs,
}

/// The file-name prompt (fallback for the native dialog).
pub struct PathPrompt {
    /// Open or save.
    pub kind: PromptKind,
    /// The typed path.
    pub text: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

/// The user's answer to the prompt.
pub enum PromptAnswer {
    /// Still open.
    Pending,
    /// Use this path.
    Path(PathBuf),
    /// Closed without a path.
    Cancelled,
}

impl PathPrompt {
    /// Draws the prompt as a modal window.
    pub fn show(&mut self, ui: &Ui) -> PromptAnswer {
        let mut answer = PromptAnswer::Pending;
        let title = match self.kind {
            PromptKind::Open => "Open graph",
            PromptKind::SaveAs => "Save graph as",
        };
        let modal = Modal::new(Id::new("path-prompt")).show(ui.ctx(), |ui| {
            ui.set_width(460.0);
            ui.heading(title);
            let label = ui.label("File path (.ron)");
            let r = ui
                .add(
                    egui::TextEdit::singleline(&mut self.text)
                        .desired_width(f32::INFINITY)
                        .hint_text("graphs/pipeline.ron"),
                )
                .labelled_by(label.id);
            if !r.has_focus() && self.error.is_none() && self.text.is_empty() {
                r.request_focus();
            }
            if let Some(e) = &self.error {
                ui.label(RichText::new(e).color(ERROR));
            }
            let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            ui.horizontal(|ui| {
                let ok = if self.kind == PromptKind::Open { "Open" } else { "Save" };
                if (ui.button(ok).clicked() || enter) && !self.text.trim().is_empty() {
                    let mut p = PathBuf::from(self.text.trim());
                    if self.kind == PromptKind::SaveAs && p.extension().is_none() {
                        p.set_extension("ron");
                    }
                    answer = PromptAnswer::Path(p);
                }
                if ui.button("Cancel").clicked() {
                    answer = PromptAnswer::Cancelled;
                }
            });
        });
        if modal.should_close() && matches!(answer, PromptAnswer::Pending) {
            answer = PromptAnswer::Cancelled;
        }
        answer
    }
}

//! The egui editor: a node canvas (egui-snarl) over the graph model, a palette of every
//! registered kind, an inspector generated from each kind's parameters, live problems, and
//! run controls with metrics. The graph model is the source of truth; files are written by
//! `streamloom_runtime::graph::to_ron`, never from the canvas's own state.
//!
//! One file per concern: [`app`] (frame orchestration), [`document`] (model + undo),
//! [`canvas`] and [`viewer`] (the node view), [`palette`], [`quick_add`], [`inspector`] and [`params`],
//! [`problems`], [`run`] and [`metrics_panel`], [`files`], [`commands`], [`menu`],
//! [`shortcuts`], [`modals`], [`sidebar`] ([`debug_sidebar`], [`help_panel`]), [`run_summary`],
//! plus small helpers.

pub mod actions;
pub mod annotations;
pub mod app;
pub mod canvas;
pub mod canvas_notes;
pub mod card_footer;
pub mod clipboard;
pub mod commands;
pub mod debug_sidebar;
pub mod document;
pub mod files;
pub mod fonts;
pub mod format;
pub mod help_panel;
pub mod inspector;
pub mod json_tree;
pub mod layout;
pub mod menu;
pub mod metrics_panel;
pub mod modals;
pub mod note_edit;
pub mod number_field;
pub mod ops;
pub mod palette;
pub mod params;
pub mod pins;
pub mod placement;
pub mod ports;
pub mod problems;
pub mod quick_add;
pub mod run;
pub mod run_diff;
pub mod run_summary;
pub mod shortcuts;
pub mod sidebar;
pub mod tap_view;
pub mod viewer;
pub mod window_fit;
pub mod wire_colors;
pub mod wire_hit;
pub mod wire_menu;

use std::path::PathBuf;

use streamloom_runtime::Registry;

pub use app::EditorApp;
pub use inspector::Selection;

impl eframe::App for EditorApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        EditorApp::ui(self, ui);
    }
}

/// Zoom per point of Ctrl+scroll: `exp(40 × this)` ≈ 1.12 for one wheel notch (40 points).
pub(crate) const ZOOM_PER_SCROLL_POINT: f32 = 1.0 / 350.0;

/// Opens the editor window on the graph at `path` (an empty graph when `None`) and returns
/// when the window closes.
pub fn run(path: Option<PathBuf>, registry: Registry) -> anyhow::Result<()> {
    let app = match path {
        Some(p) => EditorApp::open_file(registry, p).map_err(|e| anyhow::anyhow!(e))?,
        None => EditorApp::new(registry, None),
    }
    .with_user_recent();
    let title = app.document().title();
    let options = eframe::NativeOptions {
        // A first guess: the first frames resize the window to fit its monitor (see `window_fit`).
        viewport: egui::ViewportBuilder::default().with_title(title).with_inner_size([1024.0, 680.0]),
        persist_window: false,
        ..Default::default()
    };
    eframe::run_native(
        "Streamloom",
        options,
        Box::new(|cc| {
            fonts::install(&cc.egui_ctx);
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the editor window failed: {e}"))
}

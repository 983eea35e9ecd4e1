//! [`EditorApp`]: the whole editor, drawable into any [`egui::Ui`] (eframe window or
//! kittest harness). Each frame: refresh what derives from the model, draw the panels,
//! apply what the views asked for, commit canvas moves.

use std::path::PathBuf;

use egui::{Panel, Ui};
use streamloom_runtime::validate::validate;
use streamloom_runtime::{Graph, Registry};

use super::actions::Action;
use super::canvas::{Canvas, CanvasInput};
use super::commands::Pending;
use super::document::Document;
use super::files::{PathPrompt, Recent};
use super::inspector::{Inspector, InspectorInput, Selection};
use super::metrics_panel::MetricsPanel;
use super::palette::Palette;
use super::ports::PortCache;
use super::problems::{self, ProblemIndex};
use super::quick_add::QuickAdd;
use super::run::{CANNOT_RUN, Runner};
use super::run_summary::RunSummary;
use super::sidebar::Sidebar;

/// Default height of the bottom panel: room for three readable charts.
const BOTTOM_HEIGHT: f32 = 290.0;

/// Which tab the bottom panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BottomTab {
    /// Every problem of the graph.
    Problems,
    /// Charts of the run.
    Metrics,
}

/// The status line's text while a run is starting.
pub(super) const RUN_STARTED: &str = "run started";

/// A message in the status bar. It is replaced by the next one, and expires
/// [`Status::lifetime`] after it was first shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// The text.
    pub text: String,
    /// Shown in red.
    pub is_error: bool,
    /// egui's input time of the first frame that showed it.
    pub(super) shown_since: Option<f64>,
}

impl Status {
    /// How long the message stays: 5 s, an error 10 s (its cause also stays in Problems).
    pub fn lifetime(&self) -> std::time::Duration {
        std::time::Duration::from_secs(if self.is_error { 10 } else { 5 })
    }
}

/// The editor.
pub struct EditorApp {
    pub(super) registry: Registry,
    pub(super) doc: Document,
    pub(super) canvas: Canvas,
    pub(super) palette: Palette,
    pub(super) quick_add: QuickAdd,
    pub(super) inspector: Inspector,
    pub(super) selection: Selection,
    pub(super) ports: PortCache,
    pub(super) problems: ProblemIndex,
    seen_revision: Option<u64>,
    pub(super) runner: Runner,
    pub(super) metrics_panel: MetricsPanel,
    pub(super) bottom_tab: BottomTab,
    pub(super) status: Option<Status>,
    pub(super) recent: Recent,
    pub(super) prompt: Option<(PathPrompt, Option<Pending>)>,
    pub(super) confirm: Option<Pending>,
    pub(super) close_allowed: bool,
    pub(super) quit_requested: bool,
    last_title: String,
    pub(super) sidebar: Sidebar,
    pub(super) run_summary: RunSummary,
    /// The graph as the live run started it (edits since then wait for the next run).
    pub(super) run_graph: Option<Graph>,
    /// What was edited since the live run started.
    pub(super) run_diff: super::run_diff::RunDiff,
    /// Documents shown after the first (New, Open): each gets a canvas of its own.
    pub(super) documents_opened: u64,
    /// Frames left to try sizing the window to its monitor (0: done).
    window_fit_tries: u8,
    /// A save asked for while a field had the keyboard: the field was let go so it takes what
    /// was typed, and the save waits for that (see `handle_keys`).
    pub(super) deferred_save: Option<super::shortcuts::DeferredSave>,
}

impl EditorApp {
    /// An editor for `graph` (loaded from `path`), or an empty graph.
    pub fn new(registry: Registry, graph: Option<(Graph, Option<PathBuf>)>) -> Self {
        let (graph, path) = graph.unwrap_or_default();
        let mut app = EditorApp {
            registry,
            doc: Document::new(graph, path),
            canvas: Canvas::default(),
            palette: Palette::default(),
            quick_add: QuickAdd::default(),
            inspector: Inspector::default(),
            selection: Selection::Graph,
            ports: PortCache::default(),
            problems: ProblemIndex::default(),
            seen_revision: None,
            runner: Runner::new(),
            metrics_panel: MetricsPanel::default(),
            bottom_tab: BottomTab::Problems,
            status: None,
            recent: Recent::default(),
            prompt: None,
            confirm: None,
            close_allowed: false,
            quit_requested: false,
            last_title: String::new(),
            sidebar: Sidebar::default(),
            run_summary: RunSummary::default(),
            run_graph: None,
            run_diff: Default::default(),
            window_fit_tries: 10,
            documents_opened: 0,
            deferred_save: None,
        };
        app.refresh();
        app
    }

    /// An editor for the graph file at `path`.
    pub fn open_file(registry: Registry, path: PathBuf) -> Result<Self, String> {
        let graph = super::files::load(&path)?;
        Ok(Self::new(registry, Some((graph, Some(path)))))
    }

    /// Uses the user's recent-files list (persisted between sessions).
    pub fn with_user_recent(mut self) -> Self {
        self.recent = Recent::load_user();
        self
    }

    /// The document.
    pub fn document(&self) -> &Document {
        &self.doc
    }

    /// The graph being edited.
    pub fn graph(&self) -> &Graph {
        self.doc.graph()
    }

    /// What the inspector shows.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The run controller.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// The status-bar message.
    pub fn status(&self) -> Option<&Status> {
        self.status.as_ref()
    }

    /// Problems of the current graph.
    pub fn problems(&self) -> &ProblemIndex {
        &self.problems
    }

    /// What was edited since the live run started (empty when nothing runs).
    pub fn edited_since_run(&self) -> &super::run_diff::RunDiff {
        &self.run_diff
    }

    /// The canvas (for tests and benches).
    pub fn canvas(&self) -> &Canvas {
        &self.canvas
    }

    /// The canvas, mutably (zoom and fit).
    pub fn canvas_mut(&mut self) -> &mut Canvas {
        &mut self.canvas
    }

    /// Whether the window may close now (no unsaved changes, or the user said so).
    pub fn quit_requested(&self) -> bool {
        self.quit_requested
    }

    pub(super) fn set_status(&mut self, text: impl Into<String>, is_error: bool) {
        self.status = Some(Status { text: text.into(), is_error, shown_since: None });
    }

    pub(super) fn seen_revision_reset(&mut self) {
        self.seen_revision = None;
    }

    /// Recomputes ports, problems and the canvas after the model changed.
    pub(super) fn refresh(&mut self) {
        if self.seen_revision == Some(self.doc.revision()) {
            return;
        }
        self.seen_revision = Some(self.doc.revision());
        // An edit (or another document) makes the last run's failures and the reasons the
        // last start was refused stale (validation below says what still holds).
        self.runner.dismiss_run_problems();
        self.runner.start_problems.clear();
        // "cannot run: …" was about the graph before this edit.
        if self.status.as_ref().is_some_and(|s| s.text.starts_with(CANNOT_RUN)) {
            self.status = None;
        }
        let graph = self.doc.graph();
        self.run_diff =
            self.run_graph.as_ref().map(|r| super::run_diff::RunDiff::between(r, graph)).unwrap_or_default();
        self.ports = PortCache::build(graph, &self.registry);
        self.problems = ProblemIndex::new(validate(graph, &self.registry));
        self.canvas.sync(graph, &self.ports);
        let gone = match &self.selection {
            Selection::Node(id) => graph.node(id).is_none(),
            Selection::Wire(f, t) => !graph.wires.iter().any(|w| &w.from == f && &w.to == t),
            Selection::Graph => false,
        };
        if gone {
            self.selection = Selection::Graph;
        }
    }

    /// Draws the whole editor into `ui` and handles its input.
    pub fn ui(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        if self.window_fit_tries > 0 {
            // Ctrl+scroll: about 12 % per wheel notch (egui's default is about 22 %).
            ctx.options_mut(|o| o.input_options.scroll_zoom_speed = super::ZOOM_PER_SCROLL_POINT);
            self.window_fit_tries = if super::window_fit::fit_window(&ctx) { 0 } else { self.window_fit_tries - 1 };
        }
        self.refresh();
        self.runner.poll(&ctx);
        self.poll_debug();
        self.watch_run_end();
        // "run started" is stale once the run has ended: the toolbar says how it ended.
        if self.runner.outcome().is_some() && self.status.as_ref().is_some_and(|s| s.text == RUN_STARTED) {
            self.status = None;
        }
        self.handle_keys(&ctx);
        if self.run_graph.is_some() && !self.runner.is_running() {
            // The run ended: edits no longer differ from anything running.
            self.run_graph = None;
            self.run_diff = Default::default();
        }
        self.refresh();

        Panel::top("menu").show(ui, |ui| self.menu_bar(ui));
        Panel::top("toolbar").show(ui, |ui| self.toolbar(ui));
        Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        Panel::left("palette").default_size(190.0).resizable(true).show(ui, |ui| {
            let picked = self.palette.show(ui, &self.registry);
            self.sidebar.hovered_kind = self.palette.hovered.take();
            if let Some(kind) = picked {
                let pos = self.canvas.view_center();
                self.apply(Action::AddNode { kind, pos, wire: None });
            }
        });
        self.sidebar_panel(ui);
        Panel::right("inspector").default_size(300.0).resizable(true).show(ui, |ui| {
            let input = InspectorInput {
                doc: &mut self.doc,
                registry: &self.registry,
                problems: &self.problems,
                metrics: self.runner.snapshot(),
                paused: self.runner.is_paused(),
                run_ended: self.runner.outcome().is_some(),
                tap: match &self.selection {
                    Selection::Node(id) => self.runner.tap(id),
                    _ => None,
                },
            };
            self.inspector.show(ui, input, &mut self.selection);
        });
        self.refresh();
        Panel::bottom("bottom")
            .default_size(BOTTOM_HEIGHT)
            .min_size(120.0)
            .resizable(true)
            .show(ui, |ui| self.bottom_panel(ui));

        let actions = egui::CentralPanel::default()
            .frame(egui::Frame::NONE)
            .show(ui, |ui| {
                let wire = match &self.selection {
                    Selection::Wire(f, t) => Some((f.clone(), t.clone())),
                    _ => None,
                };
                let focus = match &self.selection {
                    Selection::Node(id) => Some(id.as_str()),
                    _ => None,
                };
                let input = CanvasInput {
                    graph: self.doc.graph(),
                    registry: &self.registry,
                    ports: &self.ports,
                    problems: &self.problems,
                    metrics: self.runner.snapshot(),
                    focus,
                    wire: wire.as_ref(),
                    edited_since_run: &self.run_diff.changed,
                    paused: self.runner.is_paused(),
                };
                self.canvas.show(ui, &input)
            })
            .inner;
        for a in actions {
            self.apply(a);
        }
        if let Some(p) = self.canvas.take_double_click() {
            self.open_quick_add(Some(p));
        }
        if let Some(a) = self.quick_add.show(ui, &self.registry) {
            self.apply(a);
        }
        self.commit_moves(&ctx);
        self.refresh();
        self.run_summary_window(&ctx);
        self.modals(ui);
        self.refresh();
        self.update_title(&ctx);
    }

    /// Opens the quick-add popup at screen point `at` (the view's centre when `at` is off
    /// the canvas).
    pub(super) fn open_quick_add(&mut self, at: Option<egui::Pos2>) {
        let view = self.canvas.view_rect();
        let screen = at.filter(|p| view.contains(*p)).unwrap_or_else(|| view.center());
        let screen = if screen.is_finite() { screen } else { egui::Pos2::ZERO };
        self.quick_add.open(screen, self.canvas.screen_to_canvas(screen));
    }

    fn bottom_panel(&mut self, ui: &mut Ui) {
        // Fill the panel: a bottom panel otherwise shrinks to its contents (a short problems
        // list) and keeps that height, leaving the charts cramped when switching to Metrics.
        ui.set_min_height(ui.available_height());
        ui.horizontal(|ui| {
            let (run, others) =
                problems::listed(&self.problems, &self.runner.start_problems, self.runner.run_problems());
            let n = run.len() + others.len();
            let label = if n == 0 { "Problems".to_string() } else { format!("Problems ({n})") };
            ui.selectable_value(&mut self.bottom_tab, BottomTab::Problems, label);
            ui.selectable_value(&mut self.bottom_tab, BottomTab::Metrics, "Metrics");
        });
        ui.separator();
        match self.bottom_tab {
            BottomTab::Problems => {
                if let Some(p) =
                    problems::show_panel(ui, &self.problems, &self.runner.start_problems, self.runner.run_problems())
                {
                    if let Some(n) = p.location.node {
                        self.selection = Selection::Node(n);
                    } else if let Some(w) = p.location.wire
                        && let Some(w) = self.doc.graph().wires.iter().find(|x| x.id() == w)
                    {
                        self.selection = Selection::Wire(w.from.clone(), w.to.clone());
                    }
                }
            }
            BottomTab::Metrics => self.metrics_panel.show(ui, &self.runner),
        }
    }

    fn commit_moves(&mut self, ctx: &egui::Context) {
        if ctx.input(|i| i.pointer.any_down()) {
            return;
        }
        let moved = self.canvas.moved_nodes(self.doc.graph());
        if moved.is_empty() {
            return;
        }
        self.doc.edit(|g| {
            for (id, pos) in &moved {
                if let Some(n) = g.node_mut(id) {
                    n.position = Some(*pos);
                }
            }
        });
    }

    fn update_title(&mut self, ctx: &egui::Context) {
        let title = self.doc.title();
        if title != self.last_title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.last_title = title;
        }
    }
}

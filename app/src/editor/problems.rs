//! Problems from `validate`, indexed by node and wire for the canvas and inspector, and the
//! problems panel that lists them all.

use std::collections::HashMap;

use egui::{Color32, RichText, Ui};
use streamloom_runtime::problem::Severity;
use streamloom_runtime::{Problem, Problems};

/// Error red.
pub const ERROR: Color32 = Color32::from_rgb(235, 80, 70);
/// Warning amber.
pub const WARNING: Color32 = Color32::from_rgb(230, 180, 60);

/// The colour of a severity.
pub fn severity_color(s: Severity) -> Color32 {
    match s {
        Severity::Error => ERROR,
        Severity::Warning => WARNING,
    }
}

/// Problems of the current graph revision.
#[derive(Default)]
pub struct ProblemIndex {
    all: Vec<Problem>,
    by_node: HashMap<String, Vec<usize>>,
    by_wire: HashMap<String, Vec<usize>>,
}

impl ProblemIndex {
    /// Indexes `problems`.
    pub fn new(problems: Problems) -> Self {
        let mut idx = ProblemIndex { all: problems.0, ..Default::default() };
        for (i, p) in idx.all.iter().enumerate() {
            if let Some(n) = &p.location.node {
                idx.by_node.entry(n.clone()).or_default().push(i);
            }
            if let Some(w) = &p.location.wire {
                idx.by_wire.entry(w.clone()).or_default().push(i);
            }
        }
        idx
    }

    /// Every problem.
    pub fn all(&self) -> &[Problem] {
        &self.all
    }

    /// Problems of node `id`.
    pub fn node(&self, id: &str) -> impl Iterator<Item = &Problem> {
        self.by_node.get(id).into_iter().flatten().map(|&i| &self.all[i])
    }

    /// Problems of the wire with id `id` (`from.port -> to.port`).
    pub fn wire(&self, id: &str) -> impl Iterator<Item = &Problem> {
        self.by_wire.get(id).into_iter().flatten().map(|&i| &self.all[i])
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.all.iter().filter(|p| p.is_error()).count()
    }
}

/// The problems the panel lists, each once: the last run's failures, then the reasons its
/// start was refused that validation does not repeat, then validation's. The tab's count is
/// this list's length.
pub fn listed<'a>(
    problems: &'a ProblemIndex,
    start_problems: &'a [Problem],
    run_problems: &'a [Problem],
) -> (Vec<&'a Problem>, Vec<&'a Problem>) {
    // A start refused for a validation problem repeats it: list each problem once.
    let fresh = start_problems
        .iter()
        .filter(|p| !problems.all().iter().any(|q| q.location == p.location && q.message == p.message));
    (run_problems.iter().collect(), fresh.chain(problems.all()).collect())
}

/// Lists every problem (failures of the last run first, as `run: node `x` failed: ...`);
/// returns the node or wire the user clicked.
pub fn show_panel(
    ui: &mut Ui,
    problems: &ProblemIndex,
    start_problems: &[Problem],
    run_problems: &[Problem],
) -> Option<Problem> {
    let mut clicked = None;
    let (run, others) = listed(problems, start_problems, run_problems);
    if run.is_empty() && others.is_empty() {
        ui.label(RichText::new("✔ No problems: the graph can run.").color(Color32::from_rgb(110, 190, 110)));
        return None;
    }
    egui::ScrollArea::vertical().auto_shrink([false, true]).show(ui, |ui| {
        for p in run {
            let text = if p.is_error() {
                format!("⛔ run: {} failed: {}", p.location, p.message)
            } else {
                format!("⚠ run: {}: {}", p.location, p.message)
            };
            if ui.selectable_label(false, RichText::new(text).color(severity_color(p.severity))).clicked() {
                clicked = Some(p.clone());
            }
        }
        for p in others {
            let color = severity_color(p.severity);
            let icon = if p.is_error() { "⛔" } else { "⚠" };
            let loc = p.location.to_string();
            let text = if loc.is_empty() { p.message.clone() } else { format!("{loc}: {}", p.message) };
            if ui.selectable_label(false, RichText::new(format!("{icon} {text}")).color(color)).clicked() {
                clicked = Some(p.clone());
            }
        }
    });
    clicked
}

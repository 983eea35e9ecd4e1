//! The run summary: when a run ends, a window says how it ended (completed, stopped or
//! failed), how long it ran, what each source and sink took in and sent out, and the run's
//! errors and drops, all read from the final metrics snapshot. Closed with its ×, reopened
//! from the toolbar's "Summary".

use egui::{Grid, RichText, Ui};
use streamloom_runtime::Category;
use streamloom_runtime::executor::RunOutcome;
use streamloom_runtime::metrics::MetricsSnapshot;

use super::app::EditorApp;
use super::problems::{ERROR, WARNING};

/// The summary window's state.
#[derive(Default)]
pub struct RunSummary {
    /// Whether the window is shown.
    pub open: bool,
    /// The run (by [`super::run::Runner::runs_started`]) whose end opened the window.
    seen_end: u64,
}

/// The run's totals over every node and wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Events sent to `errors` ports (dead letters), all nodes.
    pub errors: u64,
    /// Events dropped on wires (full under a drop policy, or their consumer had ended) or
    /// inside nodes (a buffer's policy, a sink's undelivered).
    pub dropped: u64,
    /// Events sent on outputs with no wire.
    pub discarded: u64,
    /// Events lost when a node was cancelled.
    pub lost: u64,
}

impl Totals {
    /// The totals of `s` (the same sums as the headless summary).
    pub fn of(s: &MetricsSnapshot) -> Self {
        Totals {
            errors: s.nodes.iter().map(|n| n.errors).sum(),
            dropped: s.wires.iter().map(|w| w.dropped).sum::<u64>()
                + s.nodes.iter().map(|n| n.dropped_inside).sum::<u64>(),
            discarded: s.nodes.iter().map(|n| n.discarded).sum(),
            lost: s.nodes.iter().map(|n| n.lost_on_kill).sum(),
        }
    }
}

/// One word for how a run ended.
pub fn outcome_word(o: &RunOutcome) -> &'static str {
    match o {
        RunOutcome::Completed => "completed",
        RunOutcome::Stopped => "stopped",
        RunOutcome::Failed(_) => "failed",
    }
}

impl EditorApp {
    /// Whether the run summary window is open.
    pub fn run_summary_open(&self) -> bool {
        self.run_summary.open
    }

    /// Opens the summary once when a run ends; call each frame after polling the runner.
    pub(super) fn watch_run_end(&mut self) {
        let run = self.runner.runs_started();
        if self.runner.outcome().is_some() && self.run_summary.seen_end != run {
            // Even a run that ended before any frame saw it running (a quick one).
            self.run_summary.seen_end = run;
            self.run_summary.open = true;
        } else if self.runner.outcome().is_none() && self.runner.snapshot().is_none() {
            self.run_summary.open = false; // the graph was replaced
        }
    }

    /// The toolbar's button that reopens the summary of the last run.
    pub(super) fn run_summary_button(&mut self, ui: &mut Ui) {
        let ended = self.runner.outcome().is_some();
        if ui
            .add_enabled(ended, egui::Button::selectable(self.run_summary.open, "Summary"))
            .on_hover_text("How the last run ended: duration, events per source and sink, errors, drops")
            .clicked()
        {
            self.run_summary.open = !self.run_summary.open;
        }
    }

    /// Draws the summary window while open.
    pub(super) fn run_summary_window(&mut self, ctx: &egui::Context) {
        let (Some(outcome), Some(snapshot)) = (self.runner.outcome(), self.runner.snapshot()) else { return };
        let mut open = self.run_summary.open;
        let center = Some(self.canvas.view_rect().center())
            .filter(|c| c.is_finite())
            .unwrap_or_else(|| ctx.content_rect().center());
        egui::Window::new("Run summary")
            .open(&mut open)
            .collapsible(false)
            .resizable(true)
            .default_width(460.0)
            .pivot(egui::Align2::CENTER_CENTER)
            .default_pos(center)
            .show(ctx, |ui| summary(ui, outcome, snapshot, &self.registry, self.runner.errors_wired()));
        self.run_summary.open = open;
    }
}

/// The table's rows, sources first, then operators, then sinks (graph order within each), so
/// every error and drop in the totals has its row: id, kind, how the node ended (finished,
/// stopped, failed, cancelled), in, out, filtered (taken and let go by design, such as a
/// filter's false), errors, dropped, each straight from the snapshot.
pub fn rows(s: &MetricsSnapshot, registry: &streamloom_runtime::Registry) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for cat in [Category::Source, Category::Operator, Category::Sink] {
        for n in s.nodes.iter().filter(|n| registry.get(&n.kind).is_some_and(|k| k.category() == cat)) {
            let counts = [n.events_in, n.events_out, n.filtered, n.errors, n.dropped].map(|v| v.to_string());
            let head = [n.id.clone(), n.kind.clone(), n.status.name().to_string()];
            out.push(head.into_iter().chain(counts).collect());
        }
    }
    out
}

fn summary(
    ui: &mut Ui,
    outcome: &RunOutcome,
    s: &MetricsSnapshot,
    registry: &streamloom_runtime::Registry,
    errors_wired: &std::collections::HashSet<String>,
) {
    let word = outcome_word(outcome);
    let text = RichText::new(format!("Outcome: {word}")).strong();
    ui.label(if outcome.is_success() { text } else { text.color(ERROR) });
    if let RunOutcome::Failed(f) = outcome {
        for (node, message) in f {
            ui.label(RichText::new(format!("{node}: {message}")).color(ERROR));
        }
    }
    if s.paused_secs > 0.0 {
        // Whole-run rates on the cards leave the pauses out too.
        ui.label(format!(
            "Duration: {:.3} s, of which paused {:.3} s (running {:.3} s)",
            s.elapsed_secs,
            s.paused_secs,
            (s.elapsed_secs - s.paused_secs).max(0.0)
        ));
    } else {
        ui.label(format!("Duration: {:.3} s", s.elapsed_secs));
    }
    ui.add_space(4.0);
    Grid::new("run-summary").num_columns(8).striped(true).spacing([12.0, 2.0]).show(ui, |ui| {
        for h in ["node", "kind", "ended", "in", "out", "filtered", "errors", "dropped"] {
            ui.label(RichText::new(h).strong());
        }
        ui.end_row();
        for row in rows(s, registry) {
            for (i, cell) in row.into_iter().enumerate() {
                match i {
                    0 => ui.label(cell),
                    1 => ui.label(RichText::new(cell).weak()),
                    2 => ui.label(cell),
                    _ => ui.label(RichText::new(cell).monospace()),
                };
            }
            ui.end_row();
        }
    });
    ui.add_space(4.0);
    let t = Totals::of(s);
    let line = format!("Errors: {} · dropped: {} · discarded: {} · lost: {}", t.errors, t.dropped, t.discarded, t.lost);
    // Red for events that went nowhere (dropped, discarded, lost, or failed at a node whose
    // `errors` port is unwired); failed events a wired port took are kept, so only amber.
    let unwired_errors: u64 = s.nodes.iter().filter(|n| !errors_wired.contains(&n.id)).map(|n| n.errors).sum();
    let text = match totals_color(&t, unwired_errors) {
        Some(color) => RichText::new(line).color(color),
        None => RichText::new(line),
    };
    ui.label(text).on_hover_text(
        "Errors: events sent to `errors` ports, all nodes. Dropped: by full wires or inside nodes. \
         Discarded: sent on outputs with no wire. Lost: held by nodes cancelled by a stop.",
    );
}

/// The colour of the totals line: red when events went nowhere (dropped, discarded, lost, or
/// `unwired_errors`: failed at a node whose `errors` port is unwired), amber when failed
/// events went to wired `errors` ports (kept, as designed), none when nothing failed.
fn totals_color(t: &Totals, unwired_errors: u64) -> Option<egui::Color32> {
    if t.dropped + t.discarded + t.lost + unwired_errors > 0 {
        Some(ERROR)
    } else if t.errors > 0 {
        Some(WARNING)
    } else {
        None
    }
}

#[cfg(test)]
mod totals_tests {
    use super::*;

    #[test]
    fn failed_events_a_wired_port_kept_are_amber_and_lost_ones_red() {
        let t = |errors, dropped| Totals { errors, dropped, discarded: 0, lost: 0 };
        assert_eq!(totals_color(&t(0, 0), 0), None);
        assert_eq!(totals_color(&t(3, 0), 0), Some(WARNING), "all three went to wired ports");
        assert_eq!(totals_color(&t(3, 0), 1), Some(ERROR), "one failed at an unwired port");
        assert_eq!(totals_color(&t(0, 5), 0), Some(ERROR));
    }
}

//! Charts of the current run with egui_plot: throughput per node (in and out), queue depth
//! per wire against its capacity, and errors and drops over time. The user picks which nodes
//! and wires to chart.

use std::collections::BTreeSet;

use egui::Color32;
use egui::{RichText, Ui};
use egui_plot::{AxisHints, HLine, HoverPosition, Legend, Line, LineStyle, Plot, PlotPoints};
use streamloom_runtime::metrics::History;

use super::run::Runner;

/// Which series are shown, for the run's nodes and wires.
#[derive(Default)]
pub struct MetricsPanel {
    nodes: BTreeSet<String>,
    wires: BTreeSet<String>,
    /// The node and wire ids the picks were made for: another graph gets fresh picks.
    picked_for: Option<(Vec<String>, Vec<String>)>,
}

impl MetricsPanel {
    /// Draws the panel.
    pub fn show(&mut self, ui: &mut Ui, runner: &Runner) {
        let (Some(history), Some((node_ids, wire_ids))) = (runner.history(), runner.ids()) else {
            ui.label(RichText::new("Run the graph (▶ Run) to see throughput, queue depth, errors and drops.").weak());
            return;
        };
        if self.picked_for.as_ref().is_none_or(|(n, w)| n != node_ids || w != wire_ids) {
            // Another graph (or this one edited): its first six nodes and wires, picks kept
            // across runs of the same graph.
            self.nodes = node_ids.iter().take(6).cloned().collect();
            self.wires = wire_ids.iter().take(6).cloned().collect();
            self.picked_for = Some((node_ids.to_vec(), wire_ids.to_vec()));
        }
        // Never wait for the sampler: skip a frame if it is writing.
        let Ok(history) = history.try_read() else {
            ui.ctx().request_repaint();
            return;
        };
        ui.horizontal_top(|ui| {
            ui.vertical(|ui| {
                ui.set_width(170.0);
                egui::ScrollArea::vertical().id_salt("chart-picks").max_height(ui.available_height()).show(ui, |ui| {
                    ui.label(RichText::new("Nodes").strong());
                    for (i, id) in node_ids.iter().enumerate() {
                        toggle(ui, &mut self.nodes, id, color(i));
                    }
                    ui.label(RichText::new("Wires").strong());
                    for (i, id) in wire_ids.iter().enumerate() {
                        toggle(ui, &mut self.wires, id, color(i));
                    }
                });
            });
            let w = (ui.available_width() / 3.0 - 6.0).max(120.0);
            // Each chart takes the height left under its title: a chart as tall as the whole
            // panel would grow the panel by its title's height on every frame.
            ui.vertical(|ui| {
                ui.set_width(w);
                ui.label("Throughput (events/s; dashed: in)");
                chart("throughput", ui.available_height().max(80.0), w, "events/s").show(ui, |p| {
                    for (i, id) in node_ids.iter().enumerate().filter(|(_, id)| self.nodes.contains(*id)) {
                        p.line(
                            Line::new(format!("{id} out"), series(&history, |s| s.rate_out.get(i).map(|v| *v as f64)))
                                .color(color(i)),
                        );
                        p.line(
                            Line::new(format!("{id} in"), series(&history, |s| s.rate_in.get(i).map(|v| *v as f64)))
                                .style(LineStyle::dashed_loose())
                                .color(color(i)),
                        );
                    }
                });
            });
            ui.vertical(|ui| {
                ui.set_width(w);
                ui.label("Queue depth: peak per sample (dotted: capacity)");
                let snap = runner.snapshot();
                chart("depth", ui.available_height().max(80.0), w, "peak events queued").show(ui, |p| {
                    for (i, id) in wire_ids.iter().enumerate().filter(|(_, id)| self.wires.contains(*id)) {
                        p.line(
                            Line::new(id.clone(), series(&history, |s| s.max_depth.get(i).map(|v| *v as f64)))
                                .color(color(i)),
                        );
                        if let Some(ws) = snap.and_then(|s| s.wire(id)) {
                            p.hline(
                                HLine::new(format!("{id} capacity"), ws.capacity as f64)
                                    .style(LineStyle::dotted_dense())
                                    .color(color(i)),
                            );
                        }
                    }
                });
            });
            ui.vertical(|ui| {
                ui.set_width(w);
                ui.label("Errors and drops (totals)");
                chart("errors", ui.available_height().max(80.0), w, "events").show(ui, |p| {
                    for (i, id) in node_ids.iter().enumerate().filter(|(_, id)| self.nodes.contains(*id)) {
                        p.line(
                            Line::new(format!("{id} errors"), series(&history, |s| s.errors.get(i).map(|v| *v as f64)))
                                .color(color(i)),
                        );
                        p.line(
                            Line::new(
                                format!("{id} dropped"),
                                series(&history, |s| s.dropped.get(i).map(|v| *v as f64)),
                            )
                            .style(LineStyle::dashed_loose())
                            .color(color(i)),
                        );
                    }
                });
            });
        });
    }
}

/// A chart over the run's seconds: legend, axis titles, a hover readout, never below zero.
/// Narrower charts leave out their legend, which would cover the lines: the ticked names at
/// the left are in the same colours, and hovering a line names it.
const LEGEND_MIN_WIDTH: f32 = 330.0;

fn chart(id: &str, height: f32, width: f32, unit: &'static str) -> Plot<'static> {
    let plot = Plot::new(id.to_owned()).height(height - 20.0);
    let plot = if width >= LEGEND_MIN_WIDTH {
        plot.legend(
            Legend::default()
                .text_style(egui::TextStyle::Small)
                .background_alpha(0.4)
                .position(egui_plot::Corner::LeftTop),
        )
    } else {
        plot
    };
    // Seconds labelled 30 points apart (egui_plot's default of 60 leaves a narrow chart's axis
    // with only "0").
    // A narrow chart's axis title is short: the long one ran into its neighbour's.
    let title = if width >= 260.0 { "s since the run started" } else { "s" };
    let x_axis = AxisHints::new_x()
        .label(title)
        .label_spacing(30.0..=45.0)
        .formatter(|mark, _range| seconds_tick(mark.value, mark.step_size));
    plot.custom_x_axes(vec![x_axis])
        .x_grid_spacer(egui_plot::uniform_grid_spacer(time_grid))
        .y_axis_label(unit)
        .include_y(0.0)
        .include_y(1.0)
        .set_margin_fraction(egui::vec2(0.02, 0.0))
        .label_formatter(move |pos| match pos {
            HoverPosition::NearDataPoint { plot_name, position, .. } => {
                Some(format!("{plot_name}\n{:.1} s: {:.0} {unit}", position.x, position.y))
            }
            HoverPosition::Elsewhere { .. } => None,
        })
}

/// The colour of series `i` (the same in the picker and the charts).
fn color(i: usize) -> Color32 {
    const COLORS: [Color32; 8] = [
        Color32::from_rgb(90, 170, 240),
        Color32::from_rgb(240, 160, 60),
        Color32::from_rgb(110, 200, 110),
        Color32::from_rgb(230, 90, 90),
        Color32::from_rgb(180, 130, 230),
        Color32::from_rgb(90, 210, 200),
        Color32::from_rgb(230, 210, 90),
        Color32::from_rgb(230, 130, 190),
    ];
    COLORS[i % COLORS.len()]
}

fn toggle(ui: &mut Ui, set: &mut BTreeSet<String>, id: &str, color: Color32) {
    let mut on = set.contains(id);
    if ui.checkbox(&mut on, RichText::new(id).color(color)).changed() {
        if on {
            set.insert(id.to_string());
        } else {
            set.remove(id);
        }
    }
}

fn series(
    history: &History,
    value: impl Fn(&streamloom_runtime::metrics::Sample) -> Option<f64>,
) -> PlotPoints<'static> {
    history.samples().iter().filter_map(|s| value(s).map(|v| [s.t, v])).collect()
}

/// Time-axis grid steps: the thinnest lines a 1-2-5 step at least `base_step_size` apart
/// (the default powers of ten jump from 1 s to 10 s, so a narrow chart of an 8-second run
/// showed only "0"), then ten and a hundred times that. Each step divides the next, so the
/// labels of one level fall on the lines of the finer one: levels of 2 ms and 5 ms wrote
/// "4ms5ms6ms" into one another.
fn time_grid(input: egui_plot::GridInput) -> [f64; 3] {
    let step = nice_step(input.base_step_size.max(1e-9));
    [step, step * 10.0, step * 100.0]
}

/// The smallest of 1, 2 and 5 times a power of ten that is at least `min`.
fn nice_step(min: f64) -> f64 {
    let power = 10f64.powf(min.log10().floor());
    [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * power).find(|s| *s >= min).unwrap_or(10.0 * power)
}

/// A time-axis tick short enough to sit 30 points from the next: whole seconds, tenths, or
/// milliseconds ("5ms") for a run shorter than a tenth of a second (where "0.005" labels ran
/// into each other).
fn seconds_tick(value: f64, step: f64) -> String {
    if step >= 1.0 {
        format!("{value:.0}")
    } else if step >= 0.1 {
        format!("{value:.1}")
    } else {
        format!("{:.0}ms", value * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::{nice_step, seconds_tick, time_grid};

    /// Each level of the time grid divides the next: a label of a coarser level always sits
    /// on a line of the finer one, never between two of its labels.
    #[test]
    fn time_grid_levels_nest() {
        for base in [0.0004, 0.003, 0.04, 0.7, 1.5, 3.0, 45.0] {
            let levels = time_grid(egui_plot::GridInput { bounds: (0.0, 100.0), base_step_size: base });
            assert!(levels[0] >= base, "{base}: {levels:?}");
            for pair in levels.windows(2) {
                let ratio = pair[1] / pair[0];
                assert!((ratio - ratio.round()).abs() < 1e-9 && ratio >= 2.0, "{base}: {levels:?}");
            }
        }
    }

    #[test]
    fn grid_steps_follow_a_one_two_five_series() {
        assert_eq!(nice_step(1.5), 2.0);
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(7.0), 10.0);
        assert!((nice_step(0.003) - 0.005).abs() < 1e-12);
    }

    #[test]
    fn time_ticks_stay_short_at_every_scale() {
        assert_eq!(seconds_tick(20.0, 10.0), "20");
        assert_eq!(seconds_tick(1.5, 0.5), "1.5");
        assert_eq!(seconds_tick(0.003, 0.001), "3ms");
        assert_eq!(seconds_tick(0.02, 0.01), "20ms");
    }
}

//! The headless runner: validate, run until completion or Ctrl-C, show progress, report.

mod chart;
mod progress;
mod report;
mod signals;

pub use progress::Progress;
pub use report::{catalogue_table, summary_table};

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use streamloom_runtime::executor::{Engine, RunOptions, RunOutcome, StopRequest};
use streamloom_runtime::graph::load_file;
use streamloom_runtime::validate::validate_located;
use streamloom_runtime::{Problems, Registry};

/// How a headless run reports.
#[derive(Debug, Clone)]
pub struct HeadlessOptions {
    /// Final metrics as JSON.
    pub metrics_out: Option<PathBuf>,
    /// Throughput chart (PNG or SVG).
    pub chart_out: Option<PathBuf>,
    /// Graceful stop after this long.
    pub stop_after: Option<Duration>,
    /// Live display, log lines or nothing while running.
    pub progress: Progress,
    /// Runtime worker threads.
    pub workers: Option<usize>,
    /// How long a stop drains before cancelling (overrides the graph's `stop_timeout`).
    pub stop_timeout: Option<Duration>,
}

/// Exit code when the graph file has problems (nothing ran).
pub const EXIT_INVALID: u8 = 2;
/// Exit code when the run failed.
pub const EXIT_FAILED: u8 = 1;

fn print_problems(problems: &Problems) {
    for p in &problems.0 {
        eprintln!("{p}");
    }
}

/// Loads and validates a file; `Err` holds every problem, located in the file.
fn load_valid(
    path: &Path,
    registry: &Registry,
) -> Result<(streamloom_runtime::Graph, streamloom_runtime::graph::SourceMap), Problems> {
    let (graph, map) = load_file(path)?;
    let problems = validate_located(&graph, registry, &map).with_file(path);
    if problems.has_errors() {
        return Err(problems);
    }
    print_problems(&problems); // warnings
    Ok((graph, map))
}

/// `streamloom validate`: checks each file, prints every problem, exits 2 if any has errors.
pub fn validate_files(paths: &[PathBuf], registry: &Registry) -> ExitCode {
    let mut ok = true;
    for path in paths {
        match load_valid(path, registry) {
            Ok((g, _)) => eprintln!("{}: ok ({} nodes, {} wires)", path.display(), g.nodes.len(), g.wires.len()),
            Err(problems) => {
                ok = false;
                print_problems(&problems);
            }
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::from(EXIT_INVALID) }
}

/// `streamloom --headless GRAPH`: runs the graph and reports.
pub fn run(path: &Path, registry: &Registry, opts: &HeadlessOptions) -> anyhow::Result<ExitCode> {
    let (graph, map) = match load_valid(path, registry) {
        Ok(loaded) => loaded,
        Err(problems) => {
            print_problems(&problems);
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let engine = Engine::new(opts.workers.or(graph.settings.workers)).context("starting the runtime")?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let options = RunOptions { base_dir, stop_timeout: opts.stop_timeout, ..RunOptions::default() };
    let handle = match engine.start_validated(&graph, registry, options) {
        Ok(h) => Arc::new(h),
        Err(problems) => {
            // Found while building (an unset `${NAME}`): placed in the file like the others.
            let problems = map.locate(problems, |w| graph.wires.iter().position(|x| x.id() == w));
            print_problems(&problems.with_file(path));
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };

    let outcome = engine.block_on({
        let handle = handle.clone();
        let progress = opts.progress;
        let stop_after = opts.stop_after;
        async move {
            let display = tokio::spawn(progress::show(handle.clone(), progress));
            let mut signals = match signals::StopSignals::install() {
                Ok(s) => Some(s),
                Err(e) => {
                    eprintln!("warning: cannot listen for SIGTERM/SIGHUP ({e}); Ctrl-C still stops the run");
                    None
                }
            };
            let deadline = async {
                match stop_after {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::pin!(deadline);
            let mut deadline_passed = false;
            let outcome = loop {
                tokio::select! {
                    o = handle.wait() => break o,
                    name = next_signal(&mut signals) => match handle.stop() {
                        StopRequest::Draining => eprintln!(
                            "\n{name}: stopping, draining events in flight for up to {:.1} s (again to cancel now)",
                            handle.stop_timeout().as_secs_f64()
                        ),
                        StopRequest::Killed => eprintln!("\n{name} again: cancelling now"),
                    },
                    _ = &mut deadline, if !deadline_passed => {
                        deadline_passed = true;
                        handle.stop();
                    }
                }
            };
            display.abort();
            let _ = display.await;
            outcome
        }
    });

    // The runtime publishes the final snapshot (whole-run rates) before the outcome.
    let snapshot = handle.snapshot();
    eprint!("{}", summary_table(&snapshot));
    if let Some(out) = &opts.metrics_out {
        let json = serde_json::json!({
            "graph": path,
            "outcome": outcome_name(&outcome),
            "metrics": snapshot.keyed(),
        });
        std::fs::write(out, serde_json::to_vec_pretty(&json)?).with_context(|| format!("writing {}", out.display()))?;
    }
    if let Some(out) = &opts.chart_out {
        let history = handle.history();
        let history = history.read().map_err(|_| anyhow::anyhow!("metrics history unavailable"))?;
        chart::write(out, &history, handle.node_ids()).with_context(|| format!("writing {}", out.display()))?;
    }
    match &outcome {
        RunOutcome::Completed => eprintln!("completed in {:.2} s", snapshot.elapsed_secs),
        RunOutcome::Stopped => eprintln!("stopped after {:.2} s", snapshot.elapsed_secs),
        RunOutcome::Failed(failures) => {
            for (node, msg) in failures {
                eprintln!("{}: node `{node}`: error: {msg}", path.display());
            }
            eprintln!("failed after {:.2} s", snapshot.elapsed_secs);
        }
    }
    Ok(if outcome.is_success() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_FAILED) })
}

/// The next stop signal; Ctrl-C alone when the others could not be installed.
async fn next_signal(signals: &mut Option<signals::StopSignals>) -> &'static str {
    match signals {
        Some(s) => s.next().await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

fn outcome_name(o: &RunOutcome) -> &'static str {
    match o {
        RunOutcome::Completed => "completed",
        RunOutcome::Stopped => "stopped",
        RunOutcome::Failed(_) => "failed",
    }
}

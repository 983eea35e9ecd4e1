//! Command-line interface: what each subcommand and flag does.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::headless;

/// Streamloom: build stream-processing pipelines visually; run them in the editor or headless.
#[derive(Debug, Parser)]
#[command(name = "streamloom", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// Graph file to open (or to run, with --headless). Without one the editor opens the
    /// bundled example graph.
    pub graph: Option<PathBuf>,
    /// Run the graph without the editor until it completes or Ctrl-C, then print a report.
    #[arg(long, requires = "graph")]
    pub headless: bool,
    /// With --headless: write the final metrics as JSON (nodes and wires keyed by id).
    #[arg(long, value_name = "FILE.json", requires = "headless")]
    pub metrics_out: Option<PathBuf>,
    /// With --headless: write a throughput chart of the run (PNG or SVG by extension).
    #[arg(long, value_name = "FILE.png", requires = "headless")]
    pub chart_out: Option<PathBuf>,
    /// With --headless: stop gracefully after this many seconds (for unbounded sources);
    /// a finite number of seconds, 0 or more, fractions allowed.
    #[arg(long, value_name = "SECONDS", requires = "headless", value_parser = parse_seconds, allow_negative_numbers = true)]
    pub stop_after: Option<std::time::Duration>,
    /// With --headless: how long a stop (Ctrl-C, SIGTERM, --stop-after, a failed node) lets
    /// events in flight drain before cancelling what is left: `30s`, `2m`, `500ms`.
    /// Overrides the graph's `settings.stop_timeout` (default 10 s).
    #[arg(long, value_name = "DURATION", requires = "headless", value_parser = parse_stop_timeout)]
    pub stop_timeout: Option<std::time::Duration>,
    /// With --headless: no live progress or periodic log lines, only the final report.
    #[arg(long, requires = "headless")]
    pub quiet: bool,
    /// Worker threads of the embedded runtime (overrides the graph's `settings.workers`;
    /// default: one per core).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Subcommands.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check graph files without running them; prints every problem with its place.
    Validate {
        /// Graph files.
        #[arg(required = true)]
        graphs: Vec<PathBuf>,
    },
    /// Print the catalogue of node kinds.
    Nodes {
        /// As JSON, for tools.
        #[arg(long)]
        json: bool,
    },
    /// Write the benchmark event stream (identical bytes to shared/bench/gen_events.py).
    GenEvents {
        /// Number of events.
        n: u64,
        /// Output file (JSON Lines).
        out: PathBuf,
        /// Seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

/// Runs the command line; the exit code says how it went.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    init_tracing();
    let mut registry = streamloom_nodes::builtin_registry();
    if std::env::var_os(streamloom_nodes::TEST_KINDS_ENV).is_some_and(|v| v == "1") {
        registry = streamloom_nodes::with_test_kinds(registry);
    }
    match cli.command {
        Some(Command::Validate { graphs }) => Ok(headless::validate_files(&graphs, &registry)),
        Some(Command::Nodes { json }) => {
            let catalogue = registry.catalogue();
            if json {
                println!("{}", serde_json::to_string_pretty(&catalogue)?);
            } else {
                print!("{}", headless::catalogue_table(&catalogue));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::GenEvents { n, out, seed }) => {
            streamloom_nodes::sample_events::write_file(n, seed, &out)
                .with_context(|| format!("writing {}", out.display()))?;
            eprintln!("wrote {n} events to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
        None if cli.headless => {
            let graph = cli.graph.context("--headless needs a graph file")?;
            let opts = headless::HeadlessOptions {
                metrics_out: cli.metrics_out,
                chart_out: cli.chart_out,
                stop_after: cli.stop_after,
                progress: if cli.quiet {
                    headless::Progress::None
                } else if std::io::stderr().is_terminal() {
                    headless::Progress::Live
                } else {
                    headless::Progress::LogLines
                },
                workers: cli.workers,
                stop_timeout: cli.stop_timeout,
            };
            headless::run(&graph, &registry, &opts)
        }
        None => open_editor(cli.graph, registry),
    }
}

#[cfg(feature = "gui")]
fn open_editor(graph: Option<PathBuf>, registry: streamloom_runtime::Registry) -> anyhow::Result<ExitCode> {
    crate::editor::run(graph.or_else(default_example), registry)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "gui"))]
fn open_editor(_graph: Option<PathBuf>, _registry: streamloom_runtime::Registry) -> anyhow::Result<ExitCode> {
    anyhow::bail!("this streamloom was built without the editor (feature `gui`); run a graph with --headless GRAPH.ron")
}

/// The bundled example graph opened when no file is given.
#[cfg_attr(not(feature = "gui"), allow(dead_code))]
fn default_example() -> Option<PathBuf> {
    let candidates = [
        PathBuf::from("assets/graphs/purchases.ron"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets/graphs/purchases.ron"),
    ];
    candidates.into_iter().find(|p| p.exists())
}

fn parse_stop_timeout(text: &str) -> Result<std::time::Duration, String> {
    streamloom_runtime::graph::parse_duration(text)
}

/// Parses `--stop-after`: a finite, non-negative number of seconds.
fn parse_seconds(text: &str) -> Result<std::time::Duration, String> {
    let seconds: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("`{text}` is not a finite number of seconds, 0 or more"));
    }
    std::time::Duration::try_from_secs_f64(seconds).map_err(|e| format!("`{text}`: {e}"))
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STREAMLOOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

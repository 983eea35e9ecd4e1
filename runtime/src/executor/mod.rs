//! The executor: builds a validated graph into tasks on an embedded tokio runtime, one task
//! per node and one bounded wire per connection, and supervises the run (pause, resume,
//! graceful stop with a timeout, failure or panic of a node, completion).
//!
//! The parts, in the order a run goes through them: [`plan`] (substitute and build every
//! node), [`wiring`] (wires and each node's ends), [`supervisor`] (spawn, supervise, end),
//! [`sampler`] (snapshots and chart history), [`handle`] (what callers hold).

mod catch_unwind;
mod clock;
mod handle;
mod plan;
mod sampler;
mod shared;
mod supervisor;
mod wiring;

pub use handle::{RunHandle, StopRequest};

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicUsize};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::checkpoint::coordinator::{Coordinator, Source};
use crate::checkpoint::{BarrierRoute, DEFAULT_CHECKPOINT_INTERVAL};
use crate::debug::{DebugLog, DebugOutput};
use crate::env;
use crate::graph::Graph;
use crate::io::{Control, NodeContext};
use crate::metrics::History;
use crate::problem::{Location, Problem, Problems};
use crate::pushdown::PushedFilter;
use crate::registry::Registry;
use crate::validate::validate;
use shared::Shared;
use supervisor::Tokens;

/// The stop timeout when neither the command line nor the graph sets one.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Looks up `${NAME}` placeholders (the process environment by default).
pub type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// How a graph is run.
#[derive(Clone)]
pub struct RunOptions {
    /// Folder relative paths in configs are resolved against (the graph file's folder).
    pub base_dir: PathBuf,
    /// Looks up `${NAME}` placeholders.
    pub env: EnvLookup,
    /// How often metrics are sampled for snapshots and charts.
    pub sample_interval: Duration,
    /// How many samples the chart history keeps.
    pub history_len: usize,
    /// Rates are averaged over this many samples.
    pub rate_window: usize,
    /// How long a stop waits for in-flight events to drain before cancelling tasks; `None`:
    /// the graph's `settings.stop_timeout`, else [`DEFAULT_STOP_TIMEOUT`].
    pub stop_timeout: Option<Duration>,
    /// The node whose tap records from the first event (the one the editor inspects when the
    /// run starts); others start recording when first read ([`RunHandle::tap`]).
    pub watch: Option<String>,
    /// Where `debug` sinks' events go (standard error headless, the sidebar in the editor).
    pub debug: DebugOutput,
    /// Output ports (node id, port) marked for debugging from the start (with
    /// [`DebugOutput::Sidebar`] only); more can be marked while running
    /// ([`RunHandle::set_debug`]).
    pub debug_ports: Vec<(String, String)>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            base_dir: PathBuf::from("."),
            env: Arc::new(env::process_env),
            sample_interval: Duration::from_millis(250),
            history_len: 2400, // 10 minutes at 4 Hz
            rate_window: 4,
            stop_timeout: None,
            watch: None,
            debug: DebugOutput::Stderr,
            debug_ports: Vec::new(),
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// Every node finished: sources reached their end and everything drained.
    Completed,
    /// Stopped on request after draining.
    Stopped,
    /// One or more nodes failed (node id, error), or a stop timed out and tasks were cancelled.
    Failed(Vec<(String, String)>),
}

impl RunOutcome {
    /// True for `Completed` and `Stopped`.
    pub fn is_success(&self) -> bool {
        !matches!(self, RunOutcome::Failed(_))
    }
}

/// The embedded multi-threaded tokio runtime that graphs run on. Dropping it cancels what
/// still runs and waits at most two seconds for blocking threads.
pub struct Engine {
    rt: Option<tokio::runtime::Runtime>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

impl Engine {
    /// A runtime with `workers` threads (the number of cores when `None`).
    pub fn new(workers: Option<usize>) -> std::io::Result<Self> {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.enable_all().thread_name("streamloom-worker");
        if let Some(w) = workers {
            b.worker_threads(w.max(1));
        }
        Ok(Engine { rt: Some(b.build()?) })
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.runtime().handle()
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        // Only `drop` takes the runtime out.
        self.rt.as_ref().unwrap_or_else(|| unreachable!("the runtime lives as long as the engine"))
    }

    /// Validates, builds and starts `graph`. Every problem is returned at once.
    pub fn start(&self, graph: &Graph, registry: &Registry, options: RunOptions) -> Result<RunHandle, Problems> {
        start(graph, registry, options, self.runtime().handle())
    }

    /// Builds and starts a `graph` the caller has already validated (no second validation).
    pub fn start_validated(
        &self,
        graph: &Graph,
        registry: &Registry,
        options: RunOptions,
    ) -> Result<RunHandle, Problems> {
        start_validated(graph, registry, options, self.runtime().handle())
    }

    /// Runs `fut` to completion on this runtime (for headless callers).
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.runtime().block_on(fut)
    }
}

/// Validates, builds and starts `graph` on `rt`.
pub fn start(
    graph: &Graph,
    registry: &Registry,
    options: RunOptions,
    rt: &tokio::runtime::Handle,
) -> Result<RunHandle, Problems> {
    let problems = validate(graph, registry);
    if problems.has_errors() {
        return Err(problems);
    }
    start_validated(graph, registry, options, rt)
}

/// Builds and starts a graph that passed [`validate`] on `rt`.
pub fn start_validated(
    graph: &Graph,
    registry: &Registry,
    options: RunOptions,
    rt: &tokio::runtime::Handle,
) -> Result<RunHandle, Problems> {
    let stop_timeout = match options.stop_timeout {
        Some(t) => t,
        None => graph
            .settings
            .stop_timeout()
            .map_err(|msg| {
                Problems(vec![Problem::error(
                    Location { field: Some("settings.stop_timeout".into()), ..Default::default() },
                    msg,
                )])
            })?
            .unwrap_or(DEFAULT_STOP_TIMEOUT),
    };
    let checkpoint_interval = graph
        .settings
        .checkpoint_interval()
        .map_err(|msg| {
            Problems(vec![Problem::error(
                Location { field: Some("settings.checkpoint_interval".into()), ..Default::default() },
                msg,
            )])
        })?
        .unwrap_or(DEFAULT_CHECKPOINT_INTERVAL)
        .max(Duration::from_millis(1));
    let plan = plan::build(graph, registry, &options)?;
    let debug = DebugLog::new(options.debug);
    let sidebar = options.debug == DebugOutput::Sidebar;
    let wiring = wiring::wire(graph, registry, sidebar.then_some(&debug));
    for (node, port) in &options.debug_ports {
        if let Some(tap) = graph.nodes.iter().position(|n| &n.id == node).and_then(|i| wiring.taps.get(i)) {
            tap.set_debug(port, true);
        }
    }

    let tokens = Tokens {
        stop: CancellationToken::new(),
        kill: CancellationToken::new(),
        done: CancellationToken::new(),
        stop_timeout,
        stop_requests: Arc::new(AtomicU8::new(0)),
    };
    let (paused_tx, paused_rx) = watch::channel(false);
    let watched = watched_from_start(graph, &wiring.taps, options.watch.as_deref());
    let dead_end: Vec<bool> = wiring.out_wires.iter().map(Vec::is_empty).collect();
    let coordinator = Coordinator::new(&dead_end);
    let routes: Vec<BarrierRoute> = (wiring.out_wires.into_iter().enumerate())
        .map(|(i, wires)| BarrierRoute::new(i, wires, coordinator.board().clone()))
        .collect();
    let shared = Arc::new(Shared {
        node_ids: graph.nodes.iter().map(|n| n.id.clone()).collect(),
        node_kinds: graph.nodes.iter().map(|n| n.kind.clone()).collect(),
        has_inputs: wiring.has_inputs,
        upstream: wiring.upstream,
        wire_ids: graph.wires.iter().map(|w| w.id()).collect(),
        nodes: wiring.node_metrics.clone(),
        wires: wiring.wire_metrics,
        taps: wiring.taps,
        watched: AtomicUsize::new(watched),
        clock: clock::RunClock::start(),
        redactor: plan.redactor,
        debug: debug.clone(),
        checkpoints: coordinator.board().clone(),
    });

    let mut predicates: Vec<Option<Arc<dyn crate::pushdown::RecordPredicate>>> = vec![None; graph.nodes.len()];
    for built in &plan.nodes {
        if let Some(slot) = predicates.get_mut(built.index) {
            slot.clone_from(&built.predicate);
        }
    }
    let mut sole_wire = wiring.sole_wire;
    let mut io: Vec<Option<wiring::NodeIo>> = wiring.io.into_iter().map(Some).collect();
    let mut tasks = Vec::with_capacity(plan.nodes.len());
    let mut sources = Vec::new();
    for built in plan.nodes {
        let Some(node_io) = io.get_mut(built.index).and_then(Option::take) else { continue };
        let route = routes.get(built.index).cloned().unwrap_or_default();
        if !shared.has_inputs[built.index] {
            sources.push(Source { route: route.clone(), injects_own: built.injects_barriers });
        }
        let id: Arc<str> = Arc::from(graph.nodes[built.index].id.as_str());
        // A source may apply the filter that is the only consumer of its first output.
        let pushdown = sole_wire.get_mut(built.index).and_then(Option::take).and_then(|sole| {
            let predicate = predicates.get(sole.consumer)?.clone()?;
            (!shared.has_inputs[built.index]).then(|| {
                PushedFilter::new(
                    predicate,
                    sole.wire,
                    wiring.node_metrics[sole.consumer].clone(),
                    wiring.node_metrics[built.index].clone(),
                )
                .with_tap(sole.tap)
            })
        });
        let ctx = NodeContext {
            index: built.index as u32,
            id,
            inputs: node_io.inputs.with_route(route),
            outputs: node_io.outputs,
            errors: node_io.errors.with_redactor(shared.redactor.clone()),
            metrics: wiring.node_metrics[built.index].clone(),
            control: Control::new(tokens.stop.clone(), tokens.kill.clone(), paused_rx.clone()),
            batch_size: plan.batch_size,
            debug: debug.clone(),
            checkpoints: coordinator.source_view(),
            pushdown,
        };
        tasks.push((built.index, built.task, ctx));
    }

    let (snap_tx, snap_rx) = watch::channel(Arc::new(shared.snapshot(None, 0.0)));
    let snap_tx = Arc::new(snap_tx);
    let history = Arc::new(RwLock::new(History::new(options.history_len)));
    let (outcome_tx, outcome_rx) = watch::channel(None);

    let set = supervisor::spawn_nodes(tasks, &shared, &tokens, rt);
    rt.spawn(coordinator.run(sources, checkpoint_interval, tokens.done.clone()));
    let sampler = rt.spawn(sampler::run(
        shared.clone(),
        snap_tx.clone(),
        history.clone(),
        tokens.done.clone(),
        options.sample_interval,
        options.rate_window,
    ));
    let handle = RunHandle {
        shared: shared.clone(),
        stop: tokens.stop.clone(),
        kill: tokens.kill.clone(),
        stop_timeout,
        paused: paused_tx,
        snapshot: snap_rx,
        history,
        outcome: outcome_rx,
        rt: rt.clone(),
        stop_requests: tokens.stop_requests.clone(),
        done: tokens.done.clone(),
    };
    let finish_sampler = async move {
        let _ = sampler.await;
    };
    rt.spawn(supervisor::supervise(set, shared, tokens, finish_sampler, snap_tx, outcome_tx));
    Ok(handle)
}

/// `watched` for the node `watch` names (1-based; 0: none), its tap already recording.
fn watched_from_start(graph: &Graph, taps: &[Arc<crate::tap::NodeTap>], watch: Option<&str>) -> usize {
    let Some(index) = watch.and_then(|id| graph.nodes.iter().position(|n| n.id == id)) else { return 0 };
    match taps.get(index) {
        Some(tap) => {
            tap.watch(true);
            index + 1
        }
        None => 0,
    }
}

//! The executor: builds a validated graph into tasks on an embedded tokio runtime, one task
//! per node and one bounded wire per connection, and supervises the run (pause, resume,
//! graceful stop with a timeout, failure of a node, completion).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::env;
use crate::graph::Graph;
use crate::io::{Control, DeadLetters, Inputs, NodeContext, Output};
use crate::metrics::{
    History, MetricsSnapshot, NodeMetrics, NodeSnapshot, NodeStatus, Sample, WireMetrics, WireSnapshot,
};
use crate::problem::{Location, Problem, Problems};
use crate::registry::{BuildContext, ERRORS_PORT, NodeTask, Registry};
use crate::tap::{NodeTap, TappedEvent};
use crate::validate::validate;
use crate::wire::WireQueue;

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
    /// How long a stop waits for in-flight events to drain before cancelling tasks.
    pub stop_timeout: Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            base_dir: PathBuf::from("."),
            env: Arc::new(env::process_env),
            sample_interval: Duration::from_millis(250),
            history_len: 2400, // 10 minutes at 4 Hz
            rate_window: 4,
            stop_timeout: Duration::from_secs(10),
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

    /// Runs `fut` to completion on this runtime (for headless callers).
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.runtime().block_on(fut)
    }
}

struct Shared {
    node_ids: Vec<String>,
    node_kinds: Vec<String>,
    wire_ids: Vec<String>,
    nodes: Vec<Arc<NodeMetrics>>,
    wires: Vec<Arc<WireMetrics>>,
    taps: Vec<Arc<NodeTap>>,
    /// Index + 1 of the node whose tap records (0: none).
    watched: std::sync::atomic::AtomicUsize,
    started: Instant,
}

/// A running graph. Dropping it does not stop the graph; call [`RunHandle::stop`].
pub struct RunHandle {
    shared: Arc<Shared>,
    stop: CancellationToken,
    kill: CancellationToken,
    stop_timeout: Duration,
    paused: watch::Sender<bool>,
    snapshot: watch::Receiver<Arc<MetricsSnapshot>>,
    history: Arc<RwLock<History>>,
    outcome: watch::Receiver<Option<RunOutcome>>,
    rt: tokio::runtime::Handle,
    user_stopped: Arc<std::sync::atomic::AtomicBool>,
}

impl RunHandle {
    /// Node ids, by node index.
    pub fn node_ids(&self) -> &[String] {
        &self.shared.node_ids
    }
    /// Wire ids, by wire index.
    pub fn wire_ids(&self) -> &[String] {
        &self.shared.wire_ids
    }
    /// The latest snapshot (never waits for the runtime).
    pub fn snapshot(&self) -> Arc<MetricsSnapshot> {
        self.snapshot.borrow().clone()
    }
    /// A receiver of snapshots, updated every sample interval.
    pub fn subscribe(&self) -> watch::Receiver<Arc<MetricsSnapshot>> {
        self.snapshot.clone()
    }
    /// The chart history (read with `try_read` from a UI thread).
    pub fn history(&self) -> Arc<RwLock<History>> {
        self.history.clone()
    }
    /// The last events that left node `index` (by output port, `errors` included), newest
    /// first. Never waits on the running nodes; empty for an unknown index.
    ///
    /// Reading a node's tap starts recording it and stops recording the node read before,
    /// so nodes nobody looks at pay nothing: the first read is empty.
    pub fn tap(&self, index: usize) -> Vec<TappedEvent> {
        let Some(tap) = self.shared.taps.get(index) else { return Vec::new() };
        let before = self.shared.watched.swap(index + 1, Ordering::Relaxed);
        if before != index + 1 {
            if let Some(old) = before.checked_sub(1).and_then(|i| self.shared.taps.get(i)) {
                old.watch(false);
            }
            tap.watch(true);
        }
        tap.recent()
    }
    /// A snapshot taken now, straight from the counters.
    pub fn snapshot_now(&self) -> MetricsSnapshot {
        take_snapshot(&self.shared, None, 0.0)
    }
    /// Pauses sources (events in flight keep draining).
    pub fn pause(&self) {
        self.paused.send_replace(true);
    }
    /// Resumes after [`RunHandle::pause`].
    pub fn resume(&self) {
        self.paused.send_replace(false);
    }
    /// Whether paused.
    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }
    /// Asks for a graceful stop: sources end, in-flight events drain to the sinks; after the
    /// stop timeout the remaining tasks are cancelled.
    pub fn stop(&self) {
        if self.stop.is_cancelled() {
            return;
        }
        self.user_stopped.store(true, Ordering::Relaxed);
        self.paused.send_replace(false);
        self.stop.cancel();
        let kill = self.kill.clone();
        let timeout = self.stop_timeout;
        self.rt.spawn(async move {
            tokio::time::sleep(timeout).await;
            kill.cancel();
        });
    }
    /// Cancels every task now, without draining.
    pub fn kill(&self) {
        self.user_stopped.store(true, Ordering::Relaxed);
        self.stop.cancel();
        self.kill.cancel();
    }
    /// The outcome, once the run has ended.
    pub fn outcome(&self) -> Option<RunOutcome> {
        self.outcome.borrow().clone()
    }
    /// Waits for the end of the run.
    pub async fn wait(&self) -> RunOutcome {
        let mut rx = self.outcome.clone();
        loop {
            if let Some(o) = rx.borrow_and_update().clone() {
                return o;
            }
            if rx.changed().await.is_err() {
                return rx.borrow().clone().unwrap_or(RunOutcome::Failed(vec![(
                    String::new(),
                    "the supervisor ended without an outcome".into(),
                )]));
            }
        }
    }
}

struct Built {
    index: usize,
    task: Box<dyn NodeTask>,
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
    let batch_size = graph.settings.batch_size.unwrap_or(1024).max(1);

    // Substitute ${VAR}s and build every node, collecting all problems.
    let mut problems = Vec::new();
    let mut built = Vec::new();
    for (index, node) in graph.nodes.iter().enumerate() {
        let Some(kind) = registry.get(&node.kind) else { continue };
        let config = match env::substitute(&node.config, &*options.env) {
            Ok(c) => c,
            Err(unset) => {
                problems.extend(unset.into_iter().map(|u| {
                    Problem::error(
                        Location::field(&node.id, u.field),
                        format!("environment variable `{}` is not set", u.var),
                    )
                }));
                continue;
            }
        };
        let ctx = BuildContext { node_id: node.id.clone(), base_dir: options.base_dir.clone(), batch_size };
        match kind.build(&config, &ctx) {
            Ok(task) => built.push(Built { index, task }),
            Err(p) => problems
                .push(Problem::error(Location { field: p.field.clone(), ..Location::node(&node.id) }, p.message)),
        }
    }
    if !problems.is_empty() {
        return Err(Problems(problems));
    }

    let node_metrics: Vec<Arc<NodeMetrics>> = graph.nodes.iter().map(|_| Arc::new(NodeMetrics::default())).collect();
    let notifies: Vec<Arc<Notify>> = graph.nodes.iter().map(|_| Arc::new(Notify::new())).collect();
    let index_of: HashMap<&str, usize> = graph.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();

    let stop = CancellationToken::new();
    let kill = CancellationToken::new();
    let (paused_tx, paused_rx) = watch::channel(false);

    // Wiring: every node gets its inputs and outputs (port order from the kind).
    let mut inputs: Vec<Inputs> =
        (0..graph.nodes.len()).map(|i| Inputs::new(notifies[i].clone(), node_metrics[i].clone())).collect();
    let mut outputs: Vec<Vec<Output>> = Vec::new();
    let mut dead: Vec<Output> = Vec::new();
    let mut ports_of = Vec::new();
    let mut taps = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let ports = registry.get(&node.kind).map(|k| k.ports(&node.config)).unwrap_or_default();
        let data: Vec<&str> = ports.outputs.iter().map(|p| p.name.as_str()).filter(|p| *p != ERRORS_PORT).collect();
        let tap = NodeTap::new(data.iter().copied().chain([ERRORS_PORT]));
        outputs.push(data.iter().map(|p| Output::new(node_metrics[i].clone(), true).with_tap(tap.port(p))).collect());
        dead.push(Output::new(node_metrics[i].clone(), false).with_tap(tap.port(ERRORS_PORT)));
        taps.push(tap);
        ports_of.push(ports);
    }
    let mut wire_metrics = Vec::new();
    for wire in &graph.wires {
        let (Some(&from), Some(&to)) = (index_of.get(wire.from.node.as_str()), index_of.get(wire.to.node.as_str()))
        else {
            continue; // validation already refused this
        };
        let capacity = graph.capacity_of(wire);
        let metrics = Arc::new(WireMetrics::new(capacity));
        let queue = WireQueue::new(capacity, wire.when_full.unwrap_or_default(), notifies[to].clone(), metrics.clone());
        wire_metrics.push(metrics);
        let in_port = ports_of[to].input_index(&wire.to.port).unwrap_or(0);
        inputs[to].add(in_port, queue.clone());
        if wire.from.port == ERRORS_PORT {
            dead[from].add(queue);
        } else if let Some(out_port) = ports_of[from].output_index(&wire.from.port)
            && let Some(out) = outputs[from].get_mut(out_port)
        {
            out.add(queue);
        }
    }

    let shared = Arc::new(Shared {
        node_ids: graph.nodes.iter().map(|n| n.id.clone()).collect(),
        node_kinds: graph.nodes.iter().map(|n| n.kind.clone()).collect(),
        wire_ids: graph.wires.iter().map(|w| w.id()).collect(),
        nodes: node_metrics.clone(),
        wires: wire_metrics,
        taps,
        watched: std::sync::atomic::AtomicUsize::new(0),
        started: Instant::now(),
    });

    let mut contexts: Vec<Option<NodeContext>> = Vec::new();
    for (i, ((inp, outs), dl)) in inputs.into_iter().zip(outputs).zip(dead).enumerate() {
        let id: Arc<str> = Arc::from(graph.nodes[i].id.as_str());
        contexts.push(Some(NodeContext {
            index: i as u32,
            id: id.clone(),
            inputs: inp,
            outputs: outs,
            errors: DeadLetters::new(id, dl),
            metrics: node_metrics[i].clone(),
            control: Control::new(stop.clone(), paused_rx.clone()),
            batch_size,
        }));
    }

    let (snap_tx, snap_rx) = watch::channel(Arc::new(take_snapshot(&shared, None, 0.0)));
    let history = Arc::new(RwLock::new(History::new(options.history_len)));
    let (outcome_tx, outcome_rx) = watch::channel(None);
    let user_stopped = Arc::new(std::sync::atomic::AtomicBool::new(false));

    let mut set = JoinSet::new();
    for b in built {
        let Some(ctx) = contexts.get_mut(b.index).and_then(Option::take) else { continue };
        let metrics = node_metrics[b.index].clone();
        let kill = kill.clone();
        let stop = stop.clone();
        let id = shared.node_ids[b.index].clone();
        set.spawn_on(
            async move {
                metrics.set_status(NodeStatus::Running);
                let fut = b.task.run(ctx);
                let result = tokio::select! {
                    r = fut => r.map_err(|e| e.0),
                    _ = kill.cancelled() => Err("cancelled: stop timed out before the node drained".to_string()),
                };
                match &result {
                    Ok(()) => metrics.set_status(NodeStatus::Finished),
                    Err(msg) => {
                        let cancelled = kill.is_cancelled();
                        metrics.set_status(if cancelled { NodeStatus::Cancelled } else { NodeStatus::Failed });
                        metrics.set_message(msg.clone());
                        if !cancelled {
                            tracing::error!(node = %id, "node failed: {msg}");
                            // A failed node ends the graph: stop the sources so the rest drains.
                            stop.cancel();
                        }
                    }
                }
                (id, result)
            },
            rt,
        );
    }

    // Sampler: snapshots and chart history at a fixed interval, until the run ends.
    let done = CancellationToken::new();
    let snap_tx = Arc::new(snap_tx);
    let sampler = {
        let snap_tx = snap_tx.clone();
        let shared = shared.clone();
        let history = history.clone();
        let done = done.clone();
        let interval = options.sample_interval;
        let window = options.rate_window.max(1);
        rt.spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut recent: std::collections::VecDeque<(f64, Vec<u64>, Vec<u64>)> = Default::default();
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = done.cancelled() => break,
                }
                let t = shared.started.elapsed().as_secs_f64();
                let ins: Vec<u64> = shared.nodes.iter().map(|m| m.events_in.load(Ordering::Relaxed)).collect();
                let outs: Vec<u64> = shared.nodes.iter().map(|m| m.events_out.load(Ordering::Relaxed)).collect();
                recent.push_back((t, ins.clone(), outs.clone()));
                if recent.len() > window + 1 {
                    recent.pop_front();
                }
                let rates = recent.front().filter(|f| t > f.0).map(|(t0, in0, out0)| {
                    let dt = t - t0;
                    let r = |now: &[u64], then: &[u64]| -> Vec<f64> {
                        now.iter().zip(then).map(|(a, b)| a.saturating_sub(*b) as f64 / dt).collect()
                    };
                    (r(&ins, in0), r(&outs, out0))
                });
                let snap = take_snapshot(&shared, rates.as_ref(), t);
                let sample = Sample {
                    t,
                    rate_in: snap.nodes.iter().map(|n| n.rate_in as f32).collect(),
                    rate_out: snap.nodes.iter().map(|n| n.rate_out as f32).collect(),
                    errors: snap.nodes.iter().map(|n| n.errors).collect(),
                    dropped: snap.nodes.iter().map(|n| n.dropped).collect(),
                    depth: snap.wires.iter().map(|w| w.depth).collect(),
                    max_depth: shared
                        .wires
                        .iter()
                        .zip(&snap.wires)
                        .map(|(m, w)| m.interval_max_depth.swap(w.depth, Ordering::Relaxed).max(w.depth))
                        .collect(),
                };
                if let Ok(mut h) = history.write() {
                    h.push(sample);
                }
                snap_tx.send_replace(Arc::new(snap));
            }
        })
    };

    // Supervisor: waits for every node, then publishes the outcome.
    {
        let user_stopped = user_stopped.clone();
        let shared = shared.clone();
        rt.spawn(async move {
            let mut failures = Vec::new();
            while let Some(joined) = set.join_next().await {
                match joined {
                    Ok((_, Ok(()))) => {}
                    Ok((id, Err(msg))) => failures.push((id, msg)),
                    Err(e) => failures.push((String::new(), format!("a node task panicked: {e}"))),
                }
            }
            // The last snapshot, published before the outcome so whoever sees the outcome
            // sees the totals: rates over the whole run.
            done.cancel();
            let _ = sampler.await;
            let t = shared.started.elapsed().as_secs_f64().max(1e-9);
            let whole: (Vec<f64>, Vec<f64>) = (
                shared.nodes.iter().map(|m| m.events_in.load(Ordering::Relaxed) as f64 / t).collect(),
                shared.nodes.iter().map(|m| m.events_out.load(Ordering::Relaxed) as f64 / t).collect(),
            );
            snap_tx.send_replace(Arc::new(take_snapshot(&shared, Some(&whole), t)));
            let outcome = if !failures.is_empty() {
                RunOutcome::Failed(failures)
            } else if user_stopped.load(Ordering::Relaxed) {
                RunOutcome::Stopped
            } else {
                RunOutcome::Completed
            };
            outcome_tx.send_replace(Some(outcome));
        });
    }

    Ok(RunHandle {
        shared,
        stop,
        kill,
        stop_timeout: options.stop_timeout,
        paused: paused_tx,
        snapshot: snap_rx,
        history,
        outcome: outcome_rx,
        rt: rt.clone(),
        user_stopped,
    })
}

fn take_snapshot(shared: &Shared, rates: Option<&(Vec<f64>, Vec<f64>)>, t: f64) -> MetricsSnapshot {
    let nodes = shared
        .nodes
        .iter()
        .enumerate()
        .map(|(i, m)| NodeSnapshot {
            id: shared.node_ids[i].clone(),
            kind: shared.node_kinds[i].clone(),
            status: m.status(),
            message: m.message(),
            events_in: m.events_in.load(Ordering::Relaxed),
            events_out: m.events_out.load(Ordering::Relaxed),
            errors: m.errors.load(Ordering::Relaxed),
            dropped: m.dropped.load(Ordering::Relaxed),
            passed: m.passed.load(Ordering::Relaxed),
            filtered: m.filtered.load(Ordering::Relaxed),
            discarded: m.discarded.load(Ordering::Relaxed),
            skipped: m.skipped.load(Ordering::Relaxed),
            held: m.held.load(Ordering::Relaxed),
            lost_on_kill: m.lost_on_kill.load(Ordering::Relaxed),
            busy_secs: m.busy_ns.load(Ordering::Relaxed) as f64 / 1e9,
            rate_in: rates.map_or(0.0, |r| r.0[i]),
            rate_out: rates.map_or(0.0, |r| r.1[i]),
        })
        .collect();
    let wires = shared
        .wires
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let popped = m.popped.load(Ordering::Acquire);
            let pushed = m.pushed.load(Ordering::Acquire);
            WireSnapshot {
                id: shared.wire_ids[i].clone(),
                pushed,
                popped,
                depth: pushed.saturating_sub(popped),
                capacity: m.capacity,
                max_depth: m.max_depth.load(Ordering::Relaxed),
                dropped: m.dropped.load(Ordering::Relaxed),
            }
        })
        .collect();
    MetricsSnapshot { elapsed_secs: t, nodes, wires }
}

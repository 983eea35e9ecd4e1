//! Running the graph from the editor: one [`Engine`] for the app's lifetime, at most one
//! run at a time. The UI never waits on the runtime: each frame reads the latest snapshot
//! (a watch channel) and asks for a repaint at a few Hz only while a run is live.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use streamloom_runtime::debug::{DebugLog, DebugOutput};
use streamloom_runtime::executor::{Engine, RunHandle, RunOptions, RunOutcome};
use streamloom_runtime::metrics::{History, MetricsSnapshot, NodeState, NodeStatus};
use streamloom_runtime::problem::Location;
use streamloom_runtime::tap::TappedEvent;
use streamloom_runtime::validate::MAX_WORKERS;
use streamloom_runtime::{Graph, Problem, Registry};

/// How the status bar starts the message of a refused start (cleared by the next edit).
pub const CANNOT_RUN: &str = "cannot run:";

/// How often the runtime samples metrics for the editor; the UI repaints at this rate while a
/// run is live and its counters move, and not at all otherwise.
pub const REFRESH: Duration = Duration::from_millis(250);

/// A paused run stops repainting once its counters have not moved for this long (queues
/// drain and rates fall to zero for a moment after a pause).
const PAUSED_SETTLE: Duration = Duration::from_millis(1500);

/// The run state of the editor.
pub struct Runner {
    engine: Result<Engine, String>,
    /// Worker threads of `engine`.
    engine_workers: usize,
    handle: Option<RunHandle>,
    snapshot: Option<Arc<MetricsSnapshot>>,
    outcome: Option<RunOutcome>,
    /// Problems that prevented the last start.
    pub start_problems: Vec<Problem>,
    /// Nodes that failed in the current or last run, one error each (message only).
    run_problems: Vec<Problem>,
    /// The run's failures no longer apply (the graph was edited since).
    run_problems_dismissed: bool,
    /// Nodes of the live (or last) run whose `errors` output is wired.
    errors_wired: std::collections::HashSet<String>,
    /// Output ports (node id, port) marked for debugging: kept for the editor session (not
    /// saved with the graph), applied to every run and to the live one as they change.
    debug_ports: BTreeSet<(String, String)>,
    /// How many runs have started (tells one run's end from the next one's).
    runs_started: u64,
    /// When the live run's counters last moved (paused runs repaint only shortly after).
    last_change: std::time::Instant,
}

/// Where a node's drops happened: on its output wires (their `when_full` policy) or in the
/// node itself (a buffer's policy, or a sink that could not deliver, with its own reason).
fn dropped_reason(n: &streamloom_runtime::metrics::NodeSnapshot) -> String {
    let inside = n.dropped_inside.min(n.dropped);
    let on_wires = n.dropped - inside;
    let mut parts = Vec::new();
    if on_wires > 0 {
        parts.push(format!(
            "{on_wires} on its output wires (full under a drop policy, or left there when the next node ended)"
        ));
    }
    if inside > 0 {
        match n.state_message.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => parts.push(format!("{inside} by the node itself ({m})")),
            None => parts.push(format!("{inside} by the node itself")),
        }
    }
    format!("{} event(s) dropped: {}", n.dropped, parts.join("; "))
}

/// Worker threads of the editor's runtime when the graph does not set `workers`: two, so the
/// UI keeps a core on small machines.
pub const EDITOR_WORKERS: usize = 2;

fn new_engine(workers: usize) -> Result<Engine, String> {
    Engine::new(Some(workers)).map_err(|e| format!("cannot start the runtime: {e}"))
}

impl Default for Runner {
    fn default() -> Self {
        Self::new()
    }
}

impl Runner {
    /// A runner with its engine (two worker threads: the UI keeps a core).
    pub fn new() -> Self {
        Runner {
            engine: new_engine(EDITOR_WORKERS),
            engine_workers: EDITOR_WORKERS,
            handle: None,
            snapshot: None,
            outcome: None,
            start_problems: Vec::new(),
            run_problems: Vec::new(),
            run_problems_dismissed: false,
            debug_ports: BTreeSet::new(),
            runs_started: 0,
            errors_wired: Default::default(),
            last_change: std::time::Instant::now(),
        }
    }

    /// Whether a run is live (started and not ended).
    pub fn is_running(&self) -> bool {
        self.handle.as_ref().is_some_and(|h| h.outcome().is_none())
    }

    /// Whether the live run is paused.
    pub fn is_paused(&self) -> bool {
        self.handle.as_ref().is_some_and(RunHandle::is_paused)
    }

    /// Starts `graph`; relative paths resolve against `base_dir`; the tap of node `watch` (the
    /// one being inspected) records from the first event. Problems are kept for the problems
    /// panel.
    pub fn start(
        &mut self,
        graph: &Graph,
        registry: &Registry,
        base_dir: PathBuf,
        watch: Option<String>,
    ) -> Result<(), String> {
        if self.is_running() {
            return Err("already running".into());
        }
        self.run_problems.clear();
        self.run_problems_dismissed = false;
        // A graph that sets its worker threads gets a runtime of that size (no run is live).
        // A value out of range is left to validation, which refuses the run and says why.
        let workers = graph.settings.workers.filter(|w| (1..=MAX_WORKERS).contains(w)).unwrap_or(EDITOR_WORKERS);
        // Each run gets a fresh runtime: what a run left behind on the last one (a broker
        // client's reconnect loop, a task that never yields) goes with it, instead of
        // reconnecting later and delivering what the ended run counted as dropped.
        if workers != self.engine_workers || self.runs_started > 0 {
            // If it cannot be had, the current runtime stays and the run is not started.
            let old = std::mem::replace(&mut self.engine, Ok(new_engine(workers)?));
            self.engine_workers = workers;
            // Dropping a runtime waits for its blocking threads: not on the UI thread.
            std::thread::spawn(move || drop(old));
        }
        let engine = self.engine.as_ref().map_err(Clone::clone)?;
        let options = RunOptions {
            base_dir,
            watch,
            debug: DebugOutput::Sidebar,
            debug_ports: self.debug_ports.iter().cloned().collect(),
            sample_interval: REFRESH,
            ..RunOptions::default()
        };
        match engine.start(graph, registry, options) {
            Ok(h) => {
                self.errors_wired = graph
                    .wires
                    .iter()
                    .filter(|w| w.from.port == streamloom_runtime::registry::ERRORS_PORT)
                    .map(|w| w.from.node.clone())
                    .collect();
                self.snapshot = Some(h.snapshot());
                self.handle = Some(h);
                self.runs_started += 1;
                self.outcome = None;
                self.start_problems.clear();
                Ok(())
            }
            Err(problems) => {
                let errors = problems.0.iter().filter(|p| p.is_error()).count();
                self.start_problems = problems.0;
                Err(format!("{CANNOT_RUN} {errors} error(s), see Problems"))
            }
        }
    }

    /// Pauses or resumes the sources.
    pub fn toggle_pause(&self) {
        if let Some(h) = &self.handle {
            if h.is_paused() { h.resume() } else { h.pause() }
        }
    }

    /// Asks for a graceful stop.
    pub fn stop(&self) {
        if let Some(h) = &self.handle {
            h.stop();
        }
    }

    /// Another graph replaces this one: a live run is cancelled at once, and the last run's
    /// metrics, outcome and problems, and the ports marked for debugging, are forgotten
    /// (they belong to the old graph).
    pub fn forget(&mut self) {
        if let Some(h) = self.handle.take()
            && h.outcome().is_none()
        {
            h.kill();
        }
        self.snapshot = None;
        self.outcome = None;
        self.start_problems.clear();
        self.run_problems.clear();
        self.run_problems_dismissed = false;
        self.debug_ports.clear(); // marks name the old graph's nodes
    }

    /// Reads the latest snapshot and outcome without waiting; schedules the next repaint
    /// while running. Call once per frame.
    pub fn poll(&mut self, ctx: &egui::Context) {
        let Some(h) = &self.handle else { return };
        let snapshot = h.snapshot();
        let moved = self.snapshot.as_ref().is_none_or(|old| old.nodes != snapshot.nodes || old.wires != snapshot.wires);
        if moved {
            self.last_change = std::time::Instant::now();
        }
        self.snapshot = Some(snapshot);
        if self.outcome.is_none() {
            self.outcome = h.outcome();
            if self.outcome.is_some() {
                // One more frame shows the final snapshot.
                ctx.request_repaint();
            } else if !h.is_paused() || self.last_change.elapsed() < PAUSED_SETTLE {
                // Running: repaint at the sample rate. Paused: only until the counters settle
                // (pressing Resume or Stop is input, which repaints anyway).
                ctx.request_repaint_after(REFRESH);
            }
        }
        if !self.run_problems_dismissed {
            self.run_problems = failures(self.outcome.as_ref(), self.snapshot.as_deref(), &self.errors_wired);
        }
    }

    /// The nodes of the current or last run whose `errors` port is wired.
    pub fn errors_wired(&self) -> &std::collections::HashSet<String> {
        &self.errors_wired
    }

    /// Nodes that failed in the current or last run, as errors located at each node, until
    /// the next run or [`Runner::dismiss_run_problems`].
    pub fn run_problems(&self) -> &[Problem] {
        &self.run_problems
    }

    /// Forgets the run's failures (the graph changed, so they may no longer apply).
    pub fn dismiss_run_problems(&mut self) {
        self.run_problems.clear();
        self.run_problems_dismissed = true;
    }

    /// The latest metrics of the current or last run.
    pub fn snapshot(&self) -> Option<&MetricsSnapshot> {
        self.snapshot.as_deref()
    }

    /// The chart history of the current or last run.
    pub fn history(&self) -> Option<Arc<std::sync::RwLock<History>>> {
        self.handle.as_ref().map(RunHandle::history)
    }

    /// Node ids and wire ids of the run, by index (the history is indexed the same way).
    pub fn ids(&self) -> Option<(&[String], &[String])> {
        self.handle.as_ref().map(|h| (h.node_ids(), h.wire_ids()))
    }

    /// The last events that left node `id` in the current or last run, newest first
    /// (`None` without a run or if the node was not in it). Never waits on the runtime.
    pub fn tap(&self, id: &str) -> Option<Vec<TappedEvent>> {
        let h = self.handle.as_ref()?;
        let index = h.node_ids().iter().position(|n| n == id)?;
        Some(h.tap(index))
    }

    /// The debug log of the current or last run.
    pub fn debug_log(&self) -> Option<Arc<DebugLog>> {
        self.handle.as_ref().map(RunHandle::debug_log)
    }

    /// Whether output `port` of node `node` is marked for debugging.
    pub fn is_debugged(&self, node: &str, port: &str) -> bool {
        self.debug_ports.contains(&(node.to_string(), port.to_string()))
    }

    /// Marks (or unmarks) output `port` of node `node` for debugging, in the live run too.
    pub fn set_debugged(&mut self, node: &str, port: &str, on: bool) {
        let key = (node.to_string(), port.to_string());
        if on {
            self.debug_ports.insert(key);
        } else {
            self.debug_ports.remove(&key);
        }
        if let Some(h) = self.handle.as_ref().filter(|h| h.outcome().is_none()) {
            h.set_debug(node, port, on);
        }
    }

    /// Ports marked for debugging.
    pub fn debugged_ports(&self) -> &BTreeSet<(String, String)> {
        &self.debug_ports
    }

    /// How many runs have started in this editor (the current or last one is this number).
    pub fn runs_started(&self) -> u64 {
        self.runs_started
    }

    /// How the last run ended.
    pub fn outcome(&self) -> Option<&RunOutcome> {
        self.outcome.as_ref()
    }

    /// One line for the toolbar; its time is the time the run has run, its pauses left out
    /// (as in the run summary), so it stands still while paused.
    pub fn status(&self) -> String {
        match (&self.handle, &self.outcome) {
            (None, _) => "idle".into(),
            (Some(h), None) => {
                let (t, paused) = self
                    .snapshot
                    .as_ref()
                    .map_or((0.0, 0.0), |s| ((s.elapsed_secs - s.paused_secs).max(0.0), s.paused_secs));
                // The running time leaves pauses out; the Debug list and the charts count wall
                // time since the start, so the pauses are said beside it.
                let t = if paused >= 0.05 { format!("{t:.1}s (+{paused:.1}s paused)") } else { format!("{t:.1}s") };
                if h.is_stopping() {
                    // Draining what is in flight, for at most the stop timeout.
                    format!(
                        "stopping · {t} (draining; what is left {:.0} s after Stop is cancelled)",
                        h.stop_timeout().as_secs_f64()
                    )
                } else if h.is_paused() {
                    format!("paused · {t}")
                } else {
                    format!("running · {t}")
                }
            }
            (Some(_), Some(RunOutcome::Completed)) => "completed".into(),
            (Some(_), Some(RunOutcome::Stopped)) => "stopped".into(),
            (Some(_), Some(RunOutcome::Failed(f))) => {
                let first = f.first().map(|(n, m)| format!(": {n}: {m}")).unwrap_or_default();
                format!("failed{first}")
            }
        }
    }
}

/// The run's problems: one error per failed node (the outcome's failures first, then nodes
/// whose snapshot says failed, with its message), then warnings for nodes that say they gave
/// up, half work or lost their connection, and for nodes with drops or failed events.
fn failures(
    outcome: Option<&RunOutcome>,
    snapshot: Option<&MetricsSnapshot>,
    errors_wired: &std::collections::HashSet<String>,
) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    if let Some(RunOutcome::Failed(f)) = outcome {
        for (node, message) in f {
            out.push(Problem::error(Location::node(node.clone()), message.clone()));
        }
    }
    for n in snapshot.map(|s| s.nodes.as_slice()).unwrap_or_default() {
        if n.status == NodeStatus::Failed && !out.iter().any(|p| p.location.node.as_deref() == Some(n.id.as_str())) {
            let message = n.message.clone().unwrap_or_else(|| "failed".into());
            out.push(Problem::error(Location::node(n.id.clone()), message));
        }
    }
    // A node that says it gave up, only half works (a broker that refuses, publishes not
    // acknowledged) or has lost its connection is a problem while the run goes on, not only
    // on its card.
    for n in snapshot.map(|s| s.nodes.as_slice()).unwrap_or_default() {
        if let Some(state @ (NodeState::Failed | NodeState::Degraded | NodeState::Reconnecting)) = n.state
            && n.status != NodeStatus::Failed
        {
            let message = match n.state_message.as_deref().filter(|m| !m.is_empty()) {
                Some(m) => format!("{}: {m}", state.name()),
                None => state.name().to_string(),
            };
            out.push(Problem::warning(Location::node(n.id.clone()), message));
        }
    }
    // Events that failed are worth a line as soon as they fail (a run where every event
    // failed must not read as fine, during it or after it "completed"). So are drops.
    for n in snapshot.map(|s| s.nodes.as_slice()).unwrap_or_default() {
        if n.dropped > 0 {
            let message = match n.message.as_deref() {
                Some(m) => format!("{} event(s) dropped: {m}", n.dropped),
                None => dropped_reason(n),
            };
            out.push(Problem::warning(Location::node(n.id.clone()), message));
        }
        if n.errors > 0 {
            // A source's failures (bad lines) are not out of events it received.
            let count = if n.events_in > 0 {
                format!("{} of its {} event(s) failed", n.errors, n.events_in)
            } else {
                format!("{} event(s) failed", n.errors)
            };
            let port = if errors_wired.contains(&n.id) {
                "sent to its `errors` port"
            } else {
                "counted and logged; its `errors` port is unwired, so they are not kept"
            };
            let message = match n.last_error.as_deref() {
                Some(why) => format!("{count} ({port}); last reason: {why}"),
                None => format!("{count} ({port})"),
            };
            out.push(Problem::warning(Location::node(n.id.clone()), message));
        }
    }
    out
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some(h) = &self.handle {
            h.kill();
        }
    }
}

//! [`RunHandle`]: what the editor and the headless runner hold of a running graph.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::RunOutcome;
use super::shared::Shared;
use crate::metrics::{History, MetricsSnapshot};
use crate::tap::TappedEvent;

/// A running graph. Dropping it does not stop the graph; call [`RunHandle::stop`].
pub struct RunHandle {
    pub(crate) shared: Arc<Shared>,
    pub(crate) stop: CancellationToken,
    pub(crate) kill: CancellationToken,
    pub(crate) stop_timeout: Duration,
    pub(crate) paused: watch::Sender<bool>,
    pub(crate) snapshot: watch::Receiver<Arc<MetricsSnapshot>>,
    pub(crate) history: Arc<RwLock<History>>,
    pub(crate) outcome: watch::Receiver<Option<RunOutcome>>,
    pub(crate) rt: tokio::runtime::Handle,
    /// How many times [`RunHandle::stop`] was called (the second one kills).
    pub(crate) stop_requests: Arc<AtomicU8>,
    /// Cancelled when the run has ended (ends a pending kill timer).
    pub(crate) done: CancellationToken,
}

/// What a call to [`RunHandle::stop`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopRequest {
    /// The first stop: sources end, in-flight events drain; tasks are cancelled after the
    /// stop timeout.
    Draining,
    /// A second stop: every task still running was cancelled at once.
    Killed,
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
    /// The run's debug log (the debug sidebar reads it with [`crate::debug::DebugLog::since`]).
    pub fn debug_log(&self) -> Arc<crate::debug::DebugLog> {
        self.shared.debug.clone()
    }
    /// Marks output port `port` of node `node` for debugging (or unmarks it) while running;
    /// false if there is no such node or port, or the run keeps no debug log.
    pub fn set_debug(&self, node: &str, port: &str, on: bool) -> bool {
        let Some(i) = self.shared.node_ids.iter().position(|n| n == node) else { return false };
        self.shared.taps.get(i).is_some_and(|t| t.set_debug(port, on))
    }
    /// A snapshot taken now, straight from the counters.
    pub fn snapshot_now(&self) -> MetricsSnapshot {
        self.shared.snapshot(None, self.shared.clock.elapsed_secs())
    }
    /// Pauses sources (events in flight keep draining).
    pub fn pause(&self) {
        self.shared.clock.pause();
        self.paused.send_replace(true);
    }
    /// Resumes after [`RunHandle::pause`].
    pub fn resume(&self) {
        self.shared.clock.resume();
        self.paused.send_replace(false);
    }
    /// Whether paused.
    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }
    /// Whether a stop was asked for (the run may still be draining).
    pub fn is_stopping(&self) -> bool {
        self.stop_requests.load(Ordering::Acquire) > 0
    }
    /// Asks for a graceful stop: sources end, in-flight events drain to the sinks; after the
    /// stop timeout the remaining tasks are cancelled. A second call cancels them at once.
    /// Works the same after a node failed (which already stopped the sources).
    pub fn stop(&self) -> StopRequest {
        if self.stop_requests.fetch_add(1, Ordering::AcqRel) >= 1 {
            self.kill.cancel();
            return StopRequest::Killed;
        }
        self.shared.clock.resume();
        self.paused.send_replace(false);
        self.stop.cancel();
        arm_kill_timer(&self.rt, self.kill.clone(), self.done.clone(), self.stop_timeout);
        StopRequest::Draining
    }
    /// Cancels every task now, without draining.
    pub fn kill(&self) {
        self.stop_requests.fetch_add(2, Ordering::AcqRel);
        self.stop.cancel();
        self.kill.cancel();
    }
    /// The stop timeout of this run.
    pub fn stop_timeout(&self) -> Duration {
        self.stop_timeout
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
                    "(supervisor)".to_string(),
                    "the supervisor ended without an outcome".into(),
                )]));
            }
        }
    }
}

/// Cancels `kill` after `timeout`, unless it is cancelled or the run is `done` first.
pub(crate) fn arm_kill_timer(
    rt: &tokio::runtime::Handle,
    kill: CancellationToken,
    done: CancellationToken,
    timeout: Duration,
) {
    rt.spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(timeout) => kill.cancel(),
            _ = kill.cancelled() => {}
            _ = done.cancelled() => {}
        }
    });
}

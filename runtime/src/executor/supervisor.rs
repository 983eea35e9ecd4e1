//! The supervisor: runs every node task, turns a panic or an error into a failure naming the
//! node (and stops the sources so the rest drains), cancels what is left when the run is
//! killed (counting what each cancelled node still held as `lost_on_kill`), and publishes
//! the final snapshot and then the outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::RunOutcome;
use super::catch_unwind::CatchUnwind;
use super::handle::arm_kill_timer;
use super::shared::Shared;
use crate::io::NodeContext;
use crate::metrics::{MetricsSnapshot, NodeStatus};
use crate::registry::NodeTask;

/// How one node task ended.
pub(crate) enum Ended {
    /// Returned on its own; `after_stop`: once the run had been told to stop.
    Finished {
        after_stop: bool,
    },
    Failed(String),
    Cancelled,
}

/// The run's tokens, shared by the supervisor and the handle.
pub(crate) struct Tokens {
    pub stop: CancellationToken,
    pub kill: CancellationToken,
    pub done: CancellationToken,
    pub stop_timeout: Duration,
    pub stop_requests: Arc<AtomicU8>,
}

/// Spawns every node task on `rt`; returns the set to [`supervise`].
pub(crate) fn spawn_nodes(
    tasks: Vec<(usize, Box<dyn NodeTask>, NodeContext)>,
    shared: &Arc<Shared>,
    tokens: &Tokens,
    rt: &tokio::runtime::Handle,
) -> JoinSet<(usize, Ended)> {
    let mut set = JoinSet::new();
    for (index, task, ctx) in tasks {
        let shared = shared.clone();
        let (kill, stop, done) = (tokens.kill.clone(), tokens.stop.clone(), tokens.done.clone());
        let stop_timeout = tokens.stop_timeout;
        let stop_requests = tokens.stop_requests.clone();
        let rt2 = rt.clone();
        // Running from the moment it is spawned, so the supervisor knows it is there.
        shared.nodes[index].set_status(NodeStatus::Running);
        set.spawn_on(
            async move {
                let metrics = shared.nodes[index].clone();
                let result = tokio::select! {
                    r = CatchUnwind::new(task.run(ctx)) => Some(r),
                    _ = kill.cancelled() => None,
                };
                let ended = match result {
                    Some(Ok(Ok(()))) => Ended::Finished { after_stop: stop.is_cancelled() },
                    Some(Ok(Err(e))) => Ended::Failed(shared.redactor.redact(&e.0)),
                    Some(Err(panic)) => Ended::Failed(format!("panicked: {}", shared.redactor.redact(&panic))),
                    None => Ended::Cancelled,
                };
                metrics.own.close_if_live();
                shared.checkpoints.node_ended(index, matches!(ended, Ended::Finished { .. }));
                match &ended {
                    Ended::Finished { after_stop } => {
                        let stopped = *after_stop && cut_short(&shared, index);
                        metrics.set_status(if stopped { NodeStatus::Stopped } else { NodeStatus::Finished });
                    }
                    Ended::Failed(msg) => {
                        metrics.set_status(NodeStatus::Failed);
                        metrics.set_message(msg.clone());
                        tracing::error!(node = %shared.node_ids[index], "node failed: {msg}");
                        // A failed node ends the graph: stop the sources so the rest drains,
                        // and cancel whatever has not drained after the stop timeout.
                        if !stop.is_cancelled() {
                            stop.cancel();
                            arm_kill_timer(&rt2, kill.clone(), done, stop_timeout);
                        }
                    }
                    Ended::Cancelled => {
                        // The task future is dropped: what the node held is lost. Its input
                        // wires count what they still queue as dropped.
                        let lost = shared.held(index);
                        metrics.lost_on_kill.fetch_add(lost, Ordering::AcqRel);
                        metrics.unsent.store(0, Ordering::Release);
                        metrics.set_status(NodeStatus::Cancelled);
                        let why = if stop_requests.load(Ordering::Acquire) >= 2 {
                            "cancelled at once by a second Stop".to_string()
                        } else {
                            format!(
                                "cancelled: the stop timeout ({}) passed before the node drained",
                                humanize(stop_timeout)
                            )
                        };
                        metrics.set_message(if lost == 0 {
                            format!("{why}; it held no events")
                        } else {
                            format!("{why}; {lost} event(s) it held were lost")
                        });
                    }
                }
                (index, ended)
            },
            rt,
        );
    }
    set
}

/// How long cancelled tasks get to end before the run ends without them: a task that never
/// yields to the runtime cannot be cancelled, and must not keep the run from ending.
pub(crate) const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// Waits for every task, then publishes the final snapshot and the outcome.
pub(crate) async fn supervise(
    mut set: JoinSet<(usize, Ended)>,
    shared: Arc<Shared>,
    tokens: Tokens,
    finish_sampler: impl std::future::Future<Output = ()>,
    snap_tx: Arc<watch::Sender<Arc<MetricsSnapshot>>>,
    outcome_tx: watch::Sender<Option<RunOutcome>>,
) {
    let mut failures = Vec::new();
    let mut cancelled = Vec::new();
    let mut running: Vec<bool> = vec![false; shared.node_ids.len()];
    let mut ended_after_stop: Vec<bool> = vec![false; shared.node_ids.len()];
    for i in set_indices(&shared) {
        running[i] = true;
    }
    let grace_over = {
        let kill = tokens.kill.clone();
        async move {
            kill.cancelled().await;
            tokio::time::sleep(CANCEL_GRACE).await;
        }
    };
    tokio::pin!(grace_over);
    loop {
        let joined = tokio::select! {
            j = set.join_next() => j,
            _ = &mut grace_over => break,
        };
        let Some(joined) = joined else { break };
        match joined {
            Ok((i, ended)) => {
                running[i] = false;
                match ended {
                    Ended::Finished { after_stop } => ended_after_stop[i] = after_stop,
                    Ended::Failed(msg) => failures.push((shared.node_ids[i].clone(), msg)),
                    // A node cancelled while it held nothing lost nothing: its status says
                    // cancelled, but the outcome lists only the nodes that lost events.
                    Ended::Cancelled if shared.nodes[i].lost_on_kill.load(Ordering::Acquire) == 0 => {}
                    Ended::Cancelled => {
                        let msg = shared.nodes[i].message().unwrap_or_default();
                        cancelled.push((shared.node_ids[i].clone(), msg));
                    }
                }
            }
            // Only a panic inside the supervisor's own wrapper lands here.
            Err(e) => failures.push(("(supervisor)".to_string(), format!("a node task ended abnormally: {e}"))),
        }
    }
    // Tasks still running after the grace never yield: they are left behind (their thread
    // stays busy until the process ends) and reported; what they held counts as lost.
    for (i, still) in running.iter().enumerate() {
        if *still && shared.nodes[i].status() == NodeStatus::Running {
            let metrics = &shared.nodes[i];
            let lost = shared.held(i);
            metrics.lost_on_kill.fetch_add(lost, Ordering::AcqRel);
            metrics.set_status(NodeStatus::Cancelled);
            let msg = format!(
                "did not respond to cancellation (it never yields to the runtime); left running, {lost} event(s) it held were lost"
            );
            metrics.set_message(msg.clone());
            tracing::error!(node = %shared.node_ids[i], "{msg}");
            cancelled.push((shared.node_ids[i].clone(), msg));
        }
    }
    set.detach_all();
    mark_stopped(&shared, &ended_after_stop);
    tokens.done.cancel();
    finish_sampler.await;
    // The last snapshot is published before the outcome, so whoever sees the outcome sees
    // the totals.
    let mut last = super::sampler::final_snapshot(&shared);
    // The sampler's last sample, taken after every task ended, holds each wire's last peak.
    let sampled = snap_tx.borrow().clone();
    for (w, s) in last.wires.iter_mut().zip(&sampled.wires) {
        w.peak_depth = s.peak_depth;
    }
    snap_tx.send_replace(Arc::new(last));
    failures.extend(cancelled);
    let outcome = if !failures.is_empty() {
        RunOutcome::Failed(failures)
    } else if tokens.stop_requests.load(Ordering::Acquire) > 0 {
        RunOutcome::Stopped
    } else {
        RunOutcome::Completed
    };
    outcome_tx.send_replace(Some(outcome));
}

/// Whether node `i`, ending on its own after the run was told to stop, was cut short: a
/// source (it stopped on the stop), or a node with an upstream node that was stopped, failed
/// or cancelled (its input ended because of the stop, not because the data did).
fn cut_short(shared: &Shared, i: usize) -> bool {
    !shared.has_inputs[i]
        || shared.upstream[i].iter().any(|&u| {
            matches!(shared.nodes[u].status(), NodeStatus::Stopped | NodeStatus::Failed | NodeStatus::Cancelled)
        })
}

/// Once every task has ended: a node that ended after the stop and reads finished is marked
/// stopped when it was cut short. Its upstream may have set its own status only after this
/// node saw its input end, so the marks are carried down the graph until nothing changes.
fn mark_stopped(shared: &Shared, ended_after_stop: &[bool]) {
    loop {
        let mut changed = false;
        for (i, &after_stop) in ended_after_stop.iter().enumerate() {
            if after_stop && shared.nodes[i].status() == NodeStatus::Finished && cut_short(shared, i) {
                shared.nodes[i].set_status(NodeStatus::Stopped);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// Indices of the nodes that were spawned (every node with a built task is Running or done).
fn set_indices(shared: &Shared) -> Vec<usize> {
    (0..shared.node_ids.len()).filter(|&i| shared.nodes[i].status() != NodeStatus::Pending).collect()
}

/// `10 s`, `1.5 s`, `250 ms`.
fn humanize(d: Duration) -> String {
    if d.as_millis() < 1000 { format!("{} ms", d.as_millis()) } else { format!("{} s", d.as_secs_f64()) }
}

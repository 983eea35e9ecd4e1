//! What the coordinator and the nodes share: the last barrier each dead end reported, which
//! dead ends still run, and whether checkpointing was aborted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;

use super::CheckpointId;

/// The checkpoint board of one run.
pub(crate) struct Board {
    /// Per node: the last barrier it reported (dead ends only).
    reported: Vec<AtomicU64>,
    /// Per node: a dead end still running (its report is awaited).
    awaited: Vec<AtomicBool>,
    aborted: AtomicBool,
    /// A report, an end or an abort happened.
    pub(crate) changed: Notify,
    /// A source asked for a checkpoint soon.
    pub(crate) wanted: Notify,
}

impl Board {
    /// A board for nodes where `dead_end[i]` says node `i` has no wired output.
    pub(crate) fn new(dead_end: &[bool]) -> Self {
        Board {
            reported: dead_end.iter().map(|_| AtomicU64::new(0)).collect(),
            awaited: dead_end.iter().map(|d| AtomicBool::new(*d)).collect(),
            aborted: AtomicBool::new(false),
            changed: Notify::new(),
            wanted: Notify::new(),
        }
    }

    /// Node `node` (a dead end) has everything before barrier `n` done.
    pub(crate) fn report(&self, node: usize, n: CheckpointId) {
        if let Some(r) = self.reported.get(node) {
            r.fetch_max(n, Ordering::AcqRel);
            self.changed.notify_one();
        }
    }

    /// Node `node`'s task ended: finished (`ok`: everything it got is done), or failed or
    /// cancelled (what it held is lost, so no checkpoint may complete any more).
    pub(crate) fn node_ended(&self, node: usize, ok: bool) {
        if ok {
            if let Some(a) = self.awaited.get(node) {
                a.store(false, Ordering::Release);
            }
        } else {
            self.aborted.store(true, Ordering::Release);
        }
        self.changed.notify_one();
    }

    /// A node lost events it had taken (a sink that gave up delivering them at a stop): no
    /// checkpoint may complete any more.
    pub(crate) fn abort(&self) {
        self.aborted.store(true, Ordering::Release);
        self.changed.notify_one();
    }

    /// Whether a node failed or was cancelled, or lost events.
    pub(crate) fn aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// The last checkpoint every awaited dead end reported (`u64::MAX` when none is awaited).
    pub(crate) fn complete_through(&self) -> CheckpointId {
        self.awaited
            .iter()
            .zip(&self.reported)
            .filter(|(a, _)| a.load(Ordering::Acquire))
            .map(|(_, r)| r.load(Ordering::Acquire))
            .min()
            .unwrap_or(CheckpointId::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::Board;

    #[test]
    fn a_checkpoint_completes_once_every_running_dead_end_reported_it() {
        let b = Board::new(&[false, true, true]);
        b.report(1, 2);
        assert_eq!(b.complete_through(), 0);
        b.report(2, 1);
        assert_eq!(b.complete_through(), 1);
        b.node_ended(2, true);
        assert_eq!(b.complete_through(), 2, "a finished sink holds nothing back");
        b.node_ended(1, true);
        assert_eq!(b.complete_through(), u64::MAX);
        assert!(!b.aborted());
        b.node_ended(0, false);
        assert!(b.aborted(), "a failed node aborts checkpointing");
    }
}

//! The checkpoint coordinator: one task per run that triggers checkpoints, one at a time,
//! and announces each once every dead end reported it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::board::Board;
use super::{BarrierRoute, CheckpointId, SourceCheckpoints};

/// A source as the coordinator sees it.
pub(crate) struct Source {
    /// Its own barrier route (used when the coordinator injects for it).
    pub route: BarrierRoute,
    /// Whether its kind injects its own barriers.
    pub injects_own: bool,
}

/// The coordinator's channels, made before the nodes are spawned.
pub(crate) struct Coordinator {
    board: Arc<Board>,
    triggers: watch::Sender<CheckpointId>,
    completed: watch::Sender<CheckpointId>,
}

impl Coordinator {
    /// A coordinator for nodes where `dead_end[i]` says node `i` has no wired output.
    pub(crate) fn new(dead_end: &[bool]) -> Self {
        Coordinator {
            board: Arc::new(Board::new(dead_end)),
            triggers: watch::channel(0).0,
            completed: watch::channel(0).0,
        }
    }

    /// The board the nodes report to.
    pub(crate) fn board(&self) -> &Arc<Board> {
        &self.board
    }

    /// What a source is handed.
    pub(crate) fn source_view(&self) -> SourceCheckpoints {
        SourceCheckpoints::new(self.triggers.subscribe(), self.completed.subscribe(), self.board.clone())
    }

    /// Triggers a checkpoint every `interval` (or as soon as a source asks), waits until it
    /// completed, announces it; until `done`, or until a node failed (then the channels
    /// close, so sources stop waiting for completions).
    pub(crate) async fn run(self, sources: Vec<Source>, interval: Duration, done: CancellationToken) {
        let board = self.board.clone();
        let mut n: CheckpointId = 0;
        loop {
            tokio::select! {
                _ = done.cancelled() => return,
                _ = tokio::time::sleep(interval) => {}
                _ = board.wanted.notified() => {}
            }
            if board.aborted() {
                return;
            }
            n += 1;
            self.triggers.send_replace(n);
            for s in sources.iter().filter(|s| !s.injects_own) {
                s.route.pass(n);
            }
            loop {
                if board.aborted() {
                    return;
                }
                if board.complete_through() >= n {
                    break;
                }
                tokio::select! {
                    _ = done.cancelled() => return,
                    _ = board.changed.notified() => {}
                }
            }
            tracing::debug!("checkpoint {n} complete");
            self.completed.send_replace(n);
        }
    }
}

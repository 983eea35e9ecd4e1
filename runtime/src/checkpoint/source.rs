//! A source's side of checkpoints: when to inject a barrier, and which checkpoints completed.

use std::sync::Arc;

use tokio::sync::watch;

use super::CheckpointId;
use super::board::Board;

/// What a source sees of checkpoints. A source kind that injects its own barriers (it owes
/// acknowledgements) waits on [`SourceCheckpoints::signal`] in its loop, passes the
/// barrier on after its current batch ([`crate::io::NodeContext::forward_barrier`]), and
/// acknowledges what it emitted before barrier `n` once [`SourceCheckpoints::completed`]
/// says `n` (or a later one) completed.
pub struct SourceCheckpoints {
    triggers: watch::Receiver<CheckpointId>,
    completed: watch::Receiver<CheckpointId>,
    board: Option<Arc<Board>>,
    /// No checkpoint will complete any more.
    over: bool,
}

/// What [`SourceCheckpoints::signal`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckpointSignal {
    /// Inject this barrier after the current batch.
    Inject(CheckpointId),
    /// Checkpoints up to this one completed: acknowledge what they cover.
    Completed(CheckpointId),
}

impl SourceCheckpoints {
    pub(crate) fn new(
        triggers: watch::Receiver<CheckpointId>,
        completed: watch::Receiver<CheckpointId>,
        board: Arc<Board>,
    ) -> Self {
        SourceCheckpoints { triggers, completed, board: Some(board), over: false }
    }

    /// Waits for the next barrier to inject or the next completion, whichever comes first
    /// (for a source's main loop); never returns once checkpointing is over.
    pub async fn signal(&mut self) -> CheckpointSignal {
        loop {
            tokio::select! {
                r = self.triggers.changed() => match r {
                    Ok(()) => return CheckpointSignal::Inject(*self.triggers.borrow_and_update()),
                    Err(_) => std::future::pending::<()>().await,
                },
                r = self.completed.changed(), if !self.over => match r {
                    Ok(()) => return CheckpointSignal::Completed(*self.completed.borrow_and_update()),
                    Err(_) => self.over = true,
                },
            }
        }
    }

    /// Waits for a checkpoint to complete and returns the latest one completed; `None` once
    /// none will complete any more (a node failed, or the run ended).
    pub async fn completed(&mut self) -> Option<CheckpointId> {
        self.completed.changed().await.ok()?;
        Some(*self.completed.borrow_and_update())
    }

    /// The latest checkpoint completed so far (0: none).
    pub fn completed_now(&self) -> CheckpointId {
        *self.completed.borrow()
    }

    /// Says that this node lost events it had taken without delivering them (a sink that
    /// gives up at a stop while its broker or peer is away): no checkpoint completes any more,
    /// so sources acknowledge nothing more and the broker delivers those events again. Any
    /// node may call it, not only sources.
    pub fn abort(&self) {
        if let Some(b) = &self.board {
            b.abort();
        }
    }

    /// Asks for a checkpoint as soon as the one in flight (if any) completed, instead of
    /// at the next interval: a source holding many unacknowledged messages, or stopping.
    pub fn request_soon(&self) {
        if let Some(b) = &self.board {
            b.wanted.notify_one();
        }
    }
}

impl Default for SourceCheckpoints {
    /// Checkpoints that never trigger or complete (a context outside a run).
    fn default() -> Self {
        let (_, triggers) = watch::channel(0);
        let (_, completed) = watch::channel(0);
        SourceCheckpoints { triggers, completed, board: None, over: true }
    }
}

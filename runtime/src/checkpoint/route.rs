//! Where a node's barriers go: down every wire of every output port (the dead-letter port's
//! too), or, for a node with no wired output, to the coordinator as its report.

use std::sync::Arc;

use super::CheckpointId;
use super::board::Board;
use crate::event::Message;
use crate::wire::WireQueue;

/// A node's barrier route (see [`crate::checkpoint`]).
#[derive(Clone, Default)]
pub struct BarrierRoute {
    node: usize,
    wires: Vec<Arc<WireQueue>>,
    board: Option<Arc<Board>>,
}

impl BarrierRoute {
    pub(crate) fn new(node: usize, wires: Vec<Arc<WireQueue>>, board: Arc<Board>) -> Self {
        BarrierRoute { node, wires, board: Some(board) }
    }

    /// Passes barrier `n` on: queued on every outgoing wire (never blocks, never dropped),
    /// or reported to the coordinator when the node has no wired output. Call it only once
    /// everything the events before `n` produced was emitted (or, in a sink, made durable).
    pub fn pass(&self, n: CheckpointId) {
        if self.wires.is_empty() {
            if let Some(board) = &self.board {
                board.report(self.node, n);
            }
        } else {
            for w in &self.wires {
                w.push_control(Message::Barrier(n));
            }
        }
    }

    /// Whether the node has no wired output (its barriers are reports).
    pub fn is_dead_end(&self) -> bool {
        self.wires.is_empty()
    }
}

//! The acknowledgements a broker source owes, held until a checkpoint covers them.
//!
//! At-least-once end to end: a source keeps the handles of the messages it emitted in an
//! [`AckLedger`]; when it injects checkpoint barrier `n` the handles held so far are sealed
//! under `n`, and once the runtime says `n` completed (every sink wrote what came before
//! it) they are settled. See `streamloom_runtime::checkpoint`.

use std::collections::VecDeque;
use std::future::Future;

use streamloom_runtime::checkpoint::{CheckpointId, CheckpointSignal};
use streamloom_runtime::io::NodeContext;

use streamloom_runtime::metrics::Gauge;

/// Something that acknowledges one broker message (a JetStream acker, an MQTT publish).
pub trait AckHandle: Send {
    /// Sends the acknowledgement; the error is the broker client's, as text.
    fn ack(self) -> impl Future<Output = Result<(), String>> + Send;
}

/// The acknowledgement handles of one batch, in delivery order, counted in the `unacked`
/// gauge from the moment they are held until they are settled.
pub struct PendingAcks<H: AckHandle> {
    handles: Vec<H>,
    unacked: Gauge,
}

impl<H: AckHandle> PendingAcks<H> {
    /// An empty set counting into `unacked`.
    pub fn new(unacked: Gauge) -> Self {
        PendingAcks { handles: Vec::new(), unacked }
    }

    /// Holds one more handle.
    pub fn push(&mut self, handle: H) {
        self.unacked.add(1);
        self.handles.push(handle);
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.handles.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.handles.is_empty()
    }

    /// Acknowledges every held message, in order. A failed acknowledgement is not retried:
    /// the broker redelivers that message later (a duplicate, never a loss). Returns how
    /// many failed, with the last reason.
    pub async fn settle(&mut self) -> Option<(usize, String)> {
        let mut failed = None;
        for h in self.handles.drain(..) {
            self.unacked.sub(1);
            if let Err(e) = h.ack().await {
                let n = failed.as_ref().map_or(0, |(n, _)| *n);
                failed = Some((n + 1, e));
            }
        }
        failed
    }
}

/// The handles a source holds: those emitted since its last barrier, and those sealed under
/// each barrier it injected whose checkpoint has not completed yet.
pub struct AckLedger<H: AckHandle> {
    open: PendingAcks<H>,
    sealed: VecDeque<(CheckpointId, PendingAcks<H>)>,
    unacked: Gauge,
    /// The last barrier injected (0: none yet).
    injected: CheckpointId,
}

impl<H: AckHandle> AckLedger<H> {
    /// An empty ledger counting into `unacked`.
    pub fn new(unacked: Gauge) -> Self {
        AckLedger { open: PendingAcks::new(unacked.clone()), sealed: VecDeque::new(), unacked, injected: 0 }
    }

    /// Holds one more handle (of a message emitted, or about to be, before the next barrier).
    pub fn push(&mut self, handle: H) {
        self.open.push(handle);
    }

    /// Handles held, sealed or not.
    pub fn len(&self) -> usize {
        self.open.len() + self.sealed.iter().map(|(_, p)| p.len()).sum::<usize>()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Barrier `n` was injected: what is held so far waits for checkpoint `n`.
    pub fn seal(&mut self, n: CheckpointId) {
        self.injected = self.injected.max(n);
        if !self.open.is_empty() {
            let held = std::mem::replace(&mut self.open, PendingAcks::new(self.unacked.clone()));
            self.sealed.push_back((n, held));
        }
    }

    /// Checkpoint `through` completed: settles everything sealed under it or earlier.
    /// Returns how many acknowledgements failed, with the last reason.
    pub async fn settle_through(&mut self, through: CheckpointId) -> Option<(usize, String)> {
        let mut failed: Option<(usize, String)> = None;
        while self.sealed.front().is_some_and(|(n, _)| *n <= through) {
            let Some((_, mut acks)) = self.sealed.pop_front() else { break };
            if let Some((k, why)) = acks.settle().await {
                failed = Some((failed.map_or(0, |(n, _)| n) + k, why));
            }
        }
        failed
    }
}

/// Injects checkpoint barrier `n` after what the source emitted so far.
pub fn inject<H: AckHandle>(ctx: &NodeContext, ledger: &mut AckLedger<H>, n: CheckpointId) {
    ledger.seal(n);
    ctx.forward_barrier(n);
}

/// Settles what checkpoint `through` covers, logging failures (`kind`: the node kind).
pub async fn settle<H: AckHandle>(ctx: &NodeContext, ledger: &mut AckLedger<H>, through: CheckpointId, kind: &str) {
    if let Some((failed, why)) = ledger.settle_through(through).await {
        tracing::warn!(node = %ctx.id, "{kind}: {failed} acknowledgement(s) failed (delivered again later): {why}");
    }
}

/// Injects a barrier or settles what a completed checkpoint covers.
pub async fn on_signal<H: AckHandle>(
    ctx: &NodeContext,
    ledger: &mut AckLedger<H>,
    signal: CheckpointSignal,
    kind: &str,
) {
    match signal {
        CheckpointSignal::Inject(n) => inject(ctx, ledger, n),
        CheckpointSignal::Completed(done) => settle(ctx, ledger, done, kind).await,
    }
}

/// A stopping source's last checkpoint. What it emitted since its last barrier is sealed
/// under the next checkpoint id: the source injects no more barriers, and its end of stream
/// (after all its events) stands in for that barrier downstream (an ended input counts as
/// having delivered every barrier, and a node that finished as having reported it). It ends
/// its outputs at once, so windows downstream fire what they hold and release the barriers
/// they kept, then waits until that checkpoint completed and settles. Returns at once when
/// nothing is held; when checkpointing was aborted (a node failed) or the run ended first,
/// nothing more is acknowledged and the broker redelivers.
pub async fn final_checkpoint<H: AckHandle>(ctx: &mut NodeContext, ledger: &mut AckLedger<H>, kind: &str) {
    if ledger.is_empty() {
        return;
    }
    let last = ledger.injected + 1;
    ledger.seal(last);
    ctx.checkpoints.request_soon();
    ctx.end_outputs().await;
    while let Some(done) = ctx.checkpoints.completed().await {
        settle(ctx, ledger, done, kind).await;
        if done >= last {
            return;
        }
    }
    tracing::warn!(node = %ctx.id, "{kind}: the last checkpoint did not complete; {} message(s) stay unacknowledged (delivered again later)", ledger.len());
}

impl<H: AckHandle> Drop for PendingAcks<H> {
    fn drop(&mut self) {
        // Never acknowledged: the broker redelivers them; the gauge forgets them.
        self.unacked.sub(self.handles.len() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::{AckHandle, PendingAcks};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use streamloom_runtime::metrics::NodeMetrics;

    /// Counts acknowledgements; every third fails.
    struct Counting(Arc<AtomicUsize>, usize);

    impl AckHandle for Counting {
        async fn ack(self) -> Result<(), String> {
            self.0.fetch_add(1, Ordering::SeqCst);
            if self.1 % 3 == 2 { Err(format!("ack {} failed", self.1)) } else { Ok(()) }
        }
    }

    #[tokio::test]
    async fn the_unacked_gauge_counts_what_is_held_until_settled_or_dropped() {
        let metrics = NodeMetrics::default();
        let unacked = metrics.own.gauge("unacked");
        let sent = Arc::new(AtomicUsize::new(0));
        let mut acks = PendingAcks::new(unacked.clone());
        for i in 0..6 {
            acks.push(Counting(sent.clone(), i));
        }
        assert_eq!((acks.len(), unacked.get()), (6, 6));
        let failed = acks.settle().await;
        assert_eq!(failed, Some((2, "ack 5 failed".to_string())));
        assert_eq!((sent.load(Ordering::SeqCst), unacked.get()), (6, 0));
        acks.push(Counting(sent.clone(), 0));
        drop(acks);
        assert_eq!(unacked.get(), 0, "dropped unsettled: the broker redelivers, the gauge forgets");
    }

    #[tokio::test]
    async fn a_ledger_settles_only_what_a_completed_checkpoint_covers() {
        let metrics = NodeMetrics::default();
        let unacked = metrics.own.gauge("unacked");
        let sent = Arc::new(AtomicUsize::new(0));
        let mut ledger = super::AckLedger::new(unacked.clone());
        ledger.push(Counting(sent.clone(), 0));
        ledger.seal(1);
        ledger.push(Counting(sent.clone(), 1));
        ledger.seal(2);
        ledger.push(Counting(sent.clone(), 3));
        assert_eq!(ledger.settle_through(1).await, None);
        assert_eq!((sent.load(Ordering::SeqCst), unacked.get(), ledger.len()), (1, 2, 2));
        ledger.seal(3);
        assert_eq!(ledger.settle_through(3).await, None);
        assert_eq!((sent.load(Ordering::SeqCst), unacked.get()), (3, 0));
        assert!(ledger.is_empty());
    }
}

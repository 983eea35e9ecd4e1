//! The acknowledgements a broker source owes for one batch of events.
//!
//! Interim guarantee (at-least-once up to the first wire): a source settles a batch's
//! acknowledgements once the batch was accepted by its output wire. Later, the runtime's
//! checkpoint barriers will decide when to settle instead; only this type has to change
//! hands then.

use std::future::Future;

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
}

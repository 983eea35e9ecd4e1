//! A wire: a bounded single-producer single-consumer queue of messages, counted in events,
//! with a `when_full` policy. Control messages (watermarks, barriers, end) never count against the
//! capacity and are never dropped; consecutive watermarks are merged so they stay bounded.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::event::{Batch, Message};
use crate::graph::WhenFull;
use crate::metrics::{NodeMetrics, WireMetrics};

struct State {
    queue: VecDeque<Message>,
    /// Events queued (control messages not counted).
    depth: usize,
    /// The consumer is gone: pushes are dropped and counted.
    receiver_closed: bool,
    /// The producer sent `End` (or went away).
    ended: bool,
}

/// The shared part of a wire.
pub struct WireQueue {
    state: Mutex<State>,
    capacity: usize,
    when_full: WhenFull,
    /// Wakes the consumer node (shared by all wires into that node).
    data_ready: Arc<Notify>,
    /// Wakes the producer when room appears.
    space: Notify,
    /// Pushed / popped / dropped / max depth.
    pub metrics: Arc<WireMetrics>,
    /// The producer's counters: drops are counted on the wire and on its producer.
    producer: Arc<NodeMetrics>,
}

impl WireQueue {
    /// A wire of `capacity` events (at least 1).
    pub fn new(
        capacity: usize,
        when_full: WhenFull,
        data_ready: Arc<Notify>,
        metrics: Arc<WireMetrics>,
        producer: Arc<NodeMetrics>,
    ) -> Arc<Self> {
        Arc::new(WireQueue {
            state: Mutex::new(State { queue: VecDeque::new(), depth: 0, receiver_closed: false, ended: false }),
            capacity: capacity.max(1),
            when_full,
            data_ready,
            space: Notify::new(),
            metrics,
            producer,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another task panicked mid-update; the queue stays usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The wire's policy when full.
    pub fn when_full(&self) -> WhenFull {
        self.when_full
    }

    /// Events currently queued.
    pub fn depth(&self) -> usize {
        self.lock().depth
    }

    /// Pushes a batch under the wire's policy. With `block` this waits for room and may
    /// deliver the batch in parts (linear in the batch, whatever the capacity); the drop
    /// policies never wait. Events that cannot be delivered (policy, or the consumer is gone)
    /// are counted as dropped on the wire and on `producer`.
    pub async fn push(&self, batch: Batch) {
        self.push_counted(batch, None).await;
    }

    /// [`WireQueue::push`], taking each part the wire accepts (or drops) off `unsent` as it
    /// goes, under the wire's lock: if the pushing task is cancelled while it waits for
    /// room, `unsent` is exactly what this wire never received.
    pub async fn push_counted(&self, batch: Batch, unsent: Option<&AtomicU64>) {
        match self.when_full {
            WhenFull::Block => self.push_blocking(batch, unsent).await,
            WhenFull::DropNewest | WhenFull::DropOldest => {
                let n = batch.len() as u64;
                let mut st = self.lock();
                self.offer(&mut st, batch);
                if let Some(unsent) = unsent {
                    unsent.fetch_sub(n, Ordering::Relaxed);
                }
                drop(st);
                self.data_ready.notify_one();
            }
        }
    }

    /// Pushes the part of `batch` this wire will accept, cloning only that part: all of it
    /// for `block`, at most the room (`drop_newest`) or the capacity (`drop_oldest`) for
    /// the drop policies. For fan-out, where one batch goes down several wires.
    pub async fn push_shared(&self, batch: &Batch) {
        match self.when_full {
            WhenFull::Block => self.push_blocking(batch.clone(), None).await,
            WhenFull::DropNewest | WhenFull::DropOldest => {
                let mut st = self.lock();
                let keep = if st.receiver_closed {
                    0
                } else if self.when_full == WhenFull::DropNewest {
                    self.capacity.saturating_sub(st.depth).min(batch.len())
                } else {
                    self.capacity.min(batch.len())
                };
                let part: Batch = match self.when_full {
                    WhenFull::DropNewest => batch[..keep].to_vec(),
                    _ => batch[batch.len() - keep..].to_vec(),
                };
                self.count_dropped(batch.len() - keep);
                self.metrics.pushed.fetch_add((batch.len() - keep) as u64, Ordering::Relaxed);
                self.offer(&mut st, part);
                drop(st);
                self.data_ready.notify_one();
            }
        }
    }

    /// Applies a drop policy to `batch` under the lock: never waits.
    fn offer(&self, st: &mut State, mut batch: Batch) {
        self.metrics.pushed.fetch_add(batch.len() as u64, Ordering::Relaxed);
        if st.receiver_closed {
            self.count_dropped(batch.len());
            return;
        }
        if self.when_full == WhenFull::DropNewest {
            let room = self.capacity.saturating_sub(st.depth);
            if batch.len() > room {
                self.count_dropped(batch.len() - room);
                batch.truncate(room);
            }
        } else {
            if batch.len() > self.capacity {
                let excess = batch.len() - self.capacity;
                self.count_dropped(excess);
                batch.drain(..excess);
            }
            let overflow = (st.depth + batch.len()).saturating_sub(self.capacity);
            if overflow > 0 {
                let evicted = evict_oldest(st, overflow);
                self.count_dropped(evicted);
            }
        }
        if !batch.is_empty() {
            self.enqueue(st, batch);
        }
    }

    async fn push_blocking(&self, batch: Batch, unsent: Option<&AtomicU64>) {
        let taken = |n: usize| {
            if let Some(unsent) = unsent {
                unsent.fetch_sub(n as u64, Ordering::Relaxed);
            }
        };
        let total = batch.len();
        let mut whole = Some(batch);
        let mut rest: std::vec::IntoIter<crate::event::Event> = Vec::new().into_iter();
        let mut left = total;
        while left > 0 {
            let waited = {
                let mut st = self.lock();
                if st.receiver_closed {
                    self.metrics.pushed.fetch_add(left as u64, Ordering::Relaxed);
                    self.count_dropped(left);
                    taken(left);
                    return;
                }
                let room = self.capacity.saturating_sub(st.depth);
                if room == 0 {
                    true
                } else {
                    let part = match whole.take() {
                        Some(b) if b.len() <= room => b,
                        Some(b) => {
                            rest = b.into_iter();
                            rest.by_ref().take(room).collect()
                        }
                        None => rest.by_ref().take(room).collect(),
                    };
                    left -= part.len();
                    self.metrics.pushed.fetch_add(part.len() as u64, Ordering::Relaxed);
                    taken(part.len());
                    self.enqueue(&mut st, part);
                    false
                }
            };
            if waited {
                self.space.notified().await;
            } else {
                self.data_ready.notify_one();
            }
        }
    }

    fn enqueue(&self, st: &mut State, batch: Batch) {
        let n = batch.len();
        st.depth += n;
        st.queue.push_back(Message::Data(batch));
        self.metrics.max_depth.fetch_max(st.depth as u64, Ordering::Relaxed);
        self.metrics.interval_max_depth.fetch_max(st.depth as u64, Ordering::Relaxed);
    }

    /// Counts `n` events as pushed, popped, received and filtered by `consumer` at once, for
    /// events a source rejected on its behalf (see [`crate::pushdown`]); they never occupy the
    /// queue. Under the wire's lock, so a consumer being cancelled sees all of it or none.
    /// When the consumer is gone, the events are counted as dropped instead.
    pub(crate) fn pass_through(&self, n: u64, consumer: &NodeMetrics) {
        let st = self.lock();
        self.metrics.pushed.fetch_add(n, Ordering::Relaxed);
        if st.receiver_closed {
            self.count_dropped(n as usize);
            return;
        }
        self.metrics.popped.fetch_add(n, Ordering::Relaxed);
        consumer.events_in.fetch_add(n, Ordering::Relaxed);
        consumer.filtered.fetch_add(n, Ordering::Relaxed);
    }

    fn count_dropped(&self, n: usize) {
        self.metrics.dropped.fetch_add(n as u64, Ordering::Relaxed);
        self.producer.dropped.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Queues a control message (never blocks, never dropped, not counted as an event).
    /// Watermarks replace a watermark that is still last in the queue.
    pub fn push_control(&self, msg: Message) {
        {
            let mut st = self.lock();
            if st.ended || st.receiver_closed {
                return;
            }
            match (&msg, st.queue.back_mut()) {
                (Message::Watermark(new), Some(Message::Watermark(old))) => *old = (*old).max(*new),
                (Message::End, _) => {
                    st.ended = true;
                    st.queue.push_back(msg);
                }
                _ => st.queue.push_back(msg),
            }
        }
        self.data_ready.notify_one();
    }

    /// Takes the next message, if any. Never waits.
    pub fn try_pop(&self) -> Option<Message> {
        let msg = {
            let mut st = self.lock();
            let msg = st.queue.pop_front()?;
            if let Message::Data(b) = &msg {
                st.depth -= b.len();
                self.metrics.popped.fetch_add(b.len() as u64, Ordering::Relaxed);
            }
            msg
        };
        self.space.notify_one();
        Some(msg)
    }

    /// Marks the consumer gone: queued and future events are dropped and counted, on the
    /// wire and on its producer.
    pub fn close_receiver(&self) {
        let mut st = self.lock();
        st.receiver_closed = true;
        let queued = st.depth;
        st.depth = 0;
        st.queue.clear();
        self.count_dropped(queued);
        drop(st);
        self.space.notify_one();
    }
}

/// Removes `n` events from the front of the queue, skipping control messages.
fn evict_oldest(st: &mut State, mut n: usize) -> usize {
    let mut evicted = 0;
    for msg in st.queue.iter_mut() {
        if n == 0 {
            break;
        }
        if let Message::Data(b) = msg {
            let k = n.min(b.len());
            b.drain(..k);
            n -= k;
            evicted += k;
        }
    }
    st.queue.retain(|m| !matches!(m, Message::Data(b) if b.is_empty()));
    st.depth -= evicted;
    evicted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use serde_json::json;

    fn batch(range: std::ops::Range<u64>) -> Batch {
        range.map(|i| Event::new(json!(i), 0, i)).collect()
    }

    fn seqs(q: &WireQueue) -> Vec<u64> {
        let mut out = Vec::new();
        while let Some(m) = q.try_pop() {
            if let Message::Data(b) = m {
                out.extend(b.iter().map(|e| e.seq));
            }
        }
        out
    }

    fn queue(cap: usize, policy: WhenFull) -> Arc<WireQueue> {
        WireQueue::new(cap, policy, Arc::new(Notify::new()), Arc::new(WireMetrics::new(cap)), Default::default())
    }

    /// `pushed = popped + dropped + depth`, exactly.
    fn assert_balanced(q: &WireQueue) {
        let m = &q.metrics;
        let (pushed, popped, dropped) =
            (m.pushed.load(Ordering::Relaxed), m.popped.load(Ordering::Relaxed), m.dropped.load(Ordering::Relaxed));
        assert_eq!(pushed, popped + dropped + q.depth() as u64, "pushed {pushed} popped {popped} dropped {dropped}");
    }

    #[tokio::test]
    async fn drop_newest_keeps_the_first_events_and_counts_the_rest() {
        let q = queue(4, WhenFull::DropNewest);
        q.push(batch(0..3)).await;
        q.push(batch(3..6)).await;
        assert_eq!(seqs(&q), vec![0, 1, 2, 3]);
        assert_eq!(q.metrics.dropped.load(Ordering::Relaxed), 2);
        assert_eq!(q.producer.dropped.load(Ordering::Relaxed), 2);
        assert_balanced(&q);
    }

    #[tokio::test]
    async fn drop_oldest_keeps_the_last_events_and_control_messages() {
        let q = queue(4, WhenFull::DropOldest);
        q.push(batch(0..3)).await;
        q.push_control(Message::Watermark(5));
        q.push(batch(3..9)).await;
        let mut msgs = Vec::new();
        while let Some(m) = q.try_pop() {
            msgs.push(m);
        }
        assert_eq!(msgs.len(), 2, "watermark kept, one data batch: {msgs:?}");
        assert_eq!(msgs[0], Message::Watermark(5));
        assert_eq!(q.metrics.dropped.load(Ordering::Relaxed), 5);
        assert_eq!(q.producer.dropped.load(Ordering::Relaxed), 5, "counted once on the producer");
        assert_balanced(&q);
    }

    #[tokio::test]
    async fn block_waits_for_room_and_splits_batches() {
        let q = queue(4, WhenFull::Block);
        let q2 = q.clone();
        let producer = tokio::spawn(async move { q2.push(batch(0..10)).await });
        tokio::task::yield_now().await;
        let mut got = Vec::new();
        while got.len() < 10 {
            assert!(q.depth() <= 4, "depth never exceeds capacity");
            match q.try_pop() {
                Some(Message::Data(b)) => got.extend(b.iter().map(|e| e.seq)),
                _ => tokio::task::yield_now().await,
            }
        }
        producer.await.unwrap();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        assert_eq!(q.metrics.max_depth.load(Ordering::Relaxed), 4);
        assert_eq!(q.metrics.dropped.load(Ordering::Relaxed), 0);
        assert_balanced(&q);
    }

    #[tokio::test]
    async fn a_large_batch_into_a_small_wire_arrives_whole_and_in_order() {
        let q = queue(3, WhenFull::Block);
        let q2 = q.clone();
        let producer = tokio::spawn(async move { q2.push(batch(0..100_000)).await });
        let mut got = Vec::with_capacity(100_000);
        while got.len() < 100_000 {
            match q.try_pop() {
                Some(Message::Data(b)) => got.extend(b.iter().map(|e| e.seq)),
                _ => tokio::task::yield_now().await,
            }
        }
        producer.await.unwrap();
        assert!(got.iter().copied().eq(0..100_000));
        assert_balanced(&q);
    }

    #[tokio::test]
    async fn shared_pushes_clone_only_what_each_policy_keeps() {
        let newest = queue(4, WhenFull::DropNewest);
        let oldest = queue(4, WhenFull::DropOldest);
        let b = batch(0..10);
        newest.push_shared(&b).await;
        oldest.push_shared(&b).await;
        assert_eq!(seqs(&newest), vec![0, 1, 2, 3]);
        assert_eq!(seqs(&oldest), vec![6, 7, 8, 9]);
        for q in [&newest, &oldest] {
            assert_eq!(q.metrics.dropped.load(Ordering::Relaxed), 6);
            assert_eq!(q.producer.dropped.load(Ordering::Relaxed), 6);
            assert_balanced(q);
        }
    }

    #[tokio::test]
    async fn a_closed_receiver_counts_queued_and_later_events_once_on_wire_and_producer() {
        let q = queue(8, WhenFull::Block);
        q.push(batch(0..5)).await;
        q.close_receiver();
        q.push(batch(5..8)).await;
        assert_eq!(q.metrics.dropped.load(Ordering::Relaxed), 8);
        assert_eq!(q.producer.dropped.load(Ordering::Relaxed), 8);
        assert_balanced(&q);
    }

    #[tokio::test]
    async fn watermarks_merge_and_end_is_final() {
        let q = queue(4, WhenFull::Block);
        q.push_control(Message::Watermark(1));
        q.push_control(Message::Watermark(3));
        q.push_control(Message::End);
        q.push_control(Message::Watermark(9));
        assert_eq!(q.try_pop(), Some(Message::Watermark(3)));
        assert_eq!(q.try_pop(), Some(Message::End));
        assert_eq!(q.try_pop(), None);
    }

    #[tokio::test]
    async fn drop_policies_never_drop_or_count_a_barrier() {
        for policy in [WhenFull::DropOldest, WhenFull::DropNewest] {
            let q = queue(2, policy);
            q.push(batch(0..2)).await;
            q.push_control(Message::Barrier(1));
            q.push(batch(2..6)).await;
            q.push_control(Message::Barrier(2));
            let mut barriers = Vec::new();
            while let Some(m) = q.try_pop() {
                if let Message::Barrier(n) = m {
                    barriers.push(n);
                }
            }
            assert_eq!(barriers, vec![1, 2], "{policy:?}");
            assert_eq!(q.metrics.pushed.load(Ordering::Relaxed), 6, "barriers are not events");
            assert_balanced(&q);
        }
    }
}

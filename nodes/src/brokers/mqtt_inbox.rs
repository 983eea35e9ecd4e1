//! Between rumqttc's event loop and an `mqtt_source`. The event loop must keep being polled:
//! polling is what sends the keep-alive pings and the node's acknowledgements. If the loop
//! waited for a node whose output wire is full, the broker would take the silent client for
//! dead after 1.5 keep-alive intervals and drop the connection. So the loop does not wait
//! for the node: each received publish is put in the inbox, and a forwarding task hands the
//! publishes, in order, to the node's bounded channel, waiting there as long as the node
//! needs.
//!
//! What the inbox holds is bounded:
//! - QoS 1 and 2: up to [`HELD_BYTES`] (payload, topic and a fixed overhead per message;
//!   always at least one message). The brokers' in-flight windows cannot be relied on for a
//!   bound (mosquitto's is not applied to these clients), so when the inbox is full the event
//!   loop waits for room: the socket is not read and TCP holds the broker back. Nothing is
//!   dropped.
//! - QoS 0: at most `limit` messages wait; the broker keeps sending at its own pace, so what
//!   does not fit is dropped and counted as `dropped` (QoS 0 is at-most-once). QoS 0 messages
//!   still waiting when the node stops are counted the same way.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use rumqttc::{Publish, QoS};
use streamloom_runtime::metrics::NodeMetrics;
use tokio::sync::{Notify, mpsc};

/// A publish as received, with the connection it came on (counted from 1 by the event loop):
/// its packet id means something on that connection only.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// Which connection of the client it arrived on.
    pub connection: u64,
    /// The publish.
    pub publish: Publish,
}

/// The memory a waiting publish stands for: payload, topic and bookkeeping.
fn weight(p: &Publish) -> usize {
    p.payload.len() + p.topic.len() + 64
}

/// Most bytes ([`weight`]) of QoS 1/2 publishes waiting in an inbox.
pub const HELD_BYTES: usize = 8 << 20;

/// The receiving end of the event loop. Dropping it ends the forwarding task once what waits
/// was handed over.
pub struct Inbox {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Something was queued (or the inbox is gone).
    ready: Notify,
    /// Something was taken off the queue.
    room: Notify,
    /// Most QoS 0 publishes waiting.
    limit: usize,
    metrics: Arc<NodeMetrics>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Delivery>,
    /// Weight ([`weight`]) of the QoS 1/2 publishes in `queue`.
    held_bytes: usize,
    /// QoS 0 publishes in `queue`.
    qos0: usize,
    /// The inbox was dropped: forward what waits, then end.
    inbox_gone: bool,
    /// The node no longer takes publishes: whatever comes is lost.
    node_gone: bool,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts the QoS 0 publishes among `lost` as dropped (QoS 1/2 ones are delivered again).
    fn count_lost<'a>(&self, lost: impl IntoIterator<Item = &'a Delivery>) {
        let n = lost.into_iter().filter(|d| d.publish.qos == QoS::AtMostOnce).count();
        if n > 0 {
            self.metrics.count_dropped_inside(n);
        }
    }
}

impl Inbox {
    /// An inbox forwarding to `node`, holding at most `limit` QoS 0 publishes; the forwarding
    /// task runs on the current runtime until the node or the inbox is gone.
    pub fn start(node: mpsc::Sender<Delivery>, limit: usize, metrics: Arc<NodeMetrics>) -> Inbox {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            ready: Notify::new(),
            room: Notify::new(),
            limit: limit.max(1),
            metrics,
        });
        tokio::spawn(forward(shared.clone(), node));
        Inbox { shared }
    }

    /// Takes a publish: a QoS 0 one at once (dropped and counted when `limit` wait), a QoS 1/2
    /// one once the inbox has room for it. `false` once the node no longer takes publishes.
    pub async fn push(&self, p: Delivery) -> bool {
        loop {
            let room = self.shared.room.notified();
            match self.try_push(&p) {
                Pushed::Queued => {
                    self.shared.ready.notify_one();
                    return true;
                }
                Pushed::Dropped => {
                    self.shared.metrics.count_dropped_inside(1);
                    return true;
                }
                Pushed::Full => room.await,
                Pushed::NodeGone => {
                    self.shared.count_lost([&p]);
                    return false;
                }
            }
        }
    }

    /// Queues a copy of `p` if there is room (a `Delivery` is cheap to clone: its payload is
    /// shared), or says why not.
    fn try_push(&self, p: &Delivery) -> Pushed {
        let mut state = self.shared.state();
        if state.node_gone {
            return Pushed::NodeGone;
        }
        if p.publish.qos == QoS::AtMostOnce {
            if state.qos0 >= self.shared.limit {
                return Pushed::Dropped;
            }
            state.qos0 += 1;
        } else if state.held_bytes > 0 && state.held_bytes + weight(&p.publish) > HELD_BYTES {
            return Pushed::Full;
        } else {
            state.held_bytes += weight(&p.publish);
        }
        state.queue.push_back(p.clone());
        Pushed::Queued
    }
}

/// What [`Inbox::try_push`] did.
enum Pushed {
    Queued,
    /// A QoS 0 publish with `limit` waiting.
    Dropped,
    /// A QoS 1/2 publish with no room: wait.
    Full,
    NodeGone,
}

impl Drop for Inbox {
    fn drop(&mut self) {
        self.shared.state().inbox_gone = true;
        self.shared.ready.notify_one();
    }
}

/// Hands the waiting publishes to the node in order, waiting on its channel.
async fn forward(shared: Arc<Shared>, node: mpsc::Sender<Delivery>) {
    loop {
        let next = {
            let mut state = shared.state();
            match state.queue.pop_front() {
                Some(p) => {
                    if p.publish.qos == QoS::AtMostOnce {
                        state.qos0 -= 1;
                    } else {
                        state.held_bytes -= weight(&p.publish);
                    }
                    Some(p)
                }
                None if state.inbox_gone => return,
                None => None,
            }
        };
        let Some(p) = next else {
            shared.ready.notified().await;
            continue;
        };
        shared.room.notify_one();
        if let Err(mpsc::error::SendError(p)) = node.send(p).await {
            // Under the lock with the flag, so no publish slips in uncounted.
            let rest: Vec<Delivery> = {
                let mut state = shared.state();
                state.node_gone = true;
                state.held_bytes = 0;
                state.qos0 = 0;
                state.queue.drain(..).collect()
            };
            shared.room.notify_one();
            shared.count_lost(std::iter::once(&p).chain(&rest));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::sync::atomic::Ordering;

    fn publish(qos: QoS, n: u8) -> Delivery {
        Delivery { connection: 1, publish: Publish::new("t", qos, vec![n]) }
    }

    #[tokio::test]
    async fn publishes_reach_the_node_in_order_and_qos0_beyond_the_limit_is_counted() {
        let metrics = Arc::new(NodeMetrics::default());
        let (tx, mut rx) = mpsc::channel(1);
        let inbox = Inbox::start(tx, 2, metrics.clone());
        // The node takes nothing yet: 0 sits in the channel, 1 with the forwarding task
        // waiting for room, 2 and 3 in the inbox (its limit); 4 and 5 do not fit.
        for n in 0..6 {
            assert!(inbox.push(publish(QoS::AtMostOnce, n)).await);
            tokio::task::yield_now().await;
        }
        assert!(inbox.push(publish(QoS::AtLeastOnce, 9)).await, "QoS 1 is never dropped");
        let mut got = Vec::new();
        while got.len() < 5 {
            got.push(rx.recv().await.unwrap().publish.payload[0]);
        }
        assert_eq!(got, vec![0, 1, 2, 3, 9], "in order; the QoS 0 ones past the limit dropped");
        assert_eq!(metrics.dropped_inside.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn qos0_waiting_when_the_node_stops_is_counted_and_the_task_ends() {
        let metrics = Arc::new(NodeMetrics::default());
        let (tx, rx) = mpsc::channel(1);
        let inbox = Inbox::start(tx, 10, metrics.clone());
        for n in 0..4 {
            inbox.push(publish(QoS::AtMostOnce, n)).await;
        }
        inbox.push(publish(QoS::AtLeastOnce, 4)).await;
        tokio::task::yield_now().await;
        drop(rx);
        // The node is gone: a push soon finds it so.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        let mut late = 1;
        while inbox.push(publish(QoS::AtMostOnce, 5)).await {
            assert!(tokio::time::Instant::now() < deadline, "the inbox sees that the node is gone");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            late += 1;
        }
        // 0 went into the channel and was lost with it (the node counts what its channel
        // held); 1 (refused by the closed channel), 2, 3 and every late 5 are QoS 0 lost here;
        // 4 is QoS 1, delivered again by the broker.
        assert_eq!(metrics.dropped_inside.load(Ordering::Relaxed), 3 + late);
    }

    #[tokio::test]
    async fn qos1_waits_for_room_beyond_the_held_bytes_and_is_never_dropped() {
        let metrics = Arc::new(NodeMetrics::default());
        let (tx, mut rx) = mpsc::channel(1);
        let inbox = Inbox::start(tx, 1, metrics.clone());
        let big =
            |n: u8| Delivery { connection: 1, publish: Publish::new("t", QoS::AtLeastOnce, vec![n; (3 << 20) - 64]) };
        // One in the channel, one with the forwarding task, then 6 MiB held: the next waits.
        for n in 0..4 {
            assert!(inbox.push(big(n)).await);
            tokio::task::yield_now().await;
        }
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(100), inbox.push(big(4))).await;
        assert!(waiting.is_err(), "a fifth 3 MiB publish waits for room");
        assert_eq!(rx.recv().await.unwrap().publish.payload[0], 0);
        let (pushed, _) = tokio::join!(inbox.push(big(4)), async {
            tokio::task::yield_now().await;
        });
        assert!(pushed);
        let mut got = Vec::new();
        while got.len() < 4 {
            got.push(rx.recv().await.unwrap().publish.payload[0]);
        }
        assert_eq!(got, vec![1, 2, 3, 4], "in order, none dropped");
        assert_eq!(metrics.dropped_inside.load(Ordering::Relaxed), 0);
    }
}

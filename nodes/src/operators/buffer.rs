//! `buffer`: an explicit queue node with its own capacity, `when_full` policy and an optional
//! rate limit, for users who want backpressure visible as a node on the canvas.
//!
//! Two loops share the queue: one takes events from the input (waiting for room under
//! `block`, dropping and counting under the drop policies), the other sends them on, paced by
//! a token bucket when a rate limit is set. A graceful stop keeps the pace: the queue drains
//! until the stop timeout, and what is still queued then is counted as `lost_on_kill`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use streamloom_runtime::checkpoint::CheckpointId;
use streamloom_runtime::io::{NodeContext, Received};
use streamloom_runtime::metrics::NodeMetrics;
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};
use streamloom_runtime::{Batch, Event, WhenFull};
use tokio::sync::Notify;

/// Config of `buffer`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BufferConfig {
    /// Events the buffer holds.
    pub capacity: usize,
    /// What happens when it is full.
    #[serde(default)]
    pub when_full: WhenFull,
    /// Most events per second sent on; absent: as fast as downstream takes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<f64>,
}

impl Default for BufferConfig {
    fn default() -> Self {
        BufferConfig { capacity: 10_000, when_full: WhenFull::Block, rate_limit: None }
    }
}

/// The `buffer` kind.
pub struct Buffer;

impl TypedNodeKind for Buffer {
    type Config = BufferConfig;
    const NAME: &'static str = "buffer";
    const DESCRIPTION: &'static str = "A queue node with capacity, when-full policy and optional rate limit";
    const CATEGORY: Category = Category::Operator;
    const EXAMPLE: &'static str = "Protect a slow sink: `capacity: 10000`, `when_full: \"drop_oldest\"`, `rate_limit: 500` passes at most 500 events per second and, when 10,000 are waiting, drops the oldest (counted as dropped) instead of slowing the source.";

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::integer(
                "capacity",
                1,
                100_000_000,
                "Events the buffer queues (its `held` may be up to a batch more: events on their way in or out)",
            ),
            ParamSpec::choice(
                "when_full",
                &["block", "drop_oldest", "drop_newest"],
                "block: hold upstream back; drop_oldest / drop_newest: drop (counted)",
            ),
            ParamSpec::optional(
                "rate_limit",
                ParamKind::Float { min: 0.001, max: 1e9 },
                "Most events per second sent on, on average; a tenth of a second's worth may go at once",
            ),
        ]
    }

    fn ports(_config: &BufferConfig) -> Ports {
        Ports {
            inputs: vec![PortSpec::input("in", PortType::Any, "Events to queue")],
            outputs: vec![PortSpec::output("out", PortType::Any, "Queued events, in order")],
        }
    }

    fn validate(config: &BufferConfig) -> Vec<ConfigProblem> {
        let mut p = Vec::new();
        if config.capacity == 0 {
            p.push(ConfigProblem::field("capacity", "capacity must be at least 1"));
        }
        if let Some(r) = config.rate_limit
            && !(r.is_finite() && r > 0.0)
        {
            p.push(ConfigProblem::field("rate_limit", "rate_limit must be a positive number"));
        }
        p
    }

    fn build(config: BufferConfig, _ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(config, ctx)) }))
    }
}

enum Item {
    Event(Event),
    Watermark(i64),
    /// A checkpoint barrier: passed on once every event before it was sent or dropped.
    Barrier(CheckpointId),
}

/// The queue: events and the watermarks between them, in arrival order. Watermarks that
/// arrive back to back are merged (the largest wins), so there is at most one between two
/// events: the queue holds at most `2 * capacity + 1` items whatever the input does.
struct Queue {
    items: VecDeque<Item>,
    events: usize,
    /// A watermark whose preceding events have all left (sent or dropped by `drop_oldest`):
    /// it is due before everything still queued.
    front_watermark: Option<i64>,
    /// A barrier whose preceding events have all left: due before everything still queued.
    front_barrier: Option<CheckpointId>,
    ended: bool,
}

impl Queue {
    fn push_watermark(&mut self, t: i64) {
        match self.items.back_mut() {
            Some(Item::Watermark(w)) => *w = (*w).max(t),
            _ => self.items.push_back(Item::Watermark(t)),
        }
    }

    fn push_event(&mut self, ev: Event) {
        self.items.push_back(Item::Event(ev));
        self.events += 1;
    }

    /// Removes the oldest event; the watermarks before it merge into `front_watermark`.
    /// Amortized O(1): every item is popped once.
    fn drop_oldest(&mut self) -> bool {
        while let Some(item) = self.items.pop_front() {
            match item {
                Item::Event(_) => {
                    self.events -= 1;
                    return true;
                }
                Item::Watermark(t) => self.front_watermark = Some(self.front_watermark.map_or(t, |w| w.max(t))),
                Item::Barrier(n) => self.front_barrier = Some(self.front_barrier.map_or(n, |b| b.max(n))),
            }
        }
        false
    }

    /// Takes up to `budget` events, and the largest watermark met on the way; stops after a
    /// barrier (due once the batch was sent).
    fn take(&mut self, budget: usize) -> (Batch, Option<i64>, Option<CheckpointId>) {
        let mut batch = Vec::with_capacity(budget.min(self.events));
        let mut wm = self.front_watermark.take();
        if let Some(n) = self.front_barrier.take() {
            return (batch, wm, Some(n));
        }
        while batch.len() < budget {
            match self.items.pop_front() {
                Some(Item::Event(e)) => {
                    self.events -= 1;
                    batch.push(e);
                }
                Some(Item::Watermark(t)) => wm = Some(wm.map_or(t, |w| w.max(t))),
                Some(Item::Barrier(n)) => return (batch, wm, Some(n)),
                None => break,
            }
        }
        (batch, wm, None)
    }

    fn is_empty(&self) -> bool {
        self.items.is_empty() && self.front_watermark.is_none() && self.front_barrier.is_none()
    }
}

struct Shared {
    queue: Mutex<Queue>,
    /// Something was queued (or the input ended).
    filled: Notify,
    /// Room appeared.
    drained: Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Accounting: every event received is held (received, unresolved) until it is sent on
/// (`passed`) or dropped by the buffer's own policy (`dropped_inside`, also in `dropped`,
/// counted once); held is 0 once the node finished.
async fn run(config: BufferConfig, ctx: NodeContext) -> Result<(), NodeError> {
    let NodeContext { mut inputs, mut outputs, metrics, batch_size, .. } = ctx;
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            items: VecDeque::new(),
            events: 0,
            front_watermark: None,
            front_barrier: None,
            ended: false,
        }),
        filled: Notify::new(),
        drained: Notify::new(),
    });
    let capacity = config.capacity.max(1);
    // Barriers go through the queue, behind the events before them.
    inputs.deliver_barriers();
    let route = inputs.barrier_route();

    let intake = {
        let shared = shared.clone();
        let metrics = metrics.clone();
        async move {
            while let Some(msg) = inputs.recv().await {
                match msg {
                    Received::Watermark(t) => shared.lock().push_watermark(t),
                    Received::Timer(_) => {}
                    Received::Barrier(n) => {
                        shared.lock().items.push_back(Item::Barrier(n));
                        shared.filled.notify_one();
                    }
                    Received::Data { batch, .. } => {
                        for ev in batch {
                            let mut pending = Some(ev);
                            while let Some(ev) = pending.take() {
                                let must_wait = {
                                    let mut q = shared.lock();
                                    if q.events < capacity {
                                        q.push_event(ev);
                                        false
                                    } else {
                                        match config.when_full {
                                            WhenFull::DropNewest => {
                                                count_dropped(&metrics);
                                                false
                                            }
                                            WhenFull::DropOldest => {
                                                if q.drop_oldest() {
                                                    count_dropped(&metrics);
                                                }
                                                q.push_event(ev);
                                                false
                                            }
                                            WhenFull::Block => {
                                                pending = Some(ev);
                                                true
                                            }
                                        }
                                    }
                                };
                                if must_wait {
                                    shared.filled.notify_one();
                                    shared.drained.notified().await;
                                }
                            }
                        }
                    }
                }
                shared.filled.notify_one();
            }
            shared.lock().ended = true;
            shared.filled.notify_one();
        }
    };

    let output = async move {
        let Some(out) = outputs.get_mut(0) else { return };
        let mut bucket = config.rate_limit.map(TokenBucket::new);
        loop {
            let budget = bucket.as_mut().map_or(batch_size, |b| b.available().clamp(1, batch_size));
            let (batch, watermark, barrier, ended) = {
                let mut q = shared.lock();
                let (batch, wm, barrier) = q.take(budget);
                (batch, wm, barrier, q.ended && q.is_empty())
            };
            if !batch.is_empty() {
                shared.drained.notify_one();
                if let Some(b) = bucket.as_mut() {
                    b.wait_for(batch.len()).await;
                }
                let n = batch.len();
                out.send(batch).await;
                metrics.count_passed(n);
            }
            if let Some(t) = watermark {
                out.send_watermark(t);
            }
            if let Some(n) = barrier {
                route.pass(n);
            }
            if ended {
                break;
            }
            let empty = shared.lock().is_empty();
            if empty {
                shared.filled.notified().await;
            }
        }
    };

    tokio::join!(intake, output);
    Ok(())
}

fn count_dropped(metrics: &NodeMetrics) {
    metrics.count_dropped_inside(1);
}

/// Paces sending to `rate` events per second, with bursts of up to a tenth of a second.
struct TokenBucket {
    rate: f64,
    tokens: f64,
    burst: f64,
    last: tokio::time::Instant,
}

impl TokenBucket {
    fn new(rate: f64) -> Self {
        let burst = (rate / 10.0).max(1.0);
        TokenBucket { rate, tokens: burst, burst, last: tokio::time::Instant::now() }
    }

    fn refill(&mut self) {
        let now = tokio::time::Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
    }

    fn available(&mut self) -> usize {
        self.refill();
        self.tokens.max(1.0) as usize
    }

    /// Waits until `n` events may go. A graceful stop keeps the pace (the limit protects what
    /// is downstream); the wait ends with the task when the stop timeout cancels it, and what
    /// the buffer held is then counted as `lost_on_kill`.
    async fn wait_for(&mut self, n: usize) {
        self.refill();
        let deficit = n as f64 - self.tokens;
        if deficit > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(deficit / self.rate)).await;
            self.refill();
        }
        self.tokens -= n as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> Queue {
        Queue { items: VecDeque::new(), events: 0, front_watermark: None, front_barrier: None, ended: false }
    }

    fn ev(i: u64) -> Event {
        Event::new(serde_json::Value::from(i), 0, i)
    }

    #[test]
    fn watermarks_between_the_same_events_merge_into_the_largest() {
        let mut q = queue();
        q.push_event(ev(0));
        for t in 0..100_000 {
            q.push_watermark(t);
        }
        q.push_event(ev(1));
        q.push_watermark(5);
        q.push_watermark(3);
        assert_eq!(q.items.len(), 4, "event, one watermark, event, one watermark");
        let (batch, wm, _) = q.take(10);
        assert_eq!(batch.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!(wm, Some(99_999), "the largest watermark taken on the way");
        assert!(q.is_empty());
    }

    #[test]
    fn drop_oldest_under_a_watermark_per_event_stays_bounded_and_keeps_the_newest() {
        // A full queue where every event is followed by a watermark: each drop must not
        // leave watermarks behind to pile up at the front (they merge into one).
        let capacity = 1000;
        let mut q = queue();
        let mut dropped = 0;
        for i in 0..200_000u64 {
            if q.events == capacity && q.drop_oldest() {
                dropped += 1;
            }
            q.push_event(ev(i));
            q.push_watermark(i as i64);
            assert!(q.items.len() <= 2 * capacity + 1, "{} items after {i} events", q.items.len());
        }
        assert_eq!(dropped, 200_000 - capacity as u64);
        // The watermark before the last dropped event; the one after it now leads the queue.
        assert_eq!(q.front_watermark, Some(200_000 - capacity as i64 - 2));
        assert!(matches!(q.items.front(), Some(Item::Watermark(t)) if *t == 200_000 - capacity as i64 - 1));
        let (batch, wm, _) = q.take(usize::MAX);
        assert_eq!(batch.first().map(|e| e.seq), Some(200_000 - capacity as u64));
        assert_eq!(batch.len(), capacity);
        assert_eq!(wm, Some(199_999));
    }
}

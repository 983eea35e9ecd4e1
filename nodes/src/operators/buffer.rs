//! `buffer`: an explicit queue node with its own capacity, `when_full` policy and an optional
//! rate limit, for users who want backpressure visible as a node on the canvas.
//!
//! Two loops share the queue: one takes events from the input (waiting for room under
//! `block`, dropping and counting under the drop policies), the other sends them on, paced by
//! a token bucket when a rate limit is set.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use streamloom_runtime::io::{NodeContext, Received};
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};
use streamloom_runtime::{Event, WhenFull};
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

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::integer("capacity", 1, 100_000_000, "Events the buffer holds"),
            ParamSpec::choice(
                "when_full",
                &["block", "drop_oldest", "drop_newest"],
                "block: hold upstream back; drop_oldest / drop_newest: drop (counted)",
            ),
            ParamSpec::optional(
                "rate_limit",
                ParamKind::Float { min: 0.001, max: 1e9 },
                "Most events per second sent on",
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
}

struct Queue {
    items: VecDeque<Item>,
    events: usize,
    ended: bool,
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

async fn run(config: BufferConfig, ctx: NodeContext) -> Result<(), NodeError> {
    let NodeContext { mut inputs, mut outputs, metrics, batch_size, .. } = ctx;
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue { items: VecDeque::new(), events: 0, ended: false }),
        filled: Notify::new(),
        drained: Notify::new(),
    });
    let capacity = config.capacity.max(1);

    let intake = {
        let shared = shared.clone();
        let metrics = metrics.clone();
        async move {
            while let Some(msg) = inputs.recv().await {
                match msg {
                    Received::Watermark(t) => shared.lock().items.push_back(Item::Watermark(t)),
                    Received::Data { batch, .. } => {
                        for ev in batch {
                            let mut pending = Some(ev);
                            while let Some(ev) = pending.take() {
                                let must_wait = {
                                    let mut q = shared.lock();
                                    if q.events < capacity {
                                        q.items.push_back(Item::Event(ev));
                                        q.events += 1;
                                        false
                                    } else {
                                        match config.when_full {
                                            WhenFull::DropNewest => {
                                                metrics.count_dropped_inside(1);
                                                false
                                            }
                                            WhenFull::DropOldest => {
                                                if let Some(i) =
                                                    q.items.iter().position(|it| matches!(it, Item::Event(_)))
                                                {
                                                    q.items.remove(i);
                                                    q.events -= 1;
                                                    metrics.count_dropped_inside(1);
                                                }
                                                q.items.push_back(Item::Event(ev));
                                                q.events += 1;
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
        let metrics = metrics.clone();
        let mut bucket = config.rate_limit.map(TokenBucket::new);
        loop {
            let budget = bucket.as_mut().map_or(batch_size, |b| b.available().clamp(1, batch_size));
            let (batch, watermarks, ended) = {
                let mut q = shared.lock();
                let mut batch = Vec::new();
                let mut wms = Vec::new();
                while batch.len() < budget {
                    match q.items.pop_front() {
                        Some(Item::Event(e)) => {
                            q.events -= 1;
                            batch.push(e);
                        }
                        Some(Item::Watermark(t)) => wms.push(t),
                        None => break,
                    }
                }
                (batch, wms, q.ended && q.items.is_empty())
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
            for t in watermarks {
                out.send_watermark(t);
            }
            if ended {
                break;
            }
            let empty = shared.lock().items.is_empty();
            if empty {
                shared.filled.notified().await;
            }
        }
    };

    tokio::join!(intake, output);
    Ok(())
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

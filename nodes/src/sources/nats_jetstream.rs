//! `nats_source`'s JetStream mode: a durable pull consumer read in fetches of at most
//! `max_in_flight` messages, acknowledged once a checkpoint covering them completed
//! (at-least-once end to end), errors retried with backoff until a stop.

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use futures_util::{FutureExt, StreamExt};
use streamloom_runtime::Batch;
use streamloom_runtime::io::NodeContext;
use streamloom_runtime::metrics::{Gauge, NodeState};
use streamloom_runtime::registry::NodeError;

use super::nats_source::{Settings, take};
use crate::brokers::acks::{AckHandle, AckLedger, final_checkpoint, on_signal};
use crate::brokers::reconnect_delay;

/// The source's gauges besides `reconnects`.
pub(super) struct Gauges {
    pub(super) in_flight: Gauge,
    pub(super) unacked: Gauge,
}

/// A JetStream message's acknowledgement.
struct JsAck(async_nats::jetstream::message::Acker);

impl AckHandle for JsAck {
    async fn ack(self) -> Result<(), String> {
        self.0.ack().await.map_err(|e| e.to_string())
    }
}

/// JetStream: fetches at most `max_in_flight` messages at a time from the durable pull
/// consumer, emits them, then acknowledges them; errors (a broker away) are retried with
/// backoff until a stop.
pub(super) async fn jetstream(
    s: &Settings,
    stream: &str,
    client: async_nats::Client,
    ctx: &mut NodeContext,
    gauges: &Gauges,
) -> Result<(), NodeError> {
    let js = async_nats::jetstream::new(client);
    let mut seq = 0u64;
    let mut failures = 0usize;
    let mut ledger = AckLedger::new(gauges.unacked.clone());
    loop {
        let why = match consume(s, stream, &js, ctx, gauges, &mut ledger, &mut seq, &mut failures).await? {
            None => {
                final_checkpoint(ctx, &mut ledger, "nats_source").await;
                return Ok(());
            }
            Some(why) => why,
        };
        failures += 1;
        let delay = reconnect_delay(failures, s.backoff.0, s.backoff.1);
        tracing::warn!(node = %ctx.id, "nats_source: {why}; next try in {delay:?}");
        // Over "connected" and over its own earlier "degraded" (each retry says when the next
        // is), never over the connection's own status (reconnecting: the broker is away).
        // "Retry", not "attempt": the connection's attempts are counted apart.
        let line = format!("{why}; retry {failures}, next in {:.1} s", delay.as_secs_f64());
        ctx.metrics.own.set_if(&[NodeState::Connected, NodeState::Degraded], NodeState::Degraded, Some(line));
        let until = tokio::time::Instant::now() + delay;
        loop {
            // Checkpoints go on while the broker is away (acknowledgements wait for it).
            tokio::select! {
                biased;
                _ = ctx.control.stop.cancelled() => {
                    final_checkpoint(ctx, &mut ledger, "nats_source").await;
                    return Ok(());
                }
                _ = tokio::time::sleep_until(until) => break,
                signal = ctx.checkpoints.signal() => on_signal(ctx, &mut ledger, signal, "nats_source").await,
            }
        }
    }
}

/// Binds the consumer and reads until a stop (`None`) or an error (its text), injecting
/// checkpoint barriers between batches and settling what completed checkpoints cover.
#[allow(clippy::too_many_arguments)]
async fn consume(
    s: &Settings,
    stream: &str,
    js: &async_nats::jetstream::Context,
    ctx: &mut NodeContext,
    gauges: &Gauges,
    ledger: &mut AckLedger<JsAck>,
    seq: &mut u64,
    failures: &mut usize,
) -> Result<Option<String>, NodeError> {
    let consumer = match checkpointing(ctx, ledger, bind(s, stream, js)).await {
        None => return Ok(None),
        Some(Ok(c)) => c,
        Some(Err(e)) => return Ok(Some(e)),
    };
    // Bound: the stream is there now; a status that says it was not is stale.
    ctx.metrics.own.set_if(&[NodeState::Degraded], NodeState::Connected, None);
    let max = usize::try_from(s.config.max_in_flight).unwrap_or(usize::MAX);
    loop {
        let request = consumer.batch().max_messages(max).expires(Duration::from_secs(1)).messages();
        let mut messages = match checkpointing(ctx, ledger, request).await {
            None => return Ok(None),
            Some(Ok(m)) => m,
            Some(Err(e)) => return Ok(Some(format!("fetch: {e}"))),
        };
        loop {
            ctx.control.wait_if_paused().await;
            let first = tokio::select! {
                biased;
                _ = ctx.control.stop.cancelled() => return Ok(None),
                signal = ctx.checkpoints.signal() => {
                    on_signal(ctx, ledger, signal, "nats_source").await;
                    continue;
                }
                m = messages.next() => m,
            };
            let first = match first {
                None => break,
                Some(Err(e)) => return Ok(Some(format!("fetch: {e}"))),
                Some(Ok(m)) => m,
            };
            *failures = 0;
            let mut batch: Batch = Vec::new();
            let mut n = 0u64;
            let mut next = Some(first);
            while let Some(m) = next.take() {
                let (message, acker) = m.split();
                n += 1;
                gauges.in_flight.add(1);
                take(&message.payload, s.config.format, ctx, seq, &mut batch);
                ledger.push(JsAck(acker));
                if batch.len() < ctx.batch_size
                    && let Some(Some(Ok(m))) = messages.next().now_or_never()
                {
                    next = Some(m);
                }
            }
            let emitted = ctx.emit(0, batch).await;
            gauges.in_flight.sub(n);
            emitted?;
            // The server delivers no more than `max_in_flight` unacknowledged: ask for a
            // checkpoint before the window closes.
            if ledger.len() >= max / 2 {
                ctx.checkpoints.request_soon();
            }
        }
    }
}

/// Awaits `work` while checkpoints go on (barriers injected, completions settled), so a
/// broker that answers slowly holds back no checkpoint of the rest of the graph; `None` on
/// a stop.
async fn checkpointing<T>(
    ctx: &mut NodeContext,
    ledger: &mut AckLedger<JsAck>,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            biased;
            _ = ctx.control.stop.cancelled() => return None,
            signal = ctx.checkpoints.signal() => on_signal(ctx, ledger, signal, "nats_source").await,
            r = &mut work => return Some(r),
        }
    }
}

/// Gets (or creates) the durable pull consumer.
async fn bind(s: &Settings, stream: &str, js: &async_nats::jetstream::Context) -> Result<PullConsumer, String> {
    let st = js.get_stream(stream).await.map_err(|e| format!("stream `{stream}`: {e}"))?;
    let durable = s.config.durable.trim();
    let config = pull::Config {
        durable_name: Some(durable.to_string()),
        deliver_policy: s.deliver,
        ack_policy: AckPolicy::Explicit,
        ack_wait: s.ack_wait,
        max_ack_pending: i64::try_from(s.config.max_in_flight).unwrap_or(i64::MAX),
        filter_subject: s.config.subject.trim().to_string(),
        ..Default::default()
    };
    st.get_or_create_consumer(durable, config).await.map_err(|e| format!("consumer `{durable}`: {e}"))
}

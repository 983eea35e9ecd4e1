//! `nats_source`: subscribes to a NATS subject (wildcards, optional queue group), or reads a
//! JetStream stream through a durable pull consumer. Each message becomes an event (JSON,
//! text, or binary as base64); a malformed one goes to `errors` with its raw text.
//!
//! Core NATS is at-most-once: while the output wire is full, the client's bounded buffer
//! (`max_in_flight` messages) fills and the client drops what does not fit (a slow
//! consumer: the node says `degraded`). Every message the connection received and the node
//! never took (dropped as a slow consumer, or still buffered when the run stopped) is counted
//! as `dropped` when the subscription ends, so `out + errors + dropped` equals what the server
//! delivered.
//!
//! JetStream is at-least-once end to end: at most `max_in_flight` messages are delivered
//! and unacknowledged at a time; a message is acknowledged once a checkpoint barrier the
//! node injected after it completed, that is once every sink it (or what it became)
//! reached wrote it durably, or it was filtered out, dead-lettered or dropped by a wire's
//! policy (see `streamloom_runtime::checkpoint`). A message never acknowledged (the
//! process died, the connection broke) is redelivered after `ack_wait`, so duplicates are
//! possible, loss is not. On a stop the node injects a last barrier, ends its output and
//! waits for that checkpoint before it acknowledges and ends.

use std::time::Duration;

use async_nats::jetstream::consumer::DeliverPolicy;
use futures_util::{FutureExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use streamloom_runtime::checkpoint::CheckpointSignal;
use streamloom_runtime::io::NodeContext;
use streamloom_runtime::metrics::NodeState;
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};
use streamloom_runtime::{Batch, Event};

use super::nats_jetstream::{Gauges, jetstream};
use crate::brokers::nats_conn::{NatsFields, NatsSettings, connect, nats_params};
use crate::ws::duration_field;
use crate::ws::message::{MessageFormat, decode};

/// Where a JetStream consumer starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deliver {
    /// Every message the stream holds.
    #[default]
    All,
    /// Only messages published after the consumer was created.
    New,
    /// Messages from `start_time` on.
    ByStartTime,
}

/// Config of `nats_source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatsSourceConfig {
    /// `nats://host:port` URLs.
    pub servers: Vec<String>,
    /// Subject, wildcards allowed (`events.>`); with a stream, the consumer's filter (may be empty).
    pub subject: String,
    /// Queue group: several subscribers in one group share the messages (core NATS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_group: Option<String>,
    /// json, text or binary.
    pub format: MessageFormat,
    /// JetStream stream to read; none: core NATS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Durable consumer name (JetStream); several nodes with one name share the messages.
    pub durable: String,
    /// Where the consumer starts when it is created: all, new or by_start_time.
    pub deliver: Deliver,
    /// RFC 3339 time for `by_start_time`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// JetStream: most messages delivered and not yet acknowledged. Core NATS: most
    /// messages the client holds for the node before it drops more (slow consumer, counted as dropped).
    pub max_in_flight: u64,
    /// A message unacknowledged this long is delivered again.
    pub ack_wait: String,
    /// Token (`${ENV}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// User name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Password (`${ENV}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Require TLS.
    pub tls: bool,
    /// CA certificates (PEM) trusted besides the system's roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Longest wait for one connection attempt.
    pub connect_timeout: String,
    /// First reconnect delay.
    pub backoff_initial: String,
    /// Largest reconnect delay.
    pub backoff_max: String,
}

impl Default for NatsSourceConfig {
    fn default() -> Self {
        NatsSourceConfig {
            servers: vec!["nats://127.0.0.1:4222".into()],
            subject: "events.>".into(),
            queue_group: None,
            format: MessageFormat::Json,
            stream: None,
            durable: "streamloom".into(),
            deliver: Deliver::All,
            start_time: None,
            max_in_flight: 256,
            ack_wait: "30s".into(),
            token: None,
            user: None,
            password: None,
            tls: false,
            ca_file: None,
            connect_timeout: "5s".into(),
            backoff_initial: "500ms".into(),
            backoff_max: "30s".into(),
        }
    }
}

impl NatsSourceConfig {
    fn connection(&self) -> NatsFields<'_> {
        NatsFields {
            servers: &self.servers,
            token: self.token.as_deref(),
            user: self.user.as_deref(),
            password: self.password.as_deref(),
            ca_file: self.ca_file.as_deref(),
            tls: self.tls,
            connect_timeout: &self.connect_timeout,
            backoff_initial: &self.backoff_initial,
            backoff_max: &self.backoff_max,
        }
    }

    fn deliver_policy(&self) -> Result<DeliverPolicy, ConfigProblem> {
        Ok(match self.deliver {
            Deliver::All => DeliverPolicy::All,
            Deliver::New => DeliverPolicy::New,
            Deliver::ByStartTime => {
                let Some(text) = self.start_time.as_deref().filter(|t| !t.trim().is_empty()) else {
                    return Err(ConfigProblem::field("start_time", "by_start_time needs a start_time (RFC 3339)"));
                };
                let t = humantime::parse_rfc3339_weak(text.trim())
                    .map_err(|e| ConfigProblem::field("start_time", format!("not an RFC 3339 time: {e}")))?;
                DeliverPolicy::ByStartTime { start_time: time::OffsetDateTime::from(t) }
            }
        })
    }
}

/// The `nats_source` kind.
pub struct NatsSource;

impl TypedNodeKind for NatsSource {
    type Config = NatsSourceConfig;
    const NAME: &'static str = "nats_source";
    const DESCRIPTION: &'static str = "NATS subscriber (subject wildcards, queue group) or JetStream durable pull consumer; malformed messages go to errors";
    const CATEGORY: Category = Category::Source;
    const INJECTS_BARRIERS: bool = true;
    const EXAMPLE: &'static str = "Read a JetStream stream with several instances sharing the work: `servers: [\"nats://127.0.0.1:4222\"]`, `stream: \"ORDERS\"`, `subject: \"orders.>\"`, `durable: \"billing\"`, `max_in_flight: 256`; each message is acknowledged once every sink wrote it (a checkpoint completed: at-least-once end to end). Without `stream` it is a plain subscription; `queue_group` splits messages across subscribers.";

    fn params() -> Vec<ParamSpec> {
        let mut p = nats_params();
        p.splice(
            1..1,
            [
                ParamSpec::new("subject", ParamKind::Text, "Subject; wildcards * and > allowed; with a stream, the consumer's filter"),
                ParamSpec::optional("queue_group", ParamKind::Text, "Queue group (core NATS): subscribers in one group share the messages"),
                ParamSpec::choice("format", &["json", "text", "binary"], "json: each message is a JSON value; text: a string; binary: base64 text"),
                ParamSpec::optional("stream", ParamKind::Text, "JetStream stream; empty: core NATS (at-most-once)"),
                ParamSpec::new("durable", ParamKind::Text, "Durable pull consumer name (JetStream); nodes sharing it share the messages"),
                ParamSpec::choice("deliver", &["all", "new", "by_start_time"], "Where a new consumer starts"),
                ParamSpec::optional("start_time", ParamKind::Text, "RFC 3339 start for by_start_time"),
                ParamSpec::integer("max_in_flight", 1, 1 << 20, "JetStream: most messages delivered and not yet acknowledged; core: most held before the client drops (slow consumer, counted as dropped)"),
                ParamSpec::new("ack_wait", ParamKind::Text, "An unacknowledged message is delivered again after this long"),
            ],
        );
        p
    }

    fn ports(config: &NatsSourceConfig) -> Ports {
        let ty = match config.format {
            MessageFormat::Json => PortType::Any,
            MessageFormat::Text | MessageFormat::Binary => PortType::Text,
        };
        Ports { inputs: vec![], outputs: vec![PortSpec::output("out", ty, "One event per message")] }
    }

    fn validate(config: &NatsSourceConfig) -> Vec<ConfigProblem> {
        let mut p = config.connection().validate();
        if config.subject.trim().is_empty() && config.stream.is_none() {
            p.push(ConfigProblem::field("subject", "name a subject (events.>)"));
        }
        if config.stream.is_some() {
            if config.durable.trim().is_empty() || config.durable.contains(['.', '*', '>', ' ']) {
                p.push(ConfigProblem::field("durable", "a consumer name without spaces, dots or wildcards"));
            }
            if config.queue_group.is_some() {
                p.push(ConfigProblem::field(
                    "queue_group",
                    "JetStream shares work through the durable consumer; drop the queue group",
                ));
            }
            p.extend(config.deliver_policy().err());
        }
        if config.max_in_flight == 0 {
            p.push(ConfigProblem::field("max_in_flight", "must be at least 1"));
        }
        match duration_field("ack_wait", &config.ack_wait) {
            Ok(d) if d.is_zero() => p.push(ConfigProblem::field("ack_wait", "must be longer than 0")),
            Ok(_) => {}
            Err(e) => p.push(e),
        }
        p
    }

    fn build(config: NatsSourceConfig, ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let settings = Settings {
            connection: config.connection().build(ctx)?,
            deliver: config.deliver_policy()?,
            ack_wait: duration_field("ack_wait", &config.ack_wait)?,
            backoff: (
                duration_field("backoff_initial", &config.backoff_initial)?,
                duration_field("backoff_max", &config.backoff_max)?,
            ),
            config,
        };
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(settings, ctx)) }))
    }
}

/// What a running `nats_source` works with.
pub(super) struct Settings {
    pub(super) config: NatsSourceConfig,
    connection: NatsSettings,
    pub(super) deliver: DeliverPolicy,
    pub(super) ack_wait: Duration,
    pub(super) backoff: (Duration, Duration),
}

async fn run(s: Settings, mut ctx: NodeContext) -> Result<(), NodeError> {
    let capacity = usize::try_from(s.config.max_in_flight).unwrap_or(usize::MAX).max(ctx.batch_size);
    let client = match connect(&s.connection, ctx.metrics.clone(), capacity).await {
        Ok(c) => c,
        Err(e) => {
            ctx.metrics.own.set(NodeState::Failed, e.clone());
            return Err(NodeError(format!("nats_source `{}`: {e}", ctx.id)));
        }
    };
    let gauges = Gauges { in_flight: ctx.metrics.own.gauge("in_flight"), unacked: ctx.metrics.own.gauge("unacked") };
    let result = match s.config.stream.clone() {
        Some(stream) => jetstream(&s, &stream, client.clone(), &mut ctx, &gauges).await,
        None => core(&s, &client, &mut ctx).await,
    };
    // The last acknowledgements go out first (draining alone may drop them); then it
    // unsubscribes and closes. A server that is away is not waited for.
    let _ = tokio::time::timeout(Duration::from_secs(1), client.flush()).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), client.drain()).await;
    result
}

/// Core NATS: a subscription read in batches of what the client already holds.
async fn core(s: &Settings, client: &async_nats::Client, ctx: &mut NodeContext) -> Result<(), NodeError> {
    let subject = s.config.subject.trim().to_string();
    let subscribed = match &s.config.queue_group {
        Some(q) => client.queue_subscribe(subject, q.clone()).await,
        None => client.subscribe(subject).await,
    };
    let mut sub = subscribed.map_err(|e| NodeError(format!("nats_source `{}`: subscribe: {e}", ctx.id)))?;
    let mut seq = 0u64;
    let result = loop {
        ctx.control.wait_if_paused().await;
        let first = tokio::select! {
            biased;
            _ = ctx.control.stop.cancelled() => break Ok(()),
            // Nothing to acknowledge: barriers only keep checkpoints going downstream.
            signal = ctx.checkpoints.signal() => {
                if let CheckpointSignal::Inject(n) = signal {
                    ctx.forward_barrier(n);
                }
                continue;
            }
            m = sub.next() => m,
        };
        let Some(first) = first else { break Ok(()) };
        let mut batch: Batch = Vec::new();
        take(&first.payload, s.config.format, ctx, &mut seq, &mut batch);
        while batch.len() < ctx.batch_size {
            match sub.next().now_or_never() {
                Some(Some(m)) => take(&m.payload, s.config.format, ctx, &mut seq, &mut batch),
                _ => break,
            }
        }
        if let Err(e) = ctx.emit(0, batch).await {
            break Err(e);
        }
    };
    count_client_drops(client, sub, seq, ctx).await;
    result
}

/// Counts as `dropped` every message the connection received for the subscription and the
/// node never took: those the client dropped as a slow consumer and those still buffered.
/// Unsubscribing and then flushing (a round trip) makes the count final: the server sends
/// nothing after it answered the flush. When the server does not answer within 500 ms (or
/// is away), a message it still sends after that is not counted.
async fn count_client_drops(
    client: &async_nats::Client,
    mut sub: async_nats::Subscriber,
    taken: u64,
    ctx: &NodeContext,
) {
    // With the server away nothing more can arrive: no round trip to wait for.
    if client.connection_state() == async_nats::connection::State::Connected {
        let _ = tokio::time::timeout(Duration::from_millis(500), sub.unsubscribe()).await;
        let _ = tokio::time::timeout(Duration::from_millis(500), client.flush()).await;
    }
    let received = client.statistics().in_messages.load(std::sync::atomic::Ordering::Acquire);
    let dropped = received.saturating_sub(taken);
    if dropped > 0 {
        ctx.metrics.count_dropped_inside(usize::try_from(dropped).unwrap_or(usize::MAX));
        tracing::warn!(node = %ctx.id, "nats_source: {dropped} message(s) received and never taken (slow consumer or still buffered at the end), counted as dropped");
    }
}

/// Turns one message's payload into an event (or a dead letter with the raw text).
pub(super) fn take(payload: &[u8], format: MessageFormat, ctx: &mut NodeContext, seq: &mut u64, batch: &mut Batch) {
    let n = *seq;
    *seq += 1;
    match decode(payload, format) {
        Ok((value, _)) => batch.push(Event::new(value, ctx.index, n)),
        Err((raw, reason)) => {
            ctx.errors.report_value(Value::String(raw), format!("message {n}: {reason}"), ctx.index, n)
        }
    }
}

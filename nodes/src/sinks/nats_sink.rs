//! `nats_sink`: publishes each event as JSON to a subject made from its fields
//! (`events.{user}`). With `jetstream` on, every publish waits for the stream's
//! acknowledgement and carries a deduplication id (`Nats-Msg-Id`: a field's value, or the
//! run, the event's source and its sequence number), so a publish retried after a broken
//! connection is stored once, and a second run of the graph is not mistaken for retries.
//! An event whose subject cannot be made, or whose message is larger than the server's
//! `max_payload`, goes to `errors`.
//!
//! While the broker is away the client's bounded buffer fills and the sink stops taking
//! input, so the wire's policy decides. Accounting: a JetStream publish is `passed` once the
//! stream acknowledged it. Core NATS has no acknowledgement: a core publish is `passed` once
//! the client flushed it to its connection, not while it waits in the client's buffer (with
//! no server it would wait there and go with the client). A connection that breaks with
//! written data the server never read loses it, as core NATS does (at most once); JetStream
//! is the delivery to count on. At a stop, what was not passed is dropped inside.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishAckFuture;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use streamloom_runtime::Event;
use streamloom_runtime::io::{NodeContext, Received};
use streamloom_runtime::metrics::{Gauge, NodeState};
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};

use crate::brokers::nats_conn::{NatsFields, NatsSettings, connect, nats_params};
use crate::brokers::reconnect_delay;
use crate::brokers::template::Template;
use crate::ws::duration_field;

/// Config of `nats_sink`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatsSinkConfig {
    /// `nats://host:port` URLs.
    pub servers: Vec<String>,
    /// Subject template: `{field}` is replaced by the event's field.
    pub subject: String,
    /// Publish to JetStream and wait for its acknowledgement.
    pub jetstream: bool,
    /// Field holding the deduplication id; none: the run, the event's source and its sequence
    /// number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msg_id_field: Option<String>,
    /// Longest wait for a JetStream acknowledgement before the publish is retried.
    pub ack_timeout: String,
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

impl Default for NatsSinkConfig {
    fn default() -> Self {
        NatsSinkConfig {
            servers: vec!["nats://127.0.0.1:4222".into()],
            subject: "events.{user}".into(),
            jetstream: false,
            msg_id_field: None,
            ack_timeout: "5s".into(),
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

impl NatsSinkConfig {
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
}

/// The `nats_sink` kind.
pub struct NatsSink;

impl TypedNodeKind for NatsSink {
    type Config = NatsSinkConfig;
    const NAME: &'static str = "nats_sink";
    const DESCRIPTION: &'static str = "Publishes events as JSON to NATS subjects made from their fields; JetStream publishes are acknowledged and deduplicated";
    const CATEGORY: Category = Category::Sink;
    const EXAMPLE: &'static str = "Route events by user into a JetStream stream: `servers: [\"nats://127.0.0.1:4222\"]`, `subject: \"events.{user}\"`, `jetstream: true`, `msg_id_field: \"id\"`; each publish waits for the stream's acknowledgement, a retried one is stored once, and an event without `user` goes to `errors`.";

    fn params() -> Vec<ParamSpec> {
        let mut p = nats_params();
        p.splice(
            1..1,
            [
                ParamSpec::new("subject", ParamKind::Text, "Subject template: {field} is replaced by the event's field (events.{user})"),
                ParamSpec::new("jetstream", ParamKind::Bool, "Publish to JetStream and wait for the stream's acknowledgement"),
                ParamSpec::optional(
                    "msg_id_field",
                    ParamKind::Text,
                    "Field with the deduplication id (Nats-Msg-Id); empty: the run, the event's source and its sequence number (a publish retried in the same run is stored once; another run is never taken for a duplicate)",
                ),
                ParamSpec::new("ack_timeout", ParamKind::Text, "Longest wait for a JetStream acknowledgement before retrying"),
            ],
        );
        p
    }

    fn ports(_config: &NatsSinkConfig) -> Ports {
        Ports { inputs: vec![PortSpec::input("in", PortType::Any, "Events to publish")], outputs: vec![] }
    }

    fn validate(config: &NatsSinkConfig) -> Vec<ConfigProblem> {
        let mut p = config.connection().validate();
        if let Err(e) = Template::parse(config.subject.trim()) {
            p.push(ConfigProblem::field("subject", format!("subject template: {e}")));
        }
        if config.msg_id_field.is_some() && !config.jetstream {
            p.push(ConfigProblem::field(
                "msg_id_field",
                "deduplication ids apply to JetStream publishes; turn jetstream on",
            ));
        }
        match duration_field("ack_timeout", &config.ack_timeout) {
            Ok(d) if d.is_zero() => p.push(ConfigProblem::field("ack_timeout", "must be longer than 0")),
            Ok(_) => {}
            Err(e) => p.push(e),
        }
        p
    }

    fn build(config: NatsSinkConfig, ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let settings = Settings {
            connection: config.connection().build(ctx)?,
            subject: Template::parse(config.subject.trim()).map_err(|e| ConfigProblem::field("subject", e))?,
            ack_timeout: duration_field("ack_timeout", &config.ack_timeout)?,
            backoff: (
                duration_field("backoff_initial", &config.backoff_initial)?,
                duration_field("backoff_max", &config.backoff_max)?,
            ),
            run_tag: run_tag(),
            config,
        };
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(settings, ctx)) }))
    }
}

struct Settings {
    config: NatsSinkConfig,
    connection: NatsSettings,
    subject: Template,
    ack_timeout: Duration,
    backoff: (Duration, Duration),
    /// Unique to this run of the graph: the default deduplication id starts with it, so a
    /// publish retried within the run is stored once and a later run is never taken for one.
    run_tag: String,
}

/// A tag unique to one run of one process: the start time in nanoseconds and the process id.
fn run_tag() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{nanos:x}.{:x}", std::process::id())
}

/// One event ready to publish.
struct Outgoing {
    subject: String,
    payload: Bytes,
    msg_id: String,
}

async fn run(s: Settings, mut ctx: NodeContext) -> Result<(), NodeError> {
    let client = match connect(&s.connection, ctx.metrics.clone(), ctx.batch_size).await {
        Ok(c) => c,
        Err(e) => {
            ctx.metrics.own.set(NodeState::Failed, e.clone());
            return Err(NodeError(format!("nats_sink `{}`: {e}", ctx.id)));
        }
    };
    let js = async_nats::jetstream::new(client.clone());
    let in_flight = ctx.metrics.own.gauge("in_flight");
    // JetStream publishes are acknowledged batch by batch before the next is read; a
    // checkpoint barrier waits for core publishes to be flushed to the server.
    ctx.inputs.deliver_barriers();
    while let Some(r) = ctx.inputs.recv().await {
        let batch = match r {
            Received::Data { batch, .. } => batch,
            Received::Barrier(n) => {
                if !s.config.jetstream && !flushed(&s, &client, &ctx).await {
                    // Stopping with publishes the server never confirmed: no checkpoint may
                    // say they are done.
                    ctx.checkpoints.abort();
                }
                ctx.forward_barrier(n);
                continue;
            }
            Received::Watermark(_) | Received::Timer(_) => continue,
        };
        let mut out = Vec::with_capacity(batch.len());
        let max_payload = client.max_payload();
        for ev in batch {
            match prepare(&s, &ev, max_payload) {
                Ok(o) => out.push(o),
                Err(why) => ctx.errors.report(ev, why),
            }
        }
        ctx.errors.flush().await;
        let n = out.len();
        in_flight.add(n as u64);
        let published = if s.config.jetstream {
            publish_js(&s, &client, &js, out, &ctx, &in_flight).await
        } else {
            publish_core(&s, &client, out, &ctx, &in_flight).await
        };
        in_flight.set(0);
        if let Err(left) = published {
            return drop_rest(left, &mut ctx).await;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), client.flush()).await;
    Ok(())
}

/// The subject, payload and deduplication id of an event, or why it has none (among the
/// reasons: a message larger than the server's `max_payload`, which no retry would change;
/// `max_payload` 0: not known yet).
fn prepare(s: &Settings, ev: &Event, max_payload: usize) -> Result<Outgoing, String> {
    let subject = s.subject.render(&ev.value).map_err(|e| format!("subject: {e}"))?;
    if subject.is_empty() || subject.contains([' ', '*', '>']) || subject.starts_with('.') || subject.ends_with('.') {
        return Err(format!("subject `{subject}` is not a valid subject to publish to"));
    }
    let msg_id = match &s.config.msg_id_field {
        Some(f) => match ev.value.get(f) {
            Some(serde_json::Value::String(v)) => v.clone(),
            Some(v @ serde_json::Value::Number(_)) => v.to_string(),
            _ => return Err(format!("msg_id_field: the event has no string or number field `{f}`")),
        },
        None => format!("{}-{}-{}", s.run_tag, ev.source, ev.seq),
    };
    let payload = Bytes::from(serde_json::to_vec(&ev.value).map_err(|e| format!("payload: {e}"))?);
    // A JetStream publish carries the id in a header.
    let size = payload.len() + if s.config.jetstream { msg_id.len() + 32 } else { 0 };
    if max_payload > 0 && size > max_payload {
        return Err(format!("message of {size} bytes, over the server's max_payload ({max_payload} bytes)"));
    }
    Ok(Outgoing { subject, payload, msg_id })
}

/// How long a stop with no connection waits for what was handed to the client before it to
/// be flushed (core) or acknowledged (JetStream).
const STOP_FLUSH: Duration = Duration::from_millis(500);

/// Core publish: into the client's bounded buffer (waits while it is full), then a flush of
/// the connection; counted passed once flushed. `Err` holds the count not flushed at a stop.
async fn publish_core(
    s: &Settings,
    client: &async_nats::Client,
    out: Vec<Outgoing>,
    ctx: &NodeContext,
    in_flight: &Gauge,
) -> Result<(), usize> {
    let total = out.len();
    for (i, o) in out.into_iter().enumerate() {
        let failed = tokio::select! {
            biased;
            // A stop drains what is in flight to a server that is there; with none, what is
            // left is dropped at once.
            _ = ctx.control.stop.cancelled(), if !connected(client) => true,
            r = client.publish(o.subject, o.payload) => r.map_err(|e| tracing::warn!(node = %ctx.id, "nats_sink: publish: {e}")).is_err(),
        };
        if failed {
            // What went out before: passed if one quick flush writes it.
            let confirmed = i > 0 && matches!(tokio::time::timeout(STOP_FLUSH, client.flush()).await, Ok(Ok(())));
            let passed = if confirmed { i } else { 0 };
            ctx.metrics.count_passed(passed);
            return Err(total - passed);
        }
    }
    // Queued in the client is not sent: with no server it stays there.
    if !flushed(s, client, ctx).await {
        return Err(total);
    }
    ctx.metrics.count_passed(total);
    in_flight.sub(total as u64);
    Ok(())
}

/// JetStream publish: all of the batch, then every acknowledgement (within `ack_timeout`
/// for the whole batch); a publish that fails or is not acknowledged in time is sent again (same id: stored once) after a backoff.
async fn publish_js(
    s: &Settings,
    client: &async_nats::Client,
    js: &async_nats::jetstream::Context,
    out: Vec<Outgoing>,
    ctx: &NodeContext,
    in_flight: &Gauge,
) -> Result<(), usize> {
    let mut waiting = publish_all(client, js, out, ctx, in_flight).await?;
    let mut attempt = 0usize;
    loop {
        let mut retry = Vec::new();
        let mut last_error = String::new();
        // One deadline for the batch: acknowledgements lost with a connection cost one
        // timeout, not one each.
        let deadline = tokio::time::Instant::now() + s.ack_timeout;
        for (o, fut) in waiting {
            let acked = match fut {
                Ok(f) => match tokio::time::timeout_at(deadline, f.into_future()).await {
                    Ok(Ok(_)) => true,
                    Ok(Err(e)) => {
                        last_error = e.to_string();
                        false
                    }
                    Err(_) => {
                        last_error = "no acknowledgement in time".into();
                        false
                    }
                },
                Err(e) => {
                    last_error = e;
                    false
                }
            };
            if acked {
                ctx.metrics.count_passed(1);
                in_flight.sub(1);
            } else {
                retry.push(o);
            }
        }
        if retry.is_empty() {
            if attempt > 0 {
                ctx.metrics.own.set(NodeState::Connected, "");
            }
            return Ok(());
        }
        attempt += 1;
        let delay = reconnect_delay(attempt, s.backoff.0, s.backoff.1);
        let why = format!("{} publish(es) not acknowledged ({last_error})", retry.len());
        tracing::warn!(node = %ctx.id, "nats_sink: {why}; again in {delay:?}");
        // Without a connection the status stays the connection's own (reconnecting, and
        // why): nothing was refused, nothing reached the server.
        if connected(client) {
            ctx.metrics
                .own
                .set(NodeState::Degraded, format!("{why}; retry {attempt}, next in {:.1} s", delay.as_secs_f64()));
        }
        if !ctx.control.sleep_until(tokio::time::Instant::now() + delay).await {
            return Err(retry.len());
        }
        waiting = publish_all(client, js, retry, ctx, in_flight).await?;
    }
}

/// Whether the client is connected to a server now.
fn connected(client: &async_nats::Client) -> bool {
    client.connection_state() == async_nats::connection::State::Connected
}

/// A publish handed to the client, with its acknowledgement to wait for or why it was not sent.
type Handed = (Outgoing, Result<PublishAckFuture, String>);

/// Hands every publish to the client. Without a connection each is raced against a stop (the
/// client's queue fills and a publish waits for its timeout); with one, a stop drains. At a
/// stop, what was handed and is acknowledged within [`STOP_FLUSH`] is passed; `Err` holds the
/// count not passed.
async fn publish_all(
    client: &async_nats::Client,
    js: &async_nats::jetstream::Context,
    out: Vec<Outgoing>,
    ctx: &NodeContext,
    in_flight: &Gauge,
) -> Result<Vec<Handed>, usize> {
    let total = out.len();
    let mut handed = Vec::with_capacity(total);
    for o in out {
        let fut = tokio::select! {
            biased;
            _ = ctx.control.stop.cancelled(), if !connected(client) => None,
            fut = publish_one(js, &o) => Some(fut),
        };
        match fut {
            Some(fut) => handed.push((o, fut)),
            None => {
                let deadline = tokio::time::Instant::now() + STOP_FLUSH;
                let mut passed = 0;
                for (_, fut) in handed {
                    if let Ok(f) = fut
                        && let Ok(Ok(_)) = tokio::time::timeout_at(deadline, f.into_future()).await
                    {
                        passed += 1;
                    }
                }
                ctx.metrics.count_passed(passed);
                in_flight.sub(passed as u64);
                return Err(total - passed);
            }
        }
    }
    Ok(handed)
}

/// Hands one JetStream publish (with its deduplication id) to the client: its acknowledgement
/// to wait for, or why it could not be sent.
async fn publish_one(js: &async_nats::jetstream::Context, o: &Outgoing) -> Result<PublishAckFuture, String> {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", o.msg_id.as_str());
    js.publish_with_headers(o.subject.clone(), headers, o.payload.clone()).await.map_err(|e| format!("not sent: {e}"))
}

/// Core NATS: waits until everything published so far is flushed to the connection, trying
/// again with backoff while the server is away. `false`: the node stopped first.
async fn flushed(s: &Settings, client: &async_nats::Client, ctx: &NodeContext) -> bool {
    let mut attempt = 0;
    loop {
        if let Ok(Ok(())) = tokio::time::timeout(s.ack_timeout, client.flush()).await {
            return true;
        }
        attempt += 1;
        let delay = reconnect_delay(attempt, s.backoff.0, s.backoff.1);
        if ctx.control.stopping() || !ctx.control.sleep_until(tokio::time::Instant::now() + delay).await {
            return false;
        }
    }
}

/// A stop before everything was published: the rest is dropped inside and counted.
async fn drop_rest(left: usize, ctx: &mut NodeContext) -> Result<(), NodeError> {
    let mut dropped = left;
    // Undelivered: no checkpoint may say they are done.
    ctx.checkpoints.abort();
    ctx.metrics.count_dropped_inside(left);
    while let Some(r) = ctx.inputs.recv().await {
        if let Received::Data { batch, .. } = r {
            dropped += batch.len();
            ctx.metrics.count_dropped_inside(batch.len());
        }
    }
    // Closed, not failed: the run was stopped, and the node ends as it was told to.
    ctx.metrics.own.set(NodeState::Closed, format!("stopped before publishing; {dropped} event(s) not delivered"));
    Ok(())
}

//! `mqtt_source`: subscribes to MQTT topic filters (wildcards `+` `#`, shared subscriptions
//! `$share/group/filter` to split messages across several instances) at QoS 0, 1 or 2.
//! Each message becomes an event (JSON, text, or binary as base64); a malformed one goes to
//! `errors` with its raw text. With `clean_session` off and a fixed `client_id` the broker
//! keeps the session while the node is away and delivers the QoS 1/2 messages it queued.
//!
//! QoS 1/2 is at-least-once end to end: a message is acknowledged (PUBACK / PUBREC) once a
//! checkpoint barrier the node injected after it completed (every sink it reached wrote
//! it; see `streamloom_runtime::checkpoint`); one not acknowledged when the connection
//! breaks is delivered again. The broker's in-flight window (mosquitto:
//! `max_inflight_messages`) and `max_in_flight` bound what waits unacknowledged: the node
//! stops reading at `max_in_flight` and asks for a checkpoint as soon as it has nothing
//! more to read or holds that many. The client keeps talking to the broker all the while
//! (keep-alive pings, acknowledgements), however long the output wire stays full.
//!
//! QoS 0 is at-most-once: while the wire is full, up to `max_in_flight` more messages wait in
//! the client; what does not fit, and what still waits when the node stops, is dropped and
//! counted as `dropped`.

use futures_util::FutureExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rumqttc::{AsyncClient, QoS};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use streamloom_runtime::io::NodeContext;
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};
use streamloom_runtime::{Batch, Event};
use tokio::sync::mpsc;

use crate::brokers::acks::{AckHandle, AckLedger, final_checkpoint, on_signal};
use crate::brokers::mqtt_conn::{Driver, MQTT_MAX_PAYLOAD, MqttFields, mqtt_params, qos, start};
use crate::brokers::mqtt_inbox::Delivery;
use crate::ws::backoff::Backoff;
use crate::ws::message::{MessageFormat, decode};

/// Config of `mqtt_source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttSourceConfig {
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub server: String,
    /// Client id.
    pub client_id: String,
    /// Topic filters; `$share/group/filter` shares messages across subscribers.
    pub topics: Vec<String>,
    /// QoS 0, 1 or 2.
    pub qos: u8,
    /// json, text or binary.
    pub format: MessageFormat,
    /// Most messages received and not yet acknowledged (waiting for the wire or a checkpoint).
    pub max_in_flight: u64,
    /// Largest message taken, in bytes; a larger one goes to `errors`.
    pub max_message_size: u64,
    /// User name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Password (`${ENV}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// CA certificates (PEM) trusted besides the system's roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Start afresh at each connect.
    pub clean_session: bool,
    /// Keep-alive interval.
    pub keep_alive: String,
    /// First reconnect delay.
    pub backoff_initial: String,
    /// Largest reconnect delay.
    pub backoff_max: String,
}

impl Default for MqttSourceConfig {
    fn default() -> Self {
        MqttSourceConfig {
            server: "mqtt://127.0.0.1:1883".into(),
            client_id: "streamloom-source".into(),
            topics: vec!["sensors/#".into()],
            qos: 1,
            format: MessageFormat::Json,
            max_in_flight: 256,
            max_message_size: 1 << 20,
            username: None,
            password: None,
            ca_file: None,
            clean_session: true,
            keep_alive: "30s".into(),
            backoff_initial: "500ms".into(),
            backoff_max: "30s".into(),
        }
    }
}

impl MqttSourceConfig {
    fn connection(&self) -> MqttFields<'_> {
        MqttFields {
            server: &self.server,
            client_id: &self.client_id,
            username: self.username.as_deref(),
            password: self.password.as_deref(),
            ca_file: self.ca_file.as_deref(),
            clean_session: self.clean_session,
            keep_alive: &self.keep_alive,
            backoff_initial: &self.backoff_initial,
            backoff_max: &self.backoff_max,
        }
    }
}

/// The `mqtt_source` kind.
pub struct MqttSource;

impl TypedNodeKind for MqttSource {
    type Config = MqttSourceConfig;
    const NAME: &'static str = "mqtt_source";
    const DESCRIPTION: &'static str = "MQTT subscriber: topic filters, QoS 0/1/2, shared subscriptions, persistent session; malformed messages go to errors";
    const CATEGORY: Category = Category::Source;
    const INJECTS_BARRIERS: bool = true;
    const EXAMPLE: &'static str = "Share a sensor feed across instances: `server: \"mqtt://127.0.0.1:1883\"`, `topics: [\"$share/loom/sensors/+/temp\"]`, `qos: 1`, `client_id: \"loom-1\"`, `clean_session: false`; each message is acknowledged once the sinks wrote it (a checkpoint completed), and the broker keeps the session while the node is away.";

    fn params() -> Vec<ParamSpec> {
        let mut p = mqtt_params();
        p.splice(
            2..2,
            [
                ParamSpec::new(
                    "topics",
                    ParamKind::TextList,
                    "Topic filters (+ and # wildcards); $share/group/filter splits messages across subscribers",
                ),
                ParamSpec::integer(
                    "qos",
                    0,
                    2,
                    "0: at most once; 1: at least once; 2: exactly once between broker and client",
                ),
                ParamSpec::choice(
                    "format",
                    &["json", "text", "binary"],
                    "json: each message is a JSON value; text: a string; binary: base64 text",
                ),
                ParamSpec::integer(
                    "max_in_flight",
                    1,
                    65_535,
                    "Most messages received and not yet acknowledged (they wait for a checkpoint)",
                ),
                ParamSpec::integer(
                    "max_message_size",
                    16,
                    MQTT_MAX_PAYLOAD,
                    "Largest message taken, in bytes; a larger one goes to errors (its first 256 bytes) and is acknowledged",
                ),
            ],
        );
        p
    }

    fn ports(config: &MqttSourceConfig) -> Ports {
        let ty = match config.format {
            MessageFormat::Json => PortType::Any,
            MessageFormat::Text | MessageFormat::Binary => PortType::Text,
        };
        Ports { inputs: vec![], outputs: vec![PortSpec::output("out", ty, "One event per message")] }
    }

    fn validate(config: &MqttSourceConfig) -> Vec<ConfigProblem> {
        let mut p = config.connection().validate();
        if config.topics.is_empty() {
            p.push(ConfigProblem::field("topics", "name at least one topic filter (sensors/#)"));
        }
        for (i, t) in config.topics.iter().enumerate() {
            if let Some(why) = check_filter(t) {
                p.push(ConfigProblem::field(&format!("topics[{i}]"), why));
            }
        }
        p.extend(qos("qos", config.qos).err());
        if config.max_in_flight == 0 {
            p.push(ConfigProblem::field("max_in_flight", "must be at least 1"));
        }
        p
    }

    fn build(config: MqttSourceConfig, ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let (options, backoff) = config.connection().build(ctx)?;
        let settings = Settings { qos: qos("qos", config.qos)?, options, backoff, config };
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(settings, ctx)) }))
    }
}

/// Why a topic filter is not one, if it is not.
fn check_filter(t: &str) -> Option<&'static str> {
    let plain = match t.strip_prefix("$share/") {
        Some(rest) => match rest.split_once('/') {
            Some((group, f)) if !group.is_empty() && !group.contains(['+', '#']) => f,
            _ => return Some("write a shared subscription as $share/group/filter"),
        },
        None => t,
    };
    let levels: Vec<&str> = plain.split('/').collect();
    if plain.is_empty() {
        return Some("a topic filter is not empty");
    }
    for (i, l) in levels.iter().enumerate() {
        if l.contains('#') && (*l != "#" || i + 1 != levels.len()) {
            return Some("# stands alone as the last level");
        }
        if l.contains('+') && *l != "+" {
            return Some("+ stands alone as a level");
        }
    }
    None
}

struct Settings {
    config: MqttSourceConfig,
    options: rumqttc::MqttOptions,
    backoff: Backoff,
    qos: QoS,
}

/// One QoS 1/2 message's acknowledgement, good only on the connection it arrived on.
struct MqttAck {
    client: AsyncClient,
    delivery: Delivery,
    /// The client's current connection.
    connection: Arc<AtomicU64>,
}

impl AckHandle for MqttAck {
    /// Never waits: the event-loop task that drains the client's requests may itself be
    /// waiting for this node to take a message. The request queue has room for every packet
    /// id, so it is never full; an acknowledgement that still fails (the client closed) is
    /// redelivered by the broker: a duplicate, never a loss. A message that arrived on an
    /// earlier connection is not acknowledged: its packet id may name another message on
    /// this one (the broker delivers it again; rumqttc drops acknowledgements still queued
    /// when it reconnects).
    async fn ack(self) -> Result<(), String> {
        if self.connection.load(Ordering::Acquire) != self.delivery.connection {
            return Err("the connection it arrived on is gone (the broker delivers it again)".into());
        }
        self.client.try_ack(&self.delivery.publish).map_err(|e| e.to_string())
    }
}

async fn run(s: Settings, mut ctx: NodeContext) -> Result<(), NodeError> {
    let capacity = usize::try_from(s.config.max_in_flight).unwrap_or(usize::MAX);
    let (tx, mut rx) = mpsc::channel(capacity);
    let unacked = ctx.metrics.own.gauge("unacked");
    let in_flight = ctx.metrics.own.gauge("in_flight");
    let connection = Arc::new(AtomicU64::new(0));
    let driver = Driver {
        metrics: ctx.metrics.clone(),
        subscriptions: s.config.topics.iter().map(|t| (t.trim().to_string(), s.qos)).collect(),
        publishes: Some(tx),
        hold: capacity,
        connection: connection.clone(),
        unacked: unacked.clone(),
        published: None,
    };
    // Room for an acknowledgement of every message the broker can have in flight: each
    // holds one of the 65,535 packet ids, so `try_ack` never finds the queue full (a full
    // queue would lose the acknowledgement and hold the broker's in-flight window).
    let requests = usize::from(u16::MAX) + ctx.batch_size + 16;
    let (client, task) = start(s.options, s.backoff, requests, driver);
    let mut seq = 0u64;
    let mut acks = AckLedger::new(unacked.clone());
    loop {
        ctx.control.wait_if_paused().await;
        let first = tokio::select! {
            biased;
            _ = ctx.control.stop.cancelled() => break,
            signal = ctx.checkpoints.signal() => {
                on_signal(&ctx, &mut acks, signal, "mqtt_source").await;
                continue;
            }
            // At most `max_in_flight` unacknowledged: the broker queues the rest meanwhile.
            p = rx.recv(), if acks.len() < capacity => p,
        };
        let Some(first) = first else { break };
        let mut batch: Batch = Vec::new();
        let mut next = Some(first);
        while let Some(p) = next.take() {
            in_flight.add(1);
            take(&p.publish.payload, &s.config, &mut ctx, &mut seq, &mut batch);
            if p.publish.qos != QoS::AtMostOnce {
                acks.push(MqttAck { client: client.clone(), delivery: p, connection: connection.clone() });
            }
            if batch.len() < ctx.batch_size
                && acks.len() < capacity
                && let Some(Some(p)) = rx.recv().now_or_never()
            {
                next = Some(p);
            }
        }
        let emitted = ctx.emit(0, batch).await;
        in_flight.set(0);
        emitted?;
        // Nothing more to read, or the most unacknowledged held: a checkpoint now.
        if !acks.is_empty() && (rx.is_empty() || acks.len() >= capacity) {
            ctx.checkpoints.request_soon();
        }
    }
    final_checkpoint(&mut ctx, &mut acks, "mqtt_source").await;
    // The acknowledgements are queued for the event loop; a disconnect queued behind them is
    // written after them, and the loop ends there. Meanwhile what still arrives is taken, so
    // the loop never waits on a full inbox: a QoS 0 message is lost (counted), a QoS 1/2 one
    // is delivered again (to this session or another member).
    let _ = client.try_disconnect();
    let mut lost = 0;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(500);
    while let Ok(Some(p)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        lost += usize::from(p.publish.qos == QoS::AtMostOnce);
    }
    rx.close();
    while let Ok(p) = rx.try_recv() {
        lost += usize::from(p.publish.qos == QoS::AtMostOnce);
    }
    ctx.metrics.count_dropped_inside(lost);
    task.abort();
    Ok(())
}

/// Turns one message's payload into an event (or a dead letter with the raw text, or with
/// the first bytes of a message over `max_message_size`).
fn take(payload: &[u8], config: &MqttSourceConfig, ctx: &mut NodeContext, seq: &mut u64, batch: &mut Batch) {
    let n = *seq;
    *seq += 1;
    if payload.len() as u64 > config.max_message_size {
        let head = String::from_utf8_lossy(&payload[..payload.len().min(256)]).into_owned();
        let reason = format!(
            "message {n}: {} bytes, over max_message_size ({} bytes); its first 256 bytes kept",
            payload.len(),
            config.max_message_size
        );
        ctx.errors.report_value(Value::String(head), reason, ctx.index, n);
        return;
    }
    match decode(payload, config.format) {
        Ok((value, _)) => batch.push(Event::new(value, ctx.index, n)),
        Err((raw, reason)) => {
            ctx.errors.report_value(Value::String(raw), format!("message {n}: {reason}"), ctx.index, n)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_filter;

    #[test]
    fn topic_filters_and_shared_subscriptions_are_checked() {
        for ok in ["a/b", "a/+/c", "a/#", "#", "$share/g/a/+", "$share/g/#"] {
            assert_eq!(check_filter(ok), None, "{ok}");
        }
        for bad in ["", "a/#/b", "a/b#", "a+/b", "$share//a", "$share/g"] {
            assert!(check_filter(bad).is_some(), "{bad}");
        }
    }
}

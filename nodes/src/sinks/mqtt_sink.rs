//! `mqtt_sink`: publishes each event as JSON to a topic made from its fields
//! (`sensors/{device}/temp`) at QoS 0, 1 or 2, optionally retained. An event whose topic
//! cannot be made goes to `errors`.
//!
//! The client queues at most a batch of publishes; while the broker is away the queue
//! fills and the sink stops taking input, so the wire's policy decides. Accounting: an event
//! is `passed` once delivered — acknowledged by the broker (QoS 1/2) or written to the
//! connection (QoS 0); until then it is `held` (lost if the run is killed). The `unacked`
//! gauge counts QoS 1/2 publishes the broker has not acknowledged yet (the client sends them
//! again after a reconnect). At the end the sink waits up to `drain_timeout` for them; what
//! is still undelivered then is counted as dropped by the node.

use std::time::Duration;

use rumqttc::QoS;
use serde::{Deserialize, Serialize};
use streamloom_runtime::io::{NodeContext, Received};
use streamloom_runtime::metrics::Gauge;
use streamloom_runtime::metrics::NodeState;
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};

use crate::brokers::mqtt_conn::{Driver, MqttFields, mqtt_params, qos, start};
use crate::brokers::template::Template;
use crate::ws::backoff::Backoff;
use crate::ws::duration_field;

/// Config of `mqtt_sink`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttSinkConfig {
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub server: String,
    /// Client id.
    pub client_id: String,
    /// Topic template: `{field}` is replaced by the event's field.
    pub topic: String,
    /// QoS 0, 1 or 2.
    pub qos: u8,
    /// Ask the broker to keep the last message of each topic for new subscribers.
    pub retain: bool,
    /// Longest wait at the end for the broker to acknowledge QoS 1/2 publishes.
    pub drain_timeout: String,
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

impl Default for MqttSinkConfig {
    fn default() -> Self {
        MqttSinkConfig {
            server: "mqtt://127.0.0.1:1883".into(),
            client_id: "streamloom-sink".into(),
            topic: "alerts/{device}".into(),
            qos: 1,
            retain: false,
            drain_timeout: "5s".into(),
            username: None,
            password: None,
            ca_file: None,
            clean_session: false,
            keep_alive: "30s".into(),
            backoff_initial: "500ms".into(),
            backoff_max: "30s".into(),
        }
    }
}

impl MqttSinkConfig {
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

/// The `mqtt_sink` kind.
pub struct MqttSink;

impl TypedNodeKind for MqttSink {
    type Config = MqttSinkConfig;
    const NAME: &'static str = "mqtt_sink";
    const DESCRIPTION: &'static str =
        "Publishes events as JSON to MQTT topics made from their fields, at QoS 0/1/2, optionally retained";
    const CATEGORY: Category = Category::Sink;
    const EXAMPLE: &'static str = "Publish alerts per device: `server: \"mqtt://127.0.0.1:1883\"`, `topic: \"alerts/{device}\"`, `qos: 1`, `retain: true`; the broker acknowledges each publish (the `unacked` gauge counts those it has not yet), and an event without `device` goes to `errors`.";

    fn params() -> Vec<ParamSpec> {
        let mut p = mqtt_params();
        p.splice(
            2..2,
            [
                ParamSpec::new(
                    "topic",
                    ParamKind::Text,
                    "Topic template: {field} is replaced by the event's field (alerts/{device})",
                ),
                ParamSpec::integer(
                    "qos",
                    0,
                    2,
                    "0: at most once; 1: at least once; 2: exactly once between client and broker",
                ),
                ParamSpec::new(
                    "retain",
                    ParamKind::Bool,
                    "The broker keeps the last message of each topic for new subscribers",
                ),
                ParamSpec::new(
                    "drain_timeout",
                    ParamKind::Text,
                    "Longest wait at the end for the broker's acknowledgements",
                ),
            ],
        );
        p
    }

    fn ports(_config: &MqttSinkConfig) -> Ports {
        Ports { inputs: vec![PortSpec::input("in", PortType::Any, "Events to publish")], outputs: vec![] }
    }

    fn validate(config: &MqttSinkConfig) -> Vec<ConfigProblem> {
        let mut p = config.connection().validate();
        match Template::parse(config.topic.trim()) {
            Err(e) => p.push(ConfigProblem::field("topic", format!("topic template: {e}"))),
            Ok(_) if config.topic.contains(['+', '#']) => {
                p.push(ConfigProblem::field("topic", "a topic to publish to has no wildcards"))
            }
            Ok(_) => {}
        }
        p.extend(qos("qos", config.qos).err());
        p.extend(duration_field("drain_timeout", &config.drain_timeout).err());
        p
    }

    fn build(config: MqttSinkConfig, ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let (options, backoff) = config.connection().build(ctx)?;
        let settings = Settings {
            topic: Template::parse(config.topic.trim()).map_err(|e| ConfigProblem::field("topic", e))?,
            qos: qos("qos", config.qos)?,
            drain_timeout: duration_field("drain_timeout", &config.drain_timeout)?,
            options,
            backoff,
            config,
        };
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(settings, ctx)) }))
    }
}

struct Settings {
    config: MqttSinkConfig,
    options: rumqttc::MqttOptions,
    backoff: Backoff,
    topic: Template,
    qos: QoS,
    drain_timeout: Duration,
}

/// Waits until the broker acknowledged every QoS 1/2 publish handed over; false when the
/// run is killed first (the checkpoint then never completes: nothing upstream is acked).
/// Whether the run is stopping while the broker is away: nothing is waited for.
fn away(ctx: &NodeContext) -> bool {
    ctx.control.stopping() && ctx.metrics.own.read().state != Some(NodeState::Connected)
}

async fn acknowledged(unacked: &Gauge, ctx: &NodeContext) -> bool {
    while unacked.get() > 0 {
        // A stop while the broker is away waits for nothing (a barrier held here kept the
        // sink from ending until the stop timeout cancelled the run).
        if ctx.control.kill.is_cancelled() || away(ctx) {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    true
}

async fn run(s: Settings, mut ctx: NodeContext) -> Result<(), NodeError> {
    let unacked = ctx.metrics.own.gauge("unacked");
    let driver = Driver {
        metrics: ctx.metrics.clone(),
        subscriptions: Vec::new(),
        publishes: None,
        hold: 0,
        connection: Default::default(),
        unacked: unacked.clone(),
        published: Some(s.qos),
    };
    let (client, task) = start(s.options, s.backoff, ctx.batch_size, driver);
    // If the node is cancelled, its client stops with it: nothing is counted after a kill.
    let mut task = AbortOnDrop(task);
    let mut stopped_with = 0usize;
    // A checkpoint barrier is passed on once the broker acknowledged every publish before it.
    ctx.inputs.deliver_barriers();
    while let Some(r) = ctx.inputs.recv().await {
        let batch = match r {
            Received::Data { batch, .. } => batch,
            Received::Barrier(n) => {
                if acknowledged(&unacked, &ctx).await {
                    ctx.forward_barrier(n);
                } else {
                    // Undelivered: no checkpoint may say they are done.
                    ctx.checkpoints.abort();
                }
                continue;
            }
            Received::Watermark(_) | Received::Timer(_) => continue,
        };
        if stopped_with > 0 || away(&ctx) {
            stopped_with += batch.len();
            // Undelivered: no checkpoint may say they are done.
            ctx.checkpoints.abort();
            ctx.metrics.count_dropped_inside(batch.len());
            continue;
        }
        let total = batch.len();
        for (i, ev) in batch.into_iter().enumerate() {
            let topic = match s.topic.render(&ev.value) {
                Ok(t) if !t.is_empty() && !t.contains(['+', '#']) => t,
                Ok(t) => {
                    ctx.errors.report(ev, format!("topic `{t}` is not a topic to publish to"));
                    continue;
                }
                Err(e) => {
                    ctx.errors.report(ev, format!("topic: {e}"));
                    continue;
                }
            };
            let payload = ev.value.to_string().into_bytes();
            if s.qos != QoS::AtMostOnce {
                unacked.add(1);
            }
            let published = tokio::select! {
                biased;
                _ = ctx.control.stop.cancelled(), if ctx.metrics.own.read().state != Some(NodeState::Connected) => None,
                r = client.publish(topic, s.qos, s.config.retain, payload) => Some(r),
            };
            match published {
                // Counted as `passed` by the client's driver once delivered.
                Some(Ok(())) => {}
                other => {
                    if s.qos != QoS::AtMostOnce {
                        unacked.sub(1);
                    }
                    if let Some(Err(e)) = other {
                        tracing::warn!(node = %ctx.id, "mqtt_sink: publish: {e}");
                    }
                    stopped_with += total - i;
                    ctx.checkpoints.abort();
                    ctx.metrics.count_dropped_inside(total - i);
                    break;
                }
            }
        }
        ctx.errors.flush().await;
    }
    // The broker's acknowledgements of what was handed over, within the drain timeout; a
    // stop while the broker is away waits for nothing (what it held is counted below).
    let deadline = tokio::time::Instant::now() + s.drain_timeout;
    while unacked.get() > 0 && tokio::time::Instant::now() < deadline && !ctx.control.kill.is_cancelled() && !away(&ctx)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut ended = false;
    if !away(&ctx) {
        let _ = tokio::time::timeout(Duration::from_secs(1), client.disconnect()).await;
        ended = tokio::time::timeout(Duration::from_secs(1), &mut task.0).await.is_ok();
    }
    if !ended {
        task.0.abort();
        // Once it has ended, no publish is counted after this.
        let _ = (&mut task.0).await;
    }
    // Received and not resolved: handed to the client and never delivered.
    let left = ctx.metrics.held();
    if left > 0 {
        // Handed to the client but never delivered: no checkpoint may say they are done.
        ctx.checkpoints.abort();
        ctx.metrics.count_dropped_inside(left as usize);
    }
    if stopped_with > 0 || left > 0 {
        // Closed when the run was stopped (the node ends as it was told to), failed when the
        // stream ended and the broker never took what it was given.
        let state = if ctx.control.stopping() { NodeState::Closed } else { NodeState::Failed };
        ctx.metrics.own.set(
            state,
            format!(
                "{stopped_with} event(s) not published (stopped while away); {left} handed to the client and not delivered ({} not acknowledged by the broker)",
                unacked.get()
            ),
        );
    }
    Ok(())
}

/// Aborts the client's driver task when dropped (the node finished or was cancelled).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

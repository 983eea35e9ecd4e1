//! The MQTT connection fields `mqtt_source` and `mqtt_sink` share (server, client id,
//! credentials, TLS, session, backoff), their checks, and the task that drives rumqttc's
//! event loop: it reconnects with backoff, keeps the node's own status and gauges, hands
//! received publishes to the node through an [`Inbox`] (the loop never waits, so keep-alive
//! pings go on while the node's output is full), and counts the broker's
//! acknowledgements of what the node published. Passwords (usually `${ENV}`) are never
//! written to logs, status or errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use streamloom_runtime::metrics::{Gauge, NodeMetrics, NodeState};
use streamloom_runtime::registry::{BuildContext, ConfigProblem, ParamKind, ParamSpec};
use tokio::sync::mpsc;

use super::mqtt_inbox::{Delivery, Inbox};
use crate::ws::backoff::{Backoff, backoff_params};
use crate::ws::{duration_field, tls};

/// The largest payload MQTT can carry (its remaining-length limit), in bytes.
pub const MQTT_MAX_PAYLOAD: i64 = 268_435_455;

/// The connection fields of an MQTT node's config, borrowed.
pub struct MqttFields<'a> {
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub server: &'a str,
    /// Client id; needed for a persistent session.
    pub client_id: &'a str,
    /// User name.
    pub username: Option<&'a str>,
    /// Password (`${ENV}`).
    pub password: Option<&'a str>,
    /// Extra CA certificates (PEM); implies TLS.
    pub ca_file: Option<&'a str>,
    /// Start a new session at each connect (false: the broker keeps subscriptions and
    /// queued QoS 1/2 messages while the client is away).
    pub clean_session: bool,
    /// Keep-alive interval.
    pub keep_alive: &'a str,
    /// First reconnect delay.
    pub backoff_initial: &'a str,
    /// Largest reconnect delay.
    pub backoff_max: &'a str,
}

/// The parameter docs of the connection fields.
pub fn mqtt_params() -> Vec<ParamSpec> {
    let [backoff_initial, backoff_max] = backoff_params();
    vec![
        ParamSpec::new("server", ParamKind::Text, "Broker: mqtt://host:1883, or mqtts://host:8883 for TLS"),
        ParamSpec::new(
            "client_id",
            ParamKind::Text,
            "Client id; unique per connection; needed for a persistent session",
        ),
        ParamSpec::optional("username", ParamKind::Text, "User name"),
        ParamSpec::optional("password", ParamKind::Text, "Password; use ${ENV} (never shown in logs or status)"),
        ParamSpec::optional(
            "ca_file",
            ParamKind::Path,
            "PEM file of CA certificates trusted besides the system's roots (TLS)",
        ),
        ParamSpec::new(
            "clean_session",
            ParamKind::Bool,
            "Start afresh at each connect; off: the broker keeps the session (subscriptions, queued QoS 1/2 messages)",
        ),
        ParamSpec::new(
            "keep_alive",
            ParamKind::Text,
            "Keep-alive interval (a silent connection is dead after 1.5 times this)",
        ),
        backoff_initial,
        backoff_max,
    ]
}

/// Reads `0`, `1` or `2` as a QoS.
pub fn qos(field: &str, n: u8) -> Result<QoS, ConfigProblem> {
    match n {
        0 => Ok(QoS::AtMostOnce),
        1 => Ok(QoS::AtLeastOnce),
        2 => Ok(QoS::ExactlyOnce),
        _ => Err(ConfigProblem::field(field, "QoS is 0, 1 or 2")),
    }
}

/// Host, port and whether TLS is asked for, from `mqtt://host:port` / `mqtts://host:port`.
fn split_server(server: &str) -> Result<(String, u16, bool), String> {
    let server = server.trim();
    let (rest, tls, default_port) = if let Some(r) = server.strip_prefix("mqtts://") {
        (r, true, 8883)
    } else if let Some(r) = server.strip_prefix("mqtt://") {
        (r, false, 1883)
    } else {
        return Err("the server must start with mqtt:// or mqtts://".into());
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("`{p}` is not a port"))?),
        None => (rest, default_port),
    };
    if host.is_empty() {
        return Err("the server has no host".into());
    }
    Ok((host.to_string(), port, tls))
}

impl MqttFields<'_> {
    /// Every problem with the fields.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut p = Vec::new();
        if !self.server.contains("${")
            && let Err(e) = split_server(self.server)
        {
            p.push(ConfigProblem::field("server", e));
        }
        if self.client_id.trim().is_empty() {
            p.push(ConfigProblem::field("client_id", "name a client id"));
        }
        if self.password.is_some() && self.username.is_none() {
            p.push(ConfigProblem::field("username", "a password needs a user name"));
        }
        for (field, text) in [
            ("keep_alive", self.keep_alive),
            ("backoff_initial", self.backoff_initial),
            ("backoff_max", self.backoff_max),
        ] {
            match duration_field(field, text) {
                Ok(d) if d.is_zero() => p.push(ConfigProblem::field(field, "must be longer than 0")),
                Ok(_) => {}
                Err(e) => p.push(e),
            }
        }
        p
    }

    /// The client options (placeholders already substituted) and the backoff.
    pub fn build(&self, ctx: &BuildContext) -> Result<(MqttOptions, Backoff), ConfigProblem> {
        let (host, port, tls_asked) = split_server(self.server).map_err(|e| ConfigProblem::field("server", e))?;
        let mut o = MqttOptions::new(self.client_id.trim(), host, port);
        o.set_clean_session(self.clean_session);
        o.set_keep_alive(duration_field("keep_alive", self.keep_alive)?.max(Duration::from_secs(1)));
        o.set_manual_acks(true);
        // rumqttc's default (10 KiB) would break the connection on a larger message, and the
        // broker would send it again at once: any message MQTT can carry is read, and the
        // source sends one over its `max_message_size` to `errors`.
        let packet_max = usize::try_from(MQTT_MAX_PAYLOAD).unwrap_or(usize::MAX).saturating_add(5);
        o.set_max_packet_size(packet_max, packet_max);
        if let Some(user) = self.username {
            o.set_credentials(user, self.password.unwrap_or_default());
        }
        if tls_asked || self.ca_file.is_some() {
            let ca = self.ca_file.map(|f| ctx.resolve_path(f));
            let config = tls::client_config(ca.as_deref()).map_err(|e| ConfigProblem::field("ca_file", e))?;
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(config)));
        }
        let backoff = Backoff::new(
            duration_field("backoff_initial", self.backoff_initial)?,
            duration_field("backoff_max", self.backoff_max)?,
            0,
        );
        Ok((o, backoff))
    }
}

/// What the event-loop task does besides keeping the connection.
pub struct Driver {
    /// The node's metrics (own status and gauges).
    pub metrics: Arc<NodeMetrics>,
    /// Subscriptions made after each connect that did not resume a session.
    pub subscriptions: Vec<(String, QoS)>,
    /// Where received publishes go (a source), through an [`Inbox`] so the event loop never
    /// waits for the node.
    pub publishes: Option<mpsc::Sender<Delivery>>,
    /// Most QoS 0 publishes held for the node while it does not take them (more are dropped
    /// and counted).
    pub hold: usize,
    /// Counts the connections made (the first is 1): a publish's packet id is only good for
    /// acknowledging on the connection it came on.
    pub connection: Arc<AtomicU64>,
    /// Counts down as the broker acknowledges the node's QoS 1/2 publishes (a sink).
    pub unacked: Gauge,
    /// For a sink, the QoS it publishes at: each publish then counts as `passed` once it is
    /// delivered — acknowledged by the broker (QoS 1/2) or written to the connection (QoS 0).
    pub published: Option<QoS>,
}

/// Starts a client and the task driving its event loop; the task ends when the client
/// disconnects, the receiver of publishes is gone, or it is aborted.
pub fn start(
    options: MqttOptions,
    backoff: Backoff,
    capacity: usize,
    driver: Driver,
) -> (AsyncClient, tokio::task::JoinHandle<()>) {
    let (client, eventloop) = AsyncClient::new(options, capacity.max(10));
    let task = tokio::spawn(drive(eventloop, client.clone(), backoff, driver));
    (client, task)
}

async fn drive(mut eventloop: EventLoop, client: AsyncClient, mut backoff: Backoff, d: Driver) {
    let inbox = d.publishes.clone().map(|tx| Inbox::start(tx, d.hold, d.metrics.clone()));
    let own = &d.metrics.own;
    own.set_state(NodeState::Connecting);
    // One per attempt to connect again, after a failed attempt or a lost connection (as the
    // WebSocket and NATS nodes count it).
    let reconnects = own.gauge("reconnects");
    loop {
        match eventloop.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                d.connection.fetch_add(1, Ordering::AcqRel);
                backoff.reset();
                own.set(NodeState::Connected, if ack.session_present { "session resumed" } else { "" });
                let filters = d.subscriptions.iter().map(|(t, q)| rumqttc::SubscribeFilter::new(t.clone(), *q));
                if !ack.session_present
                    && !d.subscriptions.is_empty()
                    && let Err(e) = client.try_subscribe_many(filters)
                {
                    own.set(NodeState::Failed, format!("subscribe: {e}"));
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack.return_codes.iter().any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure)) {
                    own.set(NodeState::Failed, "the broker refused a subscription (check the topic filter and rights)");
                }
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let delivery = Delivery { connection: d.connection.load(Ordering::Acquire), publish: p };
                if let Some(inbox) = &inbox
                    && !inbox.push(delivery).await
                {
                    return;
                }
            }
            Ok(Event::Incoming(Packet::PubAck(_) | Packet::PubComp(_))) => {
                d.unacked.sub(d.unacked.get().min(1));
                if d.published.is_some_and(|q| q != QoS::AtMostOnce) {
                    d.metrics.count_passed(1);
                }
            }
            Ok(Event::Outgoing(rumqttc::Outgoing::Publish(_))) if d.published == Some(QoS::AtMostOnce) => {
                d.metrics.count_passed(1);
            }
            // The node asked to leave: what it queued before (acknowledgements) is written.
            Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => {
                own.set(NodeState::Closed, "disconnected");
                return;
            }
            Ok(_) => {}
            Err(e) => {
                if matches!(e, rumqttc::ConnectionError::RequestsDone) {
                    return;
                }
                reconnects.add(1);
                let delay = backoff.next_delay().unwrap_or(Duration::from_secs(30));
                let refused = matches!(e, rumqttc::ConnectionError::ConnectionRefused(_));
                let state = if refused { NodeState::Failed } else { NodeState::Reconnecting };
                own.set(state, format!("attempt {}, next in {:.1} s ({e})", backoff.failures(), delay.as_secs_f64()));
                tokio::time::sleep(delay).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_server;

    #[test]
    fn servers_name_scheme_host_and_port() {
        assert_eq!(split_server("mqtt://127.0.0.1:1884"), Ok(("127.0.0.1".into(), 1884, false)));
        assert_eq!(split_server("mqtts://broker.example"), Ok(("broker.example".into(), 8883, true)));
        for bad in ["tcp://x:1", "mqtt://:1", "mqtt://x:port"] {
            assert!(split_server(bad).is_err(), "{bad}");
        }
    }
}

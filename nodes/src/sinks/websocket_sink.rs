//! `websocket_sink`: sends each event as JSON text over WebSocket. In server mode it
//! broadcasts to every connected client (an optional bearer token is checked before the
//! upgrade). Each client has its own bounded queue: when a slow client's queue is full, the
//! event is skipped for that client (counted), and the others never wait for it. In client
//! mode it connects to a server (see [`super::websocket_sink_client`]).

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use streamloom_runtime::Batch;
use streamloom_runtime::io::{NodeContext, Received};
use streamloom_runtime::metrics::{NodeMetrics, NodeState};
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::websocket_clients::{Client, Offer, close_all, listen};
use crate::ws::client::{ClientFields, client_params};
use crate::ws::server::Admission;

/// How long the clients get, at the end of the stream, to write their queues and close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the sink's connections come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkMode {
    /// Listen, and broadcast to every client that connects.
    #[default]
    Server,
    /// Connect to a server and send every event to it.
    Client,
}

/// Config of `websocket_sink`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSocketSinkConfig {
    /// server (listen and broadcast) or client (connect and send).
    pub mode: SinkMode,
    /// Server mode: address to listen on, `host:port` (port 0: any free port, shown in the status).
    pub bind: String,
    /// Server mode: messages queued per client; beyond that a slow client misses messages.
    pub client_queue: u64,
    /// Server mode: clients to wait for before taking the first event (the graph is held back until then).
    pub min_clients: u64,
    /// Server mode: bearer token clients must send (use `${ENV}`); a wrong one gets HTTP 401.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Client mode: server to connect to (`ws://host:port/path`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
    /// Client mode: handshake headers, `Name: value`; values may use `${ENV}`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    /// Client mode: subprotocols offered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subprotocols: Vec<String>,
    /// Client mode: longest wait for the TCP connection and the handshake.
    pub connect_timeout: String,
    /// Client mode: send a ping this often.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping_interval: Option<String>,
    /// Client mode: a ping unanswered this long is a dead connection (reconnect).
    pub pong_timeout: String,
    /// Client mode: connect again after an open connection closed; off: the node fails.
    pub reconnect: bool,
    /// Client mode: wait after the first failed attempt; it doubles (with jitter) after each.
    pub backoff_initial: String,
    /// Client mode: longest wait between attempts.
    pub backoff_max: String,
    /// Client mode: consecutive failed attempts before the node fails; 0: try forever.
    pub max_attempts: u64,
    /// Client mode: text messages sent after each connect.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub send_on_connect: Vec<String>,
    /// Client mode: largest message accepted from the server, in bytes.
    pub max_message_size: u64,
    /// Client mode: PEM file of CA certificates trusted for `wss://`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
}

impl Default for WebSocketSinkConfig {
    fn default() -> Self {
        WebSocketSinkConfig {
            mode: SinkMode::Server,
            bind: "127.0.0.1:9002".into(),
            client_queue: 1024,
            min_clients: 0,
            token: None,
            url: String::new(),
            headers: Vec::new(),
            subprotocols: Vec::new(),
            connect_timeout: "10s".into(),
            ping_interval: None,
            pong_timeout: "10s".into(),
            reconnect: true,
            backoff_initial: "500ms".into(),
            backoff_max: "30s".into(),
            max_attempts: 0,
            send_on_connect: Vec::new(),
            max_message_size: 16 << 20,
            ca_file: None,
        }
    }
}

impl WebSocketSinkConfig {
    fn client(&self) -> ClientFields<'_> {
        ClientFields {
            url: &self.url,
            headers: &self.headers,
            subprotocols: &self.subprotocols,
            connect_timeout: &self.connect_timeout,
            ping_interval: self.ping_interval.as_deref(),
            pong_timeout: &self.pong_timeout,
            backoff_initial: &self.backoff_initial,
            backoff_max: &self.backoff_max,
            max_attempts: self.max_attempts,
            send_on_connect: &self.send_on_connect,
            max_message_size: self.max_message_size,
            ca_file: self.ca_file.as_deref(),
        }
    }
}

/// The `websocket_sink` kind.
pub struct WebSocketSink;

impl TypedNodeKind for WebSocketSink {
    type Config = WebSocketSinkConfig;
    const NAME: &'static str = "websocket_sink";
    const DESCRIPTION: &'static str = "WebSocket sink: as a server, broadcasts each event as JSON text to every client (a slow client misses messages, never stalls the others); as a client, sends each event to a server and reconnects with backoff";
    const CATEGORY: Category = Category::Sink;
    const EXAMPLE: &'static str = "Serve a live feed: `mode: \"server\"`, `bind: \"127.0.0.1:9402\"`; every client connected to ws://127.0.0.1:9402 receives each event as JSON text, and `min_clients: 1` holds the graph until the first client connects.";
    const DEAD_LETTERS: bool = false;

    fn params() -> Vec<ParamSpec> {
        let mut p = vec![
            ParamSpec::choice(
                "mode",
                &["server", "client"],
                "server: listen and broadcast to every client; client: connect to `url` and send",
            ),
            ParamSpec::new(
                "bind",
                ParamKind::Text,
                "Server: address to listen on, host:port; port 0 picks a free port",
            ),
            ParamSpec::integer(
                "client_queue",
                1,
                1_000_000,
                "Server: messages queued per client before it misses some",
            ),
            ParamSpec::integer("min_clients", 0, 10_000, "Server: clients to wait for before taking the first event"),
            ParamSpec::optional(
                "token",
                ParamKind::Text,
                "Server: bearer token clients must send; use ${ENV}; a wrong one gets HTTP 401",
            ),
        ];
        p.extend(client_params().into_iter().map(|mut spec| {
            spec.doc = format!("Client: {}", spec.doc);
            // Unused in server mode.
            spec.optional = true;
            spec
        }));
        p.push(ParamSpec::new(
            "reconnect",
            ParamKind::Bool,
            "Client: connect again when an open connection closes; off: the node fails",
        ));
        p
    }

    fn ports(_config: &WebSocketSinkConfig) -> Ports {
        Ports { inputs: vec![PortSpec::input("in", PortType::Any, "Events to broadcast")], outputs: vec![] }
    }

    fn validate(config: &WebSocketSinkConfig) -> Vec<ConfigProblem> {
        match config.mode {
            SinkMode::Client => config.client().validate(),
            SinkMode::Server => {
                let mut p = Vec::new();
                if !config.bind.contains("${") && config.bind.trim().parse::<SocketAddr>().is_err() {
                    p.push(ConfigProblem::field("bind", "write the address as ip:port, such as 127.0.0.1:9002"));
                }
                if config.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
                    p.push(ConfigProblem::field("token", "empty; leave the token out to accept any client"));
                }
                p
            }
        }
    }

    fn build(config: WebSocketSinkConfig, ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        if config.mode == SinkMode::Client {
            let client = config.client().build(ctx)?;
            let reconnect = config.reconnect;
            return Ok(Box::new(move |ctx: NodeContext| -> NodeFuture {
                Box::pin(super::websocket_sink_client::run(client, reconnect, ctx))
            }));
        }
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(config, ctx)) }))
    }
}

/// The connected clients and what they missed.
struct Hub {
    addr: SocketAddr,
    clients: Vec<Client>,
    skipped: u64,
}

impl Hub {
    fn add(&mut self, client: Client, metrics: &NodeMetrics) {
        self.clients.push(client);
        self.show(metrics);
    }

    /// Offers every event to every client. Accounting, per event: `passed` once queued for
    /// at least one client; `filtered` when no client is connected (a broadcast to nobody);
    /// `dropped_inside` when every client's queue was full.
    fn broadcast(&mut self, batch: Batch, metrics: &NodeMetrics) {
        let skipped_before = self.skipped;
        let (mut passed, mut filtered, mut dropped) = (0, 0, 0);
        for ev in batch {
            if self.clients.is_empty() {
                filtered += 1;
                continue;
            }
            let text = Utf8Bytes::from(ev.value.to_string());
            let mut queued = false;
            let mut gone = false;
            for c in &mut self.clients {
                match c.offer(text.clone()) {
                    Offer::Queued => queued = true,
                    Offer::Skipped => self.skipped += 1,
                    Offer::Gone => gone = true,
                }
            }
            if gone {
                self.clients.retain(|c| !c.is_gone());
            }
            match (queued, self.clients.is_empty()) {
                (true, _) => passed += 1,
                (false, true) => filtered += 1,
                (false, false) => dropped += 1,
            }
        }
        metrics.count_passed(passed);
        metrics.count_filtered(filtered);
        metrics.count_dropped_inside(dropped);
        self.show_state(metrics, self.skipped > skipped_before);
    }

    /// Listening, with the clients and what slow ones missed.
    fn show(&self, metrics: &NodeMetrics) {
        self.show_state(metrics, false);
    }

    /// As [`Hub::show`]; `degraded` while the last batch was skipped for some slow client.
    fn show_state(&self, metrics: &NodeMetrics, degraded: bool) {
        metrics.own.set(
            if degraded { NodeState::Degraded } else { NodeState::Listening },
            format!(
                "on ws://{}/; {} client(s); {} message(s) skipped for slow clients",
                self.addr,
                self.clients.len(),
                self.skipped
            ),
        );
        metrics.own.set_gauge("clients", self.clients.len() as u64);
        metrics.own.set_gauge("skipped", self.skipped);
    }
}

/// Listens, waits for `min_clients`, then broadcasts every event until the input ends; the
/// clients then get [`CLOSE_TIMEOUT`] to write what they have queued and close.
async fn run(config: WebSocketSinkConfig, mut ctx: NodeContext) -> Result<(), NodeError> {
    let queue = usize::try_from(config.client_queue).unwrap_or(usize::MAX);
    let admission = Admission { path: None, token: config.token.clone() };
    let mut listening = listen(config.bind.trim(), queue, admission, ctx.metrics.own.gauge("refused"))
        .await
        .map_err(|e| NodeError(format!("websocket_sink `{}`: cannot listen on {}: {e}", ctx.id, config.bind)))?;
    tracing::info!(node = %ctx.id, "websocket_sink listening on ws://{}/", listening.addr);
    let mut hub = Hub { addr: listening.addr, clients: Vec::new(), skipped: 0 };
    hub.show(&ctx.metrics);
    while (hub.clients.len() as u64) < config.min_clients {
        tokio::select! {
            client = listening.new_clients.recv() => match client {
                Some(c) => hub.add(c, &ctx.metrics),
                None => break,
            },
            _ = ctx.control.stop.cancelled() => break,
        }
        hub.clients.retain(|c| !c.is_gone());
    }
    loop {
        tokio::select! {
            biased;
            Some(client) = listening.new_clients.recv() => hub.add(client, &ctx.metrics),
            msg = ctx.inputs.recv() => match msg {
                Some(Received::Data { batch, .. }) => {
                    let started = std::time::Instant::now();
                    hub.broadcast(batch, &ctx.metrics);
                    ctx.add_busy(started);
                }
                Some(Received::Watermark(_) | Received::Timer(_) | Received::Barrier(_)) => {}
                None => break,
            },
        }
    }
    drop(listening);
    let clients = std::mem::take(&mut hub.clients);
    let closed = clients.len();
    close_all(clients, CLOSE_TIMEOUT).await;
    ctx.metrics.own.set_gauge("clients", 0);
    ctx.metrics.own.set(
        NodeState::Closed,
        format!(
            "stopped listening on ws://{}/; closed {closed} client(s); {} message(s) skipped for slow clients",
            hub.addr, hub.skipped
        ),
    );
    Ok(())
}

//! `websocket_sink`: a WebSocket server that broadcasts each event, as JSON text, to every
//! connected client. Each client has its own bounded queue: when a slow client's queue is
//! full, the event is skipped for that client (counted), and the others never wait for it.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use streamloom_runtime::Batch;
use streamloom_runtime::io::{NodeContext, Received};
use streamloom_runtime::metrics::NodeMetrics;
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::websocket_clients::{Client, Offer, close_all, listen};

/// How long the clients get, at the end of the stream, to write their queues and close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the sink's connections come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkMode {
    /// Listen, and broadcast to every client that connects.
    #[default]
    Server,
}

/// Config of `websocket_sink`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSocketSinkConfig {
    /// server (listen and broadcast).
    pub mode: SinkMode,
    /// Address to listen on, `host:port` (port 0: any free port, shown in the status).
    pub bind: String,
    /// Messages queued per client; beyond that a slow client misses messages.
    pub client_queue: u64,
    /// Clients to wait for before taking the first event (the graph is held back until then).
    pub min_clients: u64,
}

impl Default for WebSocketSinkConfig {
    fn default() -> Self {
        WebSocketSinkConfig {
            mode: SinkMode::Server,
            bind: "127.0.0.1:9002".into(),
            client_queue: 1024,
            min_clients: 0,
        }
    }
}

/// The `websocket_sink` kind.
pub struct WebSocketSink;

impl TypedNodeKind for WebSocketSink {
    type Config = WebSocketSinkConfig;
    const NAME: &'static str = "websocket_sink";
    const DESCRIPTION: &'static str = "WebSocket server broadcasting each event as JSON text to every client; a slow client misses messages, never stalls the others";
    const CATEGORY: Category = Category::Sink;
    const EXAMPLE: &'static str = "Serve a live feed: `mode: \"server\"`, `bind: \"127.0.0.1:9402\"`; every client connected to ws://127.0.0.1:9402 receives each event as JSON text, and `min_clients: 1` holds the graph until the first client connects.";
    const DEAD_LETTERS: bool = false;

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::choice("mode", &["server"], "server: listen and broadcast to every client"),
            ParamSpec::new("bind", ParamKind::Text, "Address to listen on, host:port; port 0 picks a free port"),
            ParamSpec::integer("client_queue", 1, 1_000_000, "Messages queued per client before it misses some"),
            ParamSpec::integer("min_clients", 0, 10_000, "Clients to wait for before taking the first event"),
        ]
    }

    fn ports(_config: &WebSocketSinkConfig) -> Ports {
        Ports { inputs: vec![PortSpec::input("in", PortType::Any, "Events to broadcast")], outputs: vec![] }
    }

    fn validate(config: &WebSocketSinkConfig) -> Vec<ConfigProblem> {
        if !config.bind.contains("${") && config.bind.trim().parse::<SocketAddr>().is_err() {
            return vec![ConfigProblem::field("bind", "write the address as ip:port, such as 127.0.0.1:9002")];
        }
        Vec::new()
    }

    fn build(config: WebSocketSinkConfig, _ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
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
        self.show(metrics);
    }

    fn show(&self, metrics: &NodeMetrics) {
        metrics.set_message(format!(
            "listening on ws://{}/; {} client(s); {} message(s) skipped for slow clients",
            self.addr,
            self.clients.len(),
            self.skipped
        ));
    }
}

/// Listens, waits for `min_clients`, then broadcasts every event until the input ends; the
/// clients then get [`CLOSE_TIMEOUT`] to write what they have queued and close.
async fn run(config: WebSocketSinkConfig, mut ctx: NodeContext) -> Result<(), NodeError> {
    let queue = usize::try_from(config.client_queue).unwrap_or(usize::MAX);
    let mut listening = listen(config.bind.trim(), queue)
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
                Some(Received::Watermark(_) | Received::Timer(_)) => {}
                None => break,
            },
        }
    }
    drop(listening);
    let clients = std::mem::take(&mut hub.clients);
    hub.show(&ctx.metrics);
    close_all(clients, CLOSE_TIMEOUT).await;
    Ok(())
}

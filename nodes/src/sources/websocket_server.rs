//! `websocket_server`: a source that listens for WebSocket clients (browsers, devices) and
//! merges the messages of all of them into one stream. An optional bearer token (from
//! `${ENV}`) is checked before the upgrade: a wrong one gets HTTP 401. Beyond `max_clients`
//! a client gets HTTP 503. A malformed message goes to `errors` with its raw text; the
//! client stays connected.
//!
//! Backpressure: each client's reader waits while the node's bounded queue is full, so a
//! full `block` wire stops reading every client and TCP pushes back on them.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use streamloom_runtime::io::NodeContext;
use streamloom_runtime::metrics::{Gauge, NodeMetrics, NodeState};
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};
use streamloom_runtime::{Batch, Event};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::watermarks::{Watermarks, event_time};
use crate::ws::duration_field;
use crate::ws::message::{MessageFormat, decode, decode_text};
use crate::ws::server::{Admission, Refusal, refuse_handshake};

/// Config of `websocket_server`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSocketServerConfig {
    /// Address to listen on (an IP).
    pub bind: String,
    /// Port (0: any free port, shown in the status).
    pub port: u16,
    /// The only path clients may connect to.
    pub path: String,
    /// Bearer token clients must send (`Authorization: Bearer …`); use `${ENV}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Most clients connected at once; more get HTTP 503.
    pub max_clients: u64,
    /// json, text or binary.
    pub format: MessageFormat,
    /// Largest message accepted, in bytes; a larger one closes that client's connection.
    pub max_message_size: u64,
    /// Record field (a path) holding the event time in ms since the epoch or RFC 3339 text
    /// (json only); enables watermarks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_field: Option<String>,
    /// How far watermarks trail the largest event time seen from any client.
    pub watermark_delay: String,
}

impl Default for WebSocketServerConfig {
    fn default() -> Self {
        WebSocketServerConfig {
            bind: "127.0.0.1".into(),
            port: 9003,
            path: "/".into(),
            token: None,
            max_clients: 64,
            format: MessageFormat::Json,
            max_message_size: 1 << 20,
            time_field: None,
            watermark_delay: "0s".into(),
        }
    }
}

/// The `websocket_server` kind.
pub struct WebSocketServer;

impl TypedNodeKind for WebSocketServer {
    type Config = WebSocketServerConfig;
    const NAME: &'static str = "websocket_server";
    const DESCRIPTION: &'static str = "WebSocket server: the messages of every connected client are merged into one stream; optional bearer token, malformed messages go to errors";
    const CATEGORY: Category = Category::Source;
    const EXAMPLE: &'static str = "Take telemetry from browsers or scripts: `port: 9500`, `path: \"/ingest\"`, `token: \"${INGEST_TOKEN}\"`; clients connect to ws://127.0.0.1:9500/ingest with `Authorization: Bearer …` (others get 401), every client's JSON messages become one stream, and the node's status counts the `clients`.";

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::new(
                "bind",
                ParamKind::Text,
                "Address to listen on (127.0.0.1: this machine only; 0.0.0.0: all)",
            ),
            ParamSpec::integer("port", 0, 65_535, "Port to listen on; 0 picks a free port (shown in the status)"),
            ParamSpec::new("path", ParamKind::Text, "The path clients connect to (/, /ingest); others get 404"),
            ParamSpec::optional(
                "token",
                ParamKind::Text,
                "Bearer token clients must send; use ${ENV}; a wrong one gets HTTP 401 before the upgrade",
            ),
            ParamSpec::integer("max_clients", 1, 100_000, "Most clients at once; more get HTTP 503"),
            ParamSpec::choice(
                "format",
                &["json", "text", "binary"],
                "json: each message is a JSON value; text: a string event; binary: the bytes as base64 text",
            ),
            ParamSpec::integer("max_message_size", 16, 1 << 30, "Largest message accepted, in bytes"),
            ParamSpec::optional(
                "time_field",
                ParamKind::Text,
                "Field with the event time (ms since epoch or RFC 3339 text); enables watermarks (json only)",
            ),
            ParamSpec::new(
                "watermark_delay",
                ParamKind::Text,
                "How far watermarks trail the largest event time seen from any client",
            ),
        ]
    }

    fn ports(config: &WebSocketServerConfig) -> Ports {
        let ty = match config.format {
            MessageFormat::Json => PortType::Any,
            MessageFormat::Text | MessageFormat::Binary => PortType::Text,
        };
        Ports { inputs: vec![], outputs: vec![PortSpec::output("out", ty, "One event per message, from any client")] }
    }

    fn validate(config: &WebSocketServerConfig) -> Vec<ConfigProblem> {
        let mut p = Vec::new();
        if !config.bind.contains("${") && config.bind.trim().parse::<std::net::IpAddr>().is_err() {
            p.push(ConfigProblem::field("bind", "write an IP address, such as 127.0.0.1 or 0.0.0.0"));
        }
        if !config.path.starts_with('/') {
            p.push(ConfigProblem::field("path", "a path starts with /"));
        }
        if config.token.as_deref().is_some_and(|t| t.trim().is_empty()) {
            p.push(ConfigProblem::field("token", "empty; leave the token out to accept any client"));
        }
        p.extend(duration_field("watermark_delay", &config.watermark_delay).err());
        if config.time_field.is_some() && config.format != MessageFormat::Json {
            p.push(ConfigProblem::field("time_field", "only JSON messages have fields; use format json"));
        }
        p
    }

    fn build(config: WebSocketServerConfig, _ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let ip = config
            .bind
            .trim()
            .parse::<std::net::IpAddr>()
            .map_err(|_| ConfigProblem::field("bind", "write an IP address, such as 127.0.0.1"))?;
        let addr = SocketAddr::new(ip, config.port);
        let delay = duration_field("watermark_delay", &config.watermark_delay)?;
        let watermarks = Watermarks::new(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX));
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(config, addr, watermarks, ctx)) }))
    }
}

/// One message from a client, decoded (or the raw text and why it is malformed).
type Incoming = Result<Value, (String, String)>;

/// The server's gauges, shared with the accept and client tasks.
#[derive(Clone)]
struct Gauges {
    clients: Gauge,
    refused: Gauge,
    bytes_in: Gauge,
}

/// What the accept loop needs.
struct Listener {
    listener: TcpListener,
    admission: Arc<Admission>,
    max_clients: u64,
    format: MessageFormat,
    ws_config: WebSocketConfig,
    url: String,
    metrics: Arc<NodeMetrics>,
    gauges: Gauges,
}

/// Listens until a stop, merging every client's messages into batches; with a time field,
/// the watermark trails the largest time seen from any client (clients that lag behind it by
/// more than the delay send late events).
async fn run(
    config: WebSocketServerConfig,
    addr: SocketAddr,
    mut watermarks: Watermarks,
    mut ctx: NodeContext,
) -> Result<(), NodeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| NodeError(format!("websocket_server `{}`: cannot listen on {addr}: {e}", ctx.id)))?;
    let bound = listener.local_addr().map_err(|e| NodeError(format!("websocket_server `{}`: {e}", ctx.id)))?;
    let own = &ctx.metrics.own;
    let gauges =
        Gauges { clients: own.gauge("clients"), refused: own.gauge("refused"), bytes_in: own.gauge("bytes_in") };
    let size = usize::try_from(config.max_message_size).unwrap_or(usize::MAX);
    let accept = Listener {
        listener,
        admission: Arc::new(Admission { path: Some(config.path.clone()), token: config.token.clone() }),
        max_clients: config.max_clients,
        format: config.format,
        ws_config: WebSocketConfig::default().max_message_size(Some(size)).max_frame_size(Some(size)),
        url: format!("ws://{bound}{}", config.path),
        metrics: ctx.metrics.clone(),
        gauges: gauges.clone(),
    };
    let url = accept.url.clone();
    show(&accept.metrics, &url, &gauges);
    tracing::info!(node = %ctx.id, "websocket_server listening on {url}");
    let (tx, mut rx) = mpsc::channel::<Incoming>(ctx.batch_size.max(1) * 2);
    let mut tasks = JoinSet::new();
    tasks.spawn(accept_loop(accept, tx));
    let mut seq = 0u64;
    loop {
        ctx.control.wait_if_paused().await;
        let first = tokio::select! {
            biased;
            _ = ctx.control.stop.cancelled() => break,
            m = rx.recv() => m,
        };
        let Some(first) = first else { break };
        let mut batch: Batch = Vec::new();
        take(first, &mut ctx, &mut seq, &mut batch);
        while batch.len() < ctx.batch_size {
            let Ok(m) = rx.try_recv() else { break };
            take(m, &mut ctx, &mut seq, &mut batch);
        }
        stamp_times(&mut batch, config.time_field.as_deref());
        watermarks.observe(&batch);
        ctx.emit(0, batch).await?;
        if let Some(t) = watermarks.current() {
            ctx.forward_watermark(t);
        }
    }
    // Ending the accept loop ends every client's reader: their connections close. What they
    // had already handed over is still sent.
    tasks.shutdown().await;
    let mut rest: Batch = Vec::new();
    while let Ok(m) = rx.try_recv() {
        take(m, &mut ctx, &mut seq, &mut rest);
    }
    stamp_times(&mut rest, config.time_field.as_deref());
    ctx.emit(0, rest).await?;
    gauges.clients.set(0);
    ctx.metrics.own.set(NodeState::Closed, format!("stopped listening on {url}"));
    Ok(())
}

/// Sets each event's time from its field `field`, when the node reads times.
fn stamp_times(batch: &mut Batch, field: Option<&str>) {
    if let Some(field) = field {
        for ev in batch {
            ev.time = event_time(&ev.value, field);
        }
    }
}

/// One message as an event or a dead letter.
fn take(m: Incoming, ctx: &mut NodeContext, seq: &mut u64, batch: &mut Batch) {
    let n = *seq;
    *seq += 1;
    match m {
        Ok(value) => batch.push(Event::new(value, ctx.index, n)),
        Err((raw, reason)) => {
            ctx.errors.report_value(Value::String(raw), format!("message {n}: {reason}"), ctx.index, n)
        }
    }
}

fn show(metrics: &NodeMetrics, url: &str, gauges: &Gauges) {
    metrics.own.set(NodeState::Listening, format!("on {url}; {} client(s)", gauges.clients.get()));
}

/// Accepts clients (each read by its own task) until dropped.
async fn accept_loop(l: Listener, tx: mpsc::Sender<Incoming>) {
    let mut readers = JoinSet::new();
    loop {
        let (tcp, peer) = match l.listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!("websocket_server: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        // Reap the readers that ended.
        while readers.try_join_next().is_some() {}
        if readers.len() as u64 >= l.max_clients {
            l.gauges.refused.add(1);
            readers.spawn(refuse_handshake(tcp, StatusCode::SERVICE_UNAVAILABLE, "too many clients"));
            continue;
        }
        let (admission, tx, gauges, metrics, url) =
            (l.admission.clone(), tx.clone(), l.gauges.clone(), l.metrics.clone(), l.url.clone());
        let (format, ws_config) = (l.format, l.ws_config);
        readers.spawn(async move {
            match admission.accept(tcp, Some(ws_config)).await {
                Ok(ws) => {
                    gauges.clients.add(1);
                    show(&metrics, &url, &gauges);
                    read_client(ws, format, &tx, &gauges).await;
                    gauges.clients.sub(1);
                    show(&metrics, &url, &gauges);
                }
                Err(Refusal::Unauthorized) => {
                    gauges.refused.add(1);
                    tracing::info!("websocket_server: refused {peer}: wrong or missing token");
                }
                Err(Refusal::Handshake(why)) => {
                    gauges.refused.add(1);
                    tracing::debug!("websocket_server: handshake with {peer} failed: {why}");
                }
            }
        });
    }
}

/// Reads one client until it leaves, handing each message on (waiting while the queue is full).
async fn read_client(
    mut ws: tokio_tungstenite::WebSocketStream<TcpStream>,
    format: MessageFormat,
    tx: &mpsc::Sender<Incoming>,
    gauges: &Gauges,
) {
    loop {
        let m = match ws.next().await {
            Some(Ok(m)) => m,
            // Too big to read: the client is told (close code 1009) and the message is an
            // error, so its loss is counted rather than silent.
            Some(Err(WsError::Capacity(e))) => {
                let reason = format!("{e} (max_message_size): the client was disconnected");
                let _ = tx.send(Err((String::new(), reason))).await;
                let close = CloseFrame { code: CloseCode::Size, reason: "message too big".into() };
                let _ = ws.close(Some(close)).await;
                break;
            }
            Some(Err(e)) => {
                tracing::debug!("websocket_server: a client's connection ended: {e}");
                break;
            }
            None => break,
        };
        let decoded = match m {
            Message::Text(t) => decode_text(t.as_str(), format),
            Message::Binary(b) => decode(&b, format),
            Message::Close(_) => break,
            _ => continue,
        };
        let incoming = match decoded {
            Ok((value, len)) => {
                gauges.bytes_in.add(len as u64);
                Ok(value)
            }
            Err((raw, why)) => {
                gauges.bytes_in.add(raw.len() as u64);
                Err((raw, why))
            }
        };
        if tx.send(incoming).await.is_err() {
            break;
        }
    }
}

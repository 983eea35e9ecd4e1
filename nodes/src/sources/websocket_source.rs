//! `websocket_source`: a WebSocket client. Each message received becomes an event (JSON or
//! text); it reconnects with exponential backoff and jitter when the connection fails or the
//! server closes it, and sends its subscribe messages after each connect. `wss://` uses
//! rustls with the system's roots plus an optional CA file.
//!
//! Backpressure: a message is read only after the previous batch was accepted by the output,
//! so a full `block` wire stops the reading and TCP pushes back on the server. A malformed
//! message goes to `errors` with its raw text and the connection stays open.

use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use streamloom_runtime::io::NodeContext;
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};
use streamloom_runtime::{Batch, Event};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::ws::backoff::Backoff;
use crate::ws::{check_ws_url, duration_field, tls};

/// How a message becomes an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageFormat {
    /// Each message is a JSON value.
    #[default]
    Json,
    /// Each message is a string event.
    Text,
}

/// Config of `websocket_source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSocketSourceConfig {
    /// Server to connect to (`ws://host:port/path`).
    pub url: String,
    /// json or text.
    pub format: MessageFormat,
    /// Longest wait for the TCP connection and the WebSocket handshake.
    pub connect_timeout: String,
    /// Connect again after an open connection closed or failed; off: the stream ends.
    pub reconnect: bool,
    /// Wait after the first failed attempt; it doubles (with jitter) after each failure.
    pub backoff_initial: String,
    /// Longest wait between attempts.
    pub backoff_max: String,
    /// Consecutive failed attempts before the node fails; 0: try forever.
    pub max_attempts: u64,
    /// Text messages sent after each connect (subscriptions).
    pub send_on_connect: Vec<String>,
    /// Largest message accepted, in bytes; a larger one closes the connection.
    pub max_message_size: u64,
    /// PEM file of CA certificates trusted for `wss://`, besides the system's roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
}

impl Default for WebSocketSourceConfig {
    fn default() -> Self {
        WebSocketSourceConfig {
            url: "ws://127.0.0.1:9002/".into(),
            format: MessageFormat::Json,
            connect_timeout: "10s".into(),
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

/// The `websocket_source` kind.
pub struct WebSocketSource;

impl TypedNodeKind for WebSocketSource {
    type Config = WebSocketSourceConfig;
    const NAME: &'static str = "websocket_source";
    const DESCRIPTION: &'static str =
        "WebSocket client: each message received is an event; reconnects with backoff, malformed messages go to errors";
    const CATEGORY: Category = Category::Source;
    const EXAMPLE: &'static str = "Subscribe to a feed: `url: \"wss://example.org/ticks\"`, `format: \"json\"`, `send_on_connect: [\"{\\\"subscribe\\\":\\\"BTC\\\"}\"]`; each message becomes an event, the connection is retried with backoff, and messages that are not JSON go to `errors` with their text.";

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::new("url", ParamKind::Text, "Server to connect to: ws://host:port/path or wss:// (TLS)"),
            ParamSpec::choice("format", &["json", "text"], "json: each message is a JSON value; text: a string event"),
            ParamSpec::new("connect_timeout", ParamKind::Text, "Longest wait to connect and handshake (10s, 500ms)"),
            ParamSpec::new(
                "reconnect",
                ParamKind::Bool,
                "Connect again when an open connection closes; off: the stream ends (the first connect is always retried)",
            ),
            ParamSpec::new(
                "backoff_initial",
                ParamKind::Text,
                "Wait after the first failed attempt; doubles after each",
            ),
            ParamSpec::new("backoff_max", ParamKind::Text, "Longest wait between attempts"),
            ParamSpec::integer(
                "max_attempts",
                0,
                i64::MAX,
                "Consecutive failed attempts before the node fails; 0: forever",
            ),
            ParamSpec::optional("send_on_connect", ParamKind::TextList, "Text messages sent after each connect"),
            ParamSpec::integer("max_message_size", 16, 1 << 30, "Largest message accepted, in bytes"),
            ParamSpec::optional(
                "ca_file",
                ParamKind::Path,
                "PEM file of CA certificates trusted for wss://, besides the system's roots",
            ),
        ]
    }

    fn ports(config: &WebSocketSourceConfig) -> Ports {
        let ty = match config.format {
            MessageFormat::Json => PortType::Any,
            MessageFormat::Text => PortType::Text,
        };
        Ports { inputs: vec![], outputs: vec![PortSpec::output("out", ty, "One event per message")] }
    }

    fn validate(config: &WebSocketSourceConfig) -> Vec<ConfigProblem> {
        let mut p: Vec<ConfigProblem> = check_ws_url("url", &config.url).into_iter().collect();
        for (field, text) in [
            ("connect_timeout", &config.connect_timeout),
            ("backoff_initial", &config.backoff_initial),
            ("backoff_max", &config.backoff_max),
        ] {
            match duration_field(field, text) {
                Ok(d) if d.is_zero() => p.push(ConfigProblem::field(field, "must be longer than 0")),
                Ok(_) => {}
                Err(e) => p.push(e),
            }
        }
        if config.ca_file.is_some() && !config.url.trim().starts_with("wss://") {
            p.push(ConfigProblem::field("ca_file", "a CA file applies to wss:// URLs only"));
        }
        p
    }

    fn build(config: WebSocketSourceConfig, ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let tls = if config.url.trim().starts_with("wss://") {
            let ca = config.ca_file.as_deref().map(|f| ctx.resolve_path(f));
            let tls = tls::client_config(ca.as_deref()).map_err(|e| ConfigProblem::field("ca_file", e))?;
            Some(Connector::Rustls(tls))
        } else {
            None
        };
        let settings = Settings {
            tls,
            connect_timeout: duration_field("connect_timeout", &config.connect_timeout)?,
            backoff: Backoff::new(
                duration_field("backoff_initial", &config.backoff_initial)?,
                duration_field("backoff_max", &config.backoff_max)?,
                config.max_attempts,
            ),
            config,
        };
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(settings, ctx)) }))
    }
}

struct Settings {
    config: WebSocketSourceConfig,
    /// The TLS connector for `wss://`.
    tls: Option<Connector>,
    connect_timeout: Duration,
    backoff: Backoff,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How one connection ended.
enum Ended {
    /// A stop was requested.
    Stopped,
    /// The server closed it, or it failed; the reason.
    Closed(String),
}

/// Connects, reads, and reconnects as configured, until a stop, the end of the stream
/// (`reconnect` off), or spent attempts (an error). Accounting: every message read is sent
/// (`out`) or dead-lettered (`errors`); nothing awaits between reading and sending.
async fn run(mut s: Settings, mut ctx: NodeContext) -> Result<(), NodeError> {
    let mut seq = 0u64;
    loop {
        let why = match connect(&s, &ctx).await {
            Ok(None) => return Ok(()),
            Ok(Some(socket)) => {
                s.backoff.reset();
                tracing::info!(node = %ctx.id, "websocket_source connected");
                ctx.metrics.set_message("connected");
                match read(socket, &s.config, &mut ctx, &mut seq).await? {
                    Ended::Stopped => return Ok(()),
                    Ended::Closed(_) if !s.config.reconnect => {
                        ctx.metrics.set_message("closed by the server; reconnect is off");
                        return Ok(());
                    }
                    Ended::Closed(why) => why,
                }
            }
            Err(why) => why,
        };
        let Some(delay) = s.backoff.next_delay() else {
            return Err(NodeError(format!(
                "websocket_source `{}`: gave up after {} failed attempt(s); last: {why}",
                ctx.id,
                s.backoff.failures()
            )));
        };
        let status =
            format!("reconnecting: attempt {}, next in {:.1} s ({why})", s.backoff.failures(), delay.as_secs_f64());
        tracing::warn!(node = %ctx.id, "websocket_source {status}");
        ctx.metrics.set_message(status);
        if !ctx.control.sleep_until(tokio::time::Instant::now() + delay).await {
            return Ok(());
        }
    }
}

/// Opens a connection and sends the subscribe messages, within the connect timeout.
/// `Ok(None)`: a stop came first.
async fn connect(s: &Settings, ctx: &NodeContext) -> Result<Option<Socket>, String> {
    let size = usize::try_from(s.config.max_message_size).unwrap_or(usize::MAX);
    let ws_config = WebSocketConfig::default().max_message_size(Some(size)).max_frame_size(Some(size));
    let url = s.config.url.trim();
    ctx.metrics.set_message("connecting");
    let attempt = async {
        let (mut socket, _) =
            tokio_tungstenite::connect_async_tls_with_config(url, Some(ws_config), true, s.tls.clone())
                .await
                .map_err(|e| format!("connect: {e}"))?;
        for text in &s.config.send_on_connect {
            socket.send(Message::text(text.as_str())).await.map_err(|e| format!("send_on_connect: {e}"))?;
        }
        Ok::<_, String>(socket)
    };
    tokio::select! {
        r = tokio::time::timeout(s.connect_timeout, attempt) => match r {
            Ok(r) => r.map(Some),
            Err(_) => Err(format!("no connection within {:?}", s.connect_timeout)),
        },
        _ = ctx.control.stop.cancelled() => Ok(None),
    }
}

/// Reads messages into batches until the connection ends or a stop. A batch is what the
/// socket already holds (up to the batch size) after the first message is awaited.
async fn read(
    mut socket: Socket,
    config: &WebSocketSourceConfig,
    ctx: &mut NodeContext,
    seq: &mut u64,
) -> Result<Ended, NodeError> {
    loop {
        ctx.control.wait_if_paused().await;
        let first = tokio::select! {
            m = socket.next() => m,
            _ = ctx.control.stop.cancelled() => {
                // A polite close; a server that does not answer is not waited for long.
                let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                return Ok(Ended::Stopped);
            }
        };
        let mut batch: Batch = Vec::new();
        let mut ended = take(first, config.format, ctx, seq, &mut batch);
        while ended.is_none() && batch.len() < ctx.batch_size {
            match socket.next().now_or_never() {
                Some(m) => ended = take(m, config.format, ctx, seq, &mut batch),
                None => break,
            }
        }
        // Also flushes what went to `errors`.
        ctx.emit(0, batch).await?;
        if let Some(why) = ended {
            return Ok(Ended::Closed(why));
        }
    }
}

/// Turns one read into an event (or a dead letter); returns why the connection ended, if it did.
fn take(
    read: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    format: MessageFormat,
    ctx: &mut NodeContext,
    seq: &mut u64,
    batch: &mut Batch,
) -> Option<String> {
    let parsed = match read {
        None => return Some("the connection ended".into()),
        Some(Err(e)) => return Some(e.to_string()),
        Some(Ok(Message::Close(frame))) => {
            return Some(match frame {
                Some(f) => format!("closed by the server ({} {})", u16::from(f.code), f.reason),
                None => "closed by the server".into(),
            });
        }
        Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => return None,
        Some(Ok(Message::Text(t))) => decode(t.as_bytes(), format),
        Some(Ok(Message::Binary(b))) => decode(&b, format),
    };
    let n = *seq;
    *seq += 1;
    match parsed {
        Ok(value) => batch.push(Event::new(value, ctx.index, n)),
        Err((raw, reason)) => {
            ctx.errors.report_value(Value::String(raw), format!("message {n}: {reason}"), ctx.index, n)
        }
    }
    None
}

/// A message's bytes as a value; on failure, the raw text and the reason.
fn decode(bytes: &[u8], format: MessageFormat) -> Result<Value, (String, String)> {
    match format {
        MessageFormat::Json => serde_json::from_slice(bytes)
            .map_err(|e| (String::from_utf8_lossy(bytes).into_owned(), format!("not JSON: {e}"))),
        MessageFormat::Text => match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Value::String(s.to_owned())),
            Err(e) => Err((String::from_utf8_lossy(bytes).into_owned(), format!("not UTF-8 text: {e}"))),
        },
    }
}

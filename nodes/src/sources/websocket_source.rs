//! `websocket_source`: a WebSocket client. Each message received becomes an event (JSON,
//! text, or binary as base64); it reconnects with exponential backoff and jitter when the
//! connection fails, the server closes it, or it goes quiet (idle timeout, unanswered ping),
//! and sends its subscribe messages after each connect. `wss://` uses rustls with the
//! system's roots plus an optional CA file; handshake headers may carry `${ENV}` secrets.
//!
//! Backpressure: a message is read only after the previous batch was accepted by the output,
//! so a full `block` wire stops the reading and TCP pushes back on the server. A malformed
//! message goes to `errors` with its raw text and the connection stays open.

use futures_util::{FutureExt, SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use streamloom_runtime::io::NodeContext;
use streamloom_runtime::metrics::{Gauge, NodeState};
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};
use streamloom_runtime::{Batch, Event};
use tokio_tungstenite::tungstenite::Message;

use super::watermarks::{Watermarks, event_time};
use crate::ws::client::{ClientFields, ClientSettings, Socket, client_params, positive_duration};
use crate::ws::duration_field;
use crate::ws::liveness::{Duty, Liveness};
pub use crate::ws::message::MessageFormat;
use crate::ws::message::{decode, decode_text};

/// Config of `websocket_source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebSocketSourceConfig {
    /// Server to connect to (`ws://host:port/path`).
    pub url: String,
    /// Handshake headers, `Name: value`; values may use `${ENV}`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    /// Subprotocols offered.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subprotocols: Vec<String>,
    /// json, text or binary.
    pub format: MessageFormat,
    /// Longest wait for the TCP connection and the WebSocket handshake.
    pub connect_timeout: String,
    /// No text or binary message within this long: the connection is dead (reconnect).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<String>,
    /// Send a ping this often.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ping_interval: Option<String>,
    /// A ping unanswered this long: the connection is dead (reconnect).
    pub pong_timeout: String,
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
    /// Record field holding the event time in ms since the epoch (json only); enables watermarks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_field: Option<String>,
    /// How far watermarks trail the largest event time seen.
    pub watermark_delay: String,
}

impl Default for WebSocketSourceConfig {
    fn default() -> Self {
        WebSocketSourceConfig {
            url: "ws://127.0.0.1:9002/".into(),
            headers: Vec::new(),
            subprotocols: Vec::new(),
            format: MessageFormat::Json,
            connect_timeout: "10s".into(),
            idle_timeout: None,
            ping_interval: None,
            pong_timeout: "10s".into(),
            reconnect: true,
            backoff_initial: "500ms".into(),
            backoff_max: "30s".into(),
            max_attempts: 0,
            send_on_connect: Vec::new(),
            max_message_size: 16 << 20,
            ca_file: None,
            time_field: None,
            watermark_delay: "0s".into(),
        }
    }
}

impl WebSocketSourceConfig {
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
        let mut p = client_params();
        p.insert(
            3,
            ParamSpec::choice(
                "format",
                &["json", "text", "binary"],
                "json: each message is a JSON value; text: a string event; binary: the bytes as base64 text",
            ),
        );
        p.extend([
            ParamSpec::optional(
                "idle_timeout",
                ParamKind::Text,
                "No message within this long is a dead connection: reconnect; empty: wait forever",
            ),
            ParamSpec::new(
                "reconnect",
                ParamKind::Bool,
                "Connect again when an open connection closes; off: the stream ends (the first connect is always retried)",
            ),
            ParamSpec::optional(
                "time_field",
                ParamKind::Text,
                "Field with the event time (ms since epoch); enables watermarks (json only)",
            ),
            ParamSpec::new("watermark_delay", ParamKind::Text, "How far watermarks trail the largest event time seen"),
        ]);
        p
    }

    fn ports(config: &WebSocketSourceConfig) -> Ports {
        let ty = match config.format {
            MessageFormat::Json => PortType::Any,
            MessageFormat::Text | MessageFormat::Binary => PortType::Text,
        };
        Ports { inputs: vec![], outputs: vec![PortSpec::output("out", ty, "One event per message")] }
    }

    fn validate(config: &WebSocketSourceConfig) -> Vec<ConfigProblem> {
        let mut p = config.client().validate();
        p.extend(positive_duration("idle_timeout", config.idle_timeout.as_deref()).err());
        p.extend(duration_field("watermark_delay", &config.watermark_delay).err());
        if config.time_field.is_some() && config.format != MessageFormat::Json {
            p.push(ConfigProblem::field("time_field", "only JSON messages have fields; use format json"));
        }
        p
    }

    fn build(config: WebSocketSourceConfig, ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let mut client = config.client().build(ctx)?;
        client.liveness.idle_timeout = positive_duration("idle_timeout", config.idle_timeout.as_deref())?;
        let delay = duration_field("watermark_delay", &config.watermark_delay)?;
        let settings = Settings {
            client,
            watermarks: Watermarks::new(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX)),
            config,
        };
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(settings, ctx)) }))
    }
}

struct Settings {
    config: WebSocketSourceConfig,
    client: ClientSettings,
    watermarks: Watermarks,
}

/// How one connection ended.
enum Ended {
    /// A stop was requested.
    Stopped,
    /// The server closed it, or it failed, or it went quiet; the reason.
    Closed(String),
}

/// The source's gauges.
struct Gauges {
    reconnects: Gauge,
    bytes_in: Gauge,
    messages_in: Gauge,
}

/// Connects, reads, and reconnects as configured, until a stop, the end of the stream
/// (`reconnect` off), or spent attempts (an error). Accounting: every message read is sent
/// (`out`) or dead-lettered (`errors`); nothing awaits between reading and sending.
async fn run(mut s: Settings, mut ctx: NodeContext) -> Result<(), NodeError> {
    let mut seq = 0u64;
    let own = &ctx.metrics.own;
    let gauges = Gauges {
        reconnects: own.gauge("reconnects"),
        bytes_in: own.gauge("bytes_in"),
        messages_in: own.gauge("messages_in"),
    };
    loop {
        ctx.metrics.own.set_state(NodeState::Connecting);
        let (why, unauthorized) = match s.client.connect(&ctx.control.stop).await {
            Ok(None) => return Ok(()),
            Ok(Some(socket)) => {
                s.client.backoff.reset();
                tracing::info!(node = %ctx.id, "websocket_source connected");
                ctx.metrics.own.set_state(NodeState::Connected);
                match read(socket, &mut s, &mut ctx, &gauges, &mut seq).await? {
                    Ended::Stopped => return Ok(()),
                    Ended::Closed(why) if !s.config.reconnect => {
                        ctx.metrics.own.set(NodeState::Closed, format!("{why}; reconnect is off"));
                        return Ok(());
                    }
                    Ended::Closed(why) => (why, false),
                }
            }
            Err(f) => (f.reason, f.unauthorized),
        };
        let Some(delay) = s.client.backoff.next_delay() else {
            let failures = s.client.backoff.failures();
            ctx.metrics.own.set(NodeState::Failed, format!("gave up after {failures} failed attempt(s); last: {why}"));
            return Err(NodeError(format!(
                "websocket_source `{}`: gave up after {failures} failed attempt(s); last: {why}",
                ctx.id
            )));
        };
        let next = format!("attempt {}, next in {:.1} s", s.client.backoff.failures(), delay.as_secs_f64());
        tracing::warn!(node = %ctx.id, "websocket_source: {why}; {next}");
        gauges.reconnects.add(1);
        if unauthorized {
            ctx.metrics.own.set(NodeState::Failed, format!("{why}; {next}"));
        } else {
            ctx.metrics.own.set(NodeState::Reconnecting, format!("{next} ({why})"));
        }
        if !ctx.control.sleep_until(tokio::time::Instant::now() + delay).await {
            return Ok(());
        }
    }
}

/// Reads messages into batches until the connection ends, goes quiet, or a stop. A batch is
/// what the socket already holds (up to the batch size) after the first message is awaited.
async fn read(
    mut socket: Socket,
    s: &mut Settings,
    ctx: &mut NodeContext,
    gauges: &Gauges,
    seq: &mut u64,
) -> Result<Ended, NodeError> {
    let mut liveness = Liveness::new(s.client.liveness);
    loop {
        ctx.control.wait_if_paused().await;
        let first = tokio::select! {
            // A stop first (a flooding server must not hide it), then what was read before
            // a deadline (a pong that arrived in time).
            biased;
            _ = ctx.control.stop.cancelled() => {
                // A polite close; a server that does not answer is not waited for long.
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), socket.close(None)).await;
                return Ok(Ended::Stopped);
            }
            m = socket.next() => m,
            _ = liveness.tick() => {
                match liveness.duty(tokio::time::Instant::now()) {
                    Duty::Wait => {}
                    Duty::Ping => {
                        liveness.pinged();
                        if let Err(e) = socket.send(Message::Ping(Default::default())).await {
                            return Ok(Ended::Closed(format!("ping: {e}")));
                        }
                    }
                    Duty::Dead(why) => return Ok(Ended::Closed(why)),
                }
                continue;
            }
        };
        let mut batch: Batch = Vec::new();
        // What the socket already holds arrived now: one clock reading for the batch.
        let now = tokio::time::Instant::now();
        let mut note = |read: &Option<Result<Message, _>>| {
            if let Some(Ok(m)) = read {
                liveness.received_at(m, now);
            }
        };
        note(&first);
        // The batch's messages and bytes, added to the gauges once.
        let mut read_in = ReadIn::default();
        let mut ended = take(first, s, ctx, &mut read_in, seq, &mut batch);
        while ended.is_none() && batch.len() < ctx.batch_size {
            match socket.next().now_or_never() {
                Some(m) => {
                    note(&m);
                    ended = take(m, s, ctx, &mut read_in, seq, &mut batch);
                }
                None => break,
            }
        }
        gauges.messages_in.add(read_in.messages);
        gauges.bytes_in.add(read_in.bytes);
        s.watermarks.observe(&batch);
        // Also flushes what went to `errors`.
        ctx.emit(0, batch).await?;
        if let Some(t) = s.watermarks.current() {
            ctx.forward_watermark(t);
        }
        if let Some(why) = ended {
            return Ok(Ended::Closed(why));
        }
    }
}

/// Messages and bytes read, counted for a batch.
#[derive(Default)]
struct ReadIn {
    messages: u64,
    bytes: u64,
}

/// Turns one read into an event (or a dead letter); returns why the connection ended, if it did.
fn take(
    read: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    s: &Settings,
    ctx: &mut NodeContext,
    read_in: &mut ReadIn,
    seq: &mut u64,
    batch: &mut Batch,
) -> Option<String> {
    let message = match read {
        None => return Some("the connection ended".into()),
        Some(Err(e)) => return Some(e.to_string()),
        Some(Ok(m)) => m,
    };
    let parsed = match message {
        Message::Close(frame) => {
            return Some(match frame {
                Some(f) => format!("closed by the server ({} {})", u16::from(f.code), f.reason),
                None => "closed by the server".into(),
            });
        }
        Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return None,
        Message::Text(t) => decode_text(t.as_str(), s.config.format),
        Message::Binary(b) => decode(&b, s.config.format),
    };
    let n = *seq;
    *seq += 1;
    read_in.messages += 1;
    match parsed {
        Ok((value, len)) => {
            read_in.bytes += len as u64;
            let mut ev = Event::new(value, ctx.index, n);
            if let Some(field) = &s.config.time_field {
                ev.time = event_time(&ev.value, field);
            }
            batch.push(ev);
        }
        Err((raw, reason)) => {
            read_in.bytes += raw.len() as u64;
            ctx.errors.report_value(Value::String(raw), format!("message {n}: {reason}"), ctx.index, n)
        }
    }
    None
}

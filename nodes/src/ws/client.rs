//! The client side shared by `websocket_source` and `websocket_sink` in client mode: the
//! connection fields (URL, headers, subprotocols, timeouts, backoff, TLS), their checks, and
//! one connection attempt. Header values may come from `${ENV}`; they are never written to
//! logs, status or errors (only header names are).

use std::time::Duration;

use futures_util::SinkExt;
use streamloom_runtime::registry::{BuildContext, ConfigProblem, ParamKind, ParamSpec};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::backoff::{Backoff, backoff_params};
use super::liveness::LivenessOptions;
use super::{check_ws_url, duration_field, tls};

/// A client's WebSocket connection.
pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The connection fields of a client node's config, borrowed (the kinds keep them as their
/// own top-level fields).
pub struct ClientFields<'a> {
    /// `ws://` or `wss://` URL.
    pub url: &'a str,
    /// `Name: value` lines sent with the handshake.
    pub headers: &'a [String],
    /// Subprotocols offered (`Sec-WebSocket-Protocol`).
    pub subprotocols: &'a [String],
    /// Longest wait for TCP, TLS and the handshake.
    pub connect_timeout: &'a str,
    /// Ping period, if pings are on.
    pub ping_interval: Option<&'a str>,
    /// Longest wait for a ping's pong.
    pub pong_timeout: &'a str,
    /// First backoff delay.
    pub backoff_initial: &'a str,
    /// Largest backoff delay.
    pub backoff_max: &'a str,
    /// Consecutive failures before giving up (0: never).
    pub max_attempts: u64,
    /// Texts sent after each connect.
    pub send_on_connect: &'a [String],
    /// Largest message, in bytes.
    pub max_message_size: u64,
    /// Extra CA certificates for `wss://`.
    pub ca_file: Option<&'a str>,
}

/// The parameter docs of the connection fields, in the order the editor shows them.
pub fn client_params() -> Vec<ParamSpec> {
    let [backoff_initial, backoff_max] = backoff_params();
    vec![
        ParamSpec::new("url", ParamKind::Text, "Server to connect to: ws://host:port/path or wss:// (TLS)"),
        ParamSpec::optional(
            "headers",
            ParamKind::TextList,
            "Handshake headers as `Name: value`; values may use ${ENV} (never shown in logs or status)",
        ),
        ParamSpec::optional("subprotocols", ParamKind::TextList, "Subprotocols offered; the server must pick one"),
        ParamSpec::new("connect_timeout", ParamKind::Text, "Longest wait to connect and handshake (10s, 500ms)"),
        ParamSpec::optional("ping_interval", ParamKind::Text, "Send a ping this often (30s); empty: no pings"),
        ParamSpec::new("pong_timeout", ParamKind::Text, "A ping unanswered this long is a dead connection: reconnect"),
        backoff_initial,
        backoff_max,
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

/// A header line split into name and value; the problem never quotes the value.
fn split_header(i: usize, line: &str) -> Result<(&str, &str), ConfigProblem> {
    let field = format!("headers[{i}]");
    let Some((name, value)) = line.split_once(':') else {
        return Err(ConfigProblem::field(&field, "write a header as `Name: value`"));
    };
    let name = name.trim();
    if HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(ConfigProblem::field(&field, format!("`{name}` is not a header name")));
    }
    Ok((name, value.trim()))
}

impl ClientFields<'_> {
    /// Every problem with the fields.
    pub fn validate(&self) -> Vec<ConfigProblem> {
        let mut p: Vec<ConfigProblem> = check_ws_url("url", self.url).into_iter().collect();
        p.extend(positive_duration("ping_interval", self.ping_interval).err());
        for (field, text) in [
            ("connect_timeout", self.connect_timeout),
            ("pong_timeout", self.pong_timeout),
            ("backoff_initial", self.backoff_initial),
            ("backoff_max", self.backoff_max),
        ] {
            // Required: empty is a problem too.
            match duration_field(field, text) {
                Ok(d) if d.is_zero() => p.push(ConfigProblem::field(field, "must be longer than 0")),
                Ok(_) => {}
                Err(e) => p.push(e),
            }
        }
        for (i, line) in self.headers.iter().enumerate() {
            p.extend(split_header(i, line).err());
        }
        for (i, s) in self.subprotocols.iter().enumerate() {
            if s.trim().is_empty() || s.contains(',') || HeaderValue::from_str(s.trim()).is_err() {
                p.push(ConfigProblem::field(&format!("subprotocols[{i}]"), "a subprotocol is one token, no commas"));
            }
        }
        if self.ca_file.is_some() && !self.url.trim().starts_with("wss://") {
            p.push(ConfigProblem::field("ca_file", "a CA file applies to wss:// URLs only"));
        }
        p
    }

    /// The settings a running node uses (placeholders already substituted).
    pub fn build(&self, ctx: &BuildContext) -> Result<ClientSettings, ConfigProblem> {
        let tls = if self.url.trim().starts_with("wss://") {
            let ca = self.ca_file.map(|f| ctx.resolve_path(f));
            let tls = tls::client_config(ca.as_deref()).map_err(|e| ConfigProblem::field("ca_file", e))?;
            Some(Connector::Rustls(tls))
        } else {
            None
        };
        let mut headers = Vec::new();
        for (i, line) in self.headers.iter().enumerate() {
            let (name, value) = split_header(i, line)?;
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ConfigProblem::field(&format!("headers[{i}]"), "not a header name"))?;
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                ConfigProblem::field(
                    &format!("headers[{i}]"),
                    format!("the value of `{name}` is not a valid header value"),
                )
            })?;
            value.set_sensitive(true);
            headers.push((name, value));
        }
        let size = usize::try_from(self.max_message_size).unwrap_or(usize::MAX);
        Ok(ClientSettings {
            url: self.url.trim().to_string(),
            headers,
            subprotocols: self.subprotocols.iter().map(|s| s.trim().to_string()).collect(),
            tls,
            connect_timeout: duration_field("connect_timeout", self.connect_timeout)?,
            liveness: LivenessOptions {
                ping_interval: positive_duration("ping_interval", self.ping_interval)?,
                pong_timeout: duration_field("pong_timeout", self.pong_timeout)?,
                idle_timeout: None,
            },
            backoff: Backoff::new(
                duration_field("backoff_initial", self.backoff_initial)?,
                duration_field("backoff_max", self.backoff_max)?,
                self.max_attempts,
            ),
            send_on_connect: self.send_on_connect.to_vec(),
            ws_config: WebSocketConfig::default().max_message_size(Some(size)).max_frame_size(Some(size)),
        })
    }
}

/// An optional duration field that must be longer than zero; absent or empty: `None`.
pub fn positive_duration(field: &str, text: Option<&str>) -> Result<Option<Duration>, ConfigProblem> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else { return Ok(None) };
    match duration_field(field, text)? {
        d if d.is_zero() => Err(ConfigProblem::field(field, "must be longer than 0")),
        d => Ok(Some(d)),
    }
}

/// What a running client node connects with.
pub struct ClientSettings {
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    subprotocols: Vec<String>,
    tls: Option<Connector>,
    connect_timeout: Duration,
    /// Pings and timeouts on an open connection.
    pub liveness: LivenessOptions,
    /// Delays between failed attempts.
    pub backoff: Backoff,
    send_on_connect: Vec<String>,
    ws_config: WebSocketConfig,
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectFailure {
    /// What went wrong, without header values.
    pub reason: String,
    /// The server refused the credentials (HTTP 401 or 403).
    pub unauthorized: bool,
}

impl ClientSettings {
    /// One attempt: TCP, TLS, the handshake with the headers and subprotocols, then the
    /// subscribe messages, all within the connect timeout. `Ok(None)`: `stop` came first.
    pub async fn connect(&self, stop: &CancellationToken) -> Result<Option<Socket>, ConnectFailure> {
        let attempt = async {
            let mut request = self.url.as_str().into_client_request().map_err(|e| failure(&e))?;
            for (name, value) in &self.headers {
                request.headers_mut().append(name.clone(), value.clone());
            }
            if !self.subprotocols.is_empty() {
                let offered = HeaderValue::from_str(&self.subprotocols.join(", "))
                    .map_err(|_| ConnectFailure { reason: "bad subprotocols".into(), unauthorized: false })?;
                request.headers_mut().insert("Sec-WebSocket-Protocol", offered);
            }
            let (mut socket, _) =
                tokio_tungstenite::connect_async_tls_with_config(request, Some(self.ws_config), true, self.tls.clone())
                    .await
                    .map_err(|e| failure(&e))?;
            for text in &self.send_on_connect {
                socket
                    .send(Message::text(text.as_str()))
                    .await
                    .map_err(|e| ConnectFailure { reason: format!("send_on_connect: {e}"), unauthorized: false })?;
            }
            Ok::<_, ConnectFailure>(socket)
        };
        tokio::select! {
            r = tokio::time::timeout(self.connect_timeout, attempt) => match r {
                Ok(r) => r.map(Some),
                Err(_) => Err(ConnectFailure {
                    reason: format!("no connection within {}", humantime::format_duration(self.connect_timeout)),
                    unauthorized: false,
                }),
            },
            _ = stop.cancelled() => Ok(None),
        }
    }
}

/// A handshake error as a failure; an HTTP refusal names its status only (never the
/// request, whose headers may hold secrets).
fn failure(e: &WsError) -> ConnectFailure {
    match e {
        WsError::Http(resp) => {
            let status = resp.status();
            let unauthorized = status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN;
            let reason = if unauthorized {
                format!("unauthorized (HTTP {})", status.as_u16())
            } else {
                format!("the server answered HTTP {status} instead of upgrading")
            };
            ConnectFailure { reason, unauthorized }
        }
        other => ConnectFailure { reason: format!("connect: {other}"), unauthorized: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields<'a>(headers: &'a [String], ping: Option<&'a str>) -> ClientFields<'a> {
        ClientFields {
            url: "ws://127.0.0.1:9/",
            headers,
            subprotocols: &[],
            connect_timeout: "1s",
            ping_interval: ping,
            pong_timeout: "0s",
            backoff_initial: "100ms",
            backoff_max: "1s",
            max_attempts: 0,
            send_on_connect: &[],
            max_message_size: 1024,
            ca_file: None,
        }
    }

    #[test]
    fn problems_name_the_field_and_never_quote_a_header_value() {
        let headers = vec!["Authorization Bearer s3cr3t".to_string(), "X-Ok: fine".into()];
        let problems = fields(&headers, Some("soon")).validate();
        let text: Vec<String> = problems.iter().map(|p| format!("{p:?}")).collect();
        assert_eq!(problems.len(), 3, "{text:?}");
        assert!(text.iter().any(|t| t.contains("headers[0]") && t.contains("Name: value")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("ping_interval")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("pong_timeout") && t.contains("longer than 0")), "{text:?}");
        assert!(text.iter().all(|t| !t.contains("s3cr3t")), "{text:?}");
        assert!(fields(&[], Some(" ")).validate().iter().all(|p| !format!("{p:?}").contains("ping_interval")));
    }
}

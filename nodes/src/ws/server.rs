//! The server side shared by `websocket_server` and `websocket_sink` in server mode: who may
//! upgrade. The request's path and bearer token are checked before the upgrade; a wrong
//! token gets HTTP 401, a wrong path 404, and neither becomes a connection.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Longest wait for a client's WebSocket handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a client must present to connect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admission {
    /// The only path accepted (`/feed`); `None`: any.
    pub path: Option<String>,
    /// The bearer token a client must send (`Authorization: Bearer <token>`); `None`: none.
    pub token: Option<String>,
}

/// Why a client was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Wrong or missing token (answered 401).
    Unauthorized,
    /// Another failure of the handshake (wrong path, not WebSocket, timeout); never names
    /// the token.
    Handshake(String),
}

/// Whether `a` equals `b`, in time that depends on the lengths only.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn refuse(status: StatusCode, text: &str) -> ErrorResponse {
    let mut resp = ErrorResponse::new(Some(text.to_string()));
    *resp.status_mut() = status;
    resp
}

impl Admission {
    /// Checks a handshake request.
    fn check(&self, req: &Request) -> Result<(), ErrorResponse> {
        if let Some(path) = &self.path
            && req.uri().path() != path
        {
            return Err(refuse(StatusCode::NOT_FOUND, "no WebSocket at this path"));
        }
        if let Some(token) = &self.token {
            let sent = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if !same_secret(sent.trim().as_bytes(), token.as_bytes()) {
                return Err(refuse(StatusCode::UNAUTHORIZED, "unauthorized"));
            }
        }
        Ok(())
    }

    /// Completes the handshake of `tcp` when the client is admitted, within
    /// [`HANDSHAKE_TIMEOUT`].
    pub async fn accept(
        &self,
        tcp: TcpStream,
        config: Option<WebSocketConfig>,
    ) -> Result<WebSocketStream<TcpStream>, Refusal> {
        let mut unauthorized = false;
        let callback = |req: &Request, resp: Response| match self.check(req) {
            Ok(()) => Ok(resp),
            Err(e) => {
                unauthorized = e.status() == StatusCode::UNAUTHORIZED;
                Err(e)
            }
        };
        let handshake = tokio_tungstenite::accept_hdr_async_with_config(tcp, callback, config);
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
            Ok(Ok(ws)) => Ok(ws),
            Ok(Err(_)) if unauthorized => Err(Refusal::Unauthorized),
            Ok(Err(e)) => Err(Refusal::Handshake(e.to_string())),
            Err(_) => Err(Refusal::Handshake("no handshake in time".into())),
        }
    }
}

/// Answers a handshake with `status` and `text` (a server that is full: 503), within
/// [`HANDSHAKE_TIMEOUT`]; the connection then closes.
pub async fn refuse_handshake(tcp: TcpStream, status: StatusCode, text: &str) {
    let callback = |_: &Request, _: Response| Err(refuse(status, text));
    let _ = tokio::time::timeout(HANDSHAKE_TIMEOUT, tokio_tungstenite::accept_hdr_async(tcp, callback)).await;
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn secrets_compare_by_every_byte() {
        assert!(same_secret(b"s3cr3t", b"s3cr3t"));
        assert!(!same_secret(b"s3cr3t", b"s3cr3x"));
        assert!(!same_secret(b"s3cr3t", b"s3cr3"));
        assert!(!same_secret(b"", b"x"));
    }
}

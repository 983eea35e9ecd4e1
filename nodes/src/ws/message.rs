//! How a WebSocket message becomes an event: JSON, text, or its bytes as base64. Shared by
//! `websocket_source` and `websocket_server`.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a message becomes an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageFormat {
    /// Each message is a JSON value.
    #[default]
    Json,
    /// Each message is a string event.
    Text,
    /// Each message's bytes, base64-encoded, as a string event.
    Binary,
}

/// A message's bytes as a value and their length; on failure, the raw text and the reason.
pub fn decode(bytes: &[u8], format: MessageFormat) -> Result<(Value, usize), (String, String)> {
    let value = match format {
        MessageFormat::Json => serde_json::from_slice(bytes)
            .map_err(|e| (String::from_utf8_lossy(bytes).into_owned(), format!("not JSON: {e}"))),
        MessageFormat::Text => match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Value::String(s.to_owned())),
            Err(e) => Err((String::from_utf8_lossy(bytes).into_owned(), format!("not UTF-8 text: {e}"))),
        },
        MessageFormat::Binary => Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))),
    }?;
    Ok((value, bytes.len()))
}

//! How a WebSocket message becomes an event: JSON, text, or its bytes as base64. Shared by
//! `websocket_source` and `websocket_server`.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::sources::json_scan::parse_json;

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
        MessageFormat::Json => {
            parse_json(bytes).map_err(|e| (String::from_utf8_lossy(bytes).into_owned(), format!("not JSON: {e}")))
        }
        MessageFormat::Text => match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Value::String(s.to_owned())),
            Err(e) => Err((String::from_utf8_lossy(bytes).into_owned(), format!("not UTF-8 text: {e}"))),
        },
        MessageFormat::Binary => Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))),
    }?;
    Ok((value, bytes.len()))
}

/// A text message (already checked to be UTF-8 by the WebSocket layer) as a value and its
/// length, like [`decode`].
pub fn decode_text(text: &str, format: MessageFormat) -> Result<(Value, usize), (String, String)> {
    match format {
        MessageFormat::Json => parse_json(text.as_bytes())
            .map(|value| (value, text.len()))
            .map_err(|e| (text.to_owned(), format!("not JSON: {e}"))),
        _ => decode(text.as_bytes(), format),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_message_decodes_as_its_bytes_would() {
        let cases = [r#"{"ts":1,"user":"u1","type":"click","value":2.5,"név":"é"}"#, "[1, 2", "plain text ✓", ""];
        for text in cases {
            for format in [MessageFormat::Json, MessageFormat::Text, MessageFormat::Binary] {
                assert_eq!(decode_text(text, format), decode(text.as_bytes(), format), "{format:?} {text:?}");
            }
        }
        assert!(decode_text("[1, 2", MessageFormat::Json).is_err());
    }
}

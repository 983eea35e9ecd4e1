//! Pieces the WebSocket node kinds share: reconnect backoff, TLS, URL and duration fields.

pub mod backoff;
pub mod client;
pub mod liveness;
pub mod message;
pub mod server;
pub mod tls;

use std::time::Duration;

use streamloom_runtime::registry::ConfigProblem;

/// Reads the duration field `field` (`500ms`, `10s`), as a config problem naming the field.
pub fn duration_field(field: &str, text: &str) -> Result<Duration, ConfigProblem> {
    streamloom_runtime::graph::parse_duration(text).map_err(|e| ConfigProblem::field(field, e))
}

/// Checks a `ws://` or `wss://` URL: the scheme, and (when it has no `${NAME}` placeholder)
/// that it parses.
pub fn check_ws_url(field: &str, url: &str) -> Option<ConfigProblem> {
    let url = url.trim();
    if url.starts_with("${") {
        // The whole URL comes from the environment: checked when it connects.
        return None;
    }
    if !url.starts_with("ws://") && !url.starts_with("wss://") {
        return Some(ConfigProblem::field(field, "the URL must start with ws:// or wss://"));
    }
    if url.contains("${") {
        return None;
    }
    match url.parse::<tokio_tungstenite::tungstenite::http::Uri>() {
        Ok(uri) if uri.host().is_some_and(|h| !h.is_empty()) => None,
        Ok(_) => Some(ConfigProblem::field(field, "the URL has no host")),
        Err(e) => Some(ConfigProblem::field(field, format!("not a URL: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::check_ws_url;

    #[test]
    fn urls_are_checked_unless_they_come_from_the_environment() {
        for ok in ["ws://127.0.0.1:9002/", "wss://example.invalid/feed?x=1", "${FEED_URL}", "ws://${HOST}:9002/"] {
            assert!(check_ws_url("url", ok).is_none(), "{ok}");
        }
        for bad in ["http://127.0.0.1/", "127.0.0.1:9002", "ws://", "ws://a b/"] {
            assert!(check_ws_url("url", bad).is_some(), "{bad}");
        }
    }
}

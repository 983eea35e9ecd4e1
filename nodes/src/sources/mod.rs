//! Source kinds: they produce events and have no inputs.

pub mod file_follow;
pub mod file_reader;
pub mod file_source;
pub mod generator;
pub mod json_projection;
pub mod json_scan;
pub mod mqtt_source;
mod nats_jetstream;
pub mod nats_source;
pub mod watermarks;
pub mod websocket_server;
pub mod websocket_source;

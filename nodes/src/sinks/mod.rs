//! Sink kinds: they consume events and have no outputs but `errors`.

pub mod console_sink;
pub mod debug_sink;
pub mod file_rotation;
pub mod file_sink;
pub mod file_writer;
pub mod mqtt_sink;
pub mod nats_sink;
pub mod null_sink;
pub mod websocket_clients;
pub mod websocket_sink;
pub mod websocket_sink_client;

//! Streamloom's built-in node kinds. One file per kind under `sources/`, `operators/` and
//! `sinks/`: its config struct (whose `Default` is the example), ports, validation, runtime
//! behaviour and tests. Registering a kind is one line in [`builtin_registry`].

pub mod brokers;
pub mod event_time;
pub mod expr;
pub mod field_lookup;
pub mod operators;
pub mod sample_events;
pub mod sinks;
pub mod sources;
#[cfg(feature = "fault-kinds")]
pub mod testing;
pub mod ws;

use streamloom_runtime::Registry;

/// Every built-in node kind.
pub fn builtin_registry() -> Registry {
    let mut r = Registry::new();
    r.add::<sources::generator::Generator>();
    r.add::<sources::file_source::FileSource>();
    r.add::<sources::websocket_source::WebSocketSource>();
    r.add::<sources::websocket_server::WebSocketServer>();
    r.add::<sources::nats_source::NatsSource>();
    r.add::<sources::mqtt_source::MqttSource>();
    r.add::<operators::filter::Filter>();
    r.add::<operators::map::Map>();
    r.add::<operators::buffer::Buffer>();
    r.add::<operators::window::Window>();
    r.add::<sinks::file_sink::FileSink>();
    r.add::<sinks::console_sink::ConsoleSink>();
    r.add::<sinks::debug_sink::DebugSink>();
    r.add::<sinks::null_sink::NullSink>();
    r.add::<sinks::websocket_sink::WebSocketSink>();
    r.add::<sinks::nats_sink::NatsSink>();
    r.add::<sinks::mqtt_sink::MqttSink>();
    r
}

/// `registry` with the test-only kinds (`fault`) when built with the `fault-kinds` feature;
/// unchanged otherwise. Never part of [`builtin_registry`], so the editor's palette and the
/// catalogue never show them, even in a test build.
pub fn with_test_kinds(#[allow(unused_mut)] mut registry: Registry) -> Registry {
    #[cfg(feature = "fault-kinds")]
    registry.add::<testing::fault::Fault>();
    registry
}

/// Environment variable that makes the `streamloom` binary add the test-only kinds (when it
/// was built with them: only test builds are).
pub const TEST_KINDS_ENV: &str = "STREAMLOOM_TEST_KINDS";

#[cfg(test)]
mod registry_tests;

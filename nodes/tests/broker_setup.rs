//! The test brokers themselves: each starts on a free loopback port, accepts connections,
//! and comes back on the same port after a restart (or the test says loudly it skipped).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broker_servers;

use std::net::TcpStream;

use broker_servers::{Broker, Kind};

fn starts_and_restarts(kind: Kind, test: &str) {
    let Some(mut b) = Broker::start(kind, test) else { return };
    TcpStream::connect(b.addr()).unwrap();
    b.stop();
    assert!(TcpStream::connect(b.addr()).is_err(), "stopped: nothing listens on {}", b.addr());
    b.restart();
    TcpStream::connect(b.addr()).unwrap();
}

#[test]
fn nats_server_with_jetstream_starts_and_restarts_on_its_port() {
    starts_and_restarts(Kind::Nats, "nats_server_with_jetstream_starts_and_restarts_on_its_port");
}

#[test]
fn mosquitto_starts_and_restarts_on_its_port() {
    starts_and_restarts(Kind::Mosquitto, "mosquitto_starts_and_restarts_on_its_port");
}

/// The broker example graphs load and validate with the built-in kinds.
#[test]
fn the_broker_example_graphs_validate() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets/graphs");
    for name in ["nats_pipeline.ron", "mqtt_feed.ron"] {
        let (graph, map) =
            streamloom_runtime::graph::load_file(&root.join(name)).unwrap_or_else(|p| panic!("{name}: {p}"));
        let problems =
            streamloom_runtime::validate::validate_located(&graph, &streamloom_nodes::builtin_registry(), &map);
        assert!(problems.0.is_empty(), "{name}: {problems}");
        assert!(graph.description.as_deref().unwrap_or_default().starts_with("Expects "), "{name} names its server");
    }
}

//! Streamloom's runtime: everything a graph needs from file to running tasks, with no GUI types.
//!
//! The flow is `graph::load` (RON text → [`graph::Graph`]) → [`validate::validate`] against a
//! [`registry::Registry`] → [`executor::start`] (one tokio task per node, one bounded
//! [`wire`] per connection) → [`metrics`] snapshots read by the editor and the headless runner.
//! The runtime never names a concrete node kind: kinds live in the `streamloom-nodes` crate
//! and plug in through the [`registry::NodeKind`] trait.

pub mod checkpoint;
pub mod debug;
pub mod env;
pub mod event;
pub mod executor;
pub mod graph;
pub mod io;
pub mod metrics;
pub mod node_state;
pub mod problem;
pub mod pushdown;
pub mod redact;
pub mod registry;
pub mod tap;
pub mod validate;
pub mod wire;

pub use event::{Batch, Event, Message};
pub use graph::{Graph, Node, PortRef, WhenFull, Wire};
pub use problem::{Location, Problem, Problems};
pub use registry::{Category, NodeKind, PortSpec, PortType, Registry};

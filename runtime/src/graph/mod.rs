//! The graph model: nodes with stable string ids, wires between their ports, and graph
//! settings. This is the in-memory form of a graph file; the editor edits it and the
//! executor runs it. Canvas ids and GUI types never appear here.

mod annotations;
mod config_value;
mod load;
mod source_map;
#[cfg(test)]
mod tests;
mod write;

pub use annotations::{Comment, DEFAULT_GROUP_COLOR, Group};
pub use config_value::{MAX_CONFIG_DEPTH, depth as config_depth};
pub use load::{MAX_POSITION, RON_RECURSION_LIMIT, load_file, parse, parse_bytes};
pub use source_map::SourceMap;
pub use write::{save_file, to_ron};

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The newest graph file format this build reads. Format 2 adds comments and groups; a graph
/// without them is still written as format 1, so older builds keep opening it.
pub const FORMAT_VERSION: u32 = 2;

/// Default capacity of a wire, in events, when neither the wire nor the graph sets one.
pub const DEFAULT_CAPACITY: usize = 1024;

/// A whole graph.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    /// Display name.
    pub name: Option<String>,
    /// Longer description.
    pub description: Option<String>,
    /// Graph-wide settings.
    pub settings: Settings,
    /// Nodes, in file order.
    pub nodes: Vec<Node>,
    /// Wires, in file order.
    pub wires: Vec<Wire>,
    /// Notes on the canvas (format 2 on).
    pub comments: Vec<Comment>,
    /// Named, coloured groups of nodes (format 2 on).
    pub groups: Vec<Group>,
}

/// Graph-wide settings; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Capacity of wires that do not set their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_capacity: Option<usize>,
    /// Preferred events per batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// How long a stop waits for events in flight to drain before cancelling what is left,
    /// as a duration (`"30s"`, `"2m"`, `"500ms"`); 10 s when absent. `--stop-timeout` wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<String>,
    /// How often a checkpoint is triggered (`"1s"`, `"500ms"`); 1 s when absent. Broker
    /// sources acknowledge messages once a checkpoint covering them completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_interval: Option<String>,
    /// Worker threads the run's nodes share (1 to 256); one per core when absent (two in the
    /// editor). A light pipeline fed by one network source often runs faster on 1: handing
    /// batches from thread to thread costs more than it gains. `--workers` wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
}

impl Settings {
    /// The checkpoint interval written in the file, if any, or why it cannot be read.
    pub fn checkpoint_interval(&self) -> Result<Option<std::time::Duration>, String> {
        self.checkpoint_interval.as_deref().map(parse_duration).transpose()
    }

    /// The stop timeout written in the file, if any, or why it cannot be read.
    pub fn stop_timeout(&self) -> Result<Option<std::time::Duration>, String> {
        self.stop_timeout.as_deref().map(parse_duration).transpose()
    }
}

/// Reads a duration written as `10s`, `500ms`, `1m 30s`, `2h`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{}` is not a duration ({e}); write it as 10s, 500ms, 2m or 1h", cut(text, 40)))
}

/// `text`, cut to at most `max` characters with an ellipsis.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

/// One node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Stable, human-readable id, unique in the graph.
    pub id: String,
    /// Node kind name (see the registry).
    pub kind: String,
    /// Version of the kind's config this node was written with.
    pub version: u32,
    /// Editor position, when the graph has been laid out.
    pub position: Option<[f32; 2]>,
    /// The kind's config, kept as JSON-compatible data (unknown kinds keep theirs untouched).
    pub config: Value,
}

/// One end of a wire: a node id and a port name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRef {
    /// Node id.
    pub node: String,
    /// Port name.
    pub port: String,
}

impl PortRef {
    /// `node.port`.
    pub fn new(node: impl Into<String>, port: impl Into<String>) -> Self {
        PortRef { node: node.into(), port: port.into() }
    }
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.node, self.port)
    }
}

/// What a wire does with new events when it is full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Wait for room: lossless backpressure (the default).
    #[default]
    Block,
    /// Make room by dropping the oldest queued events (counted).
    DropOldest,
    /// Drop the events that do not fit (counted).
    DropNewest,
}

impl WhenFull {
    /// Every policy, in display order.
    pub const ALL: [WhenFull; 3] = [WhenFull::Block, WhenFull::DropOldest, WhenFull::DropNewest];

    /// The name used in graph files.
    pub fn name(self) -> &'static str {
        match self {
            WhenFull::Block => "block",
            WhenFull::DropOldest => "drop_oldest",
            WhenFull::DropNewest => "drop_newest",
        }
    }
}

/// A connection from an output port to an input port, with its own queue settings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Wire {
    /// The output end.
    pub from: PortRef,
    /// The input end.
    pub to: PortRef,
    /// Queue capacity in events (graph default when absent).
    pub capacity: Option<usize>,
    /// Policy when the queue is full (block when absent).
    pub when_full: Option<WhenFull>,
}

impl Wire {
    /// A wire with default settings.
    pub fn new(from: PortRef, to: PortRef) -> Self {
        Wire { from, to, capacity: None, when_full: None }
    }
    /// The wire's id, `from.port -> to.port`, as used in metrics and problems.
    pub fn id(&self) -> String {
        format!("{} -> {}", self.from, self.to)
    }
}

impl Graph {
    /// The node with id `id`.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }
    /// The node with id `id`, mutably.
    pub fn node_mut(&mut self, id: &str) -> Option<&mut Node> {
        self.nodes.iter_mut().find(|n| n.id == id)
    }
    /// An id not used yet, built from `base` (`base`, `base_2`, `base_3`, ...).
    pub fn fresh_id(&self, base: &str) -> String {
        if self.node(base).is_none() {
            return base.to_string();
        }
        (2..).map(|i| format!("{base}_{i}")).find(|id| self.node(id).is_none()).unwrap_or_default()
    }
    /// The oldest file format that holds everything in this graph (what [`to_ron`] writes).
    pub fn format(&self) -> u32 {
        if self.comments.is_empty() && self.groups.is_empty() { 1 } else { 2 }
    }
    /// Capacity of `wire`, after defaults.
    pub fn capacity_of(&self, wire: &Wire) -> usize {
        wire.capacity.or(self.settings.default_capacity).unwrap_or(DEFAULT_CAPACITY)
    }
}

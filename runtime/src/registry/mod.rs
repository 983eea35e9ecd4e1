//! The node-kind registry: what kinds exist, their ports, parameters, validation and how to
//! build a running task from a config.

mod params;
mod ports;
mod typed;

pub use params::{ParamKind, ParamSpec, check_param};
pub use ports::{ERRORS_PORT, PortSpec, PortType, Ports};
pub use typed::{Typed, TypedNodeKind};

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::io::NodeContext;
use crate::pushdown::RecordPredicate;

/// Where a node kind sits in a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Produces events (no inputs).
    Source,
    /// Transforms events.
    Operator,
    /// Consumes events (no outputs but `errors`).
    Sink,
}

impl Category {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Category::Source => "source",
            Category::Operator => "operator",
            Category::Sink => "sink",
        }
    }
}

/// A problem with a node's config, found by validation or building.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigProblem {
    /// The config field, dotted, when the problem belongs to one.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl ConfigProblem {
    /// A problem with field `field`.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ConfigProblem { field: Some(field.into()), message: message.into() }
    }
    /// A problem with the config as a whole.
    pub fn whole(message: impl Into<String>) -> Self {
        ConfigProblem { field: None, message: message.into() }
    }
}

/// The error a running node ends with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NodeError(pub String);

impl From<std::io::Error> for NodeError {
    fn from(e: std::io::Error) -> Self {
        NodeError(e.to_string())
    }
}

/// The future a running node is.
pub type NodeFuture = Pin<Box<dyn Future<Output = Result<(), NodeError>> + Send>>;

/// A node built from its config, ready to run once.
pub trait NodeTask: Send {
    /// Runs the node until its inputs end (or, for sources, until done or stopped).
    fn run(self: Box<Self>, ctx: NodeContext) -> NodeFuture;
}

impl<F> NodeTask for F
where
    F: FnOnce(NodeContext) -> NodeFuture + Send,
{
    fn run(self: Box<Self>, ctx: NodeContext) -> NodeFuture {
        (*self)(ctx)
    }
}

/// What a kind needs to know when building a node.
#[derive(Clone)]
pub struct BuildContext {
    /// The node's id.
    pub node_id: String,
    /// Folder that relative paths are resolved against (the graph file's folder).
    pub base_dir: PathBuf,
    /// Preferred number of events per batch.
    pub batch_size: usize,
    /// Looks up `${NAME}` placeholders that a kind binds itself (expression variables).
    pub env: crate::executor::EnvLookup,
}

impl std::fmt::Debug for BuildContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildContext")
            .field("node_id", &self.node_id)
            .field("base_dir", &self.base_dir)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl BuildContext {
    /// Resolves a path from a config against [`BuildContext::base_dir`].
    pub fn resolve_path(&self, path: &str) -> PathBuf {
        let p = Path::new(path);
        if p.is_absolute() { p.to_path_buf() } else { self.base_dir.join(p) }
    }
}

/// A node kind. Implemented through [`TypedNodeKind`] by every kind in `streamloom-nodes`.
pub trait NodeKind: Send + Sync + 'static {
    /// Stable name used in graph files (`kind: "filter"`).
    fn name(&self) -> &'static str;
    /// One sentence for users.
    fn description(&self) -> &'static str;
    /// Source, operator or sink.
    fn category(&self) -> Category;
    /// Current config version; files with a newer one are refused (but kept).
    fn version(&self) -> u32;
    /// How the kind is typically used, for the help panel (empty: none).
    fn example(&self) -> &'static str {
        ""
    }
    /// The parameters of the config, for forms and docs. Validation enforces their types,
    /// ranges and choices.
    fn params(&self) -> Vec<ParamSpec>;
    /// Whether a source of this kind injects its own checkpoint barriers (see
    /// [`crate::checkpoint`]); the runtime injects them for the others.
    fn injects_barriers(&self) -> bool {
        false
    }
    /// Whether nodes of this kind can send events to their `errors` port; a source that can
    /// and whose `errors` port is unwired gets a validation warning.
    fn emits_dead_letters(&self) -> bool {
        true
    }
    /// The example config (the config struct's `Default`).
    fn default_config(&self) -> Value;
    /// `config` with every field it leaves out at the value the node will run with (its
    /// default); `None` when the config does not read (validation says why).
    fn effective_config(&self, _config: &Value) -> Option<Value> {
        None
    }
    /// Ports for this config, including the dead-letter output.
    fn ports(&self, config: &Value) -> Ports;
    /// Every problem with this config; empty when it is valid.
    fn validate(&self, config: &Value) -> Vec<ConfigProblem>;
    /// Builds the running task. `config` has had `${VAR}`s substituted.
    fn build(&self, config: &Value, ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem>;
    /// The test a node of this kind applies to each record on its own, which the source in
    /// front of it may apply while reading (see [`crate::pushdown`]); `None` for most kinds.
    fn predicate(&self, _config: &Value, _ctx: &BuildContext) -> Option<Arc<dyn RecordPredicate>> {
        None
    }
}

/// A catalogue entry, as printed by `streamloom nodes --json`.
#[derive(Debug, Clone, Serialize)]
pub struct KindInfo {
    /// Kind name.
    pub name: &'static str,
    /// Category.
    pub category: Category,
    /// Config version.
    pub version: u32,
    /// Description.
    pub description: &'static str,
    /// Ports of the default config.
    pub ports: Ports,
    /// Parameters.
    pub params: Vec<ParamSpec>,
    /// The default config.
    pub default_config: Value,
    /// How the kind is typically used (empty: none).
    pub example: &'static str,
}

/// All known node kinds, by name.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<&'static str, Arc<dyn NodeKind>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a kind (replacing one of the same name).
    pub fn register(&mut self, kind: impl NodeKind) -> &mut Self {
        self.kinds.insert(kind.name(), Arc::new(kind));
        self
    }
    /// Adds a kind written as a [`TypedNodeKind`].
    pub fn add<T: TypedNodeKind>(&mut self) -> &mut Self {
        self.register(Typed::<T>::new())
    }
    /// The kind named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn NodeKind>> {
        self.kinds.get(name)
    }
    /// Every kind, sorted by category then name.
    pub fn kinds(&self) -> Vec<&Arc<dyn NodeKind>> {
        let mut v: Vec<_> = self.kinds.values().collect();
        v.sort_by_key(|k| (k.category(), k.name()));
        v
    }
    /// The catalogue.
    pub fn catalogue(&self) -> Vec<KindInfo> {
        self.kinds()
            .into_iter()
            .map(|k| {
                let default_config = k.default_config();
                KindInfo {
                    name: k.name(),
                    category: k.category(),
                    version: k.version(),
                    description: k.description(),
                    ports: k.ports(&default_config),
                    params: k.params(),
                    default_config,
                    example: k.example(),
                }
            })
            .collect()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.kinds.keys()).finish()
    }
}

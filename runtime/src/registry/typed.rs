//! Writing a node kind with a typed serde config instead of raw JSON values.

use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{BuildContext, Category, ConfigProblem, NodeKind, NodeTask, ParamSpec, Ports};

/// A node kind whose config is a serde struct. `Default` of the config is the example config.
/// Use `#[serde(deny_unknown_fields)]` on the config so misspelt fields are reported.
pub trait TypedNodeKind: Send + Sync + 'static {
    /// The config struct.
    type Config: Serialize + DeserializeOwned + Default + Send + Sync + 'static;
    /// Stable kind name.
    const NAME: &'static str;
    /// One sentence for users.
    const DESCRIPTION: &'static str;
    /// Category.
    const CATEGORY: Category;
    /// Config version.
    const VERSION: u32 = 1;
    /// Parameters of the config.
    fn params() -> Vec<ParamSpec>;
    /// Ports for this config (without the dead-letter port).
    fn ports(config: &Self::Config) -> Ports;
    /// Problems beyond what deserialization catches (ranges, expressions, paths).
    fn validate(_config: &Self::Config) -> Vec<ConfigProblem> {
        Vec::new()
    }
    /// Builds the running task.
    fn build(config: Self::Config, ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem>;
}

/// Adapter from a [`TypedNodeKind`] to the object-safe [`NodeKind`].
pub struct Typed<T>(PhantomData<fn() -> T>);

impl<T> Typed<T> {
    /// The adapter.
    pub fn new() -> Self {
        Typed(PhantomData)
    }
}

impl<T> Default for Typed<T> {
    fn default() -> Self {
        Self::new()
    }
}

fn parse<T: TypedNodeKind>(config: &Value) -> Result<T::Config, ConfigProblem> {
    T::Config::deserialize(config).map_err(|e| {
        let msg = e.to_string();
        // serde names the field in backticks: "unknown field `x`, expected ..." / "missing field `x`".
        let field = msg.split('`').nth(1).filter(|_| msg.contains("field")).map(str::to_string);
        ConfigProblem { field, message: format!("config: {msg}") }
    })
}

use serde::Deserialize as _;

impl<T: TypedNodeKind> NodeKind for Typed<T> {
    fn name(&self) -> &'static str {
        T::NAME
    }
    fn description(&self) -> &'static str {
        T::DESCRIPTION
    }
    fn category(&self) -> Category {
        T::CATEGORY
    }
    fn version(&self) -> u32 {
        T::VERSION
    }
    fn params(&self) -> Vec<ParamSpec> {
        T::params()
    }
    fn default_config(&self) -> Value {
        serde_json::to_value(T::Config::default()).unwrap_or(Value::Null)
    }
    fn ports(&self, config: &Value) -> Ports {
        let cfg = parse::<T>(config).unwrap_or_default();
        T::ports(&cfg).with_errors()
    }
    fn validate(&self, config: &Value) -> Vec<ConfigProblem> {
        match parse::<T>(config) {
            Ok(cfg) => T::validate(&cfg),
            Err(p) => vec![p],
        }
    }
    fn build(&self, config: &Value, ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let cfg = parse::<T>(config)?;
        if let Some(p) = T::validate(&cfg).into_iter().next() {
            return Err(p);
        }
        T::build(cfg, ctx)
    }
}

//! Writing a node kind with a typed serde config instead of raw JSON values.
//!
//! Validation of a typed config lists every problem of the node, each naming its field: every
//! field is checked against the kind's [`ParamSpec`] (type, range, choices) and on its own
//! through serde (so a type error names its field, which serde's message does not), then the
//! config with its bad fields replaced by the example's goes through the kind's own checks.

use std::collections::BTreeSet;
use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::params::check_param;
use super::{BuildContext, Category, ConfigProblem, NodeKind, NodeTask, ParamSpec, Ports};
use crate::problem::cut;
use crate::pushdown::RecordPredicate;

/// Longest serde message kept in a config problem, in bytes.
const MAX_SERDE_MESSAGE: usize = 300;

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
    /// How the kind is typically used, a few sentences for the help panel (empty: none).
    const EXAMPLE: &'static str = "";
    /// Whether nodes of this kind can send events to their `errors` port (a source that reads
    /// external input can; a generator cannot). Unwired, they are a validation warning.
    const DEAD_LETTERS: bool = true;
    /// A source that injects its own checkpoint barriers (it owes acknowledgements; see
    /// [`crate::checkpoint`]); the runtime injects them for every other source.
    const INJECTS_BARRIERS: bool = false;
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
    /// The per-record test a source in front may apply while reading (see
    /// [`crate::pushdown`]); `None` by default.
    fn predicate(_config: &Self::Config, _ctx: &BuildContext) -> Option<Arc<dyn RecordPredicate>> {
        None
    }
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
        ConfigProblem { field, message: format!("config: {}", cut(&msg, MAX_SERDE_MESSAGE)) }
    })
}

/// A short description of a JSON value's type, for messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a struct",
    }
}

/// Every problem of `config` for kind `T` (see the module docs).
fn validate_all<T: TypedNodeKind>(config: &Value) -> Vec<ConfigProblem> {
    let Value::Object(fields) = config else {
        return vec![ConfigProblem::whole(format!(
            "config must be a struct of fields, like `(field: value)`, not {}",
            type_name(config)
        ))];
    };
    let example = match serde_json::to_value(T::Config::default()) {
        Ok(Value::Object(m)) => m,
        _ => Default::default(),
    };
    let specs = T::params();
    let mut problems = Vec::new();
    let mut bad = BTreeSet::new();
    for (key, value) in fields {
        let spec_problem = specs.iter().find(|s| s.name == *key).and_then(|s| check_param(s, value));
        let problem = spec_problem.or_else(|| {
            let mut alone = example.clone();
            alone.insert(key.clone(), value.clone());
            parse::<T>(&Value::Object(alone)).err().map(|p| p.message)
        });
        if let Some(message) = problem {
            problems.push(ConfigProblem::field(key, message));
            bad.insert(key.clone());
        }
    }
    let mut patched = fields.clone();
    for key in &bad {
        match example.get(key) {
            Some(v) => patched.insert(key.clone(), v.clone()),
            None => patched.remove(key),
        };
    }
    let reported =
        |p: &ConfigProblem| p.field.as_ref().is_some_and(|f| bad.contains(f.split(['.', '[']).next().unwrap_or(f)));
    match parse::<T>(&Value::Object(patched)) {
        Ok(cfg) => problems.extend(T::validate(&cfg).into_iter().filter(|p| !reported(p))),
        Err(p) if !reported(&p) => problems.push(p),
        Err(_) => {}
    }
    problems
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
    fn example(&self) -> &'static str {
        T::EXAMPLE
    }
    fn params(&self) -> Vec<ParamSpec> {
        T::params()
    }
    fn injects_barriers(&self) -> bool {
        T::INJECTS_BARRIERS
    }
    fn emits_dead_letters(&self) -> bool {
        T::DEAD_LETTERS
    }
    fn default_config(&self) -> Value {
        serde_json::to_value(T::Config::default()).unwrap_or(Value::Null)
    }
    fn effective_config(&self, config: &Value) -> Option<Value> {
        serde_json::to_value(parse::<T>(config).ok()?).ok()
    }
    fn ports(&self, config: &Value) -> Ports {
        let cfg = parse::<T>(config).unwrap_or_default();
        T::ports(&cfg).with_errors()
    }
    fn validate(&self, config: &Value) -> Vec<ConfigProblem> {
        validate_all::<T>(config)
    }
    fn build(&self, config: &Value, ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        // The same checks as validation (a config with `${VAR}`s substituted may differ).
        if let Some(p) = validate_all::<T>(config).into_iter().next() {
            return Err(p);
        }
        T::build(parse::<T>(config)?, ctx)
    }
    fn predicate(&self, config: &Value, ctx: &BuildContext) -> Option<Arc<dyn RecordPredicate>> {
        T::predicate(&parse::<T>(config).ok()?, ctx)
    }
}

//! The built plan: every node's config with `${NAME}` placeholders substituted and its task
//! built, or every problem found on the way (all at once).

use std::sync::Arc;

use serde_json::Value;

use super::RunOptions;
use crate::env;
use crate::graph::Graph;
use crate::problem::{Location, Problem, Problems};
use crate::pushdown::RecordPredicate;
use crate::redact::Redactor;
use crate::registry::{BuildContext, NodeTask, ParamKind, Registry};

/// One node's built task.
pub(crate) struct BuiltNode {
    /// Index of the node in the graph.
    pub index: usize,
    /// The task.
    pub task: Box<dyn NodeTask>,
    /// Whether its kind injects its own checkpoint barriers.
    pub injects_barriers: bool,
    /// The per-record test a source in front of it may apply (see [`crate::pushdown`]).
    pub predicate: Option<Arc<dyn RecordPredicate>>,
}

/// A graph ready to be wired and spawned.
pub(crate) struct Plan {
    /// The built nodes, in graph order.
    pub nodes: Vec<BuiltNode>,
    /// Events per batch.
    pub batch_size: usize,
    /// Turns substituted values back into their placeholders in messages.
    pub redactor: Redactor,
}

/// Substitutes placeholders and builds every node of an already validated `graph`.
pub(crate) fn build(graph: &Graph, registry: &Registry, options: &RunOptions) -> Result<Plan, Problems> {
    let batch_size = graph.settings.batch_size.unwrap_or(1024).max(1);
    let redactor = Redactor::for_configs(graph.nodes.iter().map(|n| &n.config), &*options.env);
    let mut problems = Vec::new();
    let mut nodes = Vec::new();
    for (index, node) in graph.nodes.iter().enumerate() {
        let Some(kind) = registry.get(&node.kind) else { continue };
        let config = match substitute(&node.config, &kind.params(), options) {
            Ok(c) => c,
            Err(unset) => {
                problems.extend(unset.into_iter().map(|u| {
                    Problem::error(
                        Location::field(&node.id, u.field),
                        format!("environment variable `{}` is not set", u.var),
                    )
                }));
                continue;
            }
        };
        let ctx = BuildContext {
            node_id: node.id.clone(),
            base_dir: options.base_dir.clone(),
            batch_size,
            env: options.env.clone(),
        };
        match kind.build(&config, &ctx) {
            Ok(task) => nodes.push(BuiltNode {
                index,
                task,
                injects_barriers: kind.injects_barriers(),
                predicate: kind.predicate(&config, &ctx),
            }),
            Err(p) => problems.push(Problem::error(
                Location { field: p.field.clone(), ..Location::node(&node.id) },
                redactor.redact(&p.message),
            )),
        }
    }
    if problems.is_empty() { Ok(Plan { nodes, batch_size, redactor }) } else { Err(Problems(problems)) }
}

/// Substitutes `${NAME}`s in the config. Expression fields are left as written: their
/// variables are bound by the expression engine, never pasted into the program text.
fn substitute(
    config: &Value,
    params: &[crate::registry::ParamSpec],
    options: &RunOptions,
) -> Result<Value, Vec<env::UnsetVar>> {
    let Value::Object(map) = config else { return env::substitute(config, &*options.env) };
    let mut out = serde_json::Map::new();
    let mut unset = Vec::new();
    for (field, value) in map {
        let is_expression = params.iter().any(|p| p.name == *field && p.kind == ParamKind::Expression);
        if is_expression {
            out.insert(field.clone(), value.clone());
            continue;
        }
        match env::substitute(value, &*options.env) {
            Ok(v) => {
                out.insert(field.clone(), v);
            }
            Err(u) => unset.extend(u.into_iter().map(|mut u| {
                u.field = if u.field.is_empty() { field.clone() } else { format!("{field}.{}", u.field) };
                u
            })),
        }
    }
    if unset.is_empty() { Ok(Value::Object(out)) } else { Err(unset) }
}

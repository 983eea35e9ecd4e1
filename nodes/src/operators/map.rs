//! `map`: reshapes each event with a jq expression (`.value *= 1.1`, `{user, total: .value}`,
//! `del(.debug)`). An expression with several outputs emits several events; with none, the
//! event is dropped (counted as filtered). `.` forwards batches untouched. Evaluations run under
//! the node's budget (`max_steps`, `max_outputs`, `max_depth`); an event that exceeds it, or
//! makes the expression fail, goes to `errors` with the reason and the event as it came in.
//! `${NAME}` placeholders are bound as jq variables when the run starts.

use serde::{Deserialize, Serialize};
use streamloom_runtime::io::{DeadLetters, NodeContext, drive_operator};
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType, Ports,
    TypedNodeKind,
};
use streamloom_runtime::{Batch, Event};

use super::expression::{build_field, compile_field, interrupt, limit_params, limits};
use crate::expr::on_eval_stack;

/// Config of `map`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapConfig {
    /// jq expression producing the new event(s).
    pub expression: String,
    /// Most evaluation steps per event (default [`crate::expr::DEFAULT_MAX_STEPS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
    /// Most outputs per event (default [`crate::expr::DEFAULT_MAX_OUTPUTS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_outputs: Option<u64>,
    /// Deepest result value (default [`crate::expr::DEFAULT_MAX_DEPTH`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_depth: Option<u64>,
}

impl Default for MapConfig {
    fn default() -> Self {
        MapConfig { expression: ".value *= 1.1".into(), max_steps: None, max_outputs: None, max_depth: None }
    }
}

/// The `map` kind.
pub struct Map;

impl TypedNodeKind for Map {
    type Config = MapConfig;
    const NAME: &'static str = "map";
    const DESCRIPTION: &'static str = "Reshapes each event with a jq expression";
    const CATEGORY: Category = Category::Operator;
    const EXAMPLE: &'static str = "Add tax and keep three fields: `expression: \"{user, value, gross: .value * 1.2}\"` turns `{\"user\":\"u1\",\"value\":10,\"type\":\"purchase\"}` into `{\"gross\":12.0,\"user\":\"u1\",\"value\":10}`.";

    fn params() -> Vec<ParamSpec> {
        let mut params = vec![ParamSpec::new(
            "expression",
            ParamKind::Expression,
            "jq expression, e.g. {user, total: .value * 1.1}",
        )];
        params.extend(limit_params());
        params
    }

    fn ports(_config: &MapConfig) -> Ports {
        Ports {
            inputs: vec![PortSpec::input("in", PortType::Any, "Events to reshape")],
            outputs: vec![PortSpec::output("out", PortType::Any, "Reshaped events")],
        }
    }

    fn validate(config: &MapConfig) -> Vec<ConfigProblem> {
        compile_field("expression", &config.expression).err().into_iter().collect()
    }

    fn build(config: MapConfig, build: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let limits = limits(config.max_steps, config.max_outputs, config.max_depth);
        let expr = build_field("expression", &config.expression, limits, build)?;
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture {
            let expr = expr.with_interrupt(interrupt(&ctx));
            if expr.is_identity() {
                return Box::pin(drive_operator(ctx, |batch: Batch, out: &mut Batch, _: &mut DeadLetters| {
                    *out = batch;
                    out.len()
                }));
            }
            Box::pin(drive_operator(ctx, move |batch: Batch, out: &mut Batch, errors: &mut DeadLetters| {
                // jaq recurses: give a batch it evaluates the big stack once, not per event.
                if expr.is_native() {
                    map_batch(&expr, batch, out, errors)
                } else {
                    on_eval_stack(|| map_batch(&expr, batch, out, errors))
                }
            }))
        }))
    }
}

/// Maps one batch; returns how many events gave at least one output.
fn map_batch(expr: &crate::expr::Expr, batch: Batch, out: &mut Batch, errors: &mut DeadLetters) -> usize {
    let mut passed = 0;
    for ev in batch {
        let Event { value, time, source, seq } = ev;
        let before = out.len();
        if let Err((e, input)) = expr.try_apply(value, &mut |v| out.push(Event { value: v, time, source, seq })) {
            out.truncate(before);
            if expr.interrupted() {
                // The run is being killed: the rest of the batch is lost, not failed.
                break;
            }
            let value = input.unwrap_or(serde_json::Value::Null);
            errors.report(Event { value, time, source, seq }, format!("expression failed: {e}"));
        } else if out.len() > before {
            passed += 1;
        }
    }
    passed
}

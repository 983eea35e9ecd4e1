//! `map`: reshapes each event with a jq expression (`.value *= 1.1`, `{user, total: .value}`,
//! `del(.debug)`). An expression with several outputs emits several events; with none, the
//! event is dropped. `.` forwards batches untouched.

use serde::{Deserialize, Serialize};
use streamloom_runtime::io::{DeadLetters, NodeContext, drive_operator};
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType, Ports,
    TypedNodeKind,
};
use streamloom_runtime::{Batch, Event};

use super::filter::compile_field;

/// Config of `map`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapConfig {
    /// jq expression producing the new event(s).
    pub expression: String,
}

impl Default for MapConfig {
    fn default() -> Self {
        MapConfig { expression: ".value *= 1.1".into() }
    }
}

/// The `map` kind.
pub struct Map;

impl TypedNodeKind for Map {
    type Config = MapConfig;
    const NAME: &'static str = "map";
    const DESCRIPTION: &'static str = "Reshapes each event with a jq expression";
    const CATEGORY: Category = Category::Operator;

    fn params() -> Vec<ParamSpec> {
        vec![ParamSpec::new("expression", ParamKind::Expression, "jq expression, e.g. {user, total: .value * 1.1}")]
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

    fn build(config: MapConfig, _ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let expr = compile_field("expression", &config.expression)?;
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture {
            if expr.is_identity() {
                return Box::pin(drive_operator(ctx, |batch: Batch, out: &mut Batch, _: &mut DeadLetters| {
                    *out = batch;
                    out.len()
                }));
            }
            Box::pin(drive_operator(ctx, move |batch: Batch, out: &mut Batch, errors: &mut DeadLetters| {
                let mut passed = 0;
                for ev in batch {
                    let Event { value, time, source, seq } = ev;
                    let before = out.len();
                    if let Err((e, input)) =
                        expr.try_apply(value, &mut |v| out.push(Event { value: v, time, source, seq }))
                    {
                        out.truncate(before);
                        let value = input.unwrap_or(serde_json::Value::Null);
                        errors.report(Event { value, time, source, seq }, format!("expression failed: {e}"));
                    } else if out.len() > before {
                        passed += 1;
                    }
                }
                passed
            }))
        }))
    }
}

//! `filter`: keeps the events for which a jq condition is true. The expression is compiled
//! once; the common subset runs as native code over the record.

use serde::{Deserialize, Serialize};
use streamloom_runtime::Batch;
use streamloom_runtime::io::{DeadLetters, NodeContext, drive_operator};
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType, Ports,
    TypedNodeKind,
};

use crate::expr::Expr;

/// Config of `filter`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// jq condition; events where it is true (not false or null) pass.
    pub condition: String,
}

impl Default for FilterConfig {
    fn default() -> Self {
        FilterConfig { condition: ".type == \"purchase\"".into() }
    }
}

/// The `filter` kind.
pub struct Filter;

/// Compiles an expression field, turning a syntax error into a problem on that field.
pub(crate) fn compile_field(field: &str, src: &str) -> Result<Expr, ConfigProblem> {
    Expr::compile(src).map_err(|e| ConfigProblem::field(field, format!("jq: {e}")))
}

impl TypedNodeKind for Filter {
    type Config = FilterConfig;
    const NAME: &'static str = "filter";
    const DESCRIPTION: &'static str = "Keeps events for which a jq condition is true";
    const CATEGORY: Category = Category::Operator;

    fn params() -> Vec<ParamSpec> {
        vec![ParamSpec::new(
            "condition",
            ParamKind::Expression,
            "jq condition, e.g. .type == \"purchase\" and .value > 10",
        )]
    }

    fn ports(_config: &FilterConfig) -> Ports {
        Ports {
            inputs: vec![PortSpec::input("in", PortType::Any, "Events to test")],
            outputs: vec![PortSpec::output("out", PortType::Any, "Events where the condition holds")],
        }
    }

    fn validate(config: &FilterConfig) -> Vec<ConfigProblem> {
        compile_field("condition", &config.condition).err().into_iter().collect()
    }

    fn build(config: FilterConfig, _ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let expr = compile_field("condition", &config.condition)?;
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture {
            Box::pin(drive_operator(ctx, move |batch: Batch, out: &mut Batch, errors: &mut DeadLetters| {
                for ev in batch {
                    match expr.test(&ev.value) {
                        Ok(true) => out.push(ev),
                        Ok(false) => {}
                        Err(e) => errors.report(ev, format!("condition failed: {e}")),
                    }
                }
                out.len()
            }))
        }))
    }
}

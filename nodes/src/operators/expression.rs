//! What `filter` and `map` share: compiling their expression field, its budget parameters,
//! binding `${NAME}` placeholders at build, and interrupting evaluations when a run is killed.

use std::sync::Arc;

use streamloom_runtime::io::NodeContext;
use streamloom_runtime::registry::{BuildContext, ConfigProblem, ParamKind, ParamSpec};

use crate::expr::{
    DEFAULT_MAX_DEPTH, DEFAULT_MAX_OUTPUTS, DEFAULT_MAX_STEPS, Expr, Interrupt, Limits, MAX_MAX_DEPTH, MAX_MAX_OUTPUTS,
    MAX_MAX_STEPS,
};

/// Compiles an expression field, turning a syntax error into a problem on that field.
pub(crate) fn compile_field(field: &str, src: &str) -> Result<Expr, ConfigProblem> {
    Expr::compile(src).map_err(|e| ConfigProblem::field(field, format!("jq: {e}")))
}

/// Compiles an expression field for a run: placeholders bound from the environment (an unset
/// one is a problem on the field), and the node's budget.
pub(crate) fn build_field(field: &str, src: &str, limits: Limits, ctx: &BuildContext) -> Result<Expr, ConfigProblem> {
    let mut expr = compile_field(field, src)?;
    expr.bind(&*ctx.env).map_err(|unset| {
        let names: Vec<String> = unset.iter().map(|n| format!("`{n}`")).collect();
        ConfigProblem::field(field, format!("environment variable {} is not set", names.join(", ")))
    })?;
    Ok(expr.with_limits(limits))
}

/// The budget parameters, documented for the editor and the catalogue.
pub(crate) fn limit_params() -> Vec<ParamSpec> {
    vec![
        ParamSpec::optional(
            "max_steps",
            ParamKind::Integer { min: 1, max: MAX_MAX_STEPS as i64 },
            &format!(
                "Most evaluation steps per event (calls, loop iterations); past it the event goes to errors. Default {DEFAULT_MAX_STEPS}"
            ),
        ),
        ParamSpec::optional(
            "max_outputs",
            ParamKind::Integer { min: 1, max: MAX_MAX_OUTPUTS as i64 },
            &format!("Most outputs per event; past it the event goes to errors. Default {DEFAULT_MAX_OUTPUTS}"),
        ),
        ParamSpec::optional(
            "max_depth",
            ParamKind::Integer { min: 1, max: MAX_MAX_DEPTH as i64 },
            &format!("Deepest nesting of a result value; deeper goes to errors. Default {DEFAULT_MAX_DEPTH}"),
        ),
    ]
}

/// The budget from a node's optional parameters.
pub(crate) fn limits(max_steps: Option<u64>, max_outputs: Option<u64>, max_depth: Option<u64>) -> Limits {
    Limits::with_overrides(max_steps, max_outputs, max_depth)
}

/// Interrupts evaluations once the run is killed.
pub(crate) fn interrupt(ctx: &NodeContext) -> Interrupt {
    let kill = ctx.control.kill.clone();
    Arc::new(move || kill.is_cancelled())
}

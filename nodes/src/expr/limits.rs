//! The budget of one evaluation: how much work, output and nesting one event may cost.
//!
//! Every evaluation of an expression over one event runs under a [`Limits`]; going over a
//! limit is an evaluation error (the event goes to the node's `errors` port with the reason),
//! never a crash, a hang or an out-of-memory abort. The defaults suit per-event work (a jq
//! program over one record rarely needs more than a few hundred steps); a node raises them
//! with its `max_steps`, `max_outputs` and `max_depth` parameters.

/// Default [`Limits::max_steps`].
pub const DEFAULT_MAX_STEPS: u64 = 1_000_000;
/// Largest `max_steps` a node may ask for. Values built one level per step can be this deep,
/// and freeing them takes call stack in proportion, so the bound keeps that within the
/// evaluation stack ([`super::guard::EVAL_STACK_BYTES`]).
pub const MAX_MAX_STEPS: u64 = 10_000_000;
/// Default [`Limits::max_outputs`].
pub const DEFAULT_MAX_OUTPUTS: u64 = 100_000;
/// Largest `max_outputs` a node may ask for.
pub const MAX_MAX_OUTPUTS: u64 = 100_000_000;
/// Default [`Limits::max_depth`].
pub const DEFAULT_MAX_DEPTH: u64 = 512;
/// Largest `max_depth` a node may ask for.
pub const MAX_MAX_DEPTH: u64 = 2_000;
/// Largest result of one event, in bytes (strings' bytes plus 16 per value).
pub const MAX_RESULT_BYTES: usize = 256 << 20;

/// Bounds on one evaluation over one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Steps of jq evaluation (definition calls, `reduce`/`foreach` iterations, `range`
    /// outputs, ...). Bounds both time and the memory a loop can build.
    pub max_steps: u64,
    /// Outputs of the expression for one event.
    pub max_outputs: u64,
    /// Nesting depth of an output value (arrays and objects inside each other).
    pub max_depth: u64,
    /// Size of one output value (string bytes plus 16 bytes per value).
    pub max_result_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: DEFAULT_MAX_STEPS,
            max_outputs: DEFAULT_MAX_OUTPUTS,
            max_depth: DEFAULT_MAX_DEPTH,
            max_result_bytes: MAX_RESULT_BYTES,
        }
    }
}

impl Limits {
    /// Defaults with the node's overrides (`None`: the default).
    pub fn with_overrides(max_steps: Option<u64>, max_outputs: Option<u64>, max_depth: Option<u64>) -> Self {
        let d = Limits::default();
        Limits {
            max_steps: max_steps.unwrap_or(d.max_steps).clamp(1, MAX_MAX_STEPS),
            max_outputs: max_outputs.unwrap_or(d.max_outputs).clamp(1, MAX_MAX_OUTPUTS),
            max_depth: max_depth.unwrap_or(d.max_depth).clamp(1, MAX_MAX_DEPTH),
            max_result_bytes: d.max_result_bytes,
        }
    }
}

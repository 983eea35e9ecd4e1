//! `fault`: passes events through until it has seen `after` of them, then misbehaves as
//! `mode` says: `panic`, `error` (ends with an error), `spin` (a busy loop that never yields
//! to the runtime) or `hang` (waits forever, ignoring stop; cancellable). For fault tests.

use serde::{Deserialize, Serialize};
use streamloom_runtime::io::{NodeContext, Received};
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamSpec, PortSpec, PortType, Ports,
    TypedNodeKind,
};

/// How the node misbehaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultMode {
    /// `panic!` inside the node task.
    #[default]
    Panic,
    /// Return an error.
    Error,
    /// Loop forever without yielding (holds a worker thread).
    Spin,
    /// Await forever (ignores stop, but can be cancelled).
    Hang,
}

/// Config of `fault`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultConfig {
    /// What to do.
    #[serde(default)]
    pub mode: FaultMode,
    /// Events passed through before the fault.
    #[serde(default)]
    pub after: u64,
}

/// The `fault` kind.
pub struct Fault;

impl TypedNodeKind for Fault {
    type Config = FaultConfig;
    const NAME: &'static str = "fault";
    const DESCRIPTION: &'static str = "Misbehaves on purpose after some events (fault tests only)";
    const CATEGORY: Category = Category::Operator;

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::choice("mode", &["panic", "error", "spin", "hang"], "How to misbehave"),
            ParamSpec::integer("after", 0, i64::MAX, "Events passed through first"),
        ]
    }

    fn ports(_config: &FaultConfig) -> Ports {
        Ports {
            inputs: vec![PortSpec::input("in", PortType::Any, "Events")],
            outputs: vec![PortSpec::output("out", PortType::Any, "Events, until the fault")],
        }
    }

    fn build(config: FaultConfig, _ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(config.clone(), ctx)) }))
    }
}

async fn run(config: FaultConfig, mut ctx: NodeContext) -> Result<(), NodeError> {
    let mut seen = 0u64;
    while let Some(msg) = ctx.inputs.recv().await {
        let batch = match msg {
            Received::Data { batch, .. } => batch,
            Received::Watermark(t) => {
                ctx.forward_watermark(t);
                continue;
            }
            Received::Timer(_) | Received::Barrier(_) => continue,
        };
        let room = config.after.saturating_sub(seen) as usize;
        if batch.len() <= room {
            seen += batch.len() as u64;
            let n = batch.len();
            ctx.emit(0, batch).await?;
            ctx.metrics.count_passed(n);
            continue;
        }
        let mut batch = batch;
        let rest = batch.split_off(room);
        let n = batch.len();
        ctx.emit(0, batch).await?;
        ctx.metrics.count_passed(n);
        // The events from the fault on stay held: lost if the node is cancelled.
        let _held = rest;
        match config.mode {
            FaultMode::Panic => panic!("fault node `{}` panicked on purpose after {} events", ctx.id, config.after),
            FaultMode::Error => return Err(NodeError(format!("failed on purpose after {} events", config.after))),
            FaultMode::Spin => spin(),
            FaultMode::Hang => std::future::pending::<()>().await,
        }
    }
    Ok(())
}

/// Never returns and never yields.
#[allow(clippy::empty_loop)]
fn spin() -> ! {
    loop {
        std::hint::spin_loop();
    }
}

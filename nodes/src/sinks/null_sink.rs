//! `null_sink`: takes events and discards them, counting only (for benchmarks).

use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;

use streamloom_runtime::io::{NodeContext, Received};
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamSpec, PortSpec, PortType, Ports,
    TypedNodeKind,
};

/// Config of `null_sink` (nothing to set).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NullSinkConfig {}

/// The `null_sink` kind.
pub struct NullSink;

impl TypedNodeKind for NullSink {
    type Config = NullSinkConfig;
    const NAME: &'static str = "null_sink";
    const DESCRIPTION: &'static str = "Discards events, counting them (for benchmarks)";
    const CATEGORY: Category = Category::Sink;
    const EXAMPLE: &'static str = "Measure a pipeline's throughput without writing anything: end it in a null_sink and read its events per second in the metrics or the headless summary.";

    fn params() -> Vec<ParamSpec> {
        Vec::new()
    }

    fn ports(_config: &NullSinkConfig) -> Ports {
        Ports { inputs: vec![PortSpec::input("in", PortType::Any, "Events to discard")], outputs: vec![] }
    }

    fn build(_config: NullSinkConfig, _ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        Ok(Box::new(|ctx: NodeContext| -> NodeFuture { Box::pin(run(ctx)) }))
    }
}

/// Accounting: every event received is `passed` (written nowhere, by design).
async fn run(mut ctx: NodeContext) -> Result<(), NodeError> {
    while let Some(msg) = ctx.inputs.recv().await {
        if let Received::Data { batch, .. } = msg {
            ctx.metrics.passed.fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
    }
    Ok(())
}

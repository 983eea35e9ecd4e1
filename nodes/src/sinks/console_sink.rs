//! `console_sink`: prints events to standard output, one JSON value per line; in the editor
//! they also appear in the debug sidebar (nobody reads the editor's standard output).

use std::io::Write;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use streamloom_runtime::debug::{DEBUG_CAPACITY, DebugOutput};
use streamloom_runtime::io::{NodeContext, Received};
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};

/// Config of `console_sink`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleSinkConfig {
    /// Printed before each event.
    pub prefix: String,
    /// Pretty-print (multi-line) instead of one line per event.
    pub pretty: bool,
}

/// The `console_sink` kind.
pub struct ConsoleSink;

impl TypedNodeKind for ConsoleSink {
    type Config = ConsoleSinkConfig;
    const NAME: &'static str = "console_sink";
    const DESCRIPTION: &'static str =
        "Prints events to standard output as JSON (in the editor, also to the debug sidebar)";
    const EXAMPLE: &'static str = "Wire a filter's `out` into a console_sink with `prefix: \"big: \"` and run \
        headless: every event that passes prints as `big: {\"amount\":120}` on standard output, \
        ready to pipe into another tool.";
    const CATEGORY: Category = Category::Sink;

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::new("prefix", ParamKind::Text, "Printed before each event"),
            ParamSpec::new("pretty", ParamKind::Bool, "Pretty-print over several lines"),
        ]
    }

    fn ports(_config: &ConsoleSinkConfig) -> Ports {
        Ports { inputs: vec![PortSpec::input("in", PortType::Any, "Events to print")], outputs: vec![] }
    }

    fn build(config: ConsoleSinkConfig, _ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(config, ctx)) }))
    }
}

/// Accounting: a batch is held (received, unresolved) while it is printed, then `passed`; if standard output
/// fails the batch counts as `errors` and the run fails saying how many events were not printed;
/// if the run is killed while standard output blocks, the batch is `lost_on_kill`.
async fn run(config: ConsoleSinkConfig, mut ctx: NodeContext) -> Result<(), NodeError> {
    let sidebar = (ctx.debug.output() == DebugOutput::Sidebar)
        .then(|| ctx.debug.writer(&ctx.id, "console", &ctx.id, DEBUG_CAPACITY));
    while let Some(msg) = ctx.inputs.recv().await {
        if let Received::Data { batch, .. } = msg {
            let n = batch.len() as u64;
            if let Some(w) = &sidebar {
                w.record(&batch);
            }
            let mut buf = Vec::with_capacity(batch.len() * 96);
            for ev in &batch {
                buf.extend_from_slice(config.prefix.as_bytes());
                let _ = if config.pretty {
                    serde_json::to_writer_pretty(&mut buf, &ev.value)
                } else {
                    serde_json::to_writer(&mut buf, &ev.value)
                };
                buf.push(b'\n');
            }
            // Written off the runtime's threads: a standard output nobody reads (a full pipe)
            // blocks that thread, not a worker, and the node stays cancellable while it waits.
            let written = tokio::task::spawn_blocking(move || {
                let mut out = std::io::stdout().lock();
                out.write_all(&buf).and_then(|()| out.flush())
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
            if let Err(e) = written {
                ctx.metrics.errors.fetch_add(n, Ordering::Relaxed);
                return Err(NodeError(format!(
                    "console_sink `{}`: writing to standard output: {e}; {n} event(s) not printed (counted as errors)",
                    ctx.id
                )));
            }
            ctx.metrics.passed.fetch_add(n, Ordering::Relaxed);
        }
    }
    Ok(())
}

//! `debug`: shows every event it receives in the editor's debug sidebar (like Node-RED's
//! debug node); headless, prints each one to standard error as `debug <name>: <json>`.

use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use streamloom_runtime::debug::{DEBUG_CAPACITY, DebugOutput};
use streamloom_runtime::io::{NodeContext, Received};
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};

/// Config of `debug`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DebugSinkConfig {
    /// Shown as the source of its events (the node's id when empty).
    pub name: String,
    /// How many of its most recent events the sidebar keeps.
    pub max_events: u64,
}

impl Default for DebugSinkConfig {
    fn default() -> Self {
        DebugSinkConfig { name: String::new(), max_events: DEBUG_CAPACITY as u64 }
    }
}

/// The `debug` kind.
pub struct DebugSink;

impl TypedNodeKind for DebugSink {
    type Config = DebugSinkConfig;
    const NAME: &'static str = "debug";
    const DESCRIPTION: &'static str =
        "Shows every event it receives in the editor's debug sidebar; headless, prints them to standard error";
    const CATEGORY: Category = Category::Sink;
    const EXAMPLE: &'static str = "Wire any output into a `debug` node with `name: \"after filter\"` to watch what \
        passes the filter: each event appears in the Debug tab, newest first. Headless runs print \
        `debug after filter: {\"user\":\"ada\",\"amount\":120}` on standard error.";

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::new("name", ParamKind::Text, "Shown as the source of its events (the node's id when empty)"),
            ParamSpec::integer(
                "max_events",
                1,
                DEBUG_CAPACITY as i64,
                "How many of its most recent events the debug sidebar keeps",
            ),
        ]
    }

    fn ports(_config: &DebugSinkConfig) -> Ports {
        Ports { inputs: vec![PortSpec::input("in", PortType::Any, "Events to show")], outputs: vec![] }
    }

    fn validate(config: &DebugSinkConfig) -> Vec<ConfigProblem> {
        if (1..=DEBUG_CAPACITY as u64).contains(&config.max_events) {
            Vec::new()
        } else {
            vec![ConfigProblem::field("max_events", format!("must be between 1 and {DEBUG_CAPACITY}"))]
        }
    }

    fn build(config: DebugSinkConfig, _ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(config, ctx)) }))
    }
}

/// Accounting: every event received is `passed` once shown (kept in the sidebar's ring, or
/// printed). If standard error fails the batch counts as `errors` and the run fails.
async fn run(config: DebugSinkConfig, mut ctx: NodeContext) -> Result<(), NodeError> {
    let label = if config.name.is_empty() { ctx.id.to_string() } else { config.name.clone() };
    let writer = ctx.debug.writer(&ctx.id, "debug", &label, config.max_events as usize);
    let to_stderr = ctx.debug.output() == DebugOutput::Stderr;
    while let Some(msg) = ctx.inputs.recv().await {
        if let Received::Data { batch, .. } = msg {
            let n = batch.len() as u64;
            if to_stderr {
                let w = writer.clone();
                let printed = tokio::task::spawn_blocking(move || w.print(&batch))
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
                if let Err(e) = printed {
                    ctx.metrics.errors.fetch_add(n, Ordering::Relaxed);
                    return Err(NodeError(format!(
                        "debug `{}`: writing to standard error: {e}; {n} event(s) not shown (counted as errors)",
                        ctx.id
                    )));
                }
            } else {
                writer.record(&batch);
            }
            ctx.metrics.passed.fetch_add(n, Ordering::Relaxed);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamloom_runtime::executor::{Engine, RunOptions, RunOutcome};
    use streamloom_runtime::{Graph, Node, PortRef, Wire};

    fn graph(max_events: u64) -> Graph {
        let node = |id: &str, kind: &str, config| Node {
            id: id.into(),
            kind: kind.into(),
            version: 1,
            position: None,
            config,
        };
        Graph {
            nodes: vec![
                node("gen", "generator", serde_json::json!({"count": 30, "payload": "sequence", "seed": 1})),
                node("dbg", "debug", serde_json::json!({"name": "seen", "max_events": max_events})),
            ],
            wires: vec![Wire::new(PortRef::new("gen", "out"), PortRef::new("dbg", "in"))],
            ..Default::default()
        }
    }

    #[test]
    fn keeps_the_newest_max_events_for_the_sidebar_and_counts_every_event_passed() {
        let engine = Engine::new(Some(2)).unwrap();
        let options = RunOptions { debug: DebugOutput::Sidebar, ..RunOptions::default() };
        let h = engine.start(&graph(10), &crate::builtin_registry(), options).unwrap();
        assert_eq!(engine.block_on(h.wait()), RunOutcome::Completed);
        let entries = h.debug_log().since(None);
        let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs.len(), 10);
        assert_eq!(seqs.last().copied(), Some(29));
        assert!(entries.iter().all(|e| e.source.label == "seen" && e.source.node == "dbg"));
        let s = h.snapshot_now();
        let dbg = s.nodes.iter().find(|n| n.id == "dbg").unwrap();
        assert_eq!((dbg.events_in, dbg.passed), (30, 30));
    }

    #[test]
    fn max_events_out_of_range_is_refused_naming_the_field() {
        let problems = DebugSink::validate(&DebugSinkConfig { max_events: 0, ..Default::default() });
        assert_eq!(problems.len(), 1);
        assert!(format!("{problems:?}").contains("max_events"));
    }
}

//! `window`: groups events into event-time windows per key and emits one row of named
//! aggregates per window and key.
//!
//! Types: tumbling (`size`, `offset`), sliding (`size`, `slide`), session (`gap`, per key),
//! cumulative (`step`, `max_size`), count (`n`, `every`: see `count`) and global (`interval`:
//! see `global`). `time: processing` uses the wall clock on arrival instead of event time,
//! with windows fired by the runtime's timer; `idle_timeout` leaves a silent input out of the
//! watermark until it sends again. Event time comes from `time_field` (epoch ms or s,
//! integer or float, or RFC 3339 text) or, when absent, from the time the source set.
//!
//! Semantics, Flink's: a window `[start, end)` fires when the watermark reaches `end`; at
//! end of stream every open window fires, in order of their ends. With `allowed_lateness`,
//! a window's state is kept until the watermark reaches `end + allowed_lateness`; a late event
//! in that span updates it and re-fires it at once with the full row marked `update: true`.
//! Events later than that go to the `late` port, with the reason, never lost. Sessions of a
//! key merge when their spans touch or overlap, including when a late event bridges two
//! (the merged row is an update when it contains an emitted session: it replaces their rows).
//!
//! Rows: the key fields, `window_start`, `window_end` (epoch ms), the aggregates by name, and
//! `update: true` on a re-fire; their event time is `window_end - 1`. Watermarks are forwarded
//! after the rows they fired. Memory is the open windows and their keys: a window is dropped
//! once past its lateness, a key with no window is forgotten. See `task` for the accounting.

mod aggregate;
mod assign;
mod config;
mod count;
mod global;
mod keys;
mod queue;
mod row;
mod state;
mod task;

use std::time::Duration;

use streamloom_runtime::io::NodeContext;
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeFuture, NodeTask, ParamSpec, PortSpec, PortType, Ports, TypedNodeKind,
};

pub use crate::event_time::{Path, TimeSource, TimeUnit};
pub use aggregate::{AggFn, AggSpec};
pub use assign::Assigner;
pub use config::{Grouping, TimeMode, WindowConfig, WindowType};
pub use count::CountWindows;
pub use global::GlobalWindows;
pub use row::KeyFields;
pub use state::{Outcome, Row, Windows};

/// The `window` kind.
pub struct Window;

impl TypedNodeKind for Window {
    type Config = WindowConfig;
    const NAME: &'static str = "window";
    const DESCRIPTION: &'static str = "Per-key windows (tumbling, sliding, session, cumulative in event or processing \
        time; count; global) with named aggregates. Flink's semantics: a window fires when the watermark reaches its \
        end, and all open windows at end of stream; a late event within allowed_lateness re-fires its window (the \
        full row, update: true); later ones go to `late` with the reason";
    const CATEGORY: Category = Category::Operator;
    const EXAMPLE: &'static str = "Purchases per user per minute: `type: \"tumbling\"`, `size: \"1m\"`, `key_by: [\"user\"]`, `aggregates: [\"count = count\", \"total = sum(value)\"]`, `time_field: \"ts\"` emits one row per user and minute, `{user, window_start, window_end, count, total}`, when the watermark passes the minute's end.";

    fn params() -> Vec<ParamSpec> {
        config::params()
    }

    fn ports(_config: &WindowConfig) -> Ports {
        Ports {
            inputs: vec![PortSpec::input("in", PortType::Any, "Events with an event time")],
            outputs: vec![
                PortSpec::output(
                    "out",
                    PortType::Record,
                    "One row per window and key: keys, window_start, window_end, aggregates",
                ),
                PortSpec::output(
                    "late",
                    PortType::Record,
                    "Events too late for any window kept: {reason, event, watermark}",
                ),
            ],
        }
    }

    fn validate(config: &WindowConfig) -> Vec<ConfigProblem> {
        config.plan().err().unwrap_or_default()
    }

    fn build(config: WindowConfig, _ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let plan = config.plan().map_err(|mut p| p.remove(0))?;
        let time = TimeSource { field: config.time_field.as_deref().map(Path::parse), unit: config.time_unit };
        let fields = KeyFields::new(&config.key_by);
        let processing = config.time == TimeMode::Processing;
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture {
            let specs = plan.aggregates.clone();
            let logic = match plan.grouping {
                Grouping::Time(a) => task::Logic::Time(Windows::new(a, plan.lateness, specs, fields)),
                Grouping::Count { n, every } => task::Logic::Count(CountWindows::new(n, every, specs, fields)),
                Grouping::Global { interval } => {
                    task::Logic::Global(GlobalWindows::new(specs, fields), interval.unsigned_abs())
                }
            };
            let setup = task::Setup {
                logic,
                specs: plan.aggregates,
                time,
                processing,
                idle_timeout: plan.idle_timeout.map(|ms| Duration::from_millis(ms.unsigned_abs())),
            };
            Box::pin(task::run(setup, ctx))
        }))
    }
}

//! The running `window` node: reads events and watermarks, feeds [`Windows`], sends rows on
//! `out` and too-late events on `late`, and keeps the accounting.
//!
//! Accounting: an event absorbed into window state is held until the window that holds it
//! last is dropped (fired and past its allowed lateness, or at end of stream); it is then
//! `passed`, counted after the rows before it were delivered. A too-late event sent to `late`
//! is `passed` once delivered there; an event without a usable time, or with a non-number
//! for a numeric aggregate, goes to `errors`.

use std::time::Instant;

use serde_json::json;
use streamloom_runtime::io::{NodeContext, Received};
use streamloom_runtime::registry::NodeError;
use streamloom_runtime::{Batch, Event};

use super::aggregate::AggSpec;
use super::count::CountWindows;
use super::event_time::TimeSource;
use super::state::{Outcome, Row, Windows};

/// The window logic of a node.
pub enum Logic {
    /// Event-time windows.
    Time(Windows),
    /// Count windows.
    Count(CountWindows),
}

/// Output port of the window rows.
pub const OUT: usize = 0;
/// Output port of the events too late for any window.
pub const LATE: usize = 1;

/// What the node runs with.
pub struct Setup {
    /// The window logic.
    pub logic: Logic,
    /// The aggregates (to check events against).
    pub specs: Vec<AggSpec>,
    /// Where event times come from.
    pub time: TimeSource,
}

/// Runs the node until its inputs end.
pub async fn run(setup: Setup, mut ctx: NodeContext) -> Result<(), NodeError> {
    let Setup { mut logic, specs, time } = setup;
    let mut rows = Vec::new();
    let mut seq = 0u64;
    while let Some(msg) = ctx.inputs.recv().await {
        match msg {
            Received::Data { batch, .. } => {
                let started = Instant::now();
                let mut late = Vec::new();
                let mut resolved = 0;
                for ev in batch {
                    let t = time.time_of(&ev.value, ev.time);
                    if let Some(reason) = specs.iter().find_map(|s| s.check(&ev.value).err()) {
                        ctx.errors.report(ev, reason);
                        continue;
                    }
                    let windows = match &mut logic {
                        Logic::Count(w) => {
                            resolved += w.add(&ev.value, t.ok(), &mut rows);
                            continue;
                        }
                        Logic::Time(w) => w,
                    };
                    let t = match t {
                        Ok(t) => t,
                        Err(reason) => {
                            ctx.errors.report(ev, reason);
                            continue;
                        }
                    };
                    if let Outcome::Late(reason) = windows.add(&ev.value, t, &mut rows) {
                        let watermark = windows.watermark();
                        let value = json!({ "reason": reason, "event": ev.value, "watermark": watermark });
                        late.push(Event { value, ..ev });
                    }
                }
                ctx.add_busy(started);
                send_rows(&mut ctx, &mut rows, &mut seq).await?;
                let n = late.len();
                ctx.emit(LATE, late).await?;
                ctx.metrics.count_passed(n + resolved as usize);
            }
            Received::Watermark(t) => {
                let started = Instant::now();
                let resolved = match &mut logic {
                    Logic::Time(w) => w.advance(t, &mut rows),
                    Logic::Count(_) => 0,
                };
                ctx.add_busy(started);
                send_rows(&mut ctx, &mut rows, &mut seq).await?;
                ctx.metrics.count_passed(resolved as usize);
                ctx.forward_watermark(t);
            }
        }
    }
    let resolved = match &mut logic {
        Logic::Time(w) => w.finish(&mut rows),
        Logic::Count(w) => w.finish(&mut rows),
    };
    send_rows(&mut ctx, &mut rows, &mut seq).await?;
    ctx.metrics.count_passed(resolved as usize);
    Ok(())
}

/// Sends the rows (stamped with their window's last millisecond as event time) on `out`,
/// in batches of the preferred size, and flushes the dead letters.
async fn send_rows(ctx: &mut NodeContext, rows: &mut Vec<Row>, seq: &mut u64) -> Result<(), NodeError> {
    let mut batch: Batch = Vec::with_capacity(rows.len().min(ctx.batch_size));
    for row in rows.drain(..) {
        batch.push(Event { value: row.value, time: row.end.map(|e| e - 1), source: ctx.index, seq: *seq });
        *seq += 1;
        if batch.len() >= ctx.batch_size {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(ctx.batch_size));
            ctx.emit(OUT, full).await?;
        }
    }
    ctx.emit(OUT, batch).await
}

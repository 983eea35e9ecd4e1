//! The running `window` node: reads events, watermarks and its timer, feeds the window
//! logic, sends rows on `out` and too-late events on `late`, and keeps the accounting.
//!
//! Accounting: an event absorbed into window state is held until the window that holds it
//! last is dropped (fired and past its allowed lateness, or at end of stream); it is then
//! `passed`, counted after the rows before it were delivered. A too-late event sent to `late`
//! is `passed` once delivered there; an event without a usable time, or with a non-number
//! for a numeric aggregate, goes to `errors`.
//!
//! Processing time: an event's time is the wall clock when it arrives, and the node arms the
//! runtime's timer ([`streamloom_runtime::io::Inputs::wake_at`]) for the next window end;
//! global windows arm it every `interval`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use streamloom_runtime::checkpoint::CheckpointId;
use streamloom_runtime::io::{NodeContext, Received};
use streamloom_runtime::registry::NodeError;
use streamloom_runtime::{Batch, Event};

use super::aggregate::AggSpec;
use super::count::CountWindows;
use super::global::GlobalWindows;
use super::state::{Outcome, Row, Windows};
use crate::event_time::TimeSource;

/// Output port of the window rows.
pub const OUT: usize = 0;
/// Output port of the events too late for any window.
pub const LATE: usize = 1;
/// Gauge: open windows (count windows: keys with a partial window).
pub const OPEN_WINDOWS: &str = "open_windows";
/// Gauge: keys with state.
pub const KEYS: &str = "keys";
/// Gauge: approximate bytes of state held.
pub const STATE_BYTES: &str = "state_bytes";

/// The window logic of a node.
pub enum Logic {
    /// Event-time (or processing-time) windows.
    Time(Windows),
    /// Count windows.
    Count(CountWindows),
    /// Global windows, emitted every `interval` ms.
    Global(GlobalWindows, u64),
}

/// What the node runs with.
pub struct Setup {
    /// The window logic.
    pub logic: Logic,
    /// The aggregates (to check events against).
    pub specs: Vec<AggSpec>,
    /// Where event times come from.
    pub time: TimeSource,
    /// Windows follow the wall clock.
    pub processing: bool,
    /// Idle timeout of the inputs.
    pub idle_timeout: Option<Duration>,
}

/// Wall-clock time in epoch ms.
fn now_ms() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// Runs the node until its inputs end.
pub async fn run(setup: Setup, mut ctx: NodeContext) -> Result<(), NodeError> {
    let Setup { mut logic, specs, time, processing, idle_timeout } = setup;
    if let Some(t) = idle_timeout {
        ctx.inputs.set_idle_timeout(t);
    }
    let mut out = Sender { rows: Vec::new(), seq: 0 };
    arm(&mut ctx, &logic, processing, true);
    ctx.inputs.deliver_barriers();
    let mut barriers = HeldBarriers::default();
    while let Some(msg) = ctx.inputs.recv().await {
        let started = Instant::now();
        let timer = matches!(msg, Received::Timer(_));
        let mut resolved = 0;
        let mut late = Vec::new();
        let mut forward = None;
        match msg {
            Received::Data { batch, .. } => {
                for ev in batch {
                    if let Some(reason) = specs.iter().find_map(|s| s.check(&ev.value).err()) {
                        ctx.errors.report(ev, reason);
                        continue;
                    }
                    let windows = match &mut logic {
                        Logic::Count(w) => {
                            let t = if processing { Some(now_ms()) } else { time.time_if_any(&ev.value, ev.time) };
                            resolved += w.add(&ev.value, t, &mut out.rows);
                            continue;
                        }
                        Logic::Global(w, _) => {
                            let t = if processing { Some(now_ms()) } else { time.time_if_any(&ev.value, ev.time) };
                            w.add(&ev.value, t);
                            continue;
                        }
                        Logic::Time(w) => w,
                    };
                    let t = if processing { Ok(now_ms()) } else { time.time_of(&ev.value, ev.time) };
                    let t = match t {
                        Ok(t) => t,
                        Err(reason) => {
                            ctx.errors.report(ev, reason);
                            continue;
                        }
                    };
                    if let Outcome::Late(reason) = windows.add(&ev.value, t, &mut out.rows) {
                        let value = json!({ "reason": reason, "event": ev.value, "watermark": windows.watermark() });
                        late.push(Event { value, ..ev });
                    }
                }
                if processing && let Logic::Time(w) = &mut logic {
                    resolved += w.advance(now_ms(), &mut out.rows);
                }
            }
            Received::Watermark(t) => {
                if !processing && let Logic::Time(w) = &mut logic {
                    resolved += w.advance(t, &mut out.rows);
                }
                forward = Some(t);
            }
            Received::Timer(_) => match &mut logic {
                Logic::Time(w) => resolved += w.advance(now_ms(), &mut out.rows),
                Logic::Global(w, _) => {
                    w.tick(&mut out.rows);
                    barriers.global_emitted = barriers.epoch;
                }
                Logic::Count(_) => {}
            },
            Received::Barrier(n) => barriers.arrived(n, &mut logic),
        }
        ctx.add_busy(started);
        out.send(&mut ctx).await?;
        let n = late.len();
        ctx.emit(LATE, late).await?;
        ctx.metrics.count_passed(n + resolved as usize);
        // After the rows it fired.
        if let Some(t) = forward {
            ctx.forward_watermark(t);
        }
        barriers.release(&ctx, &logic);
        arm(&mut ctx, &logic, processing, timer);
        gauge(&ctx, &logic);
    }
    let resolved = match &mut logic {
        Logic::Time(w) => w.finish(&mut out.rows),
        Logic::Count(w) => w.finish(&mut out.rows),
        Logic::Global(w, _) => w.finish(&mut out.rows),
    };
    out.send(&mut ctx).await?;
    ctx.metrics.count_passed(resolved as usize);
    for (n, _) in barriers.held.drain(..) {
        ctx.forward_barrier(n);
    }
    gauge(&ctx, &logic);
    Ok(())
}

/// Checkpoint barriers held back until every window holding an event from before them
/// fired (or was dropped as late): the sources acknowledge those events only then.
#[derive(Default)]
struct HeldBarriers {
    /// (barrier, epoch of the events before it), oldest first.
    held: std::collections::VecDeque<(CheckpointId, u64)>,
    /// Barriers seen (global windows count epochs here).
    epoch: u64,
    /// Global windows: epochs before this one were emitted by a tick.
    global_emitted: u64,
}

impl HeldBarriers {
    fn arrived(&mut self, n: CheckpointId, logic: &mut Logic) {
        let epoch = match logic {
            Logic::Time(w) => w.barrier(),
            Logic::Count(w) => w.barrier(),
            Logic::Global(..) => self.epoch,
        };
        self.epoch += 1;
        self.held.push_back((n, epoch));
    }

    /// Passes on, in order, the barriers whose events no window holds any more.
    fn release(&mut self, ctx: &NodeContext, logic: &Logic) {
        while let Some(&(n, epoch)) = self.held.front() {
            let holds = match logic {
                Logic::Time(w) => w.holds(epoch),
                Logic::Count(w) => w.holds(epoch),
                Logic::Global(w, _) => w.keys() > 0 && epoch >= self.global_emitted,
            };
            if holds {
                break;
            }
            self.held.pop_front();
            ctx.forward_barrier(n);
        }
    }
}

/// Publishes the state gauges: `open_windows`, `keys`, `state_bytes` (approximate).
fn gauge(ctx: &NodeContext, logic: &Logic) {
    let (windows, keys, bytes) = match logic {
        Logic::Time(w) => w.state(),
        Logic::Count(w) => {
            let (keys, bytes) = w.state();
            (keys, keys, bytes)
        }
        Logic::Global(w, _) => (w.keys() as u64, w.keys() as u64, w.bytes()),
    };
    let own = &ctx.metrics.own;
    own.set_gauge(OPEN_WINDOWS, windows);
    own.set_gauge(KEYS, keys);
    own.set_gauge(STATE_BYTES, bytes);
}

/// Arms the timer for the next processing-time window end, or (at the start and after each
/// emission) for the next global emission.
fn arm(ctx: &mut NodeContext, logic: &Logic, processing: bool, start_or_fired: bool) {
    let wait_ms = match logic {
        Logic::Time(w) if processing => {
            ctx.inputs.cancel_wake();
            w.next_fire().map(|end| end.saturating_sub(now_ms()).max(0))
        }
        Logic::Global(_, interval) if start_or_fired => Some(*interval as i64),
        _ => None,
    };
    if let Some(ms) = wait_ms {
        ctx.inputs.wake_at(tokio::time::Instant::now() + Duration::from_millis(ms.unsigned_abs()));
    }
}

/// Rows waiting to be sent.
struct Sender {
    rows: Vec<Row>,
    seq: u64,
}

impl Sender {
    /// Sends the rows (stamped with their window's last millisecond as event time) on `out`,
    /// in batches of the preferred size, and flushes the dead letters.
    async fn send(&mut self, ctx: &mut NodeContext) -> Result<(), NodeError> {
        let mut batch: Batch = Vec::with_capacity(self.rows.len().min(ctx.batch_size));
        for row in self.rows.drain(..) {
            batch.push(Event { value: row.value, time: row.end.map(|e| e - 1), source: ctx.index, seq: self.seq });
            self.seq += 1;
            if batch.len() >= ctx.batch_size {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(ctx.batch_size));
                ctx.emit(OUT, full).await?;
            }
        }
        ctx.emit(OUT, batch).await
    }
}

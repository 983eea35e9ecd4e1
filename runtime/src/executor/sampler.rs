//! The sampler: publishes a [`MetricsSnapshot`] and appends a chart [`Sample`] every
//! interval, and once more when the run ends.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::shared::Shared;
use crate::metrics::{History, MetricsSnapshot, Sample};

/// Samples every `interval`, rates averaged over `window` samples, until `done`.
pub(crate) async fn run(
    shared: Arc<Shared>,
    snap_tx: Arc<watch::Sender<Arc<MetricsSnapshot>>>,
    history: Arc<RwLock<History>>,
    done: CancellationToken,
    interval: Duration,
    window: usize,
) {
    let window = window.max(1);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut recent: VecDeque<(f64, Vec<u64>, Vec<u64>)> = VecDeque::new();
    loop {
        // One last sample when the run ends, so that even a run shorter than one interval
        // charts its totals.
        let last = tokio::select! {
            _ = ticker.tick() => false,
            _ = done.cancelled() => true,
        };
        let t = shared.clock.elapsed_secs();
        let ins: Vec<u64> = shared.nodes.iter().map(|m| m.events_in.load(Ordering::Relaxed)).collect();
        let outs: Vec<u64> = shared.nodes.iter().map(|m| m.events_out.load(Ordering::Relaxed)).collect();
        recent.push_back((t, ins.clone(), outs.clone()));
        if recent.len() > window + 1 {
            recent.pop_front();
        }
        let rates = recent.front().filter(|f| t > f.0).map(|(t0, in0, out0)| {
            let dt = t - t0;
            let r = |now: &[u64], then: &[u64]| -> Vec<f64> {
                now.iter().zip(then).map(|(a, b)| a.saturating_sub(*b) as f64 / dt).collect()
            };
            (r(&ins, in0), r(&outs, out0))
        });
        let mut snap = shared.snapshot(rates.as_ref(), t);
        // Each wire's peak over the interval, read and restarted from the depth now: the
        // sample charts it and the snapshot carries the same number.
        for (m, w) in shared.wires.iter().zip(snap.wires.iter_mut()) {
            w.peak_depth = m.interval_max_depth.swap(w.depth, Ordering::Relaxed).max(w.depth);
            // The run's most, read a moment before, is at least this sample's peak.
            w.max_depth = w.max_depth.max(w.peak_depth);
        }
        let sample = Sample {
            t,
            rate_in: snap.nodes.iter().map(|n| n.rate_in as f32).collect(),
            rate_out: snap.nodes.iter().map(|n| n.rate_out as f32).collect(),
            errors: snap.nodes.iter().map(|n| n.errors).collect(),
            dropped: snap.nodes.iter().map(|n| n.dropped).collect(),
            depth: snap.wires.iter().map(|w| w.depth).collect(),
            max_depth: snap.wires.iter().map(|w| w.peak_depth).collect(),
        };
        if let Ok(mut h) = history.write() {
            h.push(sample);
        }
        snap_tx.send_replace(Arc::new(snap));
        if last {
            break;
        }
    }
}

/// The final snapshot: rates over the whole run, its pauses left out.
pub(crate) fn final_snapshot(shared: &Shared) -> MetricsSnapshot {
    let t = shared.clock.elapsed_secs();
    let active = (t - shared.clock.paused_secs()).max(1e-9);
    let whole: (Vec<f64>, Vec<f64>) = (
        shared.nodes.iter().map(|m| m.events_in.load(Ordering::Relaxed) as f64 / active).collect(),
        shared.nodes.iter().map(|m| m.events_out.load(Ordering::Relaxed) as f64 / active).collect(),
    );
    shared.snapshot(Some(&whole), t)
}

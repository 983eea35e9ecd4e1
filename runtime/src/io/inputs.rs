//! A node's inputs: fan-in over its wires, the combined watermark, idle inputs, and timers.
//!
//! **Watermarks.** The node sees the minimum watermark over its wires still open, reported
//! as soon as it advances (before the data that followed it on its wire). With an idle
//! timeout ([`Inputs::set_idle_timeout`]), a wire that has sent nothing (no data, no
//! watermark) for that long is left out of the minimum until it sends again, so one quiet
//! input cannot hold every window back; if every open wire is idle the watermark stays.
//!
//! **Barriers** (see [`crate::checkpoint`]). Once every open wire delivered checkpoint
//! barrier `n` (an ended wire counts as having delivered every barrier), the node gets
//! [`Received::Barrier`] if it asked for barriers ([`Inputs::deliver_barriers`]), else the
//! barrier is passed on at once: the node emitted all earlier events' output before it
//! asked for more input. A wire that delivered `n` is still read while the others catch up
//! (barrier tracking, not alignment: at-least-once needs no more), so no input waits for
//! another and no wire goes idle for it.
//!
//! **Timers.** A node that must act without input (processing-time windows, periodic output)
//! arms a timer with [`Inputs::wake_at`]; [`Inputs::recv`] then returns [`Received::Timer`]
//! once that instant passed, in order with the data. One timer is armed at a time (the
//! earliest asked for wins), so a node keeps its own schedule and asks again.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::checkpoint::{BarrierRoute, CheckpointId};
use crate::event::{Batch, Message};
use crate::metrics::NodeMetrics;
use crate::wire::WireQueue;

/// What [`Inputs::recv`] returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A batch of events from input port `port`.
    Data {
        /// Input port index.
        port: usize,
        /// The events.
        batch: Batch,
    },
    /// The watermark of all inputs together (the minimum over live wires) advanced.
    Watermark(i64),
    /// The timer armed with [`Inputs::wake_at`] for this instant is due (never returned to
    /// a node that arms none).
    Timer(Instant),
    /// Checkpoint barrier `n`, delivered by every open input wire (only to a node that
    /// asked with [`Inputs::deliver_barriers`]; it passes `n` on with
    /// [`Inputs::forward_barrier`] once everything before it is emitted or durable).
    Barrier(CheckpointId),
}

struct InWire {
    port: usize,
    queue: Arc<WireQueue>,
    watermark: i64,
    /// The last barrier it delivered.
    barrier: CheckpointId,
    ended: bool,
    /// When it last sent anything (tracked with an idle timeout only).
    last_active: Instant,
}

/// All wires into one node. Fan-in: several wires may feed one port.
pub struct Inputs {
    wires: Vec<InWire>,
    notify: Arc<Notify>,
    next: usize,
    emitted_watermark: i64,
    metrics: Arc<NodeMetrics>,
    idle_timeout: Option<Duration>,
    timer: Option<Instant>,
    /// Records the tail of each batch received (a sink's tap).
    tap: Option<crate::tap::PortTap>,
    /// The last barrier every open wire delivered.
    aligned: CheckpointId,
    /// Return barriers to the node instead of passing them on.
    deliver_barriers: bool,
    route: BarrierRoute,
}

impl Inputs {
    pub(crate) fn new(notify: Arc<Notify>, metrics: Arc<NodeMetrics>) -> Self {
        Inputs {
            wires: Vec::new(),
            notify,
            next: 0,
            emitted_watermark: i64::MIN,
            metrics,
            idle_timeout: None,
            timer: None,
            tap: None,
            aligned: 0,
            deliver_barriers: false,
            route: BarrierRoute::default(),
        }
    }

    /// Where this node's barriers go.
    pub(crate) fn with_route(mut self, route: BarrierRoute) -> Self {
        self.route = route;
        self
    }

    /// Asks [`Inputs::recv`] to return aligned barriers as [`Received::Barrier`] rather
    /// than pass them on: for sinks (durable first) and nodes that hold events back.
    pub fn deliver_barriers(&mut self) {
        self.deliver_barriers = true;
    }

    /// Passes barrier `n` on down every wired output, or reports it when the node has none.
    pub fn forward_barrier(&self, n: CheckpointId) {
        self.route.pass(n);
    }

    /// This node's barrier route (for a node that emits from another task).
    pub fn barrier_route(&self) -> BarrierRoute {
        self.route.clone()
    }

    /// Records the tail of every batch received into `tap` (see [`crate::tap`]).
    pub(crate) fn with_tap(mut self, tap: Option<crate::tap::PortTap>) -> Self {
        self.tap = tap;
        self
    }

    pub(crate) fn add(&mut self, port: usize, queue: Arc<WireQueue>) {
        let last_active = Instant::now();
        self.wires.push(InWire { port, queue, watermark: i64::MIN, barrier: 0, ended: false, last_active });
    }

    /// Number of wires connected.
    pub fn wire_count(&self) -> usize {
        self.wires.len()
    }

    /// Leaves a wire silent for `timeout` out of the watermark minimum until it sends again.
    pub fn set_idle_timeout(&mut self, timeout: Duration) {
        self.idle_timeout = Some(timeout);
        let now = Instant::now();
        for w in &mut self.wires {
            w.last_active = now;
        }
    }

    /// Asks [`Inputs::recv`] to return [`Received::Timer`] once `at` passed (the earliest
    /// of the instants asked for, if one is armed already).
    pub fn wake_at(&mut self, at: Instant) {
        self.timer = Some(self.timer.map_or(at, |t| t.min(at)));
    }

    /// Disarms the timer.
    pub fn cancel_wake(&mut self) {
        self.timer = None;
    }

    fn is_idle(&self, w: &InWire, now: Instant) -> bool {
        self.idle_timeout.is_some_and(|t| now.saturating_duration_since(w.last_active) >= t)
    }

    fn combined_watermark(&self, now: Instant) -> Option<i64> {
        self.wires.iter().filter(|w| !w.ended && !self.is_idle(w, now)).map(|w| w.watermark).min()
    }

    /// When the next open wire turns idle, if an idle timeout is set.
    fn next_idle(&self, now: Instant) -> Option<Instant> {
        let t = self.idle_timeout?;
        self.wires.iter().filter(|w| !w.ended && !self.is_idle(w, now)).map(|w| w.last_active + t).min()
    }

    /// Next batch, watermark or timer; `None` once every input wire has ended (an armed timer
    /// is then dropped: a node that needs one after its inputs end sleeps on its own).
    pub async fn recv(&mut self) -> Option<Received> {
        loop {
            let now = Instant::now();
            if let Some(at) = self.timer.filter(|at| *at <= now) {
                self.timer = None;
                return Some(Received::Timer(at));
            }
            if let Some(wm) = self.combined_watermark(now)
                && wm > self.emitted_watermark
            {
                self.emitted_watermark = wm;
                return Some(Received::Watermark(wm));
            }
            if let Some(n) = self.take_aligned() {
                if self.deliver_barriers {
                    return Some(Received::Barrier(n));
                }
                self.route.pass(n);
                continue;
            }
            if self.wires.iter().all(|w| w.ended) {
                return None;
            }
            if let Some(data) = self.pop(now) {
                match data {
                    Popped::Data(r) => return Some(r),
                    Popped::Control => continue,
                }
            }
            let wake = match (self.timer, self.next_idle(now)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            match wake {
                Some(at) => {
                    tokio::select! {
                        _ = self.notify.notified() => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => self.notify.notified().await,
            }
        }
    }

    /// The next barrier every open wire delivered, if there is one.
    fn take_aligned(&mut self) -> Option<CheckpointId> {
        let aligned = self.aligned;
        let n = self.wires.iter().filter(|w| !w.ended).map(|w| w.barrier).min()?;
        (n > aligned).then(|| {
            self.aligned = n;
            n
        })
    }

    /// Takes the next message from the wires, round robin; `None` when all are empty.
    fn pop(&mut self, now: Instant) -> Option<Popped> {
        let n = self.wires.len();
        let tracking = self.idle_timeout.is_some();
        for k in 0..n {
            let i = (self.next + k) % n;
            let w = &mut self.wires[i];
            if w.ended {
                continue;
            }
            let Some(msg) = w.queue.try_pop() else { continue };
            if tracking {
                w.last_active = now;
            }
            match msg {
                Message::Data(batch) => {
                    self.next = (i + 1) % n;
                    self.metrics.events_in.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    if let Some(tap) = &self.tap {
                        tap.record(&batch);
                    }
                    return Some(Popped::Data(Received::Data { port: w.port, batch }));
                }
                // Reported (when it raises the minimum) before popping what followed it.
                Message::Watermark(t) => w.watermark = w.watermark.max(t),
                Message::Barrier(b) => w.barrier = w.barrier.max(b),
                Message::End => w.ended = true,
            }
            self.next = i;
            return Some(Popped::Control);
        }
        None
    }
}

enum Popped {
    Data(Received),
    Control,
}

impl Drop for Inputs {
    fn drop(&mut self) {
        for w in &self.wires {
            if !w.ended {
                w.queue.close_receiver();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::graph::WhenFull;
    use crate::metrics::WireMetrics;

    fn inputs(n: usize) -> (Inputs, Vec<Arc<WireQueue>>) {
        let notify = Arc::new(Notify::new());
        let mut inputs = Inputs::new(notify.clone(), Default::default());
        let wires: Vec<_> = (0..n)
            .map(|_| {
                WireQueue::new(16, WhenFull::Block, notify.clone(), Arc::new(WireMetrics::new(16)), Default::default())
            })
            .collect();
        for w in &wires {
            inputs.add(0, w.clone());
        }
        (inputs, wires)
    }

    #[tokio::test(start_paused = true)]
    async fn a_watermark_comes_before_the_data_that_followed_it() {
        let (mut inputs, wires) = inputs(1);
        wires[0].push_control(Message::Watermark(5));
        wires[0].push(vec![crate::Event::new(1.into(), 0, 0)]).await;
        assert_eq!(inputs.recv().await, Some(Received::Watermark(5)));
        assert!(matches!(inputs.recv().await, Some(Received::Data { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_input_is_left_out_of_the_minimum_until_it_sends_again() {
        let (mut inputs, wires) = inputs(2);
        inputs.set_idle_timeout(Duration::from_secs(1));
        wires[0].push_control(Message::Watermark(10));
        wires[1].push_control(Message::Watermark(3));
        assert_eq!(inputs.recv().await, Some(Received::Watermark(3)));
        // Wire 1 goes quiet; wire 0 keeps sending.
        let started = Instant::now();
        tokio::time::sleep(Duration::from_millis(600)).await;
        wires[0].push_control(Message::Watermark(20));
        assert_eq!(inputs.recv().await, Some(Received::Watermark(20)), "wire 1 turned idle");
        assert!(started.elapsed() >= Duration::from_secs(1));
        // Back: it counts again (the watermark never goes back).
        wires[1].push_control(Message::Watermark(15));
        let got = tokio::time::timeout(Duration::from_millis(100), inputs.recv()).await;
        assert!(got.is_err(), "the minimum is 15 again, below 20: nothing new: {got:?}");
        wires[0].push_control(Message::Watermark(30));
        let got = tokio::time::timeout(Duration::from_millis(100), inputs.recv()).await;
        assert!(got.is_err(), "still 15: {got:?}");
        wires[1].push_control(Message::Watermark(40));
        assert_eq!(inputs.recv().await, Some(Received::Watermark(30)));
    }

    fn data(seq: u64) -> Vec<crate::Event> {
        vec![crate::Event::new(seq.into(), 0, seq)]
    }

    #[tokio::test(start_paused = true)]
    async fn a_barrier_passes_once_every_open_wire_delivered_it_and_no_wire_waits_for_it() {
        let (mut inputs, wires) = inputs(3);
        inputs.deliver_barriers();
        wires[0].push(data(0)).await;
        wires[0].push_control(Message::Barrier(1));
        wires[0].push(data(1)).await;
        wires[1].push_control(Message::Barrier(1));
        wires[1].push(data(2)).await;
        wires[2].push(data(3)).await;
        let mut got = Vec::new();
        for _ in 0..4 {
            match inputs.recv().await {
                Some(Received::Data { batch, .. }) => got.push(batch[0].seq),
                other => panic!("{other:?}"),
            }
        }
        got.sort();
        assert_eq!(got, vec![0, 1, 2, 3], "events after the barrier on wires 0 and 1 are read too");
        let blocked = tokio::time::timeout(Duration::from_millis(50), inputs.recv()).await;
        assert!(blocked.is_err(), "wire 2 has not delivered barrier 1: {blocked:?}");
        wires[2].push_control(Message::End);
        assert_eq!(inputs.recv().await, Some(Received::Barrier(1)), "an ended wire counts as having delivered it");
        wires[0].push(data(4)).await;
        assert!(matches!(inputs.recv().await, Some(Received::Data { .. })));
    }

    #[tokio::test(start_paused = true)]
    async fn a_timer_wakes_the_node_without_input_and_ends_with_the_inputs() {
        let (mut inputs, wires) = inputs(1);
        let at = Instant::now() + Duration::from_secs(5);
        inputs.wake_at(at + Duration::from_secs(1));
        inputs.wake_at(at);
        assert_eq!(inputs.recv().await, Some(Received::Timer(at)), "the earliest instant");
        assert!(Instant::now() >= at);
        inputs.wake_at(Instant::now() + Duration::from_secs(60));
        wires[0].push_control(Message::End);
        assert_eq!(inputs.recv().await, None);
    }
}

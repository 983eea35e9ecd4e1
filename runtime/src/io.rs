//! What a running node sees: its inputs, outputs, dead-letter port, metrics and the
//! run's controls (pause, stop).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::event::{Batch, Event, Message};
use crate::graph::WhenFull;
use crate::metrics::NodeMetrics;
use crate::redact::Redactor;
use crate::registry::NodeError;
use crate::tap::PortTap;
use crate::wire::WireQueue;

mod inputs;

pub use inputs::{Inputs, Received};

/// One output port: its wires (fan-out sends a copy down each).
pub struct Output {
    wires: Vec<Arc<WireQueue>>,
    metrics: Arc<NodeMetrics>,
    counts_as_output: bool,
    ended: bool,
    tap: Option<PortTap>,
}

impl Output {
    pub(crate) fn new(metrics: Arc<NodeMetrics>, counts_as_output: bool) -> Self {
        Output { wires: Vec::new(), metrics, counts_as_output, ended: false, tap: None }
    }

    /// Records the tail of every batch sent into `tap` (see [`crate::tap`]).
    pub(crate) fn with_tap(mut self, tap: Option<PortTap>) -> Self {
        self.tap = tap;
        self
    }

    pub(crate) fn add(&mut self, queue: Arc<WireQueue>) {
        self.wires.push(queue);
    }

    /// Whether any wire is connected.
    pub fn is_wired(&self) -> bool {
        !self.wires.is_empty()
    }

    /// Sends a batch down every wire, applying each wire's `when_full` policy. A port with
    /// no wire counts the batch as `discarded`. Fan-out: the drop-policy wires take their
    /// copy first (cloning only what each keeps), so they never wait behind a full `block`
    /// wire; the last `block` wire gets the batch itself.
    pub async fn send(&mut self, batch: Batch) {
        if batch.is_empty() {
            return;
        }
        let n = batch.len() as u64;
        if self.counts_as_output {
            self.metrics.events_out.fetch_add(n, Ordering::Relaxed);
        }
        if let Some(tap) = &self.tap {
            tap.record(&batch);
        }
        if self.wires.is_empty() {
            self.metrics.discarded.fetch_add(n, Ordering::Relaxed);
            return;
        }
        self.metrics.unsent.fetch_add(n, Ordering::Relaxed);
        let owner = self.wires.iter().rposition(|w| w.when_full() == WhenFull::Block).unwrap_or(self.wires.len() - 1);
        for (i, w) in self.wires.iter().enumerate() {
            if i != owner && w.when_full() != WhenFull::Block {
                w.push_shared(&batch).await;
            }
        }
        for (i, w) in self.wires.iter().enumerate() {
            if i != owner && w.when_full() == WhenFull::Block {
                w.push_shared(&batch).await;
            }
        }
        // The last wire takes what it accepts off `unsent` as it goes: a task cancelled while
        // it waits for room lost exactly what that wire never got.
        self.wires[owner].push_counted(batch, Some(&self.metrics.unsent)).await;
    }

    /// Sends a watermark down every wire.
    pub fn send_watermark(&self, t: i64) {
        for w in &self.wires {
            w.push_control(Message::Watermark(t));
        }
    }

    /// Ends the stream on every wire (also done on drop).
    pub fn end(&mut self) {
        if !self.ended {
            self.ended = true;
            for w in &self.wires {
                w.push_control(Message::End);
            }
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        self.end();
    }
}

/// How often a failed event's reason is noted as the node's `last_error`.
const NOTE_EVERY: Duration = Duration::from_millis(250);

/// The dead-letter port: events a node could not process, with the reason.
/// When unwired, events are counted in `errors` and logged (at most once per second).
pub struct DeadLetters {
    node_id: Arc<str>,
    output: Output,
    pending: Batch,
    unlogged: u64,
    last_log: Option<Instant>,
    /// When a reason was last noted in the node's metrics (`last_error`).
    last_noted: Option<Instant>,
    /// The latest reason, when it came too soon after the last one noted: noted at the next
    /// flush (and when the node ends), so `last_error` ends as the last reason, not a sample.
    unnoted: Option<String>,
    redactor: Redactor,
}

impl DeadLetters {
    pub(crate) fn new(node_id: Arc<str>, output: Output) -> Self {
        DeadLetters {
            node_id,
            output,
            pending: Vec::new(),
            unlogged: 0,
            last_log: None,
            last_noted: None,
            unnoted: None,
            redactor: Redactor::default(),
        }
    }

    /// Reasons show `${NAME}` placeholders, never the values substituted for them.
    pub(crate) fn with_redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// Reports one failed event. Call [`DeadLetters::flush`] (done by [`NodeContext::emit`]) to send.
    pub fn report(&mut self, event: Event, reason: impl Into<String>) {
        let mut reason = reason.into();
        if !self.redactor.is_empty() {
            reason = self.redactor.redact(&reason);
        }
        self.output.metrics.errors.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        if self.last_noted.is_none_or(|t| now.duration_since(t) >= NOTE_EVERY) {
            self.output.metrics.note_error(&reason);
            self.last_noted = Some(now);
            self.unnoted = None;
        } else {
            self.unnoted = Some(reason.clone());
        }
        if self.output.is_wired() {
            let value = json!({
                "node": &*self.node_id,
                "reason": reason,
                "event": event.value,
                "seq": event.seq,
            });
            self.pending.push(Event { value, ..event });
        } else {
            if let Some(tap) = self.output.tap.as_ref().filter(|t| t.is_recording()) {
                let value =
                    json!({ "node": &*self.node_id, "reason": &reason, "event": event.value, "seq": event.seq });
                tap.record_owned(Event { value, ..event });
            }
            self.unlogged += 1;
            if self.last_log.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
                tracing::warn!(
                    node = %self.node_id,
                    count = self.unlogged,
                    "event(s) failed and the `errors` port is unwired; last reason: {reason}"
                );
                self.unlogged = 0;
                self.last_log = Some(now);
            }
        }
    }

    /// Reports a failure that has no event (for example a bad input line), as a record.
    pub fn report_value(&mut self, value: Value, reason: impl Into<String>, source: u32, seq: u64) {
        self.report(Event::new(value, source, seq), reason);
    }

    /// Notes the latest reason not yet noted as the node's `last_error`.
    fn note_unnoted(&mut self) {
        if let Some(reason) = self.unnoted.take() {
            self.output.metrics.note_error(&reason);
        }
    }

    /// Sends what was reported.
    pub async fn flush(&mut self) {
        self.note_unnoted();
        if !self.pending.is_empty() {
            let batch = std::mem::take(&mut self.pending);
            self.output.send(batch).await;
        }
    }
}

impl Drop for DeadLetters {
    fn drop(&mut self) {
        self.note_unnoted();
    }
}

/// The run's controls as a node sees them.
#[derive(Clone)]
pub struct Control {
    /// Cancelled when the run is asked to stop gracefully: sources stop producing and end
    /// their outputs; other nodes keep draining.
    pub stop: CancellationToken,
    /// Cancelled when the run is killed (a second Stop, or the stop timeout ran out): work
    /// that runs without yielding (an expression's evaluation) checks it and gives up.
    pub kill: CancellationToken,
    paused: watch::Receiver<bool>,
}

impl Control {
    pub(crate) fn new(stop: CancellationToken, kill: CancellationToken, paused: watch::Receiver<bool>) -> Self {
        Control { stop, kill, paused }
    }

    /// True once a stop was requested.
    pub fn stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Waits while the run is paused (returns at once otherwise, or when stopping).
    /// Returns true when it did wait, so paced sources can restart their clocks.
    pub async fn wait_if_paused(&mut self) -> bool {
        if !*self.paused.borrow() {
            return false;
        }
        tokio::select! {
            _ = self.paused.wait_for(|p| !*p) => {}
            _ = self.stop.cancelled() => {}
        }
        true
    }

    /// Sleeps until `deadline`; returns false if a stop came first.
    pub async fn sleep_until(&self, deadline: tokio::time::Instant) -> bool {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => true,
            _ = self.stop.cancelled() => false,
        }
    }
}

/// Everything a running node is handed.
pub struct NodeContext {
    /// Index of the node in the graph (stamped on events it creates).
    pub index: u32,
    /// Node id.
    pub id: Arc<str>,
    /// Its inputs.
    pub inputs: Inputs,
    /// Its outputs, by port index (the dead-letter port is separate).
    pub outputs: Vec<Output>,
    /// The dead-letter port.
    pub errors: DeadLetters,
    /// Its counters.
    pub metrics: Arc<NodeMetrics>,
    /// Pause and stop.
    pub control: Control,
    /// The run's debug log (`debug` and `console_sink` sinks write to it).
    pub debug: Arc<crate::debug::DebugLog>,
    /// Preferred batch size.
    pub batch_size: usize,
    /// Checkpoint triggers and completions (used by sources that inject their own barriers).
    pub checkpoints: crate::checkpoint::SourceCheckpoints,
    /// For a source: the filter right behind its first output, which it may apply while
    /// reading (see [`crate::pushdown`]); `None` when there is none or it cannot be pushed.
    pub pushdown: Option<crate::pushdown::PushedFilter>,
}

impl NodeContext {
    /// Sends `batch` on output `port` and flushes the dead-letter port. A port the node
    /// does not have is an error (a bug in the node kind), never a silent drop.
    pub async fn emit(&mut self, port: usize, batch: Batch) -> Result<(), NodeError> {
        let Some(out) = self.outputs.get_mut(port) else {
            let n = batch.len();
            self.errors.flush().await;
            return Err(NodeError(format!(
                "internal: sent {n} event(s) to output port #{port}, but the node has {} data output(s)",
                self.outputs.len()
            )));
        };
        out.send(batch).await;
        self.errors.flush().await;
        Ok(())
    }

    /// Forwards a watermark on every output, the dead-letter port's too.
    pub fn forward_watermark(&self, t: i64) {
        for out in &self.outputs {
            out.send_watermark(t);
        }
        self.errors.output.send_watermark(t);
    }

    /// Passes checkpoint barrier `n` on, down every wired output (the dead-letter port's
    /// too), or reports it when the node has no wired output. A source calls it after its
    /// current batch, a sink once what came before is durable.
    pub fn forward_barrier(&self, n: crate::checkpoint::CheckpointId) {
        self.inputs.forward_barrier(n);
    }

    /// Ends every output (the dead-letter port's too): downstream sees the end of the
    /// stream while this node still runs (a source waiting for its last checkpoint).
    pub async fn end_outputs(&mut self) {
        self.errors.flush().await;
        for out in &mut self.outputs {
            out.end();
        }
        self.errors.output.end();
    }

    /// Adds processing time.
    pub fn add_busy(&self, since: Instant) {
        self.metrics.busy_ns.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
}

/// A one-in one-out operator's per-batch work: turn `input` into events on `out`, report
/// failures to `errors`, and return how many inputs led to output (`passed`). The runtime
/// counts the rest as `filtered`, less those reported to `errors`.
pub trait BatchProcessor: Send {
    /// Processes one batch; returns the number of inputs that led to at least one output.
    fn process(&mut self, input: Batch, out: &mut Batch, errors: &mut DeadLetters) -> usize;
}

impl<F: FnMut(Batch, &mut Batch, &mut DeadLetters) -> usize + Send> BatchProcessor for F {
    fn process(&mut self, input: Batch, out: &mut Batch, errors: &mut DeadLetters) -> usize {
        self(input, out, errors)
    }
}

/// Runs a one-in one-out operator until its inputs end: batches go through `processor`
/// to output 0, watermarks are forwarded, end-of-stream propagates.
pub async fn drive_operator(mut ctx: NodeContext, mut processor: impl BatchProcessor) -> Result<(), NodeError> {
    while let Some(msg) = ctx.inputs.recv().await {
        match msg {
            Received::Data { batch, .. } => {
                let started = Instant::now();
                let n_in = batch.len();
                let errors_before = ctx.metrics.errors.load(Ordering::Relaxed);
                let mut out = Vec::with_capacity(n_in);
                let passed = processor.process(batch, &mut out, &mut ctx.errors);
                if ctx.control.kill.is_cancelled() {
                    // Killed mid-batch (an evaluation gave up): what this batch held is lost,
                    // counted by the supervisor when it cancels this task, here.
                    std::future::pending::<()>().await;
                }
                let errored = ctx.metrics.errors.load(Ordering::Relaxed).saturating_sub(errors_before) as usize;
                ctx.metrics.count_filtered(n_in.saturating_sub(passed + errored));
                ctx.add_busy(started);
                ctx.emit(0, out).await?;
                // Counted once delivered: an event mid-push is still held (lost if killed).
                ctx.metrics.count_passed(passed.min(n_in - errored.min(n_in)));
            }
            Received::Watermark(t) => ctx.forward_watermark(t),
            Received::Barrier(n) => ctx.forward_barrier(n),
            // It arms no timer.
            Received::Timer(_) => {}
        }
    }
    Ok(())
}

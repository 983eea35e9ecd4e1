//! The unit of data on a wire and the messages that carry it.

use serde_json::Value;

/// One event: a JSON-compatible record plus metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The record itself (usually a JSON object).
    pub value: Value,
    /// Event time in milliseconds since the Unix epoch, when the source knows it.
    pub time: Option<i64>,
    /// Index of the node that created the event (see [`crate::executor::RunHandle::node_ids`]).
    pub source: u32,
    /// Sequence number assigned by the source, unique per source.
    pub seq: u64,
}

impl Event {
    /// An event with no event time.
    pub fn new(value: Value, source: u32, seq: u64) -> Self {
        Event { value, time: None, source, seq }
    }
}

/// Events move in batches so per-event overhead stays small.
pub type Batch = Vec<Event>;

/// Number of a checkpoint: the coordinator counts them from 1 (see [`crate::checkpoint`]).
pub type CheckpointId = u64;

/// What travels on a wire, in order: data, and control messages interleaved with it.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A batch of events.
    Data(Batch),
    /// Event-time watermark: no event with an earlier time is expected after this (ms since epoch).
    Watermark(i64),
    /// Checkpoint barrier: every event before it belongs to checkpoint `n` (not an event:
    /// never counted, never dropped).
    Barrier(CheckpointId),
    /// The producer will send nothing more.
    End,
}

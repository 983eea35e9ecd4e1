//! Checkpoints: barriers on the wires that tell when everything a source emitted before them
//! is done (written by every sink it reached, filtered out, dead-lettered, or dropped by a
//! wire's policy), so broker sources acknowledge only then (at-least-once end to end).
//!
//! The flow of checkpoint `n` (Flink's barrier tracking for at-least-once):
//! 1. The [`coordinator`] triggers `n` every `settings.checkpoint_interval` (sooner when a
//!    source asks, [`SourceCheckpoints::request_soon`]), one checkpoint at a time.
//! 2. A source that injects its own barriers (a kind with `injects_barriers`) sends
//!    `Barrier(n)` after its current batch ([`SourceCheckpoints::signal`]); the
//!    coordinator injects it for every other source (they owe no acknowledgements).
//! 3. A node passes `n` on once it has emitted everything earlier events produced; a node
//!    with several input wires passes it once every open wire delivered it, and keeps
//!    reading every wire meanwhile ([`crate::io::Inputs`]): events after `n` that get ahead
//!    of it are covered by `n` too, which at-least-once allows, and no input ever waits
//!    for another (so a window holding `n` on one path cannot stall a path beside it).
//! 4. A node with no wired output (a sink, a dead end) reports `n`; a sink first makes what
//!    it wrote durable. A node that finished counts as having reported every checkpoint.
//! 5. Once every such node reported `n`, the coordinator announces `n` complete
//!    ([`SourceCheckpoints::completed`]) and sources acknowledge what they emitted before it.
//!
//! A node that fails or is cancelled aborts checkpointing for the rest of the run: nothing
//! more is acknowledged, the broker redelivers (duplicates, never a loss).

pub(crate) mod board;
pub(crate) mod coordinator;
mod route;
mod source;

pub use crate::event::CheckpointId;
pub use route::BarrierRoute;
pub use source::{CheckpointSignal, SourceCheckpoints};

/// The checkpoint interval when the graph sets none.
pub const DEFAULT_CHECKPOINT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

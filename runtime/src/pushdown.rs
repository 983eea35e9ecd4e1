//! Predicate pushdown: a source applies the filter that directly follows it while it reads.
//!
//! A `filter` right behind a JSON source often drops most events (workload A keeps one in
//! five). Parsing each of those into a full record, sending it down the wire and dropping it
//! in the filter costs most of the run. When the filter's condition reads only some top-level
//! fields of the record, the source can parse just those fields and test them first (Spark's
//! JSON filter pushdown does the same). An event the condition rejects is never built: it is
//! counted exactly as if it had gone through — sent by the source, carried by the wire,
//! received and `filtered` by the filter — so every counter reads the same as without the
//! shortcut. Everything else (the condition passes, fails with an error, or the source is not
//! sure) takes the ordinary path, and the filter decides as always.
//!
//! The executor offers a [`PushedFilter`] to a source (see [`crate::io::NodeContext::pushdown`])
//! only when the filter is the one consumer of the source's first output, on a `block` wire.
//! While the source's output is watched in the editor (or marked for the debug log), the
//! source takes the ordinary path, so the tap shows every event it reads.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;

use crate::metrics::NodeMetrics;
use crate::tap::PortTap;
use crate::wire::WireQueue;

/// A record test that reads only some top-level fields of a record.
pub trait RecordPredicate: Send + Sync {
    /// The top-level fields the test reads. Any object holding exactly those of the record's
    /// fields that are present, with the same values, tests as the whole record does.
    fn fields(&self) -> &[String];
    /// True only when the node behind it would count a record with these fields as
    /// `filtered` (no error, no output). `false` when it passes, fails or is unsure.
    fn rejects(&self, projected: &Value) -> bool;
    /// [`RecordPredicate::rejects`] for a record given by its fields' values, without an
    /// object built for them. By default the object is built.
    fn rejects_fields(&self, record: &ProjectedRecord<'_>) -> bool {
        self.rejects(&record.to_object())
    }
    /// Whether the test rejects a record, told from its top-level fields as found in the raw
    /// text (`field` gives each by name), when it can be told from those alone; `None` when
    /// it cannot (then the fields are read as values). By default, never.
    fn rejects_raw<'a>(&self, field: &dyn Fn(&str) -> RawField<'a>) -> Option<bool> {
        let _ = field;
        None
    }
}

/// A top-level field of a record as a source found it in the raw text, for
/// [`RecordPredicate::rejects_raw`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawField<'a> {
    /// The record has no such field.
    Absent,
    /// A string without escapes: its UTF-8 bytes, between the quotes.
    Text(&'a [u8]),
    /// Anything else: a number, `true`, an array, ...
    Other,
}

/// Some top-level fields of a record, as a source read them: `names[i]` holds `values[i]`
/// when `present[i]`, and the record lacks it otherwise. Fields not named are unknown.
#[derive(Debug, Clone, Copy)]
pub struct ProjectedRecord<'a> {
    names: &'a [String],
    values: &'a [Value],
    present: &'a [bool],
}

impl<'a> ProjectedRecord<'a> {
    /// The record of `values` and `present` for `names` (three slices of one length).
    pub fn new(names: &'a [String], values: &'a [Value], present: &'a [bool]) -> Self {
        ProjectedRecord { names, values, present }
    }

    /// Field `name`: `Some(Some(value))` when the record has it, `Some(None)` when it lacks
    /// it, `None` when `name` is not among the fields read.
    pub fn get(&self, name: &str) -> Option<Option<&'a Value>> {
        let i = self.names.iter().position(|n| n.len() == name.len() && n.bytes().eq(name.bytes()))?;
        Some(self.present.get(i).copied().unwrap_or(false).then(|| self.values.get(i)).flatten())
    }

    /// The fields present, as an object.
    pub fn to_object(&self) -> Value {
        let present = self.names.iter().zip(self.values).zip(self.present).filter(|(_, p)| **p);
        Value::Object(present.map(|((n, v), _)| (n.clone(), v.clone())).collect())
    }
}

/// A filter node a source may apply while it reads: its test, and the counters to update for
/// each event it rejects.
#[derive(Clone)]
pub struct PushedFilter {
    predicate: Arc<dyn RecordPredicate>,
    wire: Arc<WireQueue>,
    filter: Arc<NodeMetrics>,
    source: Arc<NodeMetrics>,
    source_tap: Option<PortTap>,
}

impl std::fmt::Debug for PushedFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushedFilter").field("fields", &self.predicate.fields()).finish_non_exhaustive()
    }
}

impl PushedFilter {
    /// `predicate` applied by the source whose counters are `source`, on behalf of the filter
    /// whose counters are `filter`, behind `wire`. The executor makes these; tests may too.
    pub fn new(
        predicate: Arc<dyn RecordPredicate>,
        wire: Arc<WireQueue>,
        filter: Arc<NodeMetrics>,
        source: Arc<NodeMetrics>,
    ) -> Self {
        PushedFilter { predicate, wire, filter, source, source_tap: None }
    }

    /// Stands aside while `tap` (the source's output port) records.
    pub(crate) fn with_tap(mut self, tap: Option<PortTap>) -> Self {
        self.source_tap = tap;
        self
    }

    /// The filter's test.
    pub fn predicate(&self) -> &dyn RecordPredicate {
        &*self.predicate
    }

    /// Whether the source may reject events now: not while its output is watched or marked
    /// for debugging (the tap must see every event).
    pub fn active(&self) -> bool {
        !self.source_tap.as_ref().is_some_and(PortTap::is_recording)
    }

    /// Accounts for `n` events the source read and the filter's test rejected: sent by the
    /// source, carried by the wire, received and filtered by the filter. When the filter is
    /// gone (it failed), they are dropped by the wire instead, as a sent batch would be.
    pub fn count_rejected(&self, n: u64) {
        if n == 0 {
            return;
        }
        self.source.events_out.fetch_add(n, Ordering::Relaxed);
        self.wire.pass_through(n, &self.filter);
    }
}

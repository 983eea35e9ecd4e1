//! `file_sink`: writes events as JSON Lines, CSV or raw lines. Serialization happens in the
//! node task; a writer thread owns the file, behind a bounded channel, and flushes it
//! periodically and when the stream ends (see `file_writer`). Files can be rotated by size
//! or age, and written atomically (see `file_rotation`).

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use streamloom_runtime::Batch;
use streamloom_runtime::io::{DeadLetters, NodeContext, Received};
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::file_rotation::{Rotation, Target};
use super::file_writer::{self, CloseOnDrop, Gate, ToWriter, WriteFailure, WriterSpec};

/// How events are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SinkFormat {
    /// One JSON value per line.
    #[default]
    Jsonl,
    /// Records as CSV rows under a header.
    Csv,
    /// Strings as they are, other values as JSON, one per line.
    Lines,
}

fn default_flush_ms() -> u64 {
    1000
}

/// Config of `file_sink`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSinkConfig {
    /// File to write (relative to the graph file's folder); its folder is created.
    pub path: String,
    /// jsonl, csv or lines.
    #[serde(default)]
    pub format: SinkFormat,
    /// Append instead of replacing the file.
    #[serde(default)]
    pub append: bool,
    /// Flush at least this often (ms).
    #[serde(default = "default_flush_ms")]
    pub flush_interval_ms: u64,
    /// CSV columns; empty: the first record's fields.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Write a hidden partial file and give it its name only when it is complete (at the end
    /// of the stream, or when rotated), so readers never see a half-written file.
    #[serde(default)]
    pub atomic: bool,
    /// Start a new file once this many bytes were written (0: never).
    #[serde(default)]
    pub rotate_bytes: u64,
    /// Start a new file once the current one is this old, e.g. `1h` (absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_every: Option<String>,
}

impl Default for FileSinkConfig {
    fn default() -> Self {
        FileSinkConfig {
            path: "out/events.jsonl".into(),
            format: SinkFormat::Jsonl,
            append: false,
            flush_interval_ms: default_flush_ms(),
            columns: Vec::new(),
            atomic: false,
            rotate_bytes: 0,
            rotate_every: None,
        }
    }
}

/// The `file_sink` kind.
pub struct FileSink;

impl TypedNodeKind for FileSink {
    type Config = FileSinkConfig;
    const NAME: &'static str = "file_sink";
    const DESCRIPTION: &'static str =
        "Writes events to a file as JSON Lines, CSV or lines; flushed periodically and at the end";
    const CATEGORY: Category = Category::Sink;
    const EXAMPLE: &'static str = "Write purchases as CSV: `path: \"out/purchases.csv\"`, `format: \"csv\"`, `columns: [\"ts\", \"user\", \"value\"]`; relative paths are resolved against the graph file's folder, and the file is flushed every `flush_interval_ms` and at the end.";

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::new("path", ParamKind::Path, "File to write; relative paths start at the graph file's folder"),
            ParamSpec::choice(
                "format",
                &["jsonl", "csv", "lines"],
                "jsonl: one JSON value per line; csv: records as rows; lines: strings as they are",
            ),
            ParamSpec::new("append", ParamKind::Bool, "Append instead of replacing the file"),
            ParamSpec::integer("flush_interval_ms", 1, 3_600_000, "Flush at least this often"),
            ParamSpec::optional("columns", ParamKind::TextList, "CSV columns; empty: the first record's fields"),
            ParamSpec::new(
                "atomic",
                ParamKind::Bool,
                "Write to a hidden .NAME.partial file and rename it when complete (end of stream or rotation)",
            ),
            ParamSpec::integer(
                "rotate_bytes",
                0,
                i64::MAX,
                "Start a new file after this many bytes (0: never); the full one is renamed STEM.TIME.EXT",
            ),
            ParamSpec::optional(
                "rotate_every",
                ParamKind::Text,
                "Start a new file when the current one is this old, e.g. 1h or 10m",
            ),
        ]
    }

    fn ports(config: &FileSinkConfig) -> Ports {
        let ty = if config.format == SinkFormat::Csv { PortType::Record } else { PortType::Any };
        Ports { inputs: vec![PortSpec::input("in", ty, "Events to write")], outputs: vec![] }
    }

    fn validate(config: &FileSinkConfig) -> Vec<ConfigProblem> {
        let mut p = Vec::new();
        if config.path.trim().is_empty() {
            p.push(ConfigProblem::field("path", "path is empty"));
        }
        if config.flush_interval_ms == 0 {
            p.push(ConfigProblem::field("flush_interval_ms", "must be at least 1"));
        }
        if !config.columns.is_empty() && config.format != SinkFormat::Csv {
            p.push(ConfigProblem::field("columns", "columns apply to the csv format only"));
        }
        if config.atomic && config.append {
            p.push(ConfigProblem::field("atomic", "atomic writes a new file; it cannot append"));
        }
        if let Err(e) = rotate_every(config) {
            p.push(ConfigProblem::field("rotate_every", e));
        }
        if config.format == SinkFormat::Csv && (config.rotate_bytes > 0 || config.rotate_every.is_some()) {
            p.push(ConfigProblem::field(
                "format",
                "csv files are not rotated yet (each part would need its header): use jsonl or lines, or no rotation",
            ));
        }
        p
    }

    fn build(config: FileSinkConfig, ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let rotation = Rotation {
            max_bytes: (config.rotate_bytes > 0).then_some(config.rotate_bytes),
            max_age: rotate_every(&config).map_err(|e| ConfigProblem::field("rotate_every", e))?,
        };
        let target = Target { path: ctx.resolve_path(&config.path), atomic: config.atomic, rotation };
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(config, target, ctx)) }))
    }
}

/// The `rotate_every` duration, if set.
fn rotate_every(config: &FileSinkConfig) -> Result<Option<Duration>, String> {
    let Some(text) = &config.rotate_every else { return Ok(None) };
    match humantime::parse_duration(text.trim()) {
        Ok(d) if d >= Duration::from_secs(1) => Ok(Some(d)),
        Ok(_) => Err(format!("`{text}` is under a second")),
        Err(e) => Err(format!("`{text}` is not a duration such as 1h or 10m: {e}")),
    }
}

/// Accounting: every event received is either dead-lettered (a CSV row that is not a record),
/// held (received, not yet resolved) while its bytes wait for the writer, or `passed` once written. When writing fails
/// (a full disk) the events still held become `errors`, the run fails with a message naming the
/// node, the path and their number, and the file ends on its last whole record.
async fn run(config: FileSinkConfig, target: Target, mut ctx: NodeContext) -> Result<(), NodeError> {
    let path: PathBuf = target.writing();
    let empty = !config.append || std::fs::metadata(&path).map(|m| m.len() == 0).unwrap_or(true);
    let gate = Gate::default();
    let _close_on_drop = CloseOnDrop(gate.clone());
    let (tx, rx) = mpsc::channel::<ToWriter>(4);
    let spec = WriterSpec { target, append: config.append, metrics: ctx.metrics.clone(), gate };
    let writer_done = CancellationToken::new();
    let writer = {
        let done = writer_done.clone();
        tokio::task::spawn_blocking(move || {
            let r = file_writer::run(spec, rx);
            done.cancel();
            r
        })
    };
    let mut csv =
        (config.format == SinkFormat::Csv).then(|| CsvState { columns: config.columns.clone(), header_pending: empty });
    let mut tick = tokio::time::interval(Duration::from_millis(config.flush_interval_ms.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // A checkpoint barrier is passed on once what came before it is written and synced.
    ctx.inputs.deliver_barriers();
    let mut synced: Option<(u64, tokio::sync::oneshot::Receiver<()>)> = None;
    loop {
        if let Some((n, done)) = synced.take() {
            tokio::select! {
                r = done => if r.is_err() { break },
                _ = writer_done.cancelled() => break,
            }
            ctx.forward_barrier(n);
        }
        let msg = tokio::select! {
            msg = ctx.inputs.recv() => match msg {
                Some(Received::Data { batch, .. }) => {
                    let started = std::time::Instant::now();
                    let (bytes, ends) = match &mut csv {
                        Some(state) => state.encode(batch, &mut ctx.errors),
                        None => encode_lines(&batch, config.format),
                    };
                    ctx.add_busy(started);
                    ctx.errors.flush().await;
                    if ends.is_empty() { continue }
                    ToWriter::Records { bytes, ends }
                }
                Some(Received::Watermark(_) | Received::Timer(_)) => continue,
                Some(Received::Barrier(n)) => {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    synced = Some((n, rx));
                    ToWriter::Sync(tx)
                }
                None => break,
            },
            _ = tick.tick() => ToWriter::Flush,
            _ = writer_done.cancelled() => break,
        };
        tokio::select! {
            sent = tx.send(msg) => if sent.is_err() { break },
            _ = writer_done.cancelled() => break,
        }
    }
    drop(tx);
    let failure = match writer.await {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(WriteFailure::Io(msg))) => msg,
        Ok(Err(WriteFailure::Cancelled)) => "the writer was cancelled".to_string(),
        Err(e) => format!("the writer thread for {} failed: {e}", path.display()),
    };
    // The writer has ended and no input is taken any more: what was received and is neither
    // written nor dead-lettered is exactly what the failure left unwritten.
    let unwritten = ctx.metrics.held();
    ctx.metrics.errors.fetch_add(unwritten, Ordering::Relaxed);
    Err(NodeError(format!(
        "file_sink `{}`: {failure}; {unwritten} event(s) received were not written (counted as errors); \
         the file ends on the last whole record",
        ctx.id
    )))
}

/// Encodes events one record per line; returns the bytes and where each record ends.
fn encode_lines(batch: &Batch, format: SinkFormat) -> (Vec<u8>, Vec<usize>) {
    let mut buf = Vec::with_capacity(batch.len() * 96);
    let mut ends = Vec::with_capacity(batch.len());
    for ev in batch {
        match (&ev.value, format) {
            (Value::String(s), SinkFormat::Lines) => buf.extend_from_slice(s.as_bytes()),
            (v, _) => {
                // Writing JSON into a Vec cannot fail for serde_json::Value.
                let _ = serde_json::to_writer(&mut buf, v);
            }
        }
        buf.push(b'\n');
        ends.push(buf.len());
    }
    (buf, ends)
}

struct CsvState {
    columns: Vec<String>,
    header_pending: bool,
}

impl CsvState {
    /// Encodes records as rows (the header goes with the first); returns the bytes and where
    /// each row ends. Events that are not records go to `errors`.
    fn encode(&mut self, batch: Batch, errors: &mut DeadLetters) -> (Vec<u8>, Vec<usize>) {
        let mut ends = Vec::with_capacity(batch.len());
        let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::with_capacity(batch.len() * 64));
        for ev in batch {
            let Some(obj) = ev.value.as_object() else {
                errors.report(ev, "csv needs a record (JSON object)");
                continue;
            };
            if self.columns.is_empty() {
                self.columns = obj.keys().cloned().collect();
            }
            if self.header_pending {
                self.header_pending = false;
                let _ = w.write_record(&self.columns);
            }
            let row: Vec<String> = self.columns.iter().map(|c| cell(obj.get(c))).collect();
            let _ = w.write_record(&row);
            // Flushing a writer into a Vec cannot fail.
            let _ = w.flush();
            ends.push(w.get_ref().len());
        }
        (w.into_inner().unwrap_or_default(), ends)
    }
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

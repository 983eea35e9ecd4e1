//! `file_source`: reads a file as lines, JSON Lines or CSV (header row → field names), once
//! or following it as it grows (tail). Bad lines go to the `errors` port with their line
//! number and the reason; they never stop the graph.
//!
//! Reading runs on a blocking thread and parsing on a small pool of threads (see
//! `file_reader`), behind bounded channels, so a slow downstream holds the reader back.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use streamloom_runtime::io::NodeContext;
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};

use super::file_follow::StartAt;
use super::file_reader::{Chunk, ParallelReader, ReadSpec};
use super::watermarks::Watermarks;
use crate::event_time::{Path, TimeSource, TimeUnit};

/// How the file is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Each line is a string event.
    Lines,
    /// Each line is a JSON value.
    #[default]
    Jsonl,
    /// Comma-separated values with a header row; each row becomes a record.
    Csv,
}

/// Config of `file_source`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// File to read (relative to the graph file's folder).
    pub path: String,
    /// lines, jsonl or csv.
    #[serde(default)]
    pub format: FileFormat,
    /// Keep reading as the file grows, until the graph is stopped (lines and jsonl), with
    /// `tail -F` semantics: a file rotated by rename is finished and the new one read; a
    /// truncated file is read again from its start; a pattern picks up files created later.
    #[serde(default)]
    pub follow: bool,
    /// Where a followed file is first read from: beginning or end (new lines only).
    #[serde(default)]
    pub start_at: StartAt,
    /// Record field (a path such as `ts` or `meta.time`) holding the event time: a number of
    /// `time_unit`s since the epoch, or RFC 3339 text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_field: Option<String>,
    /// Unit of a numeric time field: ms or s.
    #[serde(default)]
    pub time_unit: TimeUnit,
    /// How far watermarks trail the largest event time seen (ms).
    #[serde(default)]
    pub watermark_delay_ms: u64,
    /// Longest line read (lines and jsonl), in bytes; a longer one goes to `errors` with its
    /// first 256 bytes, and is never held whole in memory.
    #[serde(default = "default_max_line_bytes")]
    pub max_line_bytes: u64,
}

fn default_max_line_bytes() -> u64 {
    1 << 20
}

impl Default for FileSourceConfig {
    fn default() -> Self {
        FileSourceConfig {
            path: "data/events.jsonl".into(),
            format: FileFormat::Jsonl,
            follow: false,
            start_at: StartAt::Beginning,
            time_field: None,
            time_unit: TimeUnit::Ms,
            watermark_delay_ms: 0,
            max_line_bytes: default_max_line_bytes(),
        }
    }
}

/// The `file_source` kind.
pub struct FileSource;

impl TypedNodeKind for FileSource {
    type Config = FileSourceConfig;
    const NAME: &'static str = "file_source";
    const DESCRIPTION: &'static str = "Reads a file as lines, JSON Lines or CSV, once or following it as it grows";
    const CATEGORY: Category = Category::Source;
    const EXAMPLE: &'static str = "Read `../data/events.jsonl` with `format: \"jsonl\"`, `time_field: \"ts\"` and `watermark_delay_ms: 2000`: each line becomes an event, windows downstream close 2 s behind the newest `ts`, and unreadable lines go to `errors` with their line number. `follow: true` keeps reading as the file grows.";

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::new(
                "path",
                ParamKind::Path,
                "File to read, or a glob pattern (`logs/*.log`) for every file it matches; relative paths start at the graph file's folder",
            ),
            ParamSpec::choice(
                "format",
                &["jsonl", "lines", "csv"],
                "jsonl: one JSON value per line; lines: text events; csv: header row names the fields",
            ),
            ParamSpec::new(
                "follow",
                ParamKind::Bool,
                "Keep reading as the file grows, until stopped (tail -F: follows rotation by rename and truncation)",
            ),
            ParamSpec::choice(
                "start_at",
                &["beginning", "end"],
                "Followed files: read from the beginning, or only lines appended after the start",
            ),
            ParamSpec::optional(
                "time_field",
                ParamKind::Text,
                "Field with the event time (a number since the epoch, or RFC 3339 text); enables watermarks. \
                 A record whose field is not a time goes to `errors`; one without the field has no time",
            ),
            ParamSpec::choice("time_unit", &["ms", "s"], "Unit of a numeric time field"),
            ParamSpec::integer(
                "watermark_delay_ms",
                0,
                86_400_000,
                "How far watermarks trail the largest event time seen",
            ),
            ParamSpec::integer(
                "max_line_bytes",
                16,
                1 << 30,
                "Longest line read (lines and jsonl); a longer one goes to errors with its first 256 bytes",
            ),
        ]
    }

    fn ports(config: &FileSourceConfig) -> Ports {
        let ty = match config.format {
            FileFormat::Lines => PortType::Text,
            FileFormat::Jsonl => PortType::Any,
            FileFormat::Csv => PortType::Record,
        };
        Ports { inputs: vec![], outputs: vec![PortSpec::output("out", ty, "One event per line or row")] }
    }

    fn validate(config: &FileSourceConfig) -> Vec<ConfigProblem> {
        let mut p = Vec::new();
        if config.path.trim().is_empty() {
            p.push(ConfigProblem::field("path", "path is empty"));
        }
        if config.follow && config.format == FileFormat::Csv {
            p.push(ConfigProblem::field("follow", "follow works with lines and jsonl, not csv"));
        }
        if config.start_at == StartAt::End && !config.follow {
            p.push(ConfigProblem::field("start_at", "start_at: end needs follow: true"));
        }
        if config.time_field.is_some() && config.format == FileFormat::Lines {
            p.push(ConfigProblem::field("time_field", "lines have no fields; use jsonl or csv"));
        }
        p
    }

    fn build(config: FileSourceConfig, ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let path = ctx.resolve_path(&config.path);
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(config, path, ctx)) }))
    }
}

/// After a stop, how long the node waits for the next chunk the reader already has before it
/// gives up on a read that does not return (a FIFO whose writer is silent, a slow device).
const STOP_GRACE: Duration = Duration::from_millis(500);

/// Accounting: blank lines count as `skipped`; lines that do not parse go to `errors` with
/// their line number; a batch being sent is `unsent` (the runtime counts it); events parsed but not
/// sent when a stop gives up on the reader count as `dropped`.
async fn run(config: FileSourceConfig, path: PathBuf, mut ctx: NodeContext) -> Result<(), NodeError> {
    let reading = ParallelReader::start(ReadSpec {
        path: path.clone(),
        format: config.format,
        follow: config.follow,
        time: config.time_field.as_deref().map(|f| TimeSource { field: Some(Path::parse(f)), unit: config.time_unit }),
        start_at: config.start_at,
        batch_size: ctx.batch_size,
        max_line_bytes: usize::try_from(config.max_line_bytes).unwrap_or(usize::MAX),
        source: ctx.index,
        stop: ctx.control.stop.clone(),
        metrics: ctx.metrics.clone(),
        pushdown: ctx.pushdown.clone(),
    });
    let mut chunks = reading.chunks;
    let mut restorer = reading.restorer;
    let mut watermarks = Watermarks::new(i64::try_from(config.watermark_delay_ms).unwrap_or(i64::MAX));
    let mut result = Ok(());
    let mut reader_stuck = false;
    loop {
        ctx.control.wait_if_paused().await;
        let chunk = if ctx.control.stopping() {
            // The reader ends at its next line; take what it already read, but never wait
            // long for a read that does not return.
            match tokio::time::timeout(STOP_GRACE, chunks.next()).await {
                Ok(chunk) => chunk,
                Err(_) => {
                    reader_stuck = true;
                    break;
                }
            }
        } else {
            tokio::select! {
                chunk = chunks.next() => chunk,
                _ = ctx.control.stop.cancelled() => {
                    unblock_fifo(&path);
                    continue;
                }
            }
        };
        let Some(chunk) = chunk else { break };
        match chunk {
            Chunk::Events { batch, mut bad, skipped, mut rejected } => {
                ctx.metrics.skipped.fetch_add(skipped, Ordering::Relaxed);
                // Read ahead while the output was not watched: what the filter rejected is
                // built after all, so the tap and the debug log see every event sent.
                let watched = ctx.pushdown.as_ref().is_some_and(|p| !p.active());
                let batch = if rejected.count > 0 && watched {
                    let (merged, failed) = restorer.restore(batch, std::mem::take(&mut rejected));
                    bad.extend(failed);
                    merged
                } else {
                    restorer.recycle(&mut rejected);
                    batch
                };
                for (seq, record, reason) in bad {
                    ctx.errors.report_value(record, reason, ctx.index, seq);
                }
                if config.time_field.is_some() {
                    watermarks.observe(&batch);
                    watermarks.observe_time(rejected.max_time);
                }
                if let Some(pushdown) = &ctx.pushdown {
                    pushdown.count_rejected(rejected.count);
                }
                if let Err(e) = ctx.emit(0, batch).await {
                    result = Err(e);
                    break;
                }
                if let Some(t) = watermarks.current() {
                    ctx.forward_watermark(t);
                }
            }
            Chunk::Failed(msg) => {
                result = Err(NodeError(msg));
                break;
            }
        }
    }
    drop(chunks);
    if reader_stuck {
        tracing::warn!(node = %ctx.id, "stopped while reading {} was blocked; the reader thread is left to end on its own", path.display());
    } else {
        reading.threads.join().await;
    }
    result
}

/// A reader blocked opening a FIFO that has no writer waits for one: open the FIFO for
/// writing (without blocking) and close it again, so its open returns and its read sees the
/// end of the stream.
#[cfg(unix)]
fn unblock_fifo(path: &std::path::Path) {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    if std::fs::metadata(path).is_ok_and(|m| m.file_type().is_fifo()) {
        // No reader waiting (ENXIO) is fine: then nothing is blocked in open.
        let _ = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(path);
    }
}

#[cfg(not(unix))]
fn unblock_fifo(_path: &std::path::Path) {}

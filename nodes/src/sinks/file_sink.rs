//! `file_sink`: writes events as JSON Lines, CSV or raw lines. Serialization happens in the
//! node task; a writer thread owns the file, behind a bounded channel, and flushes it
//! periodically and when the stream ends.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
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
}

impl Default for FileSinkConfig {
    fn default() -> Self {
        FileSinkConfig {
            path: "out/events.jsonl".into(),
            format: SinkFormat::Jsonl,
            append: false,
            flush_interval_ms: default_flush_ms(),
            columns: Vec::new(),
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
        p
    }

    fn build(config: FileSinkConfig, ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        let path = ctx.resolve_path(&config.path);
        Ok(Box::new(move |ctx: NodeContext| -> NodeFuture { Box::pin(run(config, path, ctx)) }))
    }
}

enum ToWriter {
    Bytes(Vec<u8>),
    Flush,
}

fn open(path: &PathBuf, append: bool) -> std::io::Result<(File, bool)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = if append { OpenOptions::new().create(true).append(true).open(path)? } else { File::create(path)? };
    let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(true);
    Ok((file, empty))
}

fn writer_thread(file: File, mut rx: mpsc::Receiver<ToWriter>) -> std::io::Result<()> {
    let mut w = BufWriter::with_capacity(1 << 18, file);
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            ToWriter::Bytes(b) => w.write_all(&b)?,
            ToWriter::Flush => w.flush()?,
        }
    }
    w.flush()?;
    w.get_ref().sync_data()
}

async fn run(config: FileSinkConfig, path: PathBuf, mut ctx: NodeContext) -> Result<(), NodeError> {
    let (file, empty) =
        open(&path, config.append).map_err(|e| NodeError(format!("cannot open {}: {e}", path.display())))?;
    let (tx, rx) = mpsc::channel::<ToWriter>(4);
    let writer = tokio::task::spawn_blocking(move || writer_thread(file, rx));
    let mut csv =
        (config.format == SinkFormat::Csv).then(|| CsvState { columns: config.columns.clone(), header_pending: empty });
    let mut tick = tokio::time::interval(Duration::from_millis(config.flush_interval_ms.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = ctx.inputs.recv() => match msg {
                Some(Received::Data { batch, .. }) => {
                    let started = std::time::Instant::now();
                    let n = batch.len();
                    let errors_before = ctx.metrics.errors.load(std::sync::atomic::Ordering::Relaxed);
                    let bytes = match &mut csv {
                        Some(state) => state.encode(batch, &mut ctx.errors),
                        None => encode_lines(&batch, config.format),
                    };
                    ctx.add_busy(started);
                    ctx.errors.flush().await;
                    if tx.send(ToWriter::Bytes(bytes)).await.is_err() {
                        break;
                    }
                    let errored = ctx.metrics.errors.load(std::sync::atomic::Ordering::Relaxed) - errors_before;
                    ctx.metrics.count_passed(n.saturating_sub(errored as usize));
                }
                Some(Received::Watermark(_)) => {}
                None => break,
            },
            _ = tick.tick() => {
                if tx.send(ToWriter::Flush).await.is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    match writer.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(NodeError(format!("writing {}: {e}", path.display()))),
        Err(e) => Err(NodeError(format!("writer thread for {} failed: {e}", path.display()))),
    }
}

fn encode_lines(batch: &Batch, format: SinkFormat) -> Vec<u8> {
    let mut buf = Vec::with_capacity(batch.len() * 96);
    for ev in batch {
        match (&ev.value, format) {
            (Value::String(s), SinkFormat::Lines) => buf.extend_from_slice(s.as_bytes()),
            (v, _) => {
                // Writing JSON into a Vec cannot fail for serde_json::Value.
                let _ = serde_json::to_writer(&mut buf, v);
            }
        }
        buf.push(b'\n');
    }
    buf
}

struct CsvState {
    columns: Vec<String>,
    header_pending: bool,
}

impl CsvState {
    fn encode(&mut self, batch: Batch, errors: &mut DeadLetters) -> Vec<u8> {
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
        }
        w.into_inner().unwrap_or_default()
    }
}

fn cell(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

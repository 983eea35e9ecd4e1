//! `file_source`: reads a file as lines, JSON Lines or CSV (header row → field names), once
//! or following it as it grows (tail). Bad lines go to the `errors` port with their line
//! number and the reason; they never stop the graph.
//!
//! Reading and parsing run on a blocking thread that hands batches to the node task through
//! a bounded channel of two batches, so a slow downstream holds the reader back.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use streamloom_runtime::io::NodeContext;
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeError, NodeFuture, NodeTask, ParamKind, ParamSpec, PortSpec, PortType,
    Ports, TypedNodeKind,
};
use streamloom_runtime::{Batch, Event};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

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
    /// Keep reading as the file grows, until the graph is stopped (lines and jsonl).
    #[serde(default)]
    pub follow: bool,
    /// Record field holding the event time in ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_field: Option<String>,
    /// How far watermarks trail the largest event time seen (ms).
    #[serde(default)]
    pub watermark_delay_ms: u64,
}

impl Default for FileSourceConfig {
    fn default() -> Self {
        FileSourceConfig {
            path: "data/events.jsonl".into(),
            format: FileFormat::Jsonl,
            follow: false,
            time_field: None,
            watermark_delay_ms: 0,
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

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::new("path", ParamKind::Path, "File to read; relative paths start at the graph file's folder"),
            ParamSpec::choice(
                "format",
                &["lines", "jsonl", "csv"],
                "lines: text events; jsonl: one JSON value per line; csv: header row names the fields",
            ),
            ParamSpec::new("follow", ParamKind::Bool, "Keep reading as the file grows (tail), until stopped"),
            ParamSpec::optional(
                "time_field",
                ParamKind::Text,
                "Field with the event time (ms since epoch); enables watermarks",
            ),
            ParamSpec::integer(
                "watermark_delay_ms",
                0,
                86_400_000,
                "How far watermarks trail the largest event time seen",
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

/// What the reader thread hands over.
enum Chunk {
    Events { batch: Batch, bad: Vec<(u64, Value, String)> },
    Failed(String),
}

async fn run(config: FileSourceConfig, path: PathBuf, mut ctx: NodeContext) -> Result<(), NodeError> {
    let (tx, mut rx) = mpsc::channel::<Chunk>(2);
    let reader = Reader {
        path: path.clone(),
        format: config.format,
        follow: config.follow,
        time_field: config.time_field.clone(),
        batch_size: ctx.batch_size,
        source: ctx.index,
        stop: ctx.control.stop.clone(),
        tx,
    };
    let thread = tokio::task::spawn_blocking(move || reader.run());
    let mut max_time = i64::MIN;
    let delay = config.watermark_delay_ms as i64;
    let mut result = Ok(());
    loop {
        ctx.control.wait_if_paused().await;
        let Some(chunk) = rx.recv().await else { break };
        match chunk {
            Chunk::Events { batch, bad } => {
                for (line, record, reason) in bad {
                    ctx.errors.report_value(record, format!("line {line}: {reason}"), ctx.index, line);
                }
                if config.time_field.is_some() {
                    max_time = batch.iter().filter_map(|e| e.time).fold(max_time, i64::max);
                }
                ctx.emit(0, batch).await;
                if max_time != i64::MIN {
                    ctx.forward_watermark(max_time.saturating_sub(delay));
                }
            }
            Chunk::Failed(msg) => {
                result = Err(NodeError(msg));
                break;
            }
        }
    }
    drop(rx);
    let _ = thread.await;
    result
}

struct Reader {
    path: PathBuf,
    format: FileFormat,
    follow: bool,
    time_field: Option<String>,
    batch_size: usize,
    source: u32,
    stop: CancellationToken,
    tx: mpsc::Sender<Chunk>,
}

impl Reader {
    fn run(self) {
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) => {
                let _ = self.tx.blocking_send(Chunk::Failed(format!("cannot open {}: {e}", self.path.display())));
                return;
            }
        };
        let outcome = match self.format {
            FileFormat::Csv => self.read_csv(file),
            _ => self.read_lines(file),
        };
        if let Err(msg) = outcome {
            let _ = self.tx.blocking_send(Chunk::Failed(msg));
        }
    }

    fn event_time(&self, value: &Value) -> Option<i64> {
        let field = self.time_field.as_deref()?;
        value.get(field).and_then(Value::as_i64)
    }

    /// Sends a chunk; false when the node is gone.
    fn send(&self, batch: &mut Batch, bad: &mut Vec<(u64, Value, String)>) -> bool {
        if batch.is_empty() && bad.is_empty() {
            return true;
        }
        let chunk = Chunk::Events { batch: std::mem::take(batch), bad: std::mem::take(bad) };
        batch.reserve(self.batch_size);
        self.tx.blocking_send(chunk).is_ok()
    }

    fn read_lines(&self, file: File) -> Result<(), String> {
        let mut reader = BufReader::with_capacity(1 << 18, file);
        let mut line = Vec::with_capacity(256);
        let mut line_no: u64 = 0;
        let mut batch = Vec::with_capacity(self.batch_size);
        let mut bad = Vec::new();
        loop {
            if self.stop.is_cancelled() {
                break;
            }
            let n = reader.read_until(b'\n', &mut line).map_err(|e| format!("reading {}: {e}", self.path.display()))?;
            let complete = line.last() == Some(&b'\n');
            if n == 0 || (!complete && self.follow) {
                // End of file (or a line still being written).
                if !self.send(&mut batch, &mut bad) {
                    return Ok(());
                }
                if !self.follow {
                    if !line.is_empty() {
                        line_no += 1;
                        self.parse_line(&line, line_no, &mut batch, &mut bad);
                        self.send(&mut batch, &mut bad);
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            line_no += 1;
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            if !text.is_empty() {
                self.parse_line(text, line_no, &mut batch, &mut bad);
            }
            line.clear();
            if batch.len() >= self.batch_size && !self.send(&mut batch, &mut bad) {
                return Ok(());
            }
        }
        Ok(())
    }

    fn parse_line(&self, text: &[u8], line_no: u64, batch: &mut Batch, bad: &mut Vec<(u64, Value, String)>) {
        match self.format {
            FileFormat::Jsonl => match serde_json::from_slice::<Value>(text) {
                Ok(value) => {
                    let time = self.event_time(&value);
                    batch.push(Event { value, time, source: self.source, seq: line_no });
                }
                Err(e) => bad.push((
                    line_no,
                    json!({ "line": line_no, "text": String::from_utf8_lossy(text) }),
                    format!("invalid JSON: {e}"),
                )),
            },
            _ => match std::str::from_utf8(text) {
                Ok(s) => batch.push(Event::new(Value::String(s.to_string()), self.source, line_no)),
                Err(e) => bad.push((
                    line_no,
                    json!({ "line": line_no, "text": String::from_utf8_lossy(text) }),
                    format!("invalid UTF-8: {e}"),
                )),
            },
        }
    }

    fn read_csv(&self, file: File) -> Result<(), String> {
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(BufReader::new(file));
        let headers = rdr.headers().map_err(|e| format!("reading CSV header of {}: {e}", self.path.display()))?.clone();
        let mut batch = Vec::with_capacity(self.batch_size);
        let mut bad = Vec::new();
        for row in rdr.records() {
            if self.stop.is_cancelled() {
                break;
            }
            match row {
                Ok(rec) => {
                    let line_no = rec.position().map_or(0, |p| p.line());
                    if rec.len() != headers.len() {
                        let fields: Vec<&str> = rec.iter().collect();
                        bad.push((
                            line_no,
                            json!({ "line": line_no, "fields": fields }),
                            format!("{} fields, the header has {}", rec.len(), headers.len()),
                        ));
                        continue;
                    }
                    let mut m = Map::with_capacity(headers.len());
                    for (h, v) in headers.iter().zip(rec.iter()) {
                        m.insert(h.to_string(), csv_value(v));
                    }
                    let value = Value::Object(m);
                    let time = self.event_time(&value);
                    batch.push(Event { value, time, source: self.source, seq: line_no });
                }
                Err(e) => {
                    let line_no = e.position().map_or(0, |p| p.line());
                    bad.push((line_no, json!({ "line": line_no }), format!("invalid CSV: {e}")));
                }
            }
            if batch.len() >= self.batch_size && !self.send(&mut batch, &mut bad) {
                return Ok(());
            }
        }
        self.send(&mut batch, &mut bad);
        Ok(())
    }
}

/// CSV cells become numbers or booleans when they read as such, strings otherwise.
fn csv_value(cell: &str) -> Value {
    if let Ok(i) = cell.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(f) = cell.parse::<f64>()
        && f.is_finite()
        && cell.chars().any(|c| c.is_ascii_digit())
    {
        return Value::from(f);
    }
    match cell {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(cell.to_string()),
    }
}

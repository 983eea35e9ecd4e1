//! Reading a file for `file_source`: one blocking thread reads whole lines into chunks of up
//! to a batch of lines; a pool of parser threads turns chunks into events in parallel; the
//! node task takes the results back in file order (chunk `k` goes to parser `k % n`, and
//! results are taken from parser `k % n`). Every channel holds at most two chunks, so a slow
//! downstream holds the reader back and memory stays bounded.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value, json};
use streamloom_runtime::{Batch, Event};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::file_source::FileFormat;

/// Parsed events of one chunk, and the lines that could not be parsed.
pub enum Chunk {
    /// Events, plus (line number, record for the dead-letter port, reason) per bad line.
    Events {
        /// Parsed events, in file order.
        batch: Batch,
        /// Lines that failed.
        bad: Vec<(u64, Value, String)>,
    },
    /// Reading failed; the node fails with this message.
    Failed(String),
}

/// What the reader hands a parser.
enum Work {
    /// Whole lines, the first numbered `first_line`; `ends[i]` is where line `i` stops
    /// (its `\\n` excluded), as the reader found them, so parsers need not scan again.
    Lines { data: Vec<u8>, first_line: u64, ends: Vec<usize> },
    /// Already parsed (CSV) or a failure: passed on as it is.
    Ready(Chunk),
}

/// What to read and how.
#[derive(Clone)]
pub struct ReadSpec {
    /// The file.
    pub path: PathBuf,
    /// lines, jsonl or csv.
    pub format: FileFormat,
    /// Keep reading as the file grows.
    pub follow: bool,
    /// Field with the event time.
    pub time_field: Option<String>,
    /// Lines per chunk.
    pub batch_size: usize,
    /// Node index stamped on events.
    pub source: u32,
    /// Stops reading.
    pub stop: CancellationToken,
}

/// Results in file order.
pub struct OrderedChunks {
    outputs: Vec<mpsc::Receiver<Chunk>>,
    next: usize,
    /// Cancelled when the chunks are dropped, so a reader following a file stops too.
    gone: CancellationToken,
}

impl Drop for OrderedChunks {
    fn drop(&mut self) {
        self.gone.cancel();
    }
}

impl OrderedChunks {
    /// The next chunk in file order; `None` at the end.
    pub async fn next(&mut self) -> Option<Chunk> {
        let n = self.outputs.len();
        let chunk = self.outputs.get_mut(self.next % n)?.recv().await;
        self.next += 1;
        chunk
    }
}

/// The reader and parser threads.
pub struct Threads(Vec<JoinHandle<()>>);

impl Threads {
    /// Waits for every thread to end (after the chunks were dropped or drained).
    pub async fn join(self) {
        for t in self.0 {
            let _ = t.await;
        }
    }
}

/// A running read.
pub struct ParallelReader {
    /// Parsed chunks, in order.
    pub chunks: OrderedChunks,
    /// The threads behind them.
    pub threads: Threads,
}

impl ParallelReader {
    /// Starts the reader and `min(cores, 4)` parsers.
    pub fn start(spec: ReadSpec) -> ParallelReader {
        let parsers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
        let mut inputs = Vec::with_capacity(parsers);
        let mut outputs = Vec::with_capacity(parsers);
        let mut threads = Vec::with_capacity(parsers + 1);
        for _ in 0..parsers {
            let (work_tx, mut work_rx) = mpsc::channel::<Work>(2);
            let (out_tx, out_rx) = mpsc::channel::<Chunk>(2);
            inputs.push(work_tx);
            outputs.push(out_rx);
            let parser = LineParser { format: spec.format, time_field: spec.time_field.clone(), source: spec.source };
            threads.push(tokio::task::spawn_blocking(move || {
                while let Some(work) = work_rx.blocking_recv() {
                    let chunk = match work {
                        Work::Lines { data, first_line, ends } => parser.parse(&data, first_line, &ends),
                        Work::Ready(chunk) => chunk,
                    };
                    if out_tx.blocking_send(chunk).is_err() {
                        break;
                    }
                }
            }));
        }
        let gone = CancellationToken::new();
        let reader = Reader { spec, inputs, next: 0, gone: gone.clone() };
        threads.push(tokio::task::spawn_blocking(move || reader.run()));
        ParallelReader { chunks: OrderedChunks { outputs, next: 0, gone }, threads: Threads(threads) }
    }
}

struct Reader {
    spec: ReadSpec,
    inputs: Vec<mpsc::Sender<Work>>,
    next: usize,
    gone: CancellationToken,
}

impl Reader {
    /// Hands work to the next parser in turn; false when the node is gone.
    fn send(&mut self, work: Work) -> bool {
        let i = self.next % self.inputs.len();
        self.next += 1;
        self.inputs[i].blocking_send(work).is_ok()
    }

    fn run(mut self) {
        let file = match File::open(&self.spec.path) {
            Ok(f) => f,
            Err(e) => {
                let msg = format!("cannot open {}: {e}", self.spec.path.display());
                self.send(Work::Ready(Chunk::Failed(msg)));
                return;
            }
        };
        let outcome = match self.spec.format {
            FileFormat::Csv => self.read_csv(file),
            _ => self.read_lines(file),
        };
        if let Err(msg) = outcome {
            self.send(Work::Ready(Chunk::Failed(msg)));
        }
    }

    fn read_lines(&mut self, file: File) -> Result<(), String> {
        let mut reader = BufReader::with_capacity(1 << 18, file);
        let batch = self.spec.batch_size.max(1);
        let mut data: Vec<u8> = Vec::with_capacity(batch * 96);
        // End of each complete line in `data` (without its newline).
        let mut ends: Vec<usize> = Vec::with_capacity(batch);
        let mut first_line = 1u64;
        loop {
            if self.spec.stop.is_cancelled() || self.gone.is_cancelled() {
                return Ok(());
            }
            let n = reader
                .read_until(b'\n', &mut data)
                .map_err(|e| format!("reading {}: {e}", self.spec.path.display()))?;
            if n > 0 && data.last() == Some(&b'\n') {
                ends.push(data.len() - 1);
                if ends.len() >= batch {
                    let count = ends.len() as u64;
                    let chunk = std::mem::replace(&mut data, Vec::with_capacity(batch * 96));
                    let chunk_ends = std::mem::replace(&mut ends, Vec::with_capacity(batch));
                    if !self.send(Work::Lines { data: chunk, first_line, ends: chunk_ends }) {
                        return Ok(());
                    }
                    first_line += count;
                }
                continue;
            }
            // End of the file for now; what follows the last complete line has no newline yet.
            let line_start = ends.last().map_or(0, |e| e + 1);
            if !self.spec.follow {
                if data.len() > line_start {
                    ends.push(data.len());
                }
                if !ends.is_empty() {
                    self.send(Work::Lines { data, first_line, ends });
                }
                return Ok(());
            }
            if !ends.is_empty() {
                let count = ends.len() as u64;
                let partial = data.split_off(line_start);
                let chunk = std::mem::replace(&mut data, partial);
                let chunk_ends = std::mem::replace(&mut ends, Vec::with_capacity(batch));
                if !self.send(Work::Lines { data: chunk, first_line, ends: chunk_ends }) {
                    return Ok(());
                }
                first_line += count;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn read_csv(&mut self, file: File) -> Result<(), String> {
        let path = self.spec.path.display().to_string();
        let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(BufReader::new(file));
        let headers = rdr.headers().map_err(|e| format!("reading CSV header of {path}: {e}"))?.clone();
        let parser =
            LineParser { format: FileFormat::Csv, time_field: self.spec.time_field.clone(), source: self.spec.source };
        let batch_size = self.spec.batch_size.max(1);
        let mut batch = Vec::with_capacity(batch_size);
        let mut bad = Vec::new();
        for row in rdr.records() {
            if self.spec.stop.is_cancelled() {
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
                    let time = parser.event_time(&value);
                    batch.push(Event { value, time, source: self.spec.source, seq: line_no });
                }
                Err(e) => {
                    let line_no = e.position().map_or(0, |p| p.line());
                    bad.push((line_no, json!({ "line": line_no }), format!("invalid CSV: {e}")));
                }
            }
            if batch.len() >= batch_size {
                let chunk = Chunk::Events { batch: std::mem::take(&mut batch), bad: std::mem::take(&mut bad) };
                if !self.send(Work::Ready(chunk)) {
                    return Ok(());
                }
            }
        }
        if !batch.is_empty() || !bad.is_empty() {
            self.send(Work::Ready(Chunk::Events { batch, bad }));
        }
        Ok(())
    }
}

/// Turns lines into events.
struct LineParser {
    format: FileFormat,
    time_field: Option<String>,
    source: u32,
}

impl LineParser {
    fn event_time(&self, value: &Value) -> Option<i64> {
        let field = self.time_field.as_deref()?;
        value.get(field).and_then(Value::as_i64)
    }

    fn parse(&self, data: &[u8], first_line: u64, ends: &[usize]) -> Chunk {
        let mut batch = Vec::with_capacity(ends.len());
        let mut bad = Vec::new();
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            let line = &data[start..end];
            start = end + 1;
            let line_no = first_line + i as u64;
            let text = line.strip_suffix(b"\r").unwrap_or(line);
            if text.is_empty() {
                continue;
            }
            let failed =
                |reason: String| (line_no, json!({ "line": line_no, "text": String::from_utf8_lossy(text) }), reason);
            match self.format {
                FileFormat::Jsonl => match serde_json::from_slice::<Value>(text) {
                    Ok(value) => {
                        let time = self.event_time(&value);
                        batch.push(Event { value, time, source: self.source, seq: line_no });
                    }
                    Err(e) => bad.push(failed(format!("invalid JSON: {e}"))),
                },
                _ => match std::str::from_utf8(text) {
                    Ok(s) => batch.push(Event::new(Value::String(s.to_string()), self.source, line_no)),
                    Err(e) => bad.push(failed(format!("invalid UTF-8: {e}"))),
                },
            }
        }
        Chunk::Events { batch, bad }
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

//! Reading a file for `file_source`: one blocking thread reads whole lines into chunks of up
//! to a batch of lines; a pool of parser threads turns chunks into events in parallel; the
//! node task takes the results back in file order (chunk `k` goes to parser `k % n`, and
//! results are taken from parser `k % n`). Every channel holds at most two chunks, so a slow
//! downstream holds the reader back and memory stays bounded.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Map, Value, json};
use streamloom_runtime::metrics::NodeMetrics;
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
        /// Blank lines passed over.
        skipped: u64,
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
    /// The node's counters: events parsed but never handed to the node count as `dropped`.
    pub metrics: Arc<NodeMetrics>,
}

/// Results in file order.
pub struct OrderedChunks {
    outputs: Vec<mpsc::Receiver<Chunk>>,
    next: usize,
    /// Cancelled when the chunks are dropped, so a reader following a file stops too.
    gone: CancellationToken,
    metrics: Arc<NodeMetrics>,
}

impl Drop for OrderedChunks {
    /// Stops the reader; events already parsed that the node never took are counted as
    /// `dropped` (a parser finishing a chunk later counts its own).
    fn drop(&mut self) {
        self.gone.cancel();
        let mut lost = 0;
        for rx in &mut self.outputs {
            rx.close();
            while let Ok(chunk) = rx.try_recv() {
                lost += chunk.events();
            }
        }
        if lost > 0 {
            self.metrics.dropped.fetch_add(lost, Ordering::Relaxed);
        }
    }
}

impl Chunk {
    fn events(&self) -> u64 {
        match self {
            Chunk::Events { batch, .. } => batch.len() as u64,
            Chunk::Failed(_) => 0,
        }
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
            let metrics = spec.metrics.clone();
            threads.push(tokio::task::spawn_blocking(move || {
                while let Some(work) = work_rx.blocking_recv() {
                    let chunk = match work {
                        Work::Lines { data, first_line, ends } => parser.parse(&data, first_line, &ends),
                        Work::Ready(chunk) => chunk,
                    };
                    if let Err(mpsc::error::SendError(chunk)) = out_tx.blocking_send(chunk) {
                        metrics.dropped.fetch_add(chunk.events(), Ordering::Relaxed);
                        break;
                    }
                }
            }));
        }
        let gone = CancellationToken::new();
        let metrics = spec.metrics.clone();
        let reader = Reader { spec, inputs, next: 0, gone: gone.clone() };
        threads.push(tokio::task::spawn_blocking(move || reader.run()));
        ParallelReader { chunks: OrderedChunks { outputs, next: 0, gone, metrics }, threads: Threads(threads) }
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
        let mut bom_checked = false;
        loop {
            if self.spec.stop.is_cancelled() || self.gone.is_cancelled() {
                return Ok(());
            }
            let n = reader
                .read_until(b'\n', &mut data)
                .map_err(|e| format!("reading {}: {e}", self.spec.path.display()))?;
            // A UTF-8 byte-order mark at the start of the file is not part of the first line.
            if !bom_checked && (data.len() >= BOM.len() || n == 0 || data.last() == Some(&b'\n')) {
                bom_checked = true;
                if data.starts_with(BOM) {
                    data.drain(..BOM.len());
                }
            }
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
        let source = Tail { inner: BufReader::new(file), last: None, eof: false, total: 0 };
        let mut rdr = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(source);
        let mut rec = csv::StringRecord::new();
        // The csv reader passes blank lines over, and a record's own position is where it
        // started looking (before those blank lines): lines are counted from where each record
        // ends instead. `next_line` is the line after the last record.
        let mut lines = LineTracker { next_line: 1, skipped: 0 };
        // The header: the first non-blank line.
        let read = rdr.read_record(&mut rec).map_err(|e| format!("reading CSV header of {path}: {e}"))?;
        if !read {
            lines.at_end(&rdr);
            if lines.skipped > 0 {
                self.send(Work::Ready(Chunk::Events { batch: Vec::new(), bad: Vec::new(), skipped: lines.skipped }));
            }
            return Ok(());
        }
        lines.record(&rdr, &rec);
        let mut headers: Vec<String> = rec.iter().map(str::to_string).collect();
        if let Some(first) = headers.first_mut()
            && let Some(rest) = first.strip_prefix('\u{feff}')
        {
            *first = rest.to_string();
        }
        check_unique(&headers).map_err(|col| format!("the CSV header of {path} names column `{col}` twice"))?;
        let parser =
            LineParser { format: FileFormat::Csv, time_field: self.spec.time_field.clone(), source: self.spec.source };
        let batch_size = self.spec.batch_size.max(1);
        let mut batch = Vec::with_capacity(batch_size);
        let mut bad = Vec::new();
        loop {
            if self.spec.stop.is_cancelled() || self.gone.is_cancelled() {
                break;
            }
            match rdr.read_record(&mut rec) {
                Ok(false) => {
                    lines.at_end(&rdr);
                    break;
                }
                Ok(true) => {
                    let line_no = lines.record(&rdr, &rec);
                    if rec.len() != headers.len() {
                        let fields: Vec<&str> = rec.iter().collect();
                        bad.push((
                            line_no,
                            json!({ "line": line_no, "fields": fields }),
                            format!("{} fields, the header has {}", rec.len(), headers.len()),
                        ));
                    } else {
                        let mut m = Map::with_capacity(headers.len());
                        for (h, v) in headers.iter().zip(rec.iter()) {
                            m.insert(h.clone(), csv_value(v));
                        }
                        let value = Value::Object(m);
                        let time = parser.event_time(&value);
                        batch.push(Event { value, time, source: self.spec.source, seq: line_no });
                    }
                }
                Err(e) => {
                    let line_no = lines.failed(&rdr);
                    bad.push((line_no, json!({ "line": line_no }), format!("invalid CSV: {e}")));
                }
            }
            // Good and bad rows together: neither list outgrows a batch.
            if batch.len() + bad.len() >= batch_size || lines.skipped >= batch_size as u64 {
                let chunk = Chunk::Events {
                    batch: std::mem::take(&mut batch),
                    bad: std::mem::take(&mut bad),
                    skipped: std::mem::take(&mut lines.skipped),
                };
                if !self.send(Work::Ready(chunk)) {
                    return Ok(());
                }
            }
        }
        if !batch.is_empty() || !bad.is_empty() || lines.skipped > 0 {
            self.send(Work::Ready(Chunk::Events { batch, bad, skipped: lines.skipped }));
        }
        Ok(())
    }
}

/// A reader that remembers the last byte it gave out and whether it reached the end, so the
/// CSV line count can tell a last record without a line break.
struct Tail<R> {
    inner: R,
    last: Option<u8>,
    eof: bool,
    total: u64,
}

impl<R: std::io::Read> std::io::Read for Tail<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        match buf[..n].last() {
            Some(&b) => {
                self.last = Some(b);
                self.total += n as u64;
            }
            None => self.eof = true,
        }
        Ok(n)
    }
}

/// Line numbers of CSV records, and the blank lines between them.
struct LineTracker {
    next_line: u64,
    skipped: u64,
}

impl LineTracker {
    /// Whether the record just read ended with a line break (only the last one may not).
    fn terminated<R: std::io::Read>(rdr: &csv::Reader<Tail<R>>) -> bool {
        let src = rdr.get_ref();
        !(src.eof && rdr.position().byte() == src.total && !matches!(src.last, Some(b'\n' | b'\r')))
    }

    /// The line the record just read starts on; counts the blank lines before it.
    fn record<R: std::io::Read>(&mut self, rdr: &csv::Reader<Tail<R>>, rec: &csv::StringRecord) -> u64 {
        let after = rdr.position().line();
        let terminated = Self::terminated(rdr);
        let start = after.saturating_sub(newlines(rec) + u64::from(terminated)).max(self.next_line);
        self.skipped += start - self.next_line;
        self.next_line = if terminated { after } else { after + 1 };
        start
    }

    /// The line of a record that could not be read (its field breaks are unknown).
    fn failed<R: std::io::Read>(&mut self, rdr: &csv::Reader<Tail<R>>) -> u64 {
        let after = rdr.position().line();
        let terminated = Self::terminated(rdr);
        let line = if terminated { after.saturating_sub(1) } else { after }.max(self.next_line);
        self.next_line = line + 1;
        line
    }

    /// Counts blank lines after the last record.
    fn at_end<R: std::io::Read>(&mut self, rdr: &csv::Reader<Tail<R>>) {
        self.skipped += rdr.position().line().saturating_sub(self.next_line);
    }
}

/// The UTF-8 byte-order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The first name that occurs twice.
fn check_unique(names: &[String]) -> Result<(), &str> {
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    for n in names {
        if !seen.insert(n.as_str()) {
            return Err(n);
        }
    }
    Ok(())
}

/// Line breaks inside a record's quoted fields (the record spans that many more lines).
fn newlines(rec: &csv::StringRecord) -> u64 {
    rec.iter().map(|f| f.bytes().filter(|&b| b == b'\n').count() as u64).sum()
}

/// Turns lines into events.
struct LineParser {
    format: FileFormat,
    time_field: Option<String>,
    source: u32,
}

impl LineParser {
    fn event_time(&self, value: &Value) -> Option<i64> {
        super::event_time::event_time(value, self.time_field.as_deref()?)
    }

    fn parse(&self, data: &[u8], first_line: u64, ends: &[usize]) -> Chunk {
        let mut batch = Vec::with_capacity(ends.len());
        let mut bad = Vec::new();
        let mut skipped = 0;
        let mut start = 0;
        for (i, &end) in ends.iter().enumerate() {
            let line = &data[start..end];
            start = end + 1;
            let line_no = first_line + i as u64;
            let text = line.strip_suffix(b"\r").unwrap_or(line);
            if text.is_empty() {
                skipped += 1;
                continue;
            }
            let failed =
                |reason: String| (line_no, json!({ "line": line_no, "text": String::from_utf8_lossy(text) }), reason);
            match self.format {
                FileFormat::Jsonl => match serde_json::from_slice::<Value>(text) {
                    Ok(value) => match oversized_integer(&value, text) {
                        Some(digits) => bad.push(failed(format!(
                            "integer {} does not fit in 64 bits (as a float it would lose digits)",
                            cut(digits)
                        ))),
                        None => {
                            let time = self.event_time(&value);
                            batch.push(Event { value, time, source: self.source, seq: line_no });
                        }
                    },
                    Err(e) => bad.push(failed(format!("invalid JSON: {e}"))),
                },
                _ => match std::str::from_utf8(text) {
                    Ok(s) => batch.push(Event::new(Value::String(s.to_string()), self.source, line_no)),
                    Err(e) => bad.push(failed(format!("invalid UTF-8: {e}"))),
                },
            }
        }
        Chunk::Events { batch, bad, skipped }
    }
}

/// An integer literal in `text` too large for 64 bits, which serde_json turned into a float.
/// Only scans the text when the parsed value holds a float that could be one.
fn oversized_integer<'a>(value: &Value, text: &'a [u8]) -> Option<&'a str> {
    if !has_huge_integral_float(value) {
        return None;
    }
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < text.len() && matches!(text[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    i += 1;
                }
                let token = std::str::from_utf8(&text[start..i]).unwrap_or_default();
                let integral = !token.contains(['.', 'e', 'E']);
                if integral && token.parse::<i64>().is_err() && token.parse::<u64>().is_err() {
                    return Some(token);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Whether `value` holds a float with no fraction beyond the 64-bit integer range.
fn has_huge_integral_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.as_f64().is_some_and(|f| n.is_f64() && f.fract() == 0.0 && f.abs() >= 9.2e18),
        Value::Array(a) => a.iter().any(has_huge_integral_float),
        Value::Object(o) => o.values().any(has_huge_integral_float),
        _ => false,
    }
}

/// At most 40 characters of `s`, marked when cut.
fn cut(s: &str) -> String {
    if s.len() <= 40 { s.to_string() } else { format!("{}… ({} digits)", &s[..40], s.len()) }
}

/// CSV cells become numbers or booleans when they read as such, strings otherwise.
/// Integers beyond 64 bits stay strings, keeping every digit.
fn csv_value(cell: &str) -> Value {
    if let Ok(i) = cell.parse::<i64>() {
        return Value::from(i);
    }
    if let Ok(u) = cell.parse::<u64>() {
        return Value::from(u);
    }
    let digits = cell.strip_prefix(['-', '+']).unwrap_or(cell);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Value::String(cell.to_string());
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bad_csv_rows_come_in_chunks_no_larger_than_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        let mut text = String::from("a,b\n");
        for i in 0..1000 {
            text.push_str(&format!("{i}\n"));
        }
        std::fs::write(&path, text).unwrap();
        let reading = ParallelReader::start(ReadSpec {
            path,
            format: FileFormat::Csv,
            follow: false,
            time_field: None,
            batch_size: 10,
            source: 0,
            stop: CancellationToken::new(),
            metrics: Arc::new(NodeMetrics::default()),
        });
        let mut chunks = reading.chunks;
        let (mut seen, mut lines) = (0, Vec::new());
        while let Some(chunk) = chunks.next().await {
            let Chunk::Events { batch, bad, .. } = chunk else { panic!("failed") };
            assert!(batch.len() + bad.len() <= 10, "chunk of {} bad rows", bad.len());
            seen += bad.len();
            lines.extend(bad.iter().map(|b| b.0));
        }
        assert_eq!(seen, 1000);
        assert_eq!(lines, (2..1002).collect::<Vec<u64>>());
        drop(chunks);
        reading.threads.join().await;
    }

    #[test]
    fn only_integer_literals_beyond_64_bits_are_oversized() {
        fn check(t: &str) -> Option<&str> {
            oversized_integer(&serde_json::from_str(t).unwrap(), t.as_bytes())
        }
        assert_eq!(check("{\"a\": 99999999999999999999}"), Some("99999999999999999999"));
        assert_eq!(check("[-99999999999999999999]"), Some("-99999999999999999999"));
        assert_eq!(check("{\"a\": 1e20, \"b\": 99999999999999999999.0}"), None);
        assert_eq!(check("{\"99999999999999999999\": 1e20}"), None);
        assert_eq!(check("[\"\\\\\", 1e20, 18446744073709551615]"), None);
        assert_eq!(check("[\"\\\"\", 1e20, 18446744073709551616]"), Some("18446744073709551616"));
    }
}

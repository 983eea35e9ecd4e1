//! Reading a file for `file_source`: one blocking thread reads whole lines into chunks of up
//! to a batch of lines; a pool of parser threads turns chunks into events in parallel; the
//! node task takes the results back in file order (chunk `k` goes to parser `k % n`, and
//! results are taken from parser `k % n`). Every channel holds at most two chunks, so a slow
//! downstream holds the reader back and memory stays bounded.

use std::collections::HashSet;
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use streamloom_runtime::metrics::NodeMetrics;
use streamloom_runtime::pushdown::{ProjectedRecord, PushedFilter, RawField};
use streamloom_runtime::{Batch, Event};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::file_follow::{Change, FileId, OpenFile, StartAt, is_pattern, matching};
use super::file_source::FileFormat;
use super::json_projection::{Projection, has_huge_integral_float};
use super::json_scan::{ObjectScan, ValueKind};
use crate::event_time::TimeSource;

/// How often a followed file that has not grown is looked at again.
const FOLLOW_POLL: Duration = Duration::from_millis(100);
/// How often a followed pattern is matched again for new files.
const RESCAN: Duration = Duration::from_secs(1);
/// Chunks read from one followed file before the next file's turn.
const FOLLOW_CHUNKS: usize = 4;
/// A chunk is handed on once it holds this many bytes, even with fewer lines than a batch,
/// so long lines do not make chunks of a batch × `max_line_bytes`.
const CHUNK_BYTES: usize = 1 << 20;
/// Bytes of an over-long line kept in its dead letter.
const OVERSIZED_KEPT: usize = 256;

/// Parsed events of one chunk, and the lines that could not be parsed.
pub enum Chunk {
    /// Events, plus (line number, record for the dead-letter port, reason) per bad line.
    Events {
        /// Parsed events, in file order.
        batch: Batch,
        /// Lines that failed: sequence number, record for the dead-letter port, reason with
        /// the place (`line 4: …`, or `FILE line 4: …` when a pattern names several files).
        bad: Vec<(u64, Value, String)>,
        /// Blank lines passed over.
        skipped: u64,
        /// Lines the filter behind the source rejected as they were read (see
        /// [`streamloom_runtime::pushdown`]): never built, counted by the node as filtered.
        rejected: Rejected,
    },
    /// Reading failed; the node fails with this message.
    Failed(String),
}

/// Lines rejected by the pushed-down filter: how many, the largest event time among them
/// (they still move the watermark, as they would have on their way to the filter), and where
/// they are, so that the node can still build them when its output became watched after the
/// chunk was parsed (see [`Restorer`]).
#[derive(Debug, Default)]
pub struct Rejected {
    /// Lines rejected.
    pub count: u64,
    /// Their largest event time.
    pub max_time: Option<i64>,
    /// Each one's sequence number, line number and place in `raw`.
    lines: Vec<RejectedLine>,
    /// The chunk's text (empty when no line was rejected).
    raw: Vec<u8>,
    /// The file, when several are read.
    label: Option<Arc<str>>,
}

#[derive(Debug, Clone, Copy)]
struct RejectedLine {
    seq: u64,
    line: u64,
    start: usize,
    end: usize,
}

/// What the reader hands a parser.
enum Work {
    /// Whole lines, the first numbered `first_line` in its file and `first_seq` among all the
    /// node's events; `ends[i]` is where line `i` stops (its `\\n` excluded), as the reader
    /// found them, so parsers need not scan again. `label` names the file when several are read.
    /// `oversized` lists the lines cut at `max_line_bytes`: (index in `ends`, full length).
    Lines {
        data: Vec<u8>,
        first_line: u64,
        first_seq: u64,
        ends: Vec<usize>,
        oversized: Vec<(usize, u64)>,
        label: Option<Arc<str>>,
    },
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
    /// Where event times come from, when the records carry them.
    pub time: Option<TimeSource>,
    /// Where a followed file is first read from.
    pub start_at: StartAt,
    /// Lines per chunk.
    pub batch_size: usize,
    /// Longest line kept (lines and jsonl); a longer one goes to `errors`.
    pub max_line_bytes: usize,
    /// Node index stamped on events.
    pub source: u32,
    /// Stops reading.
    pub stop: CancellationToken,
    /// The node's counters: events parsed but never handed to the node count as `dropped`.
    pub metrics: Arc<NodeMetrics>,
    /// The filter behind the source, which JSON Lines parsers apply as they read.
    pub pushdown: Option<PushedFilter>,
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
            Chunk::Events { batch, rejected, .. } => batch.len() as u64 + rejected.count,
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

/// Hands a line buffer back to the reader (unless it grew large); a full return channel
/// simply frees it.
fn recycle_buffer(recycle: &std::sync::mpsc::SyncSender<Vec<u8>>, mut data: Vec<u8>) {
    if data.capacity() <= 2 * CHUNK_BYTES {
        data.clear();
        let _ = recycle.try_send(data);
    }
}

/// Builds the lines a pushed-down filter rejected after all, for a chunk the node takes while
/// its output is watched: the tap and the debug log must see every event the source sends.
pub struct Restorer {
    parser: LineParser,
    recycle: std::sync::mpsc::SyncSender<Vec<u8>>,
}

impl Restorer {
    /// The rejected lines of `rejected` parsed whole, merged into `batch` in file order; lines
    /// that fail go to the returned list as (sequence number, record, reason), as they would
    /// have when read. The chunk's text goes back to the reader.
    pub fn restore(&mut self, batch: Batch, mut rejected: Rejected) -> (Batch, Vec<(u64, Value, String)>) {
        let mut restored = Vec::with_capacity(rejected.lines.len());
        let mut bad = Vec::new();
        for l in &rejected.lines {
            let text = &rejected.raw[l.start..l.end];
            if let Chunk::Events { batch: one, bad: failed, .. } =
                self.parser.parse(text, (l.line, l.seq), &[text.len()], &[], rejected.label.as_deref())
            {
                restored.extend(one);
                bad.extend(failed);
            }
        }
        recycle_buffer(&self.recycle, std::mem::take(&mut rejected.raw));
        let mut merged = Vec::with_capacity(batch.len() + restored.len());
        let (mut kept, mut restored) = (batch.into_iter().peekable(), restored.into_iter().peekable());
        loop {
            let next = match (kept.peek(), restored.peek()) {
                (Some(a), Some(b)) if a.seq < b.seq => kept.next(),
                (Some(_), Some(_)) | (None, Some(_)) => restored.next(),
                (Some(_), None) => kept.next(),
                (None, None) => break,
            };
            merged.extend(next);
        }
        (merged, bad)
    }

    /// Hands the text of a chunk the node took as it was back to the reader.
    pub fn recycle(&self, rejected: &mut Rejected) {
        recycle_buffer(&self.recycle, std::mem::take(&mut rejected.raw));
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
    /// Builds rejected lines after all, when the node's output became watched.
    pub restorer: Restorer,
    /// The threads behind them.
    pub threads: Threads,
}

impl ParallelReader {
    /// Starts the reader and `2 × cores` parsers, at least 2 and at most 4.
    pub fn start(spec: ReadSpec) -> ParallelReader {
        // Two per core: a parser waiting for its next chunk or for room downstream leaves
        // its core to the other (measured on 2 cores: workload A 4 % faster than one per core).
        let parsers = std::thread::available_parallelism().map_or(2, |n| 2 * n.get()).clamp(2, 4);
        let mut inputs = Vec::with_capacity(parsers);
        let mut outputs = Vec::with_capacity(parsers);
        let mut threads = Vec::with_capacity(parsers + 1);
        // Line buffers go back to the reader once parsed: fresh ones cost page faults.
        let (recycle_tx, recycle_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2 * parsers + 2);
        for _ in 0..parsers {
            let (work_tx, mut work_rx) = mpsc::channel::<Work>(2);
            let (out_tx, out_rx) = mpsc::channel::<Chunk>(2);
            inputs.push(work_tx);
            outputs.push(out_rx);
            let pushdown =
                spec.pushdown.clone().and_then(|filter| Pushdown::new(filter, spec.format, spec.time.as_ref()));
            let mut parser = LineParser::new(&spec, spec.format, pushdown);
            let metrics = spec.metrics.clone();
            let recycle = recycle_tx.clone();
            threads.push(tokio::task::spawn_blocking(move || {
                while let Some(work) = work_rx.blocking_recv() {
                    let chunk = match work {
                        Work::Lines { data, first_line, first_seq, ends, oversized, label } => {
                            let mut chunk =
                                parser.parse(&data, (first_line, first_seq), &ends, &oversized, label.as_deref());
                            match &mut chunk {
                                // The node may still need the rejected lines' text.
                                Chunk::Events { rejected, .. } if !rejected.lines.is_empty() => {
                                    rejected.raw = data;
                                    rejected.label = label;
                                }
                                _ => recycle_buffer(&recycle, data),
                            }
                            chunk
                        }
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
        let restorer = Restorer { parser: LineParser::new(&spec, spec.format, None), recycle: recycle_tx };
        let reader = Reader { spec, inputs, recycled: recycle_rx, next: 0, next_seq: 1, gone: gone.clone() };
        threads.push(tokio::task::spawn_blocking(move || reader.run()));
        ParallelReader {
            chunks: OrderedChunks { outputs, next: 0, gone, metrics },
            restorer,
            threads: Threads(threads),
        }
    }
}

struct Reader {
    spec: ReadSpec,
    inputs: Vec<mpsc::Sender<Work>>,
    /// Line buffers the parsers are done with, empty, for the next chunks.
    recycled: std::sync::mpsc::Receiver<Vec<u8>>,
    next: usize,
    /// Sequence number of the next line handed on (unique across files, rotations and truncations).
    next_seq: u64,
    gone: CancellationToken,
}

/// How far [`Reader::pump`] got.
#[derive(Debug, PartialEq, Eq)]
enum Pumped {
    /// At the file's end for now.
    End,
    /// Chunks handed on; there may be more.
    More,
    /// The node stopped or is gone.
    Gone,
}

/// One file being read and its lines not yet handed on.
struct Lines {
    file: OpenFile,
    data: Vec<u8>,
    /// End of each complete line in `data` (without its newline).
    ends: Vec<usize>,
    /// The file's line number of the first line in `data`.
    first_line: u64,
    bom_checked: bool,
    /// Lines in `ends` cut at `max_line_bytes`: (index in `ends`, full length).
    oversized: Vec<(usize, u64)>,
    /// Bytes of the line being read that were read past (beyond `max_line_bytes`).
    skipped: u64,
}

impl Lines {
    fn new(file: OpenFile, batch_size: usize) -> Lines {
        let batch = batch_size.max(1);
        // A file read from its end has no byte-order mark to strip.
        let bom_checked = !file.at_start();
        Lines {
            file,
            data: Vec::with_capacity(batch * 96),
            ends: Vec::with_capacity(batch),
            first_line: 1,
            bom_checked,
            oversized: Vec::new(),
            skipped: 0,
        }
    }

    /// Where the line being read starts in `data`.
    fn line_start(&self) -> usize {
        self.ends.last().map_or(0, |e| e + 1)
    }

    /// Ends the line being read at `end` (its `\n` excluded), noting it when it was cut.
    fn end_line(&mut self, end: usize) {
        if self.skipped > 0 {
            let kept = end - self.line_start();
            self.oversized.push((self.ends.len(), kept as u64 + self.skipped));
            self.skipped = 0;
        }
        self.ends.push(end);
    }

    /// The file is read again from its start (it was truncated).
    fn restart(&mut self) {
        self.data.clear();
        self.ends.clear();
        self.first_line = 1;
        self.bom_checked = false;
        self.oversized.clear();
        self.skipped = 0;
    }
}

impl Reader {
    /// Hands work to the next parser in turn; false when the node is gone.
    fn send(&mut self, work: Work) -> bool {
        let i = self.next % self.inputs.len();
        self.next += 1;
        self.inputs[i].blocking_send(work).is_ok()
    }

    fn run(mut self) {
        let outcome = match self.spec.format {
            FileFormat::Csv => File::open(&self.spec.path)
                .map_err(|e| format!("cannot open {}: {e}", self.spec.path.display()))
                .and_then(|file| self.read_csv(file)),
            _ if self.spec.follow => self.follow_text(),
            _ => self.read_text_once(),
        };
        if let Err(msg) = outcome {
            self.send(Work::Ready(Chunk::Failed(msg)));
        }
    }

    /// The files the path names: itself, or the files matching its pattern.
    fn targets(&self) -> Result<Vec<PathBuf>, String> {
        if is_pattern(&self.spec.path) { matching(&self.spec.path) } else { Ok(vec![self.spec.path.clone()]) }
    }

    /// Opens one of the files; with a pattern, its errors name it.
    fn open(&self, path: &std::path::Path, start: StartAt) -> Result<Lines, String> {
        let label = is_pattern(&self.spec.path).then(|| Arc::from(path.display().to_string()));
        OpenFile::open(path, start, label).map(|file| Lines::new(file, self.spec.batch_size))
    }

    /// Reads every file once, in name order; the last line of each may lack its newline.
    fn read_text_once(&mut self) -> Result<(), String> {
        let paths = self.targets()?;
        if paths.is_empty() {
            return Err(format!("no file matches {}", self.spec.path.display()));
        }
        for path in paths {
            let mut lines = self.open(&path, StartAt::Beginning)?;
            if self.pump(&mut lines, usize::MAX)? == Pumped::Gone || !self.send_lines(&mut lines, true) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Follows the file (or every file matching the pattern, including files created later)
    /// with `tail -F` semantics, until the node stops.
    fn follow_text(&mut self) -> Result<(), String> {
        let pattern = is_pattern(&self.spec.path);
        let mut followed: Vec<Lines> = Vec::new();
        // Files read already: a rotated file seen again under its new name is not read twice.
        let mut seen: HashSet<FileId> = HashSet::new();
        let mut last_scan: Option<Instant> = None;
        loop {
            if self.stopped() {
                return Ok(());
            }
            if last_scan.is_none_or(|t| t.elapsed() >= RESCAN) {
                let start = if last_scan.is_none() { self.spec.start_at } else { StartAt::Beginning };
                for path in self.targets()? {
                    if followed.iter().any(|l| l.file.path == path) {
                        continue;
                    }
                    match self.open(&path, start) {
                        Ok(lines) if seen.insert(lines.file.id) => followed.push(lines),
                        Ok(_) => {}
                        Err(e) if !pattern && last_scan.is_none() => return Err(e),
                        // Gone between listing and opening: the next scan sees.
                        Err(_) => {}
                    }
                }
                last_scan = Some(Instant::now());
            }
            let mut progress = false;
            for lines in &mut followed {
                match self.follow_one(lines, &mut seen)? {
                    Pumped::Gone => return Ok(()),
                    Pumped::More => progress = true,
                    Pumped::End => {}
                }
            }
            if !progress {
                std::thread::sleep(FOLLOW_POLL);
            }
        }
    }

    /// Reads what was appended to one followed file (a few chunks at most, so no file starves
    /// the others), then hands on its complete lines and checks for rotation and truncation.
    /// `More` when it made progress.
    fn follow_one(&mut self, lines: &mut Lines, seen: &mut HashSet<FileId>) -> Result<Pumped, String> {
        match self.pump(lines, FOLLOW_CHUNKS)? {
            Pumped::End => {}
            other => return Ok(other),
        }
        let had_lines = !lines.ends.is_empty();
        if !self.send_lines(lines, false) {
            return Ok(Pumped::Gone);
        }
        match lines.file.check() {
            Change::None => Ok(if had_lines { Pumped::More } else { Pumped::End }),
            Change::Truncated => {
                // Its last line will never be finished: it is a line as it stands.
                if !self.send_lines(lines, true) {
                    return Ok(Pumped::Gone);
                }
                tracing::info!("{} was truncated: reading it again from its start", lines.file.path.display());
                lines.file.rewind()?;
                lines.restart();
                Ok(Pumped::More)
            }
            Change::Rotated => {
                // What was appended before the rename, then the last line as it stands.
                if self.pump(lines, usize::MAX)? == Pumped::Gone || !self.send_lines(lines, true) {
                    return Ok(Pumped::Gone);
                }
                match self.open(&lines.file.path.clone(), StartAt::Beginning) {
                    Ok(new) => {
                        tracing::info!("{} was rotated: reading the new file", new.file.path.display());
                        seen.insert(new.file.id);
                        *lines = new;
                    }
                    // Renamed away again before it could be opened: the next check sees.
                    Err(e) => tracing::debug!("{e}"),
                }
                Ok(Pumped::More)
            }
        }
    }

    fn stopped(&self) -> bool {
        self.spec.stop.is_cancelled() || self.gone.is_cancelled()
    }

    /// Reads whole lines until the file's end for now (`End`), or until `max_chunks` chunks
    /// were handed on (`More`), or the node stops (`Gone`).
    fn pump(&mut self, lines: &mut Lines, max_chunks: usize) -> Result<Pumped, String> {
        let batch = self.spec.batch_size.max(1);
        let mut sent = 0;
        // Asked once per chunk, not per line: a stop waits for at most one batch of lines.
        if self.stopped() {
            return Ok(Pumped::Gone);
        }
        loop {
            // Between lines, the whole lines already read ahead are taken at once.
            let between_lines = lines.bom_checked && lines.skipped == 0 && lines.data.len() == lines.line_start();
            let whole = if between_lines {
                let wanted = batch.saturating_sub(lines.ends.len());
                let max_line = self.spec.max_line_bytes;
                lines.file.read_whole_lines(&mut lines.data, &mut lines.ends, wanted, max_line, CHUNK_BYTES)?
            } else {
                0
            };
            if whole == 0 {
                let room = self.spec.max_line_bytes.saturating_sub(lines.data.len() - lines.line_start());
                let n = lines.file.read_line_capped(&mut lines.data, room, &mut lines.skipped)?;
                // A UTF-8 byte-order mark at the start of a file is not part of its first line.
                if !lines.bom_checked && (lines.data.len() >= BOM.len() || n == 0 || lines.data.last() == Some(&b'\n'))
                {
                    lines.bom_checked = true;
                    if lines.data.starts_with(BOM) {
                        lines.data.drain(..BOM.len());
                    }
                }
                if n == 0 || lines.data.last() != Some(&b'\n') {
                    return Ok(Pumped::End);
                }
                lines.end_line(lines.data.len() - 1);
            }
            if lines.ends.len() >= batch || lines.data.len() >= CHUNK_BYTES {
                if !self.send_lines(lines, false) {
                    return Ok(Pumped::Gone);
                }
                sent += 1;
                if sent >= max_chunks {
                    return Ok(Pumped::More);
                }
                if self.stopped() {
                    return Ok(Pumped::Gone);
                }
            }
        }
    }

    /// Hands the complete lines to a parser (and, with `partial_too`, what follows the last
    /// line break as one more line); false when the node is gone.
    fn send_lines(&mut self, lines: &mut Lines, partial_too: bool) -> bool {
        let line_start = lines.line_start();
        if partial_too && (lines.data.len() > line_start || lines.skipped > 0) {
            lines.end_line(lines.data.len());
        }
        if lines.ends.is_empty() {
            return true;
        }
        let cut = if partial_too { lines.data.len() } else { line_start };
        let mut rest =
            self.recycled.try_recv().unwrap_or_else(|_| Vec::with_capacity(self.spec.batch_size.max(1) * 96));
        rest.extend_from_slice(&lines.data[cut..]);
        lines.data.truncate(cut);
        let data = std::mem::replace(&mut lines.data, rest);
        let ends = std::mem::replace(&mut lines.ends, Vec::with_capacity(self.spec.batch_size.max(1)));
        let count = ends.len() as u64;
        let work = Work::Lines {
            data,
            first_line: lines.first_line,
            first_seq: self.next_seq,
            ends,
            oversized: std::mem::take(&mut lines.oversized),
            label: lines.file.label.clone(),
        };
        lines.first_line += count;
        self.next_seq += count;
        self.send(work)
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
                self.send(Work::Ready(Chunk::Events {
                    batch: Vec::new(),
                    bad: Vec::new(),
                    skipped: lines.skipped,
                    rejected: Rejected::default(),
                }));
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
        let parser = LineParser::new(&self.spec, FileFormat::Csv, None);
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
                            format!("line {line_no}: {} fields, the header has {}", rec.len(), headers.len()),
                        ));
                    } else {
                        let mut m = Map::with_capacity(headers.len());
                        for (h, v) in headers.iter().zip(rec.iter()) {
                            m.insert(h.clone(), csv_value(v));
                        }
                        let value = Value::Object(m);
                        match parser.event_time(&value) {
                            Ok(time) => batch.push(Event { value, time, source: self.spec.source, seq: line_no }),
                            Err(reason) => bad.push((line_no, value, format!("line {line_no}: {reason}"))),
                        }
                    }
                }
                Err(e) => {
                    let line_no = lines.failed(&rdr);
                    bad.push((line_no, json!({ "line": line_no }), format!("line {line_no}: invalid CSV: {e}")));
                }
            }
            // Good and bad rows together: neither list outgrows a batch.
            if batch.len() + bad.len() >= batch_size || lines.skipped >= batch_size as u64 {
                let chunk = Chunk::Events {
                    batch: std::mem::take(&mut batch),
                    bad: std::mem::take(&mut bad),
                    skipped: std::mem::take(&mut lines.skipped),
                    rejected: Rejected::default(),
                };
                if !self.send(Work::Ready(chunk)) {
                    return Ok(());
                }
            }
        }
        if !batch.is_empty() || !bad.is_empty() || lines.skipped > 0 {
            self.send(Work::Ready(Chunk::Events { batch, bad, skipped: lines.skipped, rejected: Rejected::default() }));
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
    time: Option<TimeSource>,
    source: u32,
    max_line_bytes: usize,
    pushdown: Option<Pushdown>,
    /// The quick scan of the JSON Lines record being read.
    scan: ObjectScan,
}

/// The filter behind the source, applied to JSON Lines as they are read: each line's fields
/// that the filter's test and the event time read, tested before the whole line is parsed.
struct Pushdown {
    filter: PushedFilter,
    projection: Projection,
    /// Chunks to read without the filter before trying it again: a condition that rejects
    /// few lines only adds a second parse of the others.
    rest: u32,
}

/// Chunks read without the filter after one where it rejected under a quarter of the lines.
const PUSHDOWN_REST: u32 = 16;

impl Pushdown {
    /// For JSON Lines only, and when the event time (if any) is within a top-level field.
    fn new(filter: PushedFilter, format: FileFormat, time: Option<&TimeSource>) -> Option<Pushdown> {
        if format != FileFormat::Jsonl {
            return None;
        }
        let mut fields = filter.predicate().fields().to_vec();
        if let Some(time) = time {
            let top = time.field.as_ref()?.parts().first()?;
            if !fields.contains(top) {
                fields.push(top.clone());
            }
        }
        Some(Pushdown { filter, projection: Projection::new(fields), rest: 0 })
    }

    /// Whether to apply the filter to the next chunk: not while the source's output is
    /// watched, nor while resting after a chunk where it rejected little.
    fn try_this_chunk(&mut self) -> bool {
        if self.rest > 0 {
            self.rest -= 1;
            return false;
        }
        self.filter.active()
    }

    /// After a chunk: of `tested` lines, the filter rejected `rejected`.
    fn tried(&mut self, tested: u64, rejected: u64) {
        if rejected * 4 < tested {
            self.rest = PUSHDOWN_REST;
        }
    }

    /// The line's event time when the filter certainly rejects it; `None` when the line must
    /// be parsed whole (it passes, is not sure, or something about it is to be reported).
    /// `scan` has the line's fields when the quick scan took it.
    fn rejects(&mut self, line: &[u8], scan: Option<&ObjectScan>, time: Option<&TimeSource>) -> Option<Option<i64>> {
        if let Some(scan) = scan {
            // The condition told from the raw text when it can be (`.type == "purchase"`).
            let raw = |name: &str| match scan.field(line, name) {
                None => RawField::Absent,
                Some(f) if f.kind() == ValueKind::Text => RawField::Text(f.raw_value(line)),
                Some(_) => RawField::Other,
            };
            match self.filter.predicate().rejects_raw(&raw) {
                Some(false) => return None,
                Some(true) => {
                    if let Some(time) = raw_time(time, scan, line) {
                        return Some(time);
                    }
                }
                None => {}
            }
            let record = self.projection.read_scanned(scan, line)?;
            let time = match time {
                Some(time) => projected_time(time, &record)?,
                None => None,
            };
            return self.filter.predicate().rejects_fields(&record).then_some(time);
        }
        let fields = self.projection.read(line)?;
        let time = event_time(time, fields).ok()?;
        self.filter.predicate().rejects(fields).then_some(time)
    }
}

/// [`event_time`] of a scanned line whose time field is a top-level integer (or absent);
/// `None` for any other time field.
fn raw_time(time: Option<&TimeSource>, scan: &ObjectScan, line: &[u8]) -> Option<Option<i64>> {
    let Some(time) = time else { return Some(None) };
    let [top] = time.field.as_ref()?.parts() else { return None };
    match scan.field(line, top) {
        None => Some(None),
        Some(f) if f.kind() == ValueKind::Integer => time.time_of_integer(f.integer(line)?).map(Some),
        Some(_) => None,
    }
}

/// [`event_time`] of a record given by its projected fields; `None` when it cannot be told
/// from them (the time field is not among them, or is not a time: the full parse says why).
fn projected_time(time: &TimeSource, record: &ProjectedRecord<'_>) -> Option<Option<i64>> {
    let path = time.field.as_ref()?;
    let (top, below) = path.parts().split_first()?;
    let Some(value) = record.get(top)? else { return Some(None) };
    match below.iter().try_fold(value, |v, k| crate::field_lookup::member(v, k)) {
        Some(field) => time.time_of_field(field).ok().map(Some),
        None => Some(None),
    }
}

/// The record's event time, when the source reads one. A record without the field has none
/// (a window downstream reports it; other nodes take it as it is); a field that is not a time
/// says why.
fn event_time(time: Option<&TimeSource>, value: &Value) -> Result<Option<i64>, String> {
    let Some(time) = time else { return Ok(None) };
    if time.field.as_ref().is_some_and(|f| f.get(value).is_none()) {
        return Ok(None);
    }
    time.time_of(value, None).map(Some)
}

impl LineParser {
    /// A parser of `format` for what `spec` reads.
    fn new(spec: &ReadSpec, format: FileFormat, pushdown: Option<Pushdown>) -> LineParser {
        LineParser {
            format,
            time: spec.time.clone(),
            source: spec.source,
            max_line_bytes: spec.max_line_bytes,
            pushdown,
            scan: ObjectScan::default(),
        }
    }

    /// The record's event time (see [`event_time`]).
    fn event_time(&self, value: &Value) -> Result<Option<i64>, String> {
        event_time(self.time.as_ref(), value)
    }

    /// Parses lines numbered from `first.0` in their file, with sequence numbers from `first.1`;
    /// the lines listed in `oversized` (index, full length) were cut and go to `errors`.
    fn parse(
        &mut self,
        data: &[u8],
        first: (u64, u64),
        ends: &[usize],
        oversized: &[(usize, u64)],
        label: Option<&str>,
    ) -> Chunk {
        let mut batch = Vec::with_capacity(ends.len());
        let mut bad = Vec::new();
        let mut skipped = 0;
        let mut rejected = Rejected::default();
        // Asked once a chunk: while the source's output is watched, every line goes on (the
        // node builds what was rejected before the watch began; see `Restorer`).
        let mut pushdown = self.pushdown.take();
        let active = pushdown.as_mut().is_some_and(Pushdown::try_this_chunk);
        let mut tested = 0u64;
        let mut start = 0;
        let mut oversized = oversized.iter().peekable();
        for (i, &end) in ends.iter().enumerate() {
            let line = &data[start..end];
            start = end + 1;
            let line_no = first.0 + i as u64;
            let seq = first.1 + i as u64;
            let cut_at = oversized.next_if(|(at, _)| *at == i).map(|&(_, full)| full);
            let text = line.strip_suffix(b"\r").unwrap_or(line);
            let text = if cut_at.is_some() { &line[..line.len().min(OVERSIZED_KEPT)] } else { text };
            if text.is_empty() && cut_at.is_none() {
                skipped += 1;
                continue;
            }
            let failed = |reason: String| {
                let text = String::from_utf8_lossy(text);
                match label {
                    Some(file) => (
                        seq,
                        json!({ "file": file, "line": line_no, "text": text }),
                        format!("{file} line {line_no}: {reason}"),
                    ),
                    None => (seq, json!({ "line": line_no, "text": text }), format!("line {line_no}: {reason}")),
                }
            };
            if let Some(full) = cut_at {
                bad.push(failed(format!(
                    "the line is {full} bytes, over max_line_bytes ({}); its first {} bytes kept",
                    self.max_line_bytes,
                    text.len()
                )));
                continue;
            }
            let scanned = self.format == FileFormat::Jsonl && self.scan.scan(text);
            let scan = scanned.then_some(&self.scan);
            if let Some(p) = pushdown.as_mut().filter(|_| active) {
                tested += 1;
                if let Some(time) = p.rejects(text, scan, self.time.as_ref()) {
                    rejected.count += 1;
                    rejected.max_time = rejected.max_time.max(time);
                    let at = text.as_ptr() as usize - data.as_ptr() as usize;
                    rejected.lines.push(RejectedLine { seq, line: line_no, start: at, end: at + text.len() });
                    continue;
                }
            }
            match self.format {
                FileFormat::Jsonl => match json_line(scan, text) {
                    // Built from the scan: no integer beyond 64 bits (the scan leaves those to
                    // serde_json), and a top-level integer time read from the text.
                    Ok((value, true)) => {
                        let time = match scan.and_then(|scan| raw_time(self.time.as_ref(), scan, text)) {
                            Some(time) => Ok(time),
                            None => self.event_time(&value),
                        };
                        match time {
                            Ok(time) => batch.push(Event { value, time, source: self.source, seq }),
                            Err(reason) => bad.push(failed(reason)),
                        }
                    }
                    Ok((value, false)) => match oversized_integer(&value, text) {
                        Some(digits) => bad.push(failed(format!(
                            "integer {} does not fit in 64 bits (as a float it would lose digits)",
                            cut(digits)
                        ))),
                        None => match self.event_time(&value) {
                            Ok(time) => batch.push(Event { value, time, source: self.source, seq }),
                            Err(reason) => bad.push(failed(reason)),
                        },
                    },
                    Err(e) => bad.push(failed(format!("invalid JSON: {e}"))),
                },
                _ => match std::str::from_utf8(text) {
                    Ok(s) => batch.push(Event::new(Value::String(s.to_string()), self.source, seq)),
                    Err(e) => bad.push(failed(format!("invalid UTF-8: {e}"))),
                },
            }
        }
        if let Some(p) = pushdown.as_mut().filter(|_| active) {
            p.tried(tested, rejected.count);
        }
        self.pushdown = pushdown;
        Chunk::Events { batch, bad, skipped, rejected }
    }
}

/// The value of a JSON Lines record, and whether it was built from the quick scan (when it
/// took the line, see [`ObjectScan`]); else read by serde_json, which says what is wrong.
fn json_line(scan: Option<&ObjectScan>, text: &[u8]) -> Result<(Value, bool), serde_json::Error> {
    match scan.and_then(|scan| scan.object(text)) {
        Some(value) => Ok((value, true)),
        None => serde_json::from_slice(text).map(|value| (value, false)),
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
            time: None,
            start_at: StartAt::Beginning,
            batch_size: 10,
            max_line_bytes: 1 << 20,
            source: 0,
            stop: CancellationToken::new(),
            metrics: Arc::new(NodeMetrics::default()),
            pushdown: None,
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

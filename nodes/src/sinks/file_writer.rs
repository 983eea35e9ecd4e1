//! The writer thread of `file_sink`: owns the file, writes whole records only, and keeps the
//! sink's counters true.
//!
//! Records arrive encoded, with the offset where each one ends. The thread gathers them in its
//! own buffer and writes it out when it grows large, on each flush tick and at the end. It
//! knows how many bytes of the file hold whole records (`durable`): when a write fails (a full
//! disk) or the node was cancelled mid-write, the file is cut back to that length, so it
//! always ends on a whole record. Every record received is held by the node until its bytes
//! were written (`passed`); what a failure leaves unwritten the node turns into `errors`.
//!
//! Rotation and the atomic mode (see `file_rotation`): a file is rotated between whole
//! records, after its bytes were synced; a size limit splits a buffer at the record that
//! reaches it.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use super::file_rotation::Target;

use streamloom_runtime::metrics::NodeMetrics;
use tokio::sync::mpsc;

/// Buffered bytes that trigger a write.
const WRITE_AT: usize = 1 << 18;

/// The most bytes given to one `write` call on a pipe, socket or device: PIPE_BUF, the most a
/// pipe takes whole or not at all. A blocking write returns only once all its bytes are in,
/// so with pieces no larger than a pipe's smallest buffer, a reader that stops reading leaves
/// the records it did take counted. A regular file takes the whole buffer in one call.
const PIPE_PIECE: usize = 4096;

/// What the node sends the writer thread.
pub enum ToWriter {
    /// Encoded records: record `i` ends at `ends[i]` in `bytes`.
    Records {
        /// The bytes of every record, back to back.
        bytes: Vec<u8>,
        /// Where each record ends.
        ends: Vec<usize>,
    },
    /// Write out what is buffered.
    Flush,
    /// Write out what is buffered, sync the file to disk, then answer (a checkpoint barrier).
    Sync(tokio::sync::oneshot::Sender<()>),
}

/// Shared between the node and its writer thread: set when the node task is gone (cancelled
/// after the stop timeout), after which the writer counts nothing and writes nothing more.
#[derive(Clone, Default)]
pub struct Gate(Arc<Mutex<bool>>);

impl Gate {
    fn lock(&self) -> MutexGuard<'_, bool> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Closes the gate: the writer stops and leaves the counters to whoever cancelled the node.
    pub fn close(&self) {
        *self.lock() = true;
    }
}

/// Closes the gate when dropped (the node's future is dropped when it is cancelled).
pub struct CloseOnDrop(pub Gate);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Where and how to write.
pub struct WriterSpec {
    /// The file, and how it is rotated and completed.
    pub target: Target,
    /// Append instead of replacing.
    pub append: bool,
    /// The sink's counters (`passed`).
    pub metrics: Arc<NodeMetrics>,
    /// Closed when the node is cancelled.
    pub gate: Gate,
}

struct Writer {
    file: File,
    target: Target,
    /// When the file being written was opened.
    opened: Instant,
    /// Bytes of the file that hold whole records.
    durable: u64,
    buf: Vec<u8>,
    /// Where each buffered record ends in `buf`.
    ends: Vec<usize>,
    /// The most bytes one `write` call is given (see [`PIPE_PIECE`]).
    piece: usize,
    metrics: Arc<NodeMetrics>,
    gate: Gate,
}

/// Why the writer thread ended early.
pub enum WriteFailure {
    /// Opening or writing failed; the file holds whole records only.
    Io(String),
    /// The node was cancelled; the writer stopped.
    Cancelled,
}

fn open(path: &PathBuf, append: bool) -> std::io::Result<(File, u64)> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = if append { OpenOptions::new().create(true).append(true).open(path)? } else { File::create(path)? };
    let len = if append { file.metadata()?.len() } else { 0 };
    Ok((file, len))
}

/// Runs the writer until the node drops its sender (then flushes, syncs and, in atomic mode,
/// renames the file to its final name), a write fails, or the node is cancelled. Opening
/// happens here too, so a FIFO without a reader never blocks a runtime worker.
pub fn run(spec: WriterSpec, mut rx: mpsc::Receiver<ToWriter>) -> Result<(), WriteFailure> {
    let writing = spec.target.writing();
    let shown = writing.display().to_string();
    let (file, durable) =
        open(&writing, spec.append).map_err(|e| WriteFailure::Io(format!("cannot open {shown}: {e}")))?;
    let regular = file.metadata().is_ok_and(|m| m.file_type().is_file());
    let mut w = Writer {
        file,
        target: spec.target,
        opened: Instant::now(),
        durable,
        buf: Vec::with_capacity(WRITE_AT),
        ends: Vec::new(),
        piece: if regular { usize::MAX } else { PIPE_PIECE },
        metrics: spec.metrics,
        gate: spec.gate,
    };
    while let Some(msg) = rx.blocking_recv() {
        match msg {
            ToWriter::Records { bytes, ends } => {
                let base = w.buf.len();
                w.buf.extend_from_slice(&bytes);
                w.ends.extend(ends.iter().map(|e| e + base));
                if w.buf.len() >= WRITE_AT {
                    w.write_out().map_err(|f| f.describe(&shown))?;
                }
            }
            ToWriter::Flush => w.write_out().map_err(|f| f.describe(&shown))?,
            ToWriter::Sync(done) => {
                w.write_out().map_err(|f| f.describe(&shown))?;
                w.file.sync_data().map_err(|e| WriteFailure::Io(format!("syncing {shown}: {e}")))?;
                let _ = done.send(());
            }
        }
    }
    w.write_out().map_err(|f| f.describe(&shown))?;
    w.file.sync_data().map_err(|e| WriteFailure::Io(format!("syncing {shown}: {e}")))?;
    if w.target.atomic {
        let done = w.target.finished(false, SystemTime::now());
        std::fs::rename(&writing, &done)
            .map_err(|e| WriteFailure::Io(format!("renaming {shown} to {}: {e}", done.display())))?;
    }
    Ok(())
}

enum Failed {
    Io(std::io::Error),
    Cancelled,
}

impl Failed {
    fn describe(self, path: &str) -> WriteFailure {
        match self {
            Failed::Io(e) => WriteFailure::Io(format!("writing {path}: {e}")),
            Failed::Cancelled => WriteFailure::Cancelled,
        }
    }
}

impl Writer {
    /// Writes the buffer, rotating the file between records when it is due.
    fn write_out(&mut self) -> Result<(), Failed> {
        while !self.ends.is_empty() {
            let count = match self.target.rotation.max_bytes {
                // The records that fit under the limit; at least one in a fresh file.
                Some(max) => {
                    let room = max.saturating_sub(self.durable) as usize;
                    let fit = self.ends.partition_point(|&e| e <= room);
                    if fit == 0 && self.durable == 0 { 1 } else { fit }
                }
                None => self.ends.len(),
            };
            if count > 0 {
                self.write_records(count)?;
            }
            if count < self.ends.len() || self.target.rotation.due(self.durable, self.opened) {
                self.rotate()?;
            }
        }
        if self.target.rotation.due(self.durable, self.opened) {
            self.rotate()?;
        }
        Ok(())
    }

    /// Syncs the file, gives it its rotated name and starts a new one.
    fn rotate(&mut self) -> Result<(), Failed> {
        if self.durable == 0 {
            return Ok(());
        }
        self.file.sync_data().map_err(Failed::Io)?;
        let writing = self.target.writing();
        let done = self.target.finished(true, SystemTime::now());
        std::fs::rename(&writing, &done).map_err(Failed::Io)?;
        self.file = File::create(&writing).map_err(Failed::Io)?;
        self.durable = 0;
        self.opened = Instant::now();
        Ok(())
    }

    /// Writes the first `count` buffered records, at most `self.piece` bytes per call, and
    /// counts each record as passed as soon as its last byte reached the file: a pipe or socket
    /// that stops taking bytes shows exactly the records it took. On a failure the file is cut
    /// back to its last whole record.
    fn write_records(&mut self, count: usize) -> Result<(), Failed> {
        let upto = self.ends[count - 1];
        let mut written = 0;
        // Records counted so far, and the bytes they end at.
        let mut counted = 0;
        let mut counted_bytes = 0;
        let mut failure = None;
        while written < upto {
            if *self.gate.lock() {
                failure = Some(Failed::Cancelled);
                break;
            }
            let piece = &self.buf[written..upto.min(written.saturating_add(self.piece))];
            match self.file.write(piece) {
                Ok(0) => {
                    failure = Some(Failed::Io(ErrorKind::WriteZero.into()));
                    break;
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    failure = Some(Failed::Io(e));
                    break;
                }
            }
            let whole = self.ends[..count].partition_point(|&e| e <= written);
            if whole > counted {
                let closed = self.gate.lock();
                if *closed {
                    failure = Some(Failed::Cancelled);
                    break;
                }
                self.metrics.count_passed(whole - counted);
                let whole_bytes = self.ends[whole - 1];
                self.durable += (whole_bytes - counted_bytes) as u64;
                counted = whole;
                counted_bytes = whole_bytes;
            }
        }
        if let Some(mut f) = failure {
            if *self.gate.lock() {
                f = Failed::Cancelled;
            }
            // Cancelled: the supervisor counted the uncounted records as lost. Otherwise a
            // write failed and the records left unwritten stay held for the node to report.
            // Either way, a torn record is cut off.
            if written > counted_bytes {
                let _ = self.file.set_len(self.durable);
            }
            return Err(f);
        }
        self.buf.drain(..upto);
        self.ends.drain(..count);
        for e in &mut self.ends {
            *e -= upto;
        }
        Ok(())
    }
}

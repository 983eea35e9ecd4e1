//! Where `file_sink` writes and when it starts a new file: rotation by size or age, and the
//! atomic mode (a file appears under its final name only once it is complete).
//!
//! Names: the file being written is `path` (atomic mode: a hidden `.NAME.partial` beside it).
//! A file rotated out is renamed to `STEM.YYYYMMDDTHHMMSSZ.EXT` (the time it was rotated, UTC;
//! `-2`, `-3`… when that name is taken). In atomic mode the last file is renamed to `path` at
//! the end of the stream, or, with rotation, to a rotated name like the others.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// When to start a new file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Once the file holds at least this many bytes.
    pub max_bytes: Option<u64>,
    /// Once the file has been open this long (and holds at least one record).
    pub max_age: Option<Duration>,
}

impl Rotation {
    /// Whether either limit is set.
    pub fn enabled(&self) -> bool {
        self.max_bytes.is_some() || self.max_age.is_some()
    }

    /// Whether a file of `bytes` opened at `opened` is due to be rotated.
    pub fn due(&self, bytes: u64, opened: Instant) -> bool {
        bytes > 0 && (self.max_bytes.is_some_and(|m| bytes >= m) || self.max_age.is_some_and(|a| opened.elapsed() >= a))
    }
}

/// The file's paths.
#[derive(Debug, Clone)]
pub struct Target {
    /// The name the user gave.
    pub path: PathBuf,
    /// Write to a hidden partial file and rename it when complete.
    pub atomic: bool,
    /// Rotation limits.
    pub rotation: Rotation,
}

impl Target {
    /// The file bytes are written to.
    pub fn writing(&self) -> PathBuf {
        if !self.atomic {
            return self.path.clone();
        }
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        self.path.with_file_name(format!(".{name}.partial"))
    }

    /// The name a complete file gets: a rotated name when rotating (or the stream ended with
    /// rotation on), else `path`.
    pub fn finished(&self, rotated: bool, now: SystemTime) -> PathBuf {
        if rotated || self.rotation.enabled() { rotated_name(&self.path, now) } else { self.path.clone() }
    }
}

/// `STEM.YYYYMMDDTHHMMSSZ.EXT` beside `path`, with `-N` added when the name is taken.
pub fn rotated_name(path: &Path, now: SystemTime) -> PathBuf {
    let stamp: String =
        humantime::format_rfc3339_seconds(now).to_string().chars().filter(|c| !matches!(c, '-' | ':')).collect();
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    let mut n = 1;
    loop {
        let suffix = if n == 1 { String::new() } else { format!("-{n}") };
        let candidate = path.with_file_name(format!("{stem}.{stamp}{suffix}{ext}"));
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rotated_names_carry_the_time_and_never_collide() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let first = rotated_name(&path, t);
        assert_eq!(first.file_name().unwrap(), "events.20231114T221320Z.jsonl");
        std::fs::write(&first, "").unwrap();
        assert_eq!(rotated_name(&path, t).file_name().unwrap(), "events.20231114T221320Z-2.jsonl");
    }

    #[test]
    fn rotation_is_due_by_size_or_age_and_never_for_an_empty_file() {
        let r = Rotation { max_bytes: Some(10), max_age: None };
        assert!(r.due(10, Instant::now()));
        assert!(!r.due(9, Instant::now()));
        let r = Rotation { max_bytes: None, max_age: Some(Duration::ZERO) };
        assert!(r.due(1, Instant::now()));
        assert!(!r.due(0, Instant::now()));
        let t = Target { path: "out/e.jsonl".into(), atomic: true, rotation: Rotation::default() };
        assert_eq!(t.writing(), PathBuf::from("out/.e.jsonl.partial"));
        assert_eq!(t.finished(false, SystemTime::now()), PathBuf::from("out/e.jsonl"));
    }
}

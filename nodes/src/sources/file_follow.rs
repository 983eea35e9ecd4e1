//! The files `file_source` reads and how it follows them: one path or a glob pattern, and
//! `tail -F` semantics for a followed file (it is reopened when its path names a new file
//! after a rotation by rename, and read again from its start when it was truncated).

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a followed file is first read from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartAt {
    /// Its first line.
    #[default]
    Beginning,
    /// Its current end: only lines appended after the run started.
    End,
}

/// Whether `path` is a glob pattern (`*`, `?` or `[` in it) rather than one file.
pub fn is_pattern(path: &Path) -> bool {
    path.to_string_lossy().contains(['*', '?', '['])
}

/// The files matching `pattern`, sorted by name; a bad pattern says why.
pub fn matching(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let text = pattern.to_string_lossy();
    let paths = glob::glob(&text).map_err(|e| format!("bad glob pattern `{text}`: {e}"))?;
    let mut files: Vec<PathBuf> = paths.filter_map(Result::ok).filter(|p| p.is_file()).collect();
    files.sort();
    Ok(files)
}

/// What identifies a file on disk, to tell a rotated file from the one being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileId(u64, u64);

impl FileId {
    /// The identity of the file behind `meta` (device and inode on Unix).
    #[cfg(unix)]
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId(meta.dev(), meta.ino())
    }

    /// Without inodes a file is known by its creation time only.
    #[cfg(not(unix))]
    pub fn of(meta: &std::fs::Metadata) -> FileId {
        let created = meta.created().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
        FileId(created.map_or(0, |d| d.as_secs()), created.map_or(0, |d| u64::from(d.subsec_nanos())))
    }
}

/// What a check at the end of a followed file found.
#[derive(Debug, PartialEq, Eq)]
pub enum Change {
    /// Nothing: wait for the file to grow.
    None,
    /// The path now names another file: the old one was rotated away.
    Rotated,
    /// The file is shorter than what was read: it was truncated.
    Truncated,
}

/// One open file being read line by line.
pub struct OpenFile {
    /// The path it was opened by.
    pub path: PathBuf,
    /// Its name in error records when several files are read; `None` for a single file.
    pub label: Option<Arc<str>>,
    /// Its identity.
    pub id: FileId,
    reader: BufReader<File>,
    /// Bytes read so far.
    pos: u64,
}

impl OpenFile {
    /// Opens `path`, at its start or (for [`StartAt::End`]) its end.
    pub fn open(path: &Path, start: StartAt, label: Option<Arc<str>>) -> Result<OpenFile, String> {
        let mut file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let meta = file.metadata().map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let pos = match start {
            StartAt::Beginning => 0,
            StartAt::End => file.seek(SeekFrom::End(0)).map_err(|e| format!("cannot seek {}: {e}", path.display()))?,
        };
        Ok(OpenFile {
            path: path.to_path_buf(),
            label,
            id: FileId::of(&meta),
            reader: BufReader::with_capacity(1 << 18, file),
            pos,
        })
    }

    /// Whether reading started at the file's start.
    pub fn at_start(&self) -> bool {
        self.pos == 0
    }

    /// Reads up to and including the next `\n` into `buf`, keeping at most `room` more bytes
    /// of the line's text: the rest of a longer line, up to its `\n`, is read past and added
    /// to `skipped`, so one line never holds more than `room` bytes in memory. Returns the
    /// bytes read from the file; 0 at its end for now.
    pub fn read_line_capped(&mut self, buf: &mut Vec<u8>, mut room: usize, skipped: &mut u64) -> Result<usize, String> {
        let mut read = 0;
        loop {
            let avail = match self.reader.fill_buf() {
                Ok(avail) => avail,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("reading {}: {e}", self.path.display())),
            };
            if avail.is_empty() {
                break;
            }
            let (len, newline) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            let text = len - usize::from(newline);
            let keep = text.min(room);
            buf.extend_from_slice(&avail[..keep]);
            room -= keep;
            *skipped += (text - keep) as u64;
            if newline {
                buf.push(b'\n');
            }
            self.reader.consume(len);
            read += len;
            if newline {
                break;
            }
        }
        self.pos += read as u64;
        Ok(read)
    }

    /// Reads whole lines already in the read buffer into `buf` at once (each with its `\n`),
    /// pushing where each ends in `buf` (its `\n`) onto `ends`: at most `max_lines` lines,
    /// stopping before a line of more than `max_line` bytes and once `buf` holds `max_bytes`.
    /// Returns how many lines it read; 0 when the buffer holds no whole line that fits (then
    /// [`OpenFile::read_line_capped`] reads the next one).
    pub fn read_whole_lines(
        &mut self,
        buf: &mut Vec<u8>,
        ends: &mut Vec<usize>,
        max_lines: usize,
        max_line: usize,
        max_bytes: usize,
    ) -> Result<usize, String> {
        let avail = loop {
            match self.reader.fill_buf() {
                Ok(avail) => break avail,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("reading {}: {e}", self.path.display())),
            }
        };
        let base = buf.len();
        let (mut taken, mut lines, mut start) = (0, 0, 0);
        for newline in memchr::memchr_iter(b'\n', avail) {
            if lines >= max_lines || newline - start > max_line || base + taken >= max_bytes {
                break;
            }
            ends.push(base + newline);
            lines += 1;
            start = newline + 1;
            taken = start;
        }
        buf.extend_from_slice(&avail[..taken]);
        self.reader.consume(taken);
        self.pos += taken as u64;
        Ok(lines)
    }

    /// At the end of what was written: has the file been rotated away or truncated?
    /// A path that names no file (rotated, not yet recreated) is no change: the old file
    /// is kept, since its writer may still be writing to it.
    pub fn check(&self) -> Change {
        match std::fs::metadata(&self.path) {
            Ok(meta) if FileId::of(&meta) != self.id => Change::Rotated,
            Ok(meta) if meta.len() < self.pos => Change::Truncated,
            _ => Change::None,
        }
    }

    /// Reads a truncated file again from its start.
    pub fn rewind(&mut self) -> Result<(), String> {
        self.reader.seek(SeekFrom::Start(0)).map_err(|e| format!("cannot seek {}: {e}", self.path.display()))?;
        self.pos = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rotation_and_truncation_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, "one\ntwo\n").unwrap();
        let mut f = OpenFile::open(&path, StartAt::Beginning, None).unwrap();
        let mut buf = Vec::new();
        while f.read_line_capped(&mut buf, usize::MAX, &mut 0).unwrap() > 0 {}
        assert_eq!(f.check(), Change::None);
        std::fs::write(&path, "x\n").unwrap();
        assert_eq!(f.check(), Change::Truncated);
        f.rewind().unwrap();
        assert!(f.at_start());
        std::fs::rename(&path, dir.path().join("app.log.1")).unwrap();
        assert_eq!(f.check(), Change::None, "a path naming no file keeps the old one");
        std::fs::write(&path, "new\n").unwrap();
        assert_eq!(f.check(), Change::Rotated);
    }

    #[test]
    fn patterns_match_files_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.log", "a.log", "c.txt"] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let pattern = dir.path().join("*.log");
        assert!(is_pattern(&pattern));
        assert!(!is_pattern(&dir.path().join("a.log")));
        let names: Vec<String> =
            matching(&pattern).unwrap().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["a.log", "b.log"]);
        assert!(matching(&dir.path().join("[")).is_err());
    }
}

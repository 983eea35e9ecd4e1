//! Problems found in a graph, each naming its place. Long values are cut in messages and
//! places (see [`cut`]), so a 1 MB id or value is never echoed whole.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

/// Longest message a problem keeps, in bytes; longer ones are cut (see [`cut`]).
pub const MAX_MESSAGE: usize = 600;
/// Longest node id, wire id or field shown in a place, in bytes.
pub const MAX_NAME: usize = 80;

/// `s` when it has at most `max` bytes, otherwise its first `max` bytes (on a character
/// boundary) followed by `…(N bytes)`, so messages never echo a huge value whole.
pub fn cut(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…({} bytes)", &s[..end], s.len()))
}

/// Where a problem is: any combination of file, line:column, node, wire and field.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    /// The graph file, when the graph came from one.
    pub file: Option<PathBuf>,
    /// 1-based line and column in the file.
    pub line_col: Option<(usize, usize)>,
    /// The node id.
    pub node: Option<String>,
    /// The wire, written `from.port -> to.port`.
    pub wire: Option<String>,
    /// The config field (dotted path) or graph field.
    pub field: Option<String>,
}

impl Location {
    /// A location naming a node.
    pub fn node(id: impl Into<String>) -> Self {
        Location { node: Some(id.into()), ..Default::default() }
    }
    /// A location naming a node's config field.
    pub fn field(node: impl Into<String>, field: impl Into<String>) -> Self {
        Location { node: Some(node.into()), field: Some(field.into()), ..Default::default() }
    }
    /// A location naming a wire.
    pub fn wire(wire: impl Into<String>) -> Self {
        Location { wire: Some(wire.into()), ..Default::default() }
    }
}

impl fmt::Display for Location {
    /// `file:line:col: node `a`, wire `w`, field `f`` (compiler style), each part when known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = match (&self.file, self.line_col) {
            (Some(file), Some((l, c))) => format!("{}:{l}:{c}", file.display()),
            (Some(file), None) => file.display().to_string(),
            (None, Some((l, c))) => format!("{l}:{c}"),
            (None, None) => String::new(),
        };
        let mut parts: Vec<String> = Vec::new();
        if let Some(node) = &self.node {
            parts.push(format!("node `{}`", cut(node, MAX_NAME)));
        }
        if let Some(wire) = &self.wire {
            parts.push(format!("wire `{}`", cut(wire, 2 * MAX_NAME)));
        }
        if let Some(field) = &self.field {
            parts.push(format!("field `{}`", cut(field, MAX_NAME)));
        }
        match (place.is_empty(), parts.is_empty()) {
            (true, _) => f.write_str(&parts.join(", ")),
            (false, true) => f.write_str(&place),
            (false, false) => write!(f, "{place}: {}", parts.join(", ")),
        }
    }
}

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The graph cannot run.
    Error,
    /// The graph runs, but probably not as meant.
    Warning,
}

/// One problem, with its place and a message that says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// Where.
    pub location: Location,
    /// What.
    pub message: String,
}

impl Problem {
    /// An error at `location`; a message longer than [`MAX_MESSAGE`] is cut.
    pub fn error(location: Location, message: impl Into<String>) -> Self {
        Problem { severity: Severity::Error, location, message: cut_owned(message.into()) }
    }
    /// A warning at `location`; a message longer than [`MAX_MESSAGE`] is cut.
    pub fn warning(location: Location, message: impl Into<String>) -> Self {
        Problem { severity: Severity::Warning, location, message: cut_owned(message.into()) }
    }
    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

fn cut_owned(message: String) -> String {
    match cut(&message, MAX_MESSAGE) {
        Cow::Borrowed(_) => message,
        Cow::Owned(short) => short,
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let loc = self.location.to_string();
        if loc.is_empty() {
            write!(f, "{kind}: {}", self.message)
        } else {
            write!(f, "{loc}: {kind}: {}", self.message)
        }
    }
}

/// Every problem found at once; the error type of loading, validating and starting a graph.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// True when at least one problem is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Problem::is_error)
    }
    /// The errors only (warnings left out).
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().filter(|p| p.is_error())
    }
    /// The warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().filter(|p| !p.is_error())
    }
    /// Sets the file on every problem that has none.
    pub fn with_file(mut self, file: &std::path::Path) -> Self {
        for p in &mut self.0 {
            if p.location.file.is_none() {
                p.location.file = Some(file.to_path_buf());
            }
        }
        self
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl From<Problem> for Problems {
    fn from(p: Problem) -> Self {
        Problems(vec![p])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_in_messages_and_places() {
        let huge = "x".repeat(1 << 20);
        let p = Problem::error(Location::field(huge.clone(), huge.clone()), format!("bad value `{huge}`"));
        let shown = p.to_string();
        assert!(shown.len() < 2000, "{} bytes shown", shown.len());
        assert!(shown.contains(&format!("({} bytes)", huge.len())), "says how long the value was");
        assert_eq!(p.location.node.as_deref(), Some(huge.as_str()), "the place keeps the whole id");
        assert_eq!(cut("é", 1), "…(2 bytes)", "cuts on a character boundary");
        assert_eq!(cut("short", 80), "short");
    }
}

//! Where nodes and wires stand in a graph file's text, so that problems found after parsing
//! (validation, config errors) can still name a line and column.

use std::collections::HashMap;

use crate::problem::Problems;

/// Line:column (1-based) of each node's `id:` and of each wire, by index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    nodes: HashMap<String, (usize, usize)>,
    wires: Vec<(usize, usize)>,
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(offset, |nl| offset - nl - 1) + 1;
    (line, col)
}

/// Byte offsets of every `key:` that is a whole identifier followed by a colon.
fn key_offsets<'a>(text: &'a str, key: &'a str) -> impl Iterator<Item = usize> + 'a {
    text.match_indices(key).filter_map(move |(i, _)| {
        let before_ok = text[..i].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let after = text[i + key.len()..].trim_start();
        (before_ok && after.starts_with(':')).then_some(i)
    })
}

impl SourceMap {
    /// Scans graph text for `id: "..."` and `from:` keys.
    pub fn scan(text: &str) -> Self {
        let mut map = SourceMap::default();
        for i in key_offsets(text, "id") {
            let rest = text[i + 2..].trim_start().trim_start_matches(':').trim_start();
            if let Some(quoted) = rest.strip_prefix('"')
                && let Some(end) = quoted.find('"')
            {
                map.nodes.entry(quoted[..end].to_string()).or_insert_with(|| line_col(text, i));
            }
        }
        let wires_start = key_offsets(text, "wires").next().unwrap_or(text.len());
        map.wires = key_offsets(text, "from").filter(|&i| i > wires_start).map(|i| line_col(text, i)).collect();
        map
    }

    /// Where node `id` is defined.
    pub fn node(&self, id: &str) -> Option<(usize, usize)> {
        self.nodes.get(id).copied()
    }

    /// Where the wire at `index` is defined.
    pub fn wire(&self, index: usize) -> Option<(usize, usize)> {
        self.wires.get(index).copied()
    }

    /// Fills in line:column on problems that name a node (or a wire, through `wire_index`).
    pub fn locate(&self, mut problems: Problems, wire_index: impl Fn(&str) -> Option<usize>) -> Problems {
        for p in &mut problems.0 {
            if p.location.line_col.is_some() {
                continue;
            }
            p.location.line_col = match (&p.location.node, &p.location.wire) {
                (_, Some(w)) => wire_index(w).and_then(|i| self.wire(i)),
                (Some(n), None) => self.node(n),
                (None, None) => None,
            };
        }
        problems
    }
}

//! Where nodes, wires and fields stand in a graph file's text, so that problems found after
//! parsing (validation, config errors) can still name a line and column.
//!
//! The text is read by a small RON lexer (strings with escapes, raw strings, chars, nested
//! comments) driven by an explicit stack, never by recursion: a key inside a string or a
//! comment is never taken for a field, ids written with escapes are decoded, and nodes and
//! wires are found by their position in the file, so the second of two duplicates has its own
//! place. The lexer never fails: on text that is not RON it finds what it can.

use crate::problem::Problems;

/// One `key:` of a struct or map, with where it starts and where its value ends.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    name: String,
    at: usize,
    end: usize,
}

/// One node of the `nodes` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct NodeSpan {
    start: usize,
    end: usize,
    /// The decoded id and the offset of its `id:` key.
    id: Option<(String, usize)>,
    /// Keys of the node itself (`id`, `kind`, `version`, `position`, `config`).
    keys: Vec<Key>,
    /// Keys of its config.
    config: Vec<Key>,
}

/// One wire of the `wires` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct WireSpan {
    start: usize,
    end: usize,
    keys: Vec<Key>,
}

/// Where each node, wire, setting and top-level field stands in a graph file, by index in
/// file order (the order of [`crate::graph::Graph::nodes`] and `wires`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
    /// Line:column of every offset the map hands out, computed at scan time.
    positions: Vec<(usize, (usize, usize))>,
    nodes: Vec<NodeSpan>,
    wires: Vec<WireSpan>,
    top: Vec<Key>,
    settings: Vec<Key>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open(u8),
    Close,
    /// A string; `None` when its escapes do not decode.
    Str(Option<String>),
    Ident(String),
    Colon,
    Comma,
    Other,
}

/// Splits RON text into tokens with their byte ranges. Iterative; never fails.
fn lex(text: &str) -> Vec<(Tok, usize, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let tok = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                i = memchr(b, b'\n', i).unwrap_or(b.len());
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(b, i);
                continue;
            }
            b'"' => {
                i = skip_quoted(b, i, b'"');
                Tok::Str(decode(&text[start..i]))
            }
            b'\'' => {
                let end = skip_quoted(b, i, b'\'');
                // A char literal is short; a lone quote is just a stray character.
                i = if end - start <= 12 && b.get(end - 1) == Some(&b'\'') && end - start >= 3 { end } else { i + 1 };
                Tok::Other
            }
            b'r' | b'b' if raw_string_start(b, i).is_some() => {
                let (hashes, quote) = raw_string_start(b, i).unwrap_or((0, i + 1));
                i = skip_raw(b, quote, hashes);
                if c == b'r' { Tok::Str(decode(&text[start..i])) } else { Tok::Str(None) }
            }
            b'b' if b.get(i + 1) == Some(&b'"') => {
                i = skip_quoted(b, i + 1, b'"');
                Tok::Str(None)
            }
            b'(' | b'[' | b'{' => {
                i += 1;
                Tok::Open(c)
            }
            b')' | b']' | b'}' => {
                i += 1;
                Tok::Close
            }
            b':' => {
                i += 1;
                Tok::Colon
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                // `r#name` is a raw identifier.
                let from = if c == b'r' && b.get(i + 1) == Some(&b'#') { i + 2 } else { i };
                i = from;
                while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                if i == from {
                    i = from.max(start + 1);
                    Tok::Other
                } else {
                    Tok::Ident(text[from..i].to_string())
                }
            }
            _ => {
                i += 1;
                while i < b.len() && !text.is_char_boundary(i) {
                    i += 1;
                }
                Tok::Other
            }
        };
        out.push((tok, start, i));
    }
    out
}

fn memchr(b: &[u8], c: u8, from: usize) -> Option<usize> {
    b[from..].iter().position(|&x| x == c).map(|p| from + p)
}

/// End of a (nestable) block comment starting at `i`, or the end of the text.
fn skip_block_comment(b: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// End (past the closing quote) of a quoted literal starting at `i`, or the end of the text.
fn skip_quoted(b: &[u8], mut i: usize, quote: u8) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// For `r"`, `r#"`, `br"`, ...: the number of `#`s and the offset of the opening quote.
fn raw_string_start(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let mut j = i;
    if b[j] == b'b' {
        j += 1;
    }
    if b.get(j) != Some(&b'r') {
        return None;
    }
    j += 1;
    let hashes = b[j..].iter().take_while(|&&c| c == b'#').count();
    (b.get(j + hashes) == Some(&b'"')).then_some((hashes, j + hashes))
}

/// End of a raw string whose opening quote is at `quote`.
fn skip_raw(b: &[u8], quote: usize, hashes: usize) -> usize {
    let mut i = quote + 1;
    while i < b.len() {
        if b[i] == b'"' && b[i + 1..].iter().take(hashes).filter(|&&c| c == b'#').count() == hashes {
            return i + 1 + hashes;
        }
        i += 1;
    }
    b.len()
}

/// The value of a RON string literal, escapes decoded.
fn decode(literal: &str) -> Option<String> {
    if literal.starts_with('"') && !literal.contains('\\') && literal.len() >= 2 && literal.ends_with('"') {
        return Some(literal[1..literal.len() - 1].to_string());
    }
    ron::from_str::<String>(literal).ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Top,
    Nodes,
    Node(usize),
    Config(usize),
    Wires,
    Wire(usize),
    Settings,
    Other,
}

struct Frame {
    role: Role,
    /// The key whose value comes next, with its offset.
    key: Option<(String, usize)>,
}

impl SourceMap {
    /// Scans graph text for its nodes (with their ids and config fields), wires, settings and
    /// top-level fields. Never fails; never recurses.
    pub fn scan(text: &str) -> Self {
        let mut map = SourceMap {
            line_starts: std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect(),
            ..Default::default()
        };
        let toks = lex(text);
        let mut stack: Vec<Frame> = Vec::new();
        let mut top_done = false;
        let mut i = 0;
        while i < toks.len() {
            let (tok, start, end) = &toks[i];
            let is_key = matches!(toks.get(i + 1), Some((Tok::Colon, _, _)));
            match tok {
                Tok::Ident(name) | Tok::Str(Some(name)) if is_key => {
                    if let Some(frame) = stack.last_mut() {
                        map.close_key(frame.role, *start);
                        frame.key = Some((name.clone(), *start));
                        map.open_key(frame.role, name, *start);
                    }
                    i += 2;
                    continue;
                }
                Tok::Str(decoded) => {
                    if let Some(Frame { role: Role::Node(n), key: Some((k, at)) }) = stack.last()
                        && k == "id"
                        && let Some(node) = map.nodes.get_mut(*n)
                        && node.id.is_none()
                    {
                        node.id = decoded.clone().map(|id| (id, *at));
                    }
                }
                Tok::Open(bracket) => {
                    let parent = stack.last();
                    let key = parent.and_then(|f| f.key.as_ref()).map(|(k, _)| k.as_str());
                    let role = match (parent.map(|f| f.role), key, bracket) {
                        (None, _, b'(') if !top_done => Role::Top,
                        (Some(Role::Top), Some("nodes"), b'[') => Role::Nodes,
                        (Some(Role::Top), Some("wires"), b'[') => Role::Wires,
                        (Some(Role::Top), Some("settings"), b'(' | b'{') => Role::Settings,
                        (Some(Role::Nodes), _, b'(') => {
                            map.nodes.push(NodeSpan { start: *start, end: text.len(), ..Default::default() });
                            Role::Node(map.nodes.len() - 1)
                        }
                        (Some(Role::Wires), _, b'(') => {
                            map.wires.push(WireSpan { start: *start, end: text.len(), ..Default::default() });
                            Role::Wire(map.wires.len() - 1)
                        }
                        (Some(Role::Node(n)), Some("config"), b'(' | b'{') => Role::Config(n),
                        _ => Role::Other,
                    };
                    stack.push(Frame { role, key: None });
                }
                Tok::Close => {
                    if let Some(frame) = stack.pop() {
                        map.close_key(frame.role, *end);
                        match frame.role {
                            Role::Top => top_done = true,
                            Role::Node(n) => {
                                if let Some(node) = map.nodes.get_mut(n) {
                                    node.end = *end;
                                }
                            }
                            Role::Wire(w) => {
                                if let Some(wire) = map.wires.get_mut(w) {
                                    wire.end = *end;
                                }
                            }
                            _ => {}
                        }
                    }
                }
                Tok::Comma => {
                    if let Some(frame) = stack.last_mut() {
                        frame.key = None;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        let offsets: Vec<usize> = map
            .nodes
            .iter()
            .flat_map(|n| {
                [n.start]
                    .into_iter()
                    .chain(n.id.as_ref().map(|(_, at)| *at))
                    .chain(n.keys.iter().chain(&n.config).map(|k| k.at))
            })
            .chain(map.wires.iter().flat_map(|w| [w.start].into_iter().chain(w.keys.iter().map(|k| k.at))))
            .chain(map.top.iter().chain(&map.settings).map(|k| k.at))
            .collect();
        map.positions = offsets.into_iter().map(|o| (o, line_col_of(text, &map.line_starts, o))).collect();
        map.positions.sort_unstable();
        map.positions.dedup();
        map
    }

    fn keys_of(&mut self, role: Role) -> Option<&mut Vec<Key>> {
        match role {
            Role::Top => Some(&mut self.top),
            Role::Settings => Some(&mut self.settings),
            Role::Node(n) => self.nodes.get_mut(n).map(|n| &mut n.keys),
            Role::Config(n) => self.nodes.get_mut(n).map(|n| &mut n.config),
            Role::Wire(w) => self.wires.get_mut(w).map(|w| &mut w.keys),
            Role::Nodes | Role::Wires | Role::Other => None,
        }
    }

    fn open_key(&mut self, role: Role, name: &str, at: usize) {
        if let Some(keys) = self.keys_of(role) {
            keys.push(Key { name: name.to_string(), at, end: usize::MAX });
        }
    }

    /// Ends the value of the last key of `role`'s struct at `end` (if it is still open).
    fn close_key(&mut self, role: Role, end: usize) {
        if let Some(last) = self.keys_of(role).and_then(|k| k.last_mut())
            && last.end == usize::MAX
        {
            last.end = end;
        }
    }

    fn pos(&self, offset: usize) -> Option<(usize, usize)> {
        self.positions.binary_search_by_key(&offset, |(o, _)| *o).ok().map(|i| self.positions[i].1)
    }

    /// Number of nodes found in the text.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Number of wires found in the text.
    pub fn wire_count(&self) -> usize {
        self.wires.len()
    }

    /// Where the first node with id `id` is defined (its `id:` key).
    pub fn node(&self, id: &str) -> Option<(usize, usize)> {
        let index = self.nodes.iter().position(|n| n.id.as_ref().is_some_and(|(i, _)| i == id))?;
        self.node_at(index)
    }

    /// Where the node at `index` (file order) is defined: its `id:` key, else its `(`.
    pub fn node_at(&self, index: usize) -> Option<(usize, usize)> {
        let n = self.nodes.get(index)?;
        self.pos(n.id.as_ref().map_or(n.start, |(_, at)| *at))
    }

    /// Where field `field` of the node at `index` stands: a node key (`kind`, `version`,
    /// `position`, `id`, `config`) or the config key named by the first part of a dotted or
    /// indexed path (`columns[2]` → `columns`). Falls back to `config:`, then to the node.
    pub fn node_field(&self, index: usize, field: &str) -> Option<(usize, usize)> {
        let n = self.nodes.get(index)?;
        let head = field_head(field);
        let in_config = n.config.iter().rev().find(|k| k.name == head);
        let own = n.keys.iter().rev().find(|k| k.name == head);
        let at = match (own, in_config) {
            (Some(k), _) if matches!(head, "id" | "kind" | "version" | "position") => Some(k.at),
            (_, Some(k)) => Some(k.at),
            _ => n.keys.iter().find(|k| k.name == "config").map(|k| k.at),
        };
        at.and_then(|a| self.pos(a)).or_else(|| self.node_at(index))
    }

    /// Where the wire at `index` (file order) is defined (its `(`).
    pub fn wire(&self, index: usize) -> Option<(usize, usize)> {
        self.pos(self.wires.get(index)?.start)
    }

    /// Where field `field` (`capacity`, `when_full`, `from`, `to`) of the wire at `index` stands.
    pub fn wire_field(&self, index: usize, field: &str) -> Option<(usize, usize)> {
        let w = self.wires.get(index)?;
        w.keys.iter().rev().find(|k| k.name == field).and_then(|k| self.pos(k.at)).or_else(|| self.wire(index))
    }

    /// Where graph setting `field` stands, else the `settings:` key.
    pub fn setting(&self, field: &str) -> Option<(usize, usize)> {
        let k = self.settings.iter().rev().find(|k| k.name == field);
        k.map(|k| k.at).and_then(|a| self.pos(a)).or_else(|| self.top_field("settings"))
    }

    /// Where top-level field `field` (`format`, `name`, `nodes`, ...) stands.
    pub fn top_field(&self, field: &str) -> Option<(usize, usize)> {
        self.top.iter().find(|k| k.name == field).and_then(|k| self.pos(k.at))
    }

    /// The node (index, decoded id) and config field whose text holds byte `offset`, for
    /// placing parse errors.
    pub fn enclosing(&self, offset: usize) -> Option<(usize, Option<&str>, Option<&str>)> {
        let index = self.nodes.iter().position(|n| n.start <= offset && offset < n.end)?;
        let n = &self.nodes[index];
        let field = n
            .config
            .iter()
            .chain(&n.keys)
            .filter(|k| k.at <= offset && offset < k.end)
            .min_by_key(|k| k.end - k.at)
            .map(|k| k.name.as_str());
        Some((index, n.id.as_ref().map(|(id, _)| id.as_str()), field))
    }

    /// Byte offset of 1-based `line`:`col` (col in characters, as `ron` counts), when inside `text`.
    pub fn offset_of(&self, text: &str, line: usize, col: usize) -> Option<usize> {
        let start = *self.line_starts.get(line.checked_sub(1)?)?;
        let rest = text.get(start..)?;
        let skip = col.checked_sub(1)?;
        rest.char_indices().nth(skip).map(|(i, _)| start + i).or(Some(text.len()))
    }

    /// Fills in line:column on problems that name a node (or a wire, through `wire_index`).
    /// Prefer [`crate::validate::validate_located`], which places problems by index.
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

/// `a` of `a.b`, `a[2]`, `a`.
fn field_head(field: &str) -> &str {
    field.split(['.', '[']).next().unwrap_or(field)
}

/// 1-based line and column (in characters) of byte `offset`.
pub(crate) fn line_col_of(text: &str, line_starts: &[usize], offset: usize) -> (usize, usize) {
    let line = line_starts.partition_point(|&s| s <= offset).max(1);
    let start = line_starts[line - 1];
    let col = text.get(start..offset).map_or(offset - start, |s| s.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r##"(
    format: 1,
    description: "not a key: id: \"x\", from: (\"a\", \"b\")",
    settings: (batch_size: 0),
    nodes: [
        (id: "a\u{62}", kind: "generator", config: (count: 1, rate: 2.0)),
        /* (id: "c", kind: "x") */
        (id: r#"q"uote"#, kind: "filter", config: {"condition": ".a"}),
        (id: "ab", kind: "filter", config: ()),
    ],
    wires: [
        (from: ("ab", "out"), to: ("q\"uote", "in")),
        (from: ("ab", "out"), to: ("q\"uote", "in"), capacity: 0),
    ],
)"##;

    #[test]
    fn nodes_wires_and_fields_are_found_by_position_not_by_text_search() {
        let map = SourceMap::scan(TEXT);
        assert_eq!(map.node_count(), 3, "the commented-out node is not a node");
        assert_eq!(map.wire_count(), 2, "`from:` inside the description is not a wire");
        assert_eq!(map.node("ab"), Some((6, 10)), "an id written with an escape is decoded");
        assert_eq!(map.node("q\"uote"), Some((8, 10)), "raw strings are decoded");
        assert_eq!(map.node_at(2), Some((9, 10)), "the second `ab` has its own place");
        assert_eq!(map.node_field(0, "rate"), Some((6, 63)));
        assert_eq!(map.node_field(1, "condition"), Some((8, 52)), "string keys of a map");
        assert_eq!(map.node_field(2, "condition"), Some((9, 36)), "a missing field points at `config:`");
        assert_eq!(map.node_field(0, "kind"), Some((6, 25)));
        assert_eq!(map.wire(1), Some((13, 9)));
        assert_eq!(map.wire_field(1, "capacity"), Some((13, 54)));
        assert_eq!(map.setting("batch_size"), Some((4, 16)));
        let off = map.offset_of(TEXT, 6, 69).unwrap();
        assert_eq!(map.enclosing(off), Some((0, Some("ab"), Some("rate"))));
    }

    #[test]
    fn scanning_garbage_and_deep_nesting_never_fails_or_recurses() {
        let deep = format!("(format: 1, nodes: [(id: \"a\", config: (x: {}", "[".repeat(200_000));
        let map = SourceMap::scan(&deep);
        assert_eq!(map.node("a"), Some((1, 22)));
        for text in ["", "\"", "r#\"", "/*", "'", "(((", ")))", "b\"", "(id: \"\\u{zz}\")", "é'é"] {
            let _ = SourceMap::scan(text);
        }
    }
}

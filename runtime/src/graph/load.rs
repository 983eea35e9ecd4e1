//! Reading graph files (RON). Structure errors come with line:column (and the node and field
//! they fall in); format versions are checked first so that a newer file is refused with a
//! clear message. Nesting is bounded: RON by [`RON_RECURSION_LIMIT`], configs by
//! [`MAX_CONFIG_DEPTH`], so no file can make loading overflow the stack.

use std::path::Path;

use ron::extensions::Extensions;
use serde::Deserialize;
use serde_json::Value;

use super::annotations::{CommentV2, GroupV2, convert};
use super::config_value::{MAX_CONFIG_DEPTH, optional_config};
use super::{FORMAT_VERSION, Graph, Node, PortRef, Settings, SourceMap, WhenFull, Wire};
use crate::problem::{Location, MAX_NAME, Problem, Problems, cut};

/// Deepest nesting `ron` reads anywhere in a graph file, counted as `ron` counts (up to three
/// steps per level of a config, which adds at most [`MAX_CONFIG_DEPTH`] levels to the few of
/// the file's own structure). Below `ron`'s default of 128.
pub const RON_RECURSION_LIMIT: usize = 3 * MAX_CONFIG_DEPTH + 16;

/// Largest absolute editor coordinate a node position may have.
pub const MAX_POSITION: f32 = 1.0e7;

fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(Extensions::IMPLICIT_SOME).with_recursion_limit(RON_RECURSION_LIMIT)
}

/// Only the `format` field, read before anything else.
#[derive(Deserialize)]
struct FormatProbe {
    format: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphFileV1 {
    #[allow(dead_code)]
    format: u32,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    settings: Settings,
    #[serde(default)]
    nodes: Vec<NodeV1>,
    #[serde(default)]
    wires: Vec<WireV1>,
}

/// Format 2: format 1 plus comments and groups.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GraphFileV2 {
    #[allow(dead_code)]
    format: u32,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    settings: Settings,
    #[serde(default)]
    nodes: Vec<NodeV1>,
    #[serde(default)]
    wires: Vec<WireV1>,
    #[serde(default)]
    comments: Vec<CommentV2>,
    #[serde(default)]
    groups: Vec<GroupV2>,
}

impl From<GraphFileV1> for GraphFileV2 {
    fn from(f: GraphFileV1) -> Self {
        GraphFileV2 {
            format: f.format,
            name: f.name,
            description: f.description,
            settings: f.settings,
            nodes: f.nodes,
            wires: f.wires,
            comments: Vec::new(),
            groups: Vec::new(),
        }
    }
}

fn default_version() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeV1 {
    id: String,
    kind: String,
    #[serde(default = "default_version")]
    version: u32,
    #[serde(default)]
    position: Option<(f32, f32)>,
    #[serde(default, deserialize_with = "optional_config")]
    config: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireV1 {
    from: (String, String),
    to: (String, String),
    #[serde(default)]
    capacity: Option<usize>,
    #[serde(default)]
    when_full: Option<WhenFull>,
}

/// A parse error, placed at its line:column and, when it falls inside a node, that node and
/// config field.
fn syntax_problem(e: &ron::error::SpannedError, text: &str, map: &SourceMap) -> Problem {
    let pos = e.span.start;
    let mut location = Location { line_col: Some((pos.line, pos.col)), ..Default::default() };
    if let Some((_, id, field)) = map.offset_of(text, pos.line, pos.col).and_then(|o| map.enclosing(o)) {
        location.node = id.map(str::to_string);
        location.field = field.map(str::to_string);
    }
    let message = match &e.code {
        ron::Error::ExceededRecursionLimit => {
            format!(
                "nested deeper than the {RON_RECURSION_LIMIT} levels a graph file may have \
                 (lists, structs and `Some(..)` inside each other; a config may nest {MAX_CONFIG_DEPTH})"
            )
        }
        code => code.to_string(),
    };
    Problem::error(location, message)
}

/// Parses graph text. Problems carry line:column; `file` is not set (see [`load_file`]).
pub fn parse(text: &str) -> Result<(Graph, SourceMap), Problems> {
    let map = SourceMap::scan(text);
    // A file with nothing in it (a 0-byte file named on a cron line) says so, not what the
    // reader expected of a struct it names internally.
    if text.trim().is_empty() {
        return Err(Problems::from(Problem::error(
            Location { line_col: Some((1, 1)), ..Default::default() },
            format!("the file is empty: a graph file starts with `(format: {FORMAT_VERSION}, nodes: [...])`"),
        )));
    }
    let opts = ron_options();
    let probe: FormatProbe = opts.from_str(text).map_err(|e| Problems::from(syntax_problem(&e, text, &map)))?;
    let format = probe.format.ok_or_else(|| {
        Problems::from(Problem::error(
            Location { line_col: Some((1, 1)), field: Some("format".into()), ..Default::default() },
            format!("missing `format` (this Streamloom writes `format: {FORMAT_VERSION}`)"),
        ))
    })?;
    let format_place =
        Location { line_col: map.top_field("format"), field: Some("format".into()), ..Default::default() };
    let graph = match format {
        1 => {
            let file: GraphFileV1 = opts.from_str(text).map_err(|e| Problems::from(syntax_problem(&e, text, &map)))?;
            from_v2(file.into(), &map)?
        }
        2 => {
            let file: GraphFileV2 = opts.from_str(text).map_err(|e| Problems::from(syntax_problem(&e, text, &map)))?;
            from_v2(file, &map)?
        }
        n if n > FORMAT_VERSION => {
            return Err(Problems::from(Problem::error(
                format_place,
                format!(
                    "graph format {n} is newer than this Streamloom reads (up to {FORMAT_VERSION}); \
                     upgrade Streamloom to open it"
                ),
            )));
        }
        n => {
            return Err(Problems::from(Problem::error(format_place, format!("unknown graph format {n}"))));
        }
    };
    Ok((graph, map))
}

/// Parses the bytes of a graph file: text that is not UTF-8 is refused with the byte offset
/// (and line:column) of the first bad byte.
pub fn parse_bytes(bytes: &[u8]) -> Result<(Graph, SourceMap), Problems> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text),
        Err(e) => {
            let offset = e.valid_up_to();
            let valid = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
            let line = valid.matches('\n').count() + 1;
            let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            Err(Problems::from(Problem::error(
                Location { line_col: Some((line, col)), ..Default::default() },
                format!(
                    "the file is not UTF-8 text: invalid byte 0x{:02x} at byte offset {offset}",
                    bytes.get(offset).copied().unwrap_or_default()
                ),
            )))
        }
    }
}

fn from_v2(file: GraphFileV2, map: &SourceMap) -> Result<Graph, Problems> {
    let mut problems = Vec::new();
    for (i, n) in file.nodes.iter().enumerate() {
        if let Some((x, y)) = n.position
            && !(x.is_finite() && y.is_finite() && x.abs() <= MAX_POSITION && y.abs() <= MAX_POSITION)
        {
            problems.push(Problem::error(
                Location {
                    line_col: map.node_field(i, "position"),
                    field: Some("position".into()),
                    ..Location::node(&n.id)
                },
                format!(
                    "position ({}, {}) must be finite numbers within ±{MAX_POSITION:e}",
                    cut(&x.to_string(), MAX_NAME),
                    cut(&y.to_string(), MAX_NAME)
                ),
            ));
        }
    }
    let node_ids: Vec<&str> = file.nodes.iter().map(|n| n.id.as_str()).collect();
    let (comments, groups) = match convert(file.comments, file.groups, &node_ids, map) {
        Ok(annotations) => annotations,
        Err(p) => {
            problems.extend(p);
            Default::default()
        }
    };
    if !problems.is_empty() {
        return Err(Problems(problems));
    }
    Ok(Graph {
        comments,
        groups,
        name: file.name,
        description: file.description,
        settings: file.settings,
        nodes: file
            .nodes
            .into_iter()
            .map(|n| Node {
                id: n.id,
                kind: n.kind,
                version: n.version,
                position: n.position.map(|(x, y)| [x, y]),
                // `config: ()` reads as unit (null): an empty config.
                config: match n.config {
                    None | Some(Value::Null) => Value::Object(Default::default()),
                    Some(c) => c,
                },
            })
            .collect(),
        wires: file
            .wires
            .into_iter()
            .map(|w| Wire {
                from: PortRef::new(w.from.0, w.from.1),
                to: PortRef::new(w.to.0, w.to.1),
                capacity: w.capacity,
                when_full: w.when_full,
            })
            .collect(),
    })
}

/// Reads and parses a graph file; every problem names the file.
pub fn load_file(path: &Path) -> Result<(Graph, SourceMap), Problems> {
    let bytes = std::fs::read(path).map_err(|e| {
        Problems::from(Problem::error(
            Location { file: Some(path.to_path_buf()), ..Default::default() },
            format!("cannot read graph file: {e}"),
        ))
    })?;
    parse_bytes(&bytes).map_err(|p| p.with_file(path))
}

//! Reading graph files (RON). Structure errors come with line:column; format versions are
//! checked first so that a newer file is refused with a clear message.

use std::path::Path;

use ron::extensions::Extensions;
use serde::Deserialize;
use serde_json::Value;

use super::{FORMAT_VERSION, Graph, Node, PortRef, Settings, SourceMap, WhenFull, Wire};
use crate::problem::{Location, Problem, Problems};

fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(Extensions::IMPLICIT_SOME)
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
    #[serde(default)]
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

fn syntax_problem(e: &ron::error::SpannedError) -> Problem {
    let pos = e.span.start;
    Problem::error(Location { line_col: Some((pos.line, pos.col)), ..Default::default() }, e.code.to_string())
}

/// Parses graph text. Problems carry line:column; `file` is not set (see [`load_file`]).
pub fn parse(text: &str) -> Result<(Graph, SourceMap), Problems> {
    let opts = ron_options();
    let probe: FormatProbe = opts.from_str(text).map_err(|e| Problems::from(syntax_problem(&e)))?;
    let format = probe.format.ok_or_else(|| {
        Problems::from(Problem::error(
            Location { line_col: Some((1, 1)), field: Some("format".into()), ..Default::default() },
            format!("missing `format` (this Streamloom writes `format: {FORMAT_VERSION}`)"),
        ))
    })?;
    let graph = match format {
        1 => {
            let file: GraphFileV1 = opts.from_str(text).map_err(|e| Problems::from(syntax_problem(&e)))?;
            from_v1(file)
        }
        n if n > FORMAT_VERSION => {
            return Err(Problems::from(Problem::error(
                Location { field: Some("format".into()), ..Default::default() },
                format!(
                    "graph format {n} is newer than this Streamloom reads (up to {FORMAT_VERSION}); \
                     upgrade Streamloom to open it"
                ),
            )));
        }
        n => {
            return Err(Problems::from(Problem::error(
                Location { field: Some("format".into()), ..Default::default() },
                format!("unknown graph format {n}"),
            )));
        }
    };
    Ok((graph, SourceMap::scan(text)))
}

fn from_v1(file: GraphFileV1) -> Graph {
    Graph {
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
    }
}

/// Reads and parses a graph file; every problem names the file.
pub fn load_file(path: &Path) -> Result<(Graph, SourceMap), Problems> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Problems::from(Problem::error(
            Location { file: Some(path.to_path_buf()), ..Default::default() },
            format!("cannot read graph file: {e}"),
        ))
    })?;
    parse(&text).map_err(|p| p.with_file(path))
}

//! Writing graph files: deterministic, pretty RON that diffs well. The same graph always
//! gives the same bytes; `parse(to_ron(g)) == g`.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::Value;

use super::{FORMAT_VERSION, Graph, Node, Wire};

const INDENT: &str = "    ";
const INLINE_WIDTH: usize = 72;

/// Serializes a graph as RON text.
pub fn to_ron(graph: &Graph) -> String {
    let mut out = String::from("(\n");
    // The oldest format that holds the graph, so older builds open what they can.
    let _ = writeln!(out, "{INDENT}format: {},", graph.format().min(FORMAT_VERSION));
    if let Some(name) = &graph.name {
        let _ = writeln!(out, "{INDENT}name: {},", string(name));
    }
    if let Some(desc) = &graph.description {
        let _ = writeln!(out, "{INDENT}description: {},", string(desc));
    }
    let mut settings = Vec::new();
    if let Some(c) = graph.settings.default_capacity {
        settings.push(format!("default_capacity: {c}"));
    }
    if let Some(b) = graph.settings.batch_size {
        settings.push(format!("batch_size: {b}"));
    }
    if let Some(t) = &graph.settings.stop_timeout {
        settings.push(format!("stop_timeout: {}", string(t)));
    }
    if let Some(t) = &graph.settings.checkpoint_interval {
        settings.push(format!("checkpoint_interval: {}", string(t)));
    }
    if let Some(w) = graph.settings.workers {
        settings.push(format!("workers: {w}"));
    }
    if !settings.is_empty() {
        let _ = writeln!(out, "{INDENT}settings: ({}),", settings.join(", "));
    }
    out.push_str(INDENT);
    out.push_str("nodes: [\n");
    for node in &graph.nodes {
        write_node(&mut out, node);
    }
    let _ = writeln!(out, "{INDENT}],");
    out.push_str(INDENT);
    out.push_str("wires: [\n");
    for wire in &graph.wires {
        let _ = writeln!(out, "{INDENT}{INDENT}{},", wire_line(wire));
    }
    let _ = writeln!(out, "{INDENT}],");
    write_annotations(&mut out, graph);
    out.push_str(")\n");
    out
}

/// Comments and groups (format 2), one per line; nothing when there are none.
fn write_annotations(out: &mut String, graph: &Graph) {
    if !graph.comments.is_empty() {
        let _ = writeln!(out, "{INDENT}comments: [");
        for c in &graph.comments {
            let [x, y] = c.position;
            let _ = writeln!(
                out,
                "{INDENT}{INDENT}(id: {}, text: {}, position: ({x:?}, {y:?})),",
                string(&c.id),
                string(&c.text)
            );
        }
        let _ = writeln!(out, "{INDENT}],");
    }
    if !graph.groups.is_empty() {
        let _ = writeln!(out, "{INDENT}groups: [");
        for g in &graph.groups {
            let [r, gr, b] = g.color;
            let nodes: Vec<String> = g.nodes.iter().map(|n| string(n)).collect();
            let _ = writeln!(
                out,
                "{INDENT}{INDENT}(id: {}, name: {}, color: ({r}, {gr}, {b}), nodes: [{}]),",
                string(&g.id),
                string(&g.name),
                nodes.join(", ")
            );
        }
        let _ = writeln!(out, "{INDENT}],");
    }
}

fn write_node(out: &mut String, node: &Node) {
    let i2 = INDENT.repeat(2);
    let i3 = INDENT.repeat(3);
    let _ = writeln!(out, "{i2}(");
    let _ = writeln!(out, "{i3}id: {},", string(&node.id));
    let _ = writeln!(out, "{i3}kind: {},", string(&node.kind));
    let _ = writeln!(out, "{i3}version: {},", node.version);
    if let Some([x, y]) = node.position {
        let _ = writeln!(out, "{i3}position: ({x:?}, {y:?}),");
    }
    let _ = writeln!(out, "{i3}config: {},", value(&node.config, 3));
    let _ = writeln!(out, "{i2}),");
}

fn wire_line(wire: &Wire) -> String {
    let mut s = format!(
        "(from: ({}, {}), to: ({}, {})",
        string(&wire.from.node),
        string(&wire.from.port),
        string(&wire.to.node),
        string(&wire.to.port)
    );
    if let Some(c) = wire.capacity {
        let _ = write!(s, ", capacity: {c}");
    }
    if let Some(w) = wire.when_full {
        let _ = write!(s, ", when_full: {}", w.name());
    }
    s.push(')');
    s
}

/// A RON string literal.
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(key, "true" | "false" | "Some" | "None")
}

/// A JSON value as RON: objects whose keys are identifiers as structs `(a: 1)`, others as maps.
fn value(v: &Value, depth: usize) -> String {
    let inline = inline_value(v);
    let multi_line_worthy =
        matches!(v, Value::Object(m) if !m.is_empty()) || matches!(v, Value::Array(a) if !a.is_empty());
    if inline.len() <= INLINE_WIDTH || !multi_line_worthy {
        return inline;
    }
    let inner = INDENT.repeat(depth + 1);
    let outer = INDENT.repeat(depth);
    let mut out = String::new();
    match v {
        Value::Array(items) => {
            out.push_str("[\n");
            for item in items {
                let _ = writeln!(out, "{inner}{},", value(item, depth + 1));
            }
            let _ = write!(out, "{outer}]");
        }
        Value::Object(map) => {
            let structish = map.keys().all(|k| is_identifier(k));
            out.push_str(if structish { "(\n" } else { "{\n" });
            for (k, item) in map {
                let key = if structish { k.clone() } else { string(k) };
                let _ = writeln!(out, "{inner}{key}: {},", value(item, depth + 1));
            }
            let _ = write!(out, "{outer}{}", if structish { ")" } else { "}" });
        }
        _ => out = inline,
    }
    out
}

fn inline_value(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            let s = n.to_string();
            // Keep floats floats: serde_json prints 1.0 as "1.0" already; guard exponent forms.
            if n.is_f64() && !s.contains(['.', 'e', 'E']) { format!("{s}.0") } else { s }
        }
        Value::String(s) => string(s),
        Value::Array(items) => format!("[{}]", items.iter().map(inline_value).collect::<Vec<_>>().join(", ")),
        Value::Object(map) if map.is_empty() => "{}".into(),
        Value::Object(map) => {
            if map.keys().all(|k| is_identifier(k)) {
                let fields: Vec<String> = map.iter().map(|(k, v)| format!("{k}: {}", inline_value(v))).collect();
                format!("({})", fields.join(", "))
            } else {
                let fields: Vec<String> =
                    map.iter().map(|(k, v)| format!("{}: {}", string(k), inline_value(v))).collect();
                format!("{{{}}}", fields.join(", "))
            }
        }
    }
}

/// Writes a graph file atomically (write to a temporary file beside it, then rename), so an
/// interrupted save never leaves a truncated graph.
pub fn save_file(graph: &Graph, path: &Path) -> std::io::Result<()> {
    let text = to_ron(graph);
    let tmp = path.with_extension("ron.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{PortRef, WhenFull, parse};
    use serde_json::json;

    fn sample() -> Graph {
        Graph {
            name: Some("Sample \"graph\"".into()),
            description: Some("line one\nline two\ttab \u{1} ctrl".into()),
            settings: super::super::Settings {
                default_capacity: Some(64),
                batch_size: None,
                stop_timeout: Some("30s".into()),
                checkpoint_interval: Some("2s".into()),
                workers: Some(1),
            },
            nodes: vec![
                Node {
                    id: "read".into(),
                    kind: "file_source".into(),
                    version: 1,
                    position: Some([40.5, -12.25]),
                    config: json!({"path": "data/x.jsonl", "format": "jsonl", "n": 1.0, "big": 12345678901234_i64, "none": null}),
                },
                Node {
                    id: "odd keys".into(),
                    kind: "future_kind".into(),
                    version: 7,
                    position: None,
                    config: json!({"weird key": [1, 2, {"x": true}], "empty": {}, "list": [], "nested": {"a": {"b": "c"}}, "long": "x".repeat(100)}),
                },
            ],
            wires: vec![
                Wire::new(PortRef::new("read", "out"), PortRef::new("odd keys", "in")),
                Wire {
                    from: PortRef::new("read", "errors"),
                    to: PortRef::new("odd keys", "in"),
                    capacity: Some(8),
                    when_full: Some(WhenFull::DropOldest),
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn comments_and_groups_round_trip_as_format_2_and_a_graph_without_them_stays_format_1() {
        let plain = sample();
        assert!(to_ron(&plain).contains("format: 1,"));
        let mut g = sample();
        g.comments.push(crate::graph::Comment {
            id: "c1".into(),
            text: "Reads \"x\"\nthen fans out".into(),
            position: [-20.5, 300.0],
        });
        g.groups.push(crate::graph::Group {
            id: "g1".into(),
            name: "Ingest".into(),
            color: [200, 120, 40],
            nodes: vec!["read".into(), "odd keys".into()],
        });
        let text = to_ron(&g);
        assert!(text.contains("format: 2,"), "{text}");
        let (back, _) = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, g);
        assert_eq!(to_ron(&back), text);
    }

    #[test]
    fn a_group_naming_a_missing_node_is_refused_naming_the_group() {
        let text = "(format: 2, nodes: [(id: \"a\", kind: \"map\", config: ())],\n groups: [(id: \"g\", name: \"G\", nodes: [\"a\", \"b\"])])";
        let problems = parse(text).map(|_| ()).expect_err("refused");
        let p = &problems.0[0];
        assert!(p.message.contains("group `g` names node `b`"), "{p}");
        assert_eq!(p.location.line_col.map(|(l, _)| l), Some(2), "{p}");
    }

    #[test]
    fn a_format_1_file_cannot_hold_comments() {
        let text = "(format: 1, nodes: [], comments: [(id: \"c\", text: \"hi\")])";
        assert!(parse(text).is_err());
    }

    #[test]
    fn round_trip_is_identical_and_deterministic() {
        let g = sample();
        let text = to_ron(&g);
        let (back, _) = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, g);
        assert_eq!(to_ron(&back), text, "saving twice gives the same bytes");
    }

    #[test]
    fn floats_stay_floats() {
        assert_eq!(inline_value(&json!(1.0)), "1.0");
        assert_eq!(inline_value(&json!(2)), "2");
    }
}

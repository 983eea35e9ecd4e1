//! Copy and paste of nodes as graph RON text (the file format), through the system clipboard.

use std::collections::HashMap;

use streamloom_runtime::Graph;
use streamloom_runtime::graph::{parse, to_ron};

/// The selected nodes and the wires between them, as graph file text.
pub fn copy_text(graph: &Graph, ids: &[String]) -> String {
    let part = Graph {
        nodes: graph.nodes.iter().filter(|n| ids.contains(&n.id)).cloned().collect(),
        wires: graph.wires.iter().filter(|w| ids.contains(&w.from.node) && ids.contains(&w.to.node)).cloned().collect(),
        ..Default::default()
    };
    to_ron(&part)
}

/// Adds the nodes and wires of pasted graph text, renaming ids that are taken and shifting
/// positions by `offset`. Returns the new ids, or why the text is not a graph.
pub fn paste_into(graph: &mut Graph, text: &str, offset: [f32; 2]) -> Result<Vec<String>, String> {
    let (part, _) = parse(text).map_err(|p| p.to_string())?;
    let mut renamed: HashMap<String, String> = HashMap::new();
    let mut added = Vec::new();
    for mut node in part.nodes {
        let id = graph.fresh_id(&node.id);
        renamed.insert(node.id.clone(), id.clone());
        node.id = id.clone();
        node.position = node.position.map(|[x, y]| [x + offset[0], y + offset[1]]);
        graph.nodes.push(node);
        added.push(id);
    }
    for mut wire in part.wires {
        let (Some(from), Some(to)) = (renamed.get(&wire.from.node), renamed.get(&wire.to.node)) else {
            continue;
        };
        wire.from.node = from.clone();
        wire.to.node = to.clone();
        graph.wires.push(wire);
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamloom_runtime::{Node, PortRef, Wire};

    #[test]
    fn paste_renames_and_keeps_inner_wires() {
        let node = |id: &str| Node {
            id: id.into(),
            kind: "k".into(),
            version: 1,
            position: Some([0.0, 0.0]),
            config: serde_json::json!({"a": 1}),
        };
        let mut g = Graph { nodes: vec![node("a"), node("b")], ..Default::default() };
        g.wires.push(Wire::new(PortRef::new("a", "out"), PortRef::new("b", "in")));
        let text = copy_text(&g, &["a".into(), "b".into()]);
        let added = paste_into(&mut g, &text, [10.0, 10.0]).unwrap();
        assert_eq!(added, vec!["a_2".to_string(), "b_2".to_string()]);
        assert_eq!(g.wires.len(), 2);
        assert_eq!(g.wires[1].from.node, "a_2");
        assert_eq!(g.node("a_2").and_then(|n| n.position), Some([10.0, 10.0]));
    }
}

//! Automatic layout: columns by longest path from the sources, rows in file order.

use std::collections::HashMap;

use streamloom_runtime::Graph;

/// Horizontal distance between columns.
pub const COLUMN: f32 = 280.0;
/// Vertical distance between rows: room for a card with a few ports and its footer at its
/// tallest during a run ([`super::card_footer::FOOTER_LINES`]), so no card covers the next.
pub const ROW: f32 = 220.0;

/// Positions for every node: `only_missing` keeps nodes that already have one.
pub fn auto_layout(graph: &mut Graph, only_missing: bool) {
    let depth = depths(graph);
    let mut rows: HashMap<usize, usize> = HashMap::new();
    // Place below existing nodes when filling in only a few.
    let base_y = if only_missing {
        graph.nodes.iter().filter_map(|n| n.position).map(|p| p[1] + ROW).fold(0.0, f32::max)
    } else {
        0.0
    };
    for node in &mut graph.nodes {
        if only_missing && node.position.is_some() {
            continue;
        }
        let col = depth.get(&node.id).copied().unwrap_or(0);
        let row = rows.entry(col).or_insert(0);
        node.position = Some([col as f32 * COLUMN, base_y + *row as f32 * ROW]);
        *row += 1;
    }
}

/// Longest distance of each node from a node without inputs (cycles are cut).
fn depths(graph: &Graph) -> HashMap<String, usize> {
    let mut depth: HashMap<&str, usize> = graph.nodes.iter().map(|n| (n.id.as_str(), 0)).collect();
    // Bellman-Ford style relaxation, bounded by the node count so cycles terminate.
    for _ in 0..graph.nodes.len() {
        let mut changed = false;
        for w in &graph.wires {
            let (Some(&from), Some(&to)) = (depth.get(w.from.node.as_str()), depth.get(w.to.node.as_str())) else {
                continue;
            };
            if to < from + 1 && from < graph.nodes.len() {
                depth.insert(w.to.node.as_str(), from + 1);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    depth.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamloom_runtime::{Node, PortRef, Wire};

    fn node(id: &str) -> Node {
        Node { id: id.into(), kind: "k".into(), version: 1, position: None, config: serde_json::json!({}) }
    }

    #[test]
    fn chain_goes_left_to_right() {
        let mut g = Graph { nodes: vec![node("c"), node("a"), node("b")], ..Default::default() };
        g.wires.push(Wire::new(PortRef::new("a", "out"), PortRef::new("b", "in")));
        g.wires.push(Wire::new(PortRef::new("b", "out"), PortRef::new("c", "in")));
        auto_layout(&mut g, false);
        let x = |id: &str| g.node(id).and_then(|n| n.position).map(|p| p[0]);
        assert_eq!(x("a"), Some(0.0));
        assert_eq!(x("b"), Some(COLUMN));
        assert_eq!(x("c"), Some(2.0 * COLUMN));
    }
}

//! Copy and paste of nodes as graph RON text (the file format), through the system clipboard.
//! The copied nodes' groups (with only the copied members) and the comments lying among them
//! travel with them.

use std::collections::HashMap;

use streamloom_runtime::Graph;
use streamloom_runtime::graph::{Comment, Group, parse, to_ron};

use super::annotations::fresh;

/// A card's usual size (canvas units), for which comments lie among the copied nodes.
const CARD: [f32; 2] = [200.0, 110.0];
/// How far beside the copied cards a comment may start and still go with them.
const COMMENT_MARGIN: f32 = 60.0;

/// The selected nodes and the wires between them, as graph file text.
pub fn copy_text(graph: &Graph, ids: &[String]) -> String {
    let part = Graph {
        nodes: graph.nodes.iter().filter(|n| ids.contains(&n.id)).cloned().collect(),
        wires: graph.wires.iter().filter(|w| ids.contains(&w.from.node) && ids.contains(&w.to.node)).cloned().collect(),
        ..Default::default()
    };
    to_ron(&part)
}

/// What Copy puts on the clipboard: [`copy_text`] plus the nodes' groups (copied members
/// only) and the comments that start among their cards.
pub fn copy_text_with_notes(graph: &Graph, ids: &[String]) -> String {
    let nodes: Vec<_> = graph.nodes.iter().filter(|n| ids.contains(&n.id)).cloned().collect();
    let groups = graph
        .groups
        .iter()
        .filter_map(|g| {
            let members: Vec<String> = g.nodes.iter().filter(|n| ids.contains(n)).cloned().collect();
            (!members.is_empty()).then(|| Group { nodes: members, ..g.clone() })
        })
        .collect();
    let comments = match bounds(nodes.iter().filter_map(|n| n.position)) {
        Some([x0, y0, x1, y1]) => graph
            .comments
            .iter()
            .filter(|c| {
                let [x, y] = c.position;
                x >= x0 - COMMENT_MARGIN
                    && x <= x1 + COMMENT_MARGIN
                    && y >= y0 - COMMENT_MARGIN
                    && y <= y1 + COMMENT_MARGIN
            })
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    let part = Graph {
        nodes,
        wires: graph.wires.iter().filter(|w| ids.contains(&w.from.node) && ids.contains(&w.to.node)).cloned().collect(),
        comments,
        groups,
        ..Default::default()
    };
    to_ron(&part)
}

/// `[left, top, right, bottom]` around cards at `positions`.
fn bounds(positions: impl Iterator<Item = [f32; 2]>) -> Option<[f32; 4]> {
    positions.fold(None, |b, [x, y]| {
        let [x0, y0, x1, y1] = b.unwrap_or([x, y, x + CARD[0], y + CARD[1]]);
        Some([x0.min(x), y0.min(y), x1.max(x + CARD[0]), y1.max(y + CARD[1])])
    })
}

/// How far to shift pasted graph text so that its nodes' top-left corner lands at `at`;
/// `None` when the text holds no placed node (or is not a graph).
pub fn offset_to(text: &str, at: [f32; 2]) -> Option<[f32; 2]> {
    let (part, _) = parse(text).ok()?;
    let corner = part.nodes.iter().filter_map(|n| n.position).reduce(|a, b| [a[0].min(b[0]), a[1].min(b[1])])?;
    Some([at[0] - corner[0], at[1] - corner[1]])
}

/// The ids and positions of the placed nodes in pasted graph text (none when it is not a graph).
pub fn placed_nodes(text: &str) -> Vec<(String, [f32; 2])> {
    let Ok((part, _)) = parse(text) else { return Vec::new() };
    part.nodes.into_iter().filter_map(|n| Some((n.id, n.position?))).collect()
}

/// `name`, or `name copy` (`name copy 2`, …) when another group has that name.
fn fresh_group_name(graph: &Graph, name: &str) -> String {
    let taken = |n: &str| graph.groups.iter().any(|g| g.name == n);
    if !taken(name) {
        return name.to_string();
    }
    let base = format!("{name} copy");
    if !taken(&base) {
        return base;
    }
    (2..).map(|i| format!("{base} {i}")).find(|n| !taken(n)).unwrap_or(base)
}

/// Adds the nodes, wires, comments and groups of pasted graph text, renaming ids that are
/// taken and shifting positions by `offset`. Returns the new ids, or why the text is not a
/// graph.
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
    for c in part.comments {
        let id = fresh(&c.id, |id| graph.comments.iter().any(|c| c.id == id));
        let position = [c.position[0] + offset[0], c.position[1] + offset[1]];
        graph.comments.push(Comment { id, text: c.text, position });
    }
    for g in part.groups {
        let nodes: Vec<String> = g.nodes.iter().filter_map(|n| renamed.get(n).cloned()).collect();
        if nodes.is_empty() {
            continue;
        }
        let id = fresh(&g.id, |id| graph.groups.iter().any(|g| g.id == id));
        let name = fresh_group_name(graph, &g.name);
        graph.groups.push(Group { id, name, nodes, ..g });
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

    #[test]
    fn the_copied_nodes_groups_and_nearby_comments_are_pasted_with_them() {
        let node = |id: &str, x: f32| Node {
            id: id.into(),
            kind: "k".into(),
            version: 1,
            position: Some([x, 0.0]),
            config: serde_json::json!({}),
        };
        let mut g = Graph { nodes: vec![node("a", 0.0), node("b", 300.0), node("far", 2000.0)], ..Default::default() };
        g.groups.push(Group {
            id: "grp".into(),
            name: "Pair".into(),
            color: [1, 2, 3],
            nodes: vec!["a".into(), "far".into()],
        });
        g.comments.push(Comment { id: "near".into(), text: "about a".into(), position: [20.0, 150.0] });
        g.comments.push(Comment { id: "away".into(), text: "elsewhere".into(), position: [2000.0, 900.0] });
        let text = copy_text_with_notes(&g, &["a".into(), "b".into()]);
        paste_into(&mut g, &text, [0.0, 400.0]).unwrap();
        assert_eq!(g.groups.len(), 2);
        assert_eq!(
            g.groups[1],
            Group { id: "grp_2".into(), name: "Pair copy".into(), color: [1, 2, 3], nodes: vec!["a_2".into()] }
        );
        assert_eq!(g.comments.len(), 3, "only the comment among the copied cards: {:?}", g.comments);
        assert_eq!(g.comments[2], Comment { id: "near_2".into(), text: "about a".into(), position: [20.0, 550.0] });
    }
}

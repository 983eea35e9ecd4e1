//! Edits of the graph's comments and groups. Each works on a plain [`Graph`]; the caller
//! wraps it in an undoable document edit.

use streamloom_runtime::Graph;
use streamloom_runtime::graph::{Comment, DEFAULT_GROUP_COLOR, Group};

/// Colours offered for groups.
pub const GROUP_COLORS: [[u8; 3]; 6] =
    [DEFAULT_GROUP_COLOR, [80, 170, 110], [200, 120, 40], [190, 80, 80], [150, 100, 200], [120, 120, 120]];

/// `base`, `base_2`, `base_3`, ... : the first that `taken` refuses.
pub fn fresh(base: &str, taken: impl Fn(&str) -> bool) -> String {
    if !taken(base) {
        return base.to_string();
    }
    (2..).map(|i| format!("{base}_{i}")).find(|id| !taken(id)).unwrap_or_default()
}

/// A new empty comment at `pos`; returns its id.
pub fn add_comment(graph: &mut Graph, pos: [f32; 2]) -> String {
    let id = fresh("comment", |id| graph.comments.iter().any(|c| c.id == id));
    graph.comments.push(Comment { id: id.clone(), text: "New comment".into(), position: pos });
    id
}

/// The comment with id `id`, mutably.
pub fn comment_mut<'g>(graph: &'g mut Graph, id: &str) -> Option<&'g mut Comment> {
    graph.comments.iter_mut().find(|c| c.id == id)
}

/// Removes a comment.
pub fn remove_comment(graph: &mut Graph, id: &str) {
    graph.comments.retain(|c| c.id != id);
}

/// Puts nodes `ids` into a new group (taking them out of any other); returns its id.
pub fn group_nodes(graph: &mut Graph, ids: &[String]) -> Option<String> {
    let ids: Vec<String> = ids.iter().filter(|id| graph.node(id).is_some()).cloned().collect();
    if ids.is_empty() {
        return None;
    }
    leave_groups(graph, &ids);
    let id = fresh("group", |id| graph.groups.iter().any(|g| g.id == id));
    let color = GROUP_COLORS[graph.groups.len() % GROUP_COLORS.len()];
    let name = format!("Group {}", graph.groups.len() + 1);
    graph.groups.push(Group { id: id.clone(), name, color, nodes: ids });
    Some(id)
}

/// The group with id `id`, mutably.
pub fn group_mut<'g>(graph: &'g mut Graph, id: &str) -> Option<&'g mut Group> {
    graph.groups.iter_mut().find(|g| g.id == id)
}

/// Removes a group (its nodes stay).
pub fn ungroup(graph: &mut Graph, id: &str) {
    graph.groups.retain(|g| g.id != id);
}

/// Takes nodes out of their groups; a group left empty goes.
pub fn leave_groups(graph: &mut Graph, ids: &[String]) {
    for g in &mut graph.groups {
        g.nodes.retain(|n| !ids.contains(n));
    }
    graph.groups.retain(|g| !g.nodes.is_empty());
}

/// Renames a node in the groups that hold it.
pub fn rename_in_groups(graph: &mut Graph, old: &str, new: &str) {
    for n in graph.groups.iter_mut().flat_map(|g| g.nodes.iter_mut()) {
        if n == old {
            *n = new.to_string();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use streamloom_runtime::Node;

    fn node(id: &str) -> Node {
        Node { id: id.into(), kind: "k".into(), version: 1, position: None, config: serde_json::json!({}) }
    }

    #[test]
    fn grouping_moves_nodes_out_of_other_groups_and_drops_empty_ones() {
        let mut g = Graph { nodes: vec![node("a"), node("b")], ..Default::default() };
        group_nodes(&mut g, &["a".into()]);
        group_nodes(&mut g, &["a".into(), "b".into(), "missing".into()]);
        assert_eq!(g.groups.len(), 1);
        assert_eq!(g.groups[0].nodes, vec!["a".to_string(), "b".to_string()]);
        rename_in_groups(&mut g, "a", "z");
        assert_eq!(g.groups[0].nodes[0], "z");
    }
}

//! Which nodes were edited since the running graph was started: the run keeps the version it
//! started with, so the canvas marks these and the toolbar says so.

use std::collections::HashSet;

use streamloom_runtime::{Graph, Node, Wire};

/// What differs between the graph a run started with and the graph being edited.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RunDiff {
    /// Nodes added, or whose kind, version, config or wires changed (moves do not count).
    pub changed: HashSet<String>,
    /// How many nodes of the running graph are gone.
    pub removed: usize,
    /// Graph settings changed.
    pub settings: bool,
}

impl RunDiff {
    /// The differences between `running` and `edited`.
    pub fn between(running: &Graph, edited: &Graph) -> Self {
        let wires_of = |g: &Graph, id: &str| -> Vec<Wire> {
            let mut w: Vec<Wire> = g.wires.iter().filter(|w| w.from.node == id || w.to.node == id).cloned().collect();
            w.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
            w
        };
        let same = |a: &Node, b: &Node| a.kind == b.kind && a.version == b.version && a.config == b.config;
        let changed = edited
            .nodes
            .iter()
            .filter(|n| match running.node(&n.id) {
                Some(old) => !same(old, n) || wires_of(running, &n.id) != wires_of(edited, &n.id),
                None => true,
            })
            .map(|n| n.id.clone())
            .collect();
        let removed = running.nodes.iter().filter(|n| edited.node(&n.id).is_none()).count();
        RunDiff { changed, removed, settings: running.settings != edited.settings }
    }

    /// Whether the edited graph would run differently.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.removed == 0 && !self.settings
    }

    /// One line for the toolbar, e.g. "2 nodes edited since the run started: it runs the previous version".
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.changed.is_empty() {
            parts.push(format!("{} node(s) edited", self.changed.len()));
        }
        if self.removed > 0 {
            parts.push(format!("{} removed", self.removed));
        }
        if self.settings {
            parts.push("settings changed".into());
        }
        format!("✎ {} since the run started: it uses the previous version", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use streamloom_runtime::PortRef;

    fn node(id: &str) -> Node {
        Node { id: id.into(), kind: "map".into(), version: 1, position: Some([0.0, 0.0]), config: json!({}) }
    }

    #[test]
    fn config_and_wire_edits_count_and_moves_do_not() {
        let running = Graph { nodes: vec![node("a"), node("b"), node("c")], ..Default::default() };
        let mut edited = running.clone();
        edited.nodes[0].position = Some([50.0, 50.0]);
        assert!(RunDiff::between(&running, &edited).is_empty());
        edited.nodes[1].config = json!({"expression": ".x"});
        edited.wires.push(Wire::new(PortRef::new("a", "out"), PortRef::new("c", "in")));
        edited.nodes.push(node("d"));
        let d = RunDiff::between(&running, &edited);
        let mut ids: Vec<&str> = d.changed.iter().map(String::as_str).collect();
        ids.sort();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        assert!(d.summary().contains("4 node(s) edited"), "{}", d.summary());
    }
}

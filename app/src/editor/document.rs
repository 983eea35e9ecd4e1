//! The open document: the graph model (the source of truth for files), its path, the saved
//! state it is compared against, and a bounded undo/redo history of whole-graph snapshots.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use streamloom_runtime::Graph;

/// How many edits undo remembers.
pub const UNDO_LIMIT: usize = 200;

/// A graph being edited.
pub struct Document {
    graph: Graph,
    path: Option<PathBuf>,
    saved: Graph,
    undo: VecDeque<Graph>,
    redo: Vec<Graph>,
    revision: u64,
    coalesce: Option<String>,
    /// [`Document::is_dirty`] as of a revision (comparing whole graphs every frame is slow).
    dirty: std::cell::Cell<Option<(u64, bool)>>,
}

impl Document {
    /// A document for `graph`, loaded from `path` (or new when `None`), with no changes.
    pub fn new(graph: Graph, path: Option<PathBuf>) -> Self {
        Document {
            saved: graph.clone(),
            graph,
            path,
            undo: VecDeque::new(),
            redo: Vec::new(),
            revision: 0,
            coalesce: None,
            dirty: std::cell::Cell::new(None),
        }
    }

    /// The graph.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// The file the graph was loaded from or last saved to.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Counts every change of the graph (edits, undo, redo); views recompute when it moves.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Whether the graph differs from the saved file.
    pub fn is_dirty(&self) -> bool {
        // Every change of the graph or of the saved state moves the revision.
        match self.dirty.get() {
            Some((revision, dirty)) if revision == self.revision => dirty,
            _ => {
                let dirty = self.graph != self.saved;
                self.dirty.set(Some((self.revision, dirty)));
                dirty
            }
        }
    }

    /// Applies one undoable edit. An edit that changes nothing leaves no undo step.
    pub fn edit(&mut self, f: impl FnOnce(&mut Graph)) -> bool {
        self.coalesce = None;
        self.apply(f, true)
    }

    /// Applies an edit that merges with the previous one when both have the same `key`
    /// (typing into one field is one undo step).
    pub fn edit_coalesced(&mut self, key: &str, f: impl FnOnce(&mut Graph)) -> bool {
        let push = self.coalesce.as_deref() != Some(key);
        let changed = self.apply(f, push);
        if changed {
            self.coalesce = Some(key.to_string());
        }
        changed
    }

    /// Ends any coalescing edit (the next edit starts a new undo step).
    pub fn break_coalescing(&mut self) {
        self.coalesce = None;
    }

    fn apply(&mut self, f: impl FnOnce(&mut Graph), push: bool) -> bool {
        let before = self.graph.clone();
        f(&mut self.graph);
        if self.graph == before {
            return false;
        }
        if push {
            self.undo.push_back(before);
            if self.undo.len() > UNDO_LIMIT {
                self.undo.pop_front();
            }
        }
        self.redo.clear();
        self.revision += 1;
        true
    }

    /// Whether there is something to undo.
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    /// Whether there is something to redo.
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    /// Goes back one edit.
    pub fn undo(&mut self) -> bool {
        self.coalesce = None;
        let Some(prev) = self.undo.pop_back() else { return false };
        self.redo.push(std::mem::replace(&mut self.graph, prev));
        self.revision += 1;
        true
    }

    /// Goes forward one undone edit.
    pub fn redo(&mut self) -> bool {
        self.coalesce = None;
        let Some(next) = self.redo.pop() else { return false };
        self.undo.push_back(std::mem::replace(&mut self.graph, next));
        self.revision += 1;
        true
    }

    /// Records that the graph was written to `path`.
    pub fn mark_saved(&mut self, path: PathBuf) {
        self.saved = self.graph.clone();
        self.path = Some(path);
        self.coalesce = None;
        self.revision += 1;
    }

    /// The file name shown in the title (`untitled` for a new graph).
    pub fn display_name(&self) -> String {
        self.path
            .as_deref()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "untitled".to_string())
    }

    /// The window title: file name, unsaved mark, app name.
    pub fn title(&self) -> String {
        let mark = if self.is_dirty() { "● " } else { "" };
        format!("{mark}{} — Streamloom", self.display_name())
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
    fn undo_redo_and_dirty() {
        let mut d = Document::new(Graph::default(), None);
        assert!(!d.is_dirty());
        d.edit(|g| g.nodes.push(node("a")));
        assert!(d.is_dirty());
        assert!(d.undo());
        assert!(!d.is_dirty());
        assert!(d.redo());
        assert_eq!(d.graph().nodes.len(), 1);
    }

    #[test]
    fn coalesced_edits_are_one_step() {
        let mut d = Document::new(Graph::default(), None);
        d.edit(|g| g.nodes.push(node("a")));
        for c in ["x", "xy", "xyz"] {
            d.edit_coalesced("name", |g| g.name = Some(c.into()));
        }
        d.undo();
        assert_eq!(d.graph().name, None);
        assert_eq!(d.graph().nodes.len(), 1);
    }

    #[test]
    fn no_op_edit_leaves_no_step() {
        let mut d = Document::new(Graph::default(), None);
        assert!(!d.edit(|_| {}));
        assert!(!d.can_undo());
    }
}

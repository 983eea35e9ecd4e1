//! Commands of the editor, shared by menus, toolbar, shortcuts and the canvas: file
//! operations (with the unsaved-changes question), edits, clipboard and running.

use std::path::{Path, PathBuf};

use streamloom_runtime::{Graph, PortRef};

use super::actions::{Action, WireEnd};
use super::app::EditorApp;
use super::files::{self, PathPrompt, PromptKind};
use super::inspector::Selection;
use super::ops;

/// A command that discards the current graph, waiting for the user's answer when there
/// are unsaved changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// Start an empty graph.
    New,
    /// Open a file (ask for one when `None`).
    Open(Option<PathBuf>),
    /// Close the window.
    Quit,
}

impl EditorApp {
    /// Runs `op` now, or asks first when the graph has unsaved changes.
    pub fn request(&mut self, op: Pending) {
        if self.doc.is_dirty() {
            self.confirm = Some(op);
        } else {
            self.perform(op);
        }
    }

    /// Runs `op` without asking.
    pub(super) fn perform(&mut self, op: Pending) {
        match op {
            Pending::New => self.replace(Graph::default(), None),
            Pending::Open(Some(path)) => {
                if let Err(e) = self.open(&path) {
                    self.set_status(e, true);
                }
            }
            Pending::Open(None) => {
                if files::native_dialogs_available() {
                    if let Some(p) = files::pick_open(self.doc.path().and_then(Path::parent)) {
                        self.perform(Pending::Open(Some(p)));
                    }
                } else {
                    let prompt = PathPrompt { kind: PromptKind::Open, text: String::new(), error: None };
                    self.prompt = Some((prompt, None));
                }
            }
            Pending::Quit => {
                self.close_allowed = true;
                self.quit_requested = true;
            }
        }
    }

    fn replace(&mut self, graph: Graph, path: Option<PathBuf>) {
        self.runner.forget();
        self.sidebar.debug.forget();
        self.run_graph = None;
        self.doc = super::document::Document::new(graph, path);
        self.selection = Selection::Graph;
        self.documents_opened += 1;
        self.canvas = super::canvas::Canvas::for_document(self.documents_opened);
        self.force_refresh();
    }

    pub(super) fn force_refresh(&mut self) {
        self.seen_revision_reset();
        self.refresh();
    }

    /// Opens the graph file at `path` (no question asked).
    pub fn open(&mut self, path: &Path) -> Result<(), String> {
        let graph = files::load(path)?;
        self.replace(graph, Some(path.to_path_buf()));
        self.recent.touch(path);
        self.set_status(format!("opened {}", path.display()), false);
        Ok(())
    }

    /// Saves to the current file, or asks for one.
    pub fn save(&mut self) {
        match self.doc.path().map(Path::to_path_buf) {
            Some(p) => {
                if let Err(e) = self.save_to(&p) {
                    self.set_status(e, true);
                }
            }
            None => self.save_as(None),
        }
    }

    /// Asks for a file name and saves; `then` runs after a successful save.
    pub fn save_as(&mut self, then: Option<Pending>) {
        if files::native_dialogs_available() {
            let dir = self.doc.path().and_then(Path::parent).map(Path::to_path_buf);
            let name = format!("{}.ron", self.doc.display_name().trim_end_matches(".ron"));
            if let Some(p) = files::pick_save(dir.as_deref(), &name) {
                match self.save_to(&p) {
                    Ok(()) => {
                        if let Some(op) = then {
                            self.perform(op);
                        }
                    }
                    Err(e) => self.set_status(e, true),
                }
            }
        } else {
            let text = self.doc.path().map(|p| p.display().to_string()).unwrap_or_default();
            self.prompt = Some((PathPrompt { kind: PromptKind::SaveAs, text, error: None }, then));
        }
    }

    /// Writes the graph file format to `path` and makes it the document's file.
    pub fn save_to(&mut self, path: &Path) -> Result<(), String> {
        files::save(self.doc.graph(), path)?;
        self.doc.mark_saved(path.to_path_buf());
        self.recent.touch(path);
        self.set_status(format!("saved {}", path.display()), false);
        Ok(())
    }

    /// Undoes the last edit.
    pub fn undo(&mut self) {
        if !self.doc.undo() {
            self.set_status("nothing to undo", false);
        }
        self.refresh();
    }

    /// Redoes the last undone edit.
    pub fn redo(&mut self) {
        if !self.doc.redo() {
            self.set_status("nothing to redo", false);
        }
        self.refresh();
    }

    /// Nodes the edit commands act on: the canvas selection, else the inspected node.
    pub(super) fn target_nodes(&self, ctx: &egui::Context) -> Vec<String> {
        let selected = self.canvas.selected(ctx);
        if !selected.is_empty() {
            return selected;
        }
        match &self.selection {
            Selection::Node(id) => vec![id.clone()],
            _ => Vec::new(),
        }
    }

    /// Deletes the selected nodes, or the selected wire.
    pub fn delete_selection(&mut self, ctx: &egui::Context) {
        if let Selection::Wire(f, t) = self.selection.clone() {
            self.apply(Action::Disconnect(f, t));
            return;
        }
        let ids = self.target_nodes(ctx);
        if !ids.is_empty() {
            self.apply(Action::Delete(ids));
        }
    }

    /// Copies the selected nodes to the clipboard as graph text.
    pub fn copy_selection(&mut self, ctx: &egui::Context) {
        let ids = self.target_nodes(ctx);
        if ids.is_empty() {
            return;
        }
        ctx.copy_text(super::clipboard::copy_text_with_notes(self.doc.graph(), &ids));
        self.set_status(format!("copied {} node(s)", ids.len()), false);
    }

    /// Adds nodes from graph text (what Copy puts on the clipboard), shifted a little from
    /// where they were copied.
    pub fn paste_text(&mut self, text: &str) {
        self.paste_text_at(text, None);
    }

    /// Adds nodes from graph text with their top-left card at canvas point `at` (else
    /// shifted a little from where they were copied).
    pub fn paste_text_at(&mut self, text: &str, at: Option<[f32; 2]>) {
        let offset = at.and_then(|at| super::clipboard::offset_to(text, at)).unwrap_or([40.0, 40.0]);
        // Moved on from there until no pasted card covers another (each as large as the card
        // it copies when that one is on the canvas).
        let cards: Vec<egui::Rect> = super::clipboard::placed_nodes(text)
            .iter()
            .map(|(id, [x, y])| egui::Rect::from_min_size(egui::pos2(*x, *y), self.canvas.card_size(id)))
            .collect();
        let occupied = self.canvas.occupied(self.doc.graph());
        let offset = super::placement::free_offset(&occupied, &cards, egui::vec2(offset[0], offset[1]));
        let offset = [offset.x, offset.y];
        let mut result = Ok(Vec::new());
        self.doc.edit(|g| result = super::clipboard::paste_into(g, text, offset));
        match result {
            Ok(ids) => {
                let shift = egui::vec2(offset[0], offset[1]);
                if let Some(placed) = cards.iter().map(|r| r.translate(shift)).reduce(|a, b| a.union(b)) {
                    self.canvas.reveal(placed);
                }
                self.set_status(format!("pasted {} node(s)", ids.len()), false);
                if let Some(id) = ids.last() {
                    self.selection = Selection::Node(id.clone());
                }
            }
            Err(e) => self.set_status(format!("the clipboard does not hold graph nodes: {e}"), true),
        }
        self.refresh();
    }

    /// Wires `from` to `to`, or says why not in the status bar.
    pub fn try_connect(&mut self, from: PortRef, to: PortRef) -> Result<(), String> {
        let ports = &self.ports;
        let mut result = Ok(());
        self.doc.edit(|g| result = ops::connect(g, ports, from, to));
        match &result {
            Ok(()) => self.status = None,
            Err(e) => self.set_status(format!("wire refused: {e}"), true),
        }
        self.refresh();
        result
    }

    /// Shows node `id` in the inspector.
    pub fn select_node(&mut self, id: &str) {
        self.selection = Selection::Node(id.to_string());
    }

    /// Starts the graph.
    pub fn start_run(&mut self) {
        if self.doc.graph().nodes.is_empty() {
            self.set_status("nothing to run: the graph has no nodes (add a source from the palette)", true);
            return;
        }
        let base = self
            .doc
            .path()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        let watch = match self.selection() {
            Selection::Node(id) => Some(id.clone()),
            _ => None,
        };
        match self.runner.start(self.doc.graph(), &self.registry, base, watch) {
            Ok(()) => {
                self.run_graph = Some(self.doc.graph().clone());
                self.run_diff = Default::default();
                self.set_status(super::app::RUN_STARTED, false);
            }
            Err(e) => {
                self.bottom_tab = super::app::BottomTab::Problems;
                self.set_status(e, true);
            }
        }
    }

    /// Applies one request from a view.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::AddNode { kind, pos, wire } => self.add_node(&kind, pos, wire),
            Action::Connect(f, t) => {
                let _ = self.try_connect(f, t);
            }
            Action::Disconnect(f, t) => {
                self.doc.edit(|g| ops::disconnect(g, &f, &t));
            }
            Action::SelectWire(f, t) => self.selection = Selection::Wire(f, t),
            Action::Focus(id) => self.selection = Selection::Node(id),
            Action::Delete(ids) => {
                self.doc.edit(|g| ops::remove_nodes(g, &ids));
                self.set_status(format!("deleted {} node(s)", ids.len()), false);
            }
            Action::Duplicate(ids) => {
                // Beside the originals, moved on until no copy covers another card.
                let cards: Vec<egui::Rect> = ids
                    .iter()
                    .filter_map(|id| {
                        let [x, y] = self.doc.graph().node(id)?.position?;
                        Some(egui::Rect::from_min_size(egui::pos2(x, y), self.canvas.card_size(id)))
                    })
                    .collect();
                let occupied = self.canvas.occupied(self.doc.graph());
                let off = super::placement::free_offset(&occupied, &cards, egui::vec2(40.0, 40.0));
                let mut added = Vec::new();
                self.doc.edit(|g| added = ops::duplicate_nodes(g, &ids, [off.x, off.y]));
                if let Some(id) = added.last() {
                    self.selection = Selection::Node(id.clone());
                }
            }
            Action::DropWires(port, output) => {
                self.doc.edit(|g| g.wires.retain(|w| if output { w.from != port } else { w.to != port }));
            }
            Action::InsertOnWire { kind, pos, from, to } => self.insert_on_wire(&kind, pos, &from, &to),
            Action::AddComment(_)
            | Action::EditComment(..)
            | Action::MoveComment(..)
            | Action::DeleteComment(_)
            | Action::GroupNodes(_)
            | Action::RenameGroup(..)
            | Action::ColorGroup(..)
            | Action::Ungroup(_)
            | Action::LeaveGroups(_) => self.apply_annotation(action),
            Action::SetWhenFull(f, t, policy) => {
                self.doc.edit(|g| {
                    if let Some(w) = g.wires.iter_mut().find(|w| w.from == f && w.to == t) {
                        w.when_full = Some(policy);
                    }
                });
            }
        }
        self.refresh();
    }

    fn add_node(&mut self, kind: &str, pos: [f32; 2], wire: Option<WireEnd>) {
        let pos = self.canvas.free_spot(self.doc.graph(), pos);
        let registry = &self.registry;
        let mut id = String::new();
        self.doc.edit(|g| id = ops::add_node(g, registry, kind, pos));
        self.refresh();
        if let Some(end) = wire {
            let ports = self.ports.get(&id).cloned().unwrap_or_default();
            match end {
                WireEnd::FromOutput(from) => {
                    let ty = self.ports.output_type(&from.node, &from.port);
                    if let Some(p) = ports.inputs.iter().find(|p| ty.is_none_or(|t| t.flows_into(p.ty))) {
                        let _ = self.try_connect(from, PortRef::new(id.clone(), p.name.clone()));
                    }
                }
                WireEnd::ToInput(to) => {
                    let ty = self.ports.input_type(&to.node, &to.port);
                    if let Some(p) = ports.outputs.iter().find(|p| ty.is_none_or(|t| p.ty.flows_into(t))) {
                        let _ = self.try_connect(PortRef::new(id.clone(), p.name.clone()), to);
                    }
                }
            }
        }
        self.selection = Selection::Node(id.clone());
        self.set_status(format!("added {id}"), false);
    }

    /// Puts a new node of `kind` into the wire `from` → `to` (one undo step), or says why not.
    pub fn insert_on_wire(&mut self, kind: &str, pos: [f32; 2], from: &PortRef, to: &PortRef) {
        // Between the wire's two cards; the cards downstream move right when there is no room.
        let (pos, shift) = match self.canvas.insert_spot(from, to) {
            Some(spot) => spot,
            None => (self.canvas.free_spot(self.doc.graph(), pos), 0.0),
        };
        let registry = &self.registry;
        let mut result = Err(String::new());
        self.doc.edit(|g| {
            result = ops::insert_on_wire(g, registry, kind, pos, from, to);
            if shift > 0.0 && result.is_ok() {
                ops::shift_downstream(g, &to.node, shift);
            }
        });
        match result {
            Ok(id) => {
                self.set_status(format!("inserted {id} into {from} → {to}"), false);
                self.selection = Selection::Node(id);
            }
            Err(e) => self.set_status(format!("cannot insert {kind}: {e}"), true),
        }
    }

    /// Puts the selected nodes (or the inspected one) into a new group.
    pub fn group_selection(&mut self, ctx: &egui::Context) {
        let ids = self.target_nodes(ctx);
        if ids.is_empty() {
            self.set_status("select nodes to group (Shift+click or drag a rectangle with Shift)", false);
        } else {
            self.apply(Action::GroupNodes(ids));
        }
    }

    /// Applies an edit of comments or groups (one undo step; typing coalesces).
    fn apply_annotation(&mut self, action: Action) {
        use super::annotations as an;
        match action {
            Action::AddComment(pos) => {
                self.doc.edit(|g| {
                    an::add_comment(g, pos);
                });
            }
            Action::EditComment(id, text) => {
                self.doc.edit_coalesced(&format!("comment:{id}"), |g| {
                    if let Some(c) = an::comment_mut(g, &id) {
                        c.text = text;
                    }
                });
            }
            Action::MoveComment(id, pos) => {
                self.doc.edit(|g| {
                    if let Some(c) = an::comment_mut(g, &id) {
                        c.position = pos;
                    }
                });
            }
            Action::DeleteComment(id) => {
                self.doc.edit(|g| an::remove_comment(g, &id));
            }
            Action::GroupNodes(ids) => {
                self.doc.edit(|g| {
                    an::group_nodes(g, &ids);
                });
            }
            Action::RenameGroup(id, name) => {
                self.doc.edit_coalesced(&format!("group:{id}"), |g| {
                    if let Some(gr) = an::group_mut(g, &id) {
                        gr.name = name;
                    }
                });
            }
            Action::ColorGroup(id, color) => {
                self.doc.edit(|g| {
                    if let Some(gr) = an::group_mut(g, &id) {
                        gr.color = color;
                    }
                });
            }
            Action::Ungroup(id) => {
                self.doc.edit(|g| an::ungroup(g, &id));
            }
            Action::LeaveGroups(ids) => {
                self.doc.edit(|g| an::leave_groups(g, &ids));
            }
            _ => {}
        }
    }

    /// Lays out every node again (undoable).
    pub fn auto_layout(&mut self) {
        self.doc.edit(|g| super::layout::auto_layout(g, false));
        self.refresh();
        self.canvas.request_fit();
    }
}

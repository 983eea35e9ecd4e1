//! What the canvas and panels ask the app to do. Views push actions while drawing; the app
//! applies them to the document after the frame's views are drawn.

use streamloom_runtime::{PortRef, WhenFull};

/// Which end of a dropped wire a new node should be wired to.
#[derive(Debug, Clone, PartialEq)]
pub enum WireEnd {
    /// Wire the new node's first compatible input from this output.
    FromOutput(PortRef),
    /// Wire the new node's first compatible output into this input.
    ToInput(PortRef),
}

/// One request from a view.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Add a node of `kind` at canvas position `pos`, optionally wired to a dropped wire.
    AddNode {
        /// Kind name.
        kind: String,
        /// Canvas position.
        pos: [f32; 2],
        /// The dropped wire to connect.
        wire: Option<WireEnd>,
    },
    /// Wire an output to an input (refused with a reason when incompatible).
    Connect(PortRef, PortRef),
    /// Remove a wire.
    Disconnect(PortRef, PortRef),
    /// Show a wire in the inspector.
    SelectWire(PortRef, PortRef),
    /// Show a node in the inspector.
    Focus(String),
    /// Delete nodes.
    Delete(Vec<String>),
    /// Duplicate nodes.
    Duplicate(Vec<String>),
    /// Remove every wire of a node's input (or output) port.
    DropWires(PortRef, bool),
    /// Put a new node of `kind` at `pos` into the wire `from` → `to` (one undo step).
    InsertOnWire {
        /// Kind name.
        kind: String,
        /// Canvas position.
        pos: [f32; 2],
        /// The wire's output end.
        from: PortRef,
        /// The wire's input end.
        to: PortRef,
    },
    /// Set what a wire does when full.
    SetWhenFull(PortRef, PortRef, WhenFull),
    /// Add a comment at a canvas position.
    AddComment([f32; 2]),
    /// Replace a comment's text (typing into it is one undo step).
    EditComment(String, String),
    /// Move a comment to a canvas position.
    MoveComment(String, [f32; 2]),
    /// Delete a comment.
    DeleteComment(String),
    /// Put nodes into a new group.
    GroupNodes(Vec<String>),
    /// Rename a group (typing into its name is one undo step).
    RenameGroup(String, String),
    /// Recolour a group.
    ColorGroup(String, [u8; 3]),
    /// Remove a group (its nodes stay).
    Ungroup(String),
    /// Take nodes out of their groups.
    LeaveGroups(Vec<String>),
}

//! Ports: the named inputs and outputs of a node kind, with the type of events they carry.

use serde::Serialize;

/// The name of the dead-letter output every node kind has.
pub const ERRORS_PORT: &str = "errors";

/// What kind of events a port carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PortType {
    /// Any JSON value.
    Any,
    /// JSON objects (records with named fields).
    Record,
    /// Strings (lines of text).
    Text,
}

impl PortType {
    /// Whether events from an output of type `self` may flow into an input of type `input`.
    /// `Any` on either side is checked at run time (a mismatch goes to the dead-letter port).
    pub fn flows_into(self, input: PortType) -> bool {
        self == input || self == PortType::Any || input == PortType::Any
    }

    /// Lower-case name, as shown to users.
    pub fn name(self) -> &'static str {
        match self {
            PortType::Any => "any",
            PortType::Record => "record",
            PortType::Text => "text",
        }
    }
}

/// One port of a node kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortSpec {
    /// Port name, unique among the node's inputs (or outputs).
    pub name: String,
    /// Event type.
    pub ty: PortType,
    /// For inputs: the graph is invalid while it is unconnected.
    pub required: bool,
    /// One line for users.
    pub doc: String,
}

impl PortSpec {
    /// A required input.
    pub fn input(name: &str, ty: PortType, doc: &str) -> Self {
        PortSpec { name: name.into(), ty, required: true, doc: doc.into() }
    }
    /// An output.
    pub fn output(name: &str, ty: PortType, doc: &str) -> Self {
        PortSpec { name: name.into(), ty, required: false, doc: doc.into() }
    }
}

/// The inputs and outputs of a node, possibly computed from its config.
/// The dead-letter output [`ERRORS_PORT`] is added by [`Ports::with_errors`] and never listed by kinds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ports {
    /// Inputs, in order.
    pub inputs: Vec<PortSpec>,
    /// Outputs, in order (the dead-letter port last once added).
    pub outputs: Vec<PortSpec>,
}

impl Ports {
    /// Appends the dead-letter output.
    pub fn with_errors(mut self) -> Self {
        self.outputs.push(PortSpec::output(
            ERRORS_PORT,
            PortType::Record,
            "Events this node could not process, with the reason and the node id",
        ));
        self
    }
    /// Index of the input named `name`.
    pub fn input_index(&self, name: &str) -> Option<usize> {
        self.inputs.iter().position(|p| p.name == name)
    }
    /// Index of the output named `name`.
    pub fn output_index(&self, name: &str) -> Option<usize> {
        self.outputs.iter().position(|p| p.name == name)
    }
}

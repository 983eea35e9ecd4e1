//! Ports of every node, resolved through the registry once per graph revision. Nodes of
//! unknown kinds get placeholder ports taken from their wires, so those wires survive.

use std::collections::HashMap;

use egui::Color32;
use streamloom_runtime::registry::{PortSpec, Ports};
use streamloom_runtime::{Graph, PortType, Registry};

/// The colour of a port type, used for pins and wires.
pub fn type_color(ty: PortType) -> Color32 {
    match ty {
        PortType::Any => Color32::from_rgb(150, 150, 160),
        PortType::Record => Color32::from_rgb(90, 160, 230),
        PortType::Text => Color32::from_rgb(230, 170, 70),
    }
}

/// Ports by node id.
#[derive(Default)]
pub struct PortCache {
    ports: HashMap<String, Ports>,
}

impl PortCache {
    /// Resolves the ports of every node of `graph`.
    pub fn build(graph: &Graph, registry: &Registry) -> Self {
        let ports = graph.nodes.iter().map(|n| (n.id.clone(), node_ports(graph, registry, &n.id))).collect();
        PortCache { ports }
    }

    /// Ports of node `id` (empty when unknown).
    pub fn get(&self, id: &str) -> Option<&Ports> {
        self.ports.get(id)
    }

    /// Type of output `port` of node `id`.
    pub fn output_type(&self, id: &str, port: &str) -> Option<PortType> {
        self.get(id)?.outputs.iter().find(|p| p.name == port).map(|p| p.ty)
    }

    /// Type of input `port` of node `id`.
    pub fn input_type(&self, id: &str, port: &str) -> Option<PortType> {
        self.get(id)?.inputs.iter().find(|p| p.name == port).map(|p| p.ty)
    }
}

/// The ports of node `id`: from its kind, or from its wires when the kind is unknown.
pub fn node_ports(graph: &Graph, registry: &Registry, id: &str) -> Ports {
    let Some(node) = graph.node(id) else { return Ports::default() };
    if let Some(kind) = registry.get(&node.kind) {
        let mut ports = kind.ports(&node.config);
        // Ports a wire names but the kind lacks (e.g. after a config change) stay visible so
        // that the wire can be seen and removed; validation reports them.
        add_wired_ports(graph, id, &mut ports);
        return ports;
    }
    let mut ports = Ports::default();
    add_wired_ports(graph, id, &mut ports);
    ports
}

fn add_wired_ports(graph: &Graph, id: &str, ports: &mut Ports) {
    for w in &graph.wires {
        if w.to.node == id && !ports.inputs.iter().any(|p| p.name == w.to.port) {
            let mut p = PortSpec::input(&w.to.port, PortType::Any, "not a port of this node");
            p.required = false;
            ports.inputs.push(p);
        }
        if w.from.node == id && !ports.outputs.iter().any(|p| p.name == w.from.port) {
            ports.outputs.push(PortSpec::output(&w.from.port, PortType::Any, "not a port of this node"));
        }
    }
}

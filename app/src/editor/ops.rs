//! Edits of the graph model used by the canvas, the inspector and the shortcuts. Each works
//! on a plain [`Graph`]; the caller wraps it in an undoable document edit.

use serde_json::Value;
use streamloom_runtime::{Graph, Node, PortRef, PortType, Registry, Wire};

use super::ports::{PortCache, node_ports};

/// A new node of `kind` with the kind's example config, at `pos`. Returns its id.
pub fn add_node(graph: &mut Graph, registry: &Registry, kind: &str, pos: [f32; 2]) -> String {
    let (version, config) = match registry.get(kind) {
        Some(k) => (k.version(), k.default_config()),
        None => (1, Value::Object(Default::default())),
    };
    let id = graph.fresh_id(kind);
    graph.nodes.push(Node { id: id.clone(), kind: kind.to_string(), version, position: Some(pos), config });
    id
}

/// Removes nodes and every wire touching them.
pub fn remove_nodes(graph: &mut Graph, ids: &[String]) {
    graph.nodes.retain(|n| !ids.contains(&n.id));
    graph.wires.retain(|w| !ids.contains(&w.from.node) && !ids.contains(&w.to.node));
    super::annotations::leave_groups(graph, ids);
}

/// Renames a node and every wire end naming it. Refuses empty or taken ids.
pub fn rename_node(graph: &mut Graph, old: &str, new: &str) -> Result<(), String> {
    let new = new.trim();
    if new.is_empty() {
        return Err("a node id cannot be empty".into());
    }
    if new == old {
        return Ok(());
    }
    if graph.node(new).is_some() {
        return Err(format!("id `{new}` is already used by another node"));
    }
    let Some(node) = graph.node_mut(old) else { return Err(format!("no node `{old}`")) };
    node.id = new.to_string();
    super::annotations::rename_in_groups(graph, old, new);
    for w in &mut graph.wires {
        if w.from.node == old {
            w.from.node = new.to_string();
        }
        if w.to.node == old {
            w.to.node = new.to_string();
        }
    }
    Ok(())
}

/// Copies of nodes (and the wires among them) shifted by `offset`. Returns the new ids.
pub fn duplicate_nodes(graph: &mut Graph, ids: &[String], offset: [f32; 2]) -> Vec<String> {
    let text = super::clipboard::copy_text(graph, ids);
    super::clipboard::paste_into(graph, &text, offset).unwrap_or_default()
}

/// Why a wire from `from` to `to` cannot be made, if it cannot.
pub fn check_connect(graph: &Graph, ports: &PortCache, from: &PortRef, to: &PortRef) -> Result<(), String> {
    if from.node == to.node {
        return Err(format!("`{}` cannot be wired to itself", from.node));
    }
    let out_ty = ports.output_type(&from.node, &from.port).ok_or_else(|| format!("`{from}` is not an output"))?;
    let in_ty = ports.input_type(&to.node, &to.port).ok_or_else(|| format!("`{to}` is not an input"))?;
    if !out_ty.flows_into(in_ty) {
        return Err(format!(
            "incompatible types: `{from}` emits {} events but `{to}` accepts {}",
            out_ty.name(),
            in_ty.name()
        ));
    }
    if graph.wires.iter().any(|w| &w.from == from && &w.to == to) {
        return Err(format!("`{from}` is already wired to `{to}`"));
    }
    if reaches(graph, &to.node, &from.node) {
        return Err(format!("wiring `{from}` to `{to}` would form a cycle"));
    }
    Ok(())
}

/// Moves node `start` and every node downstream of it right by `dx`.
pub fn shift_downstream(graph: &mut Graph, start: &str, dx: f32) {
    let mut stack = vec![start.to_string()];
    let mut seen = std::collections::HashSet::new();
    while let Some(n) = stack.pop() {
        if seen.insert(n.clone()) {
            stack.extend(graph.wires.iter().filter(|w| w.from.node == n).map(|w| w.to.node.clone()));
        }
    }
    for node in graph.nodes.iter_mut().filter(|n| seen.contains(&n.id)) {
        if let Some(p) = &mut node.position {
            p[0] += dx;
        }
    }
}

/// Whether following wires from node `start` reaches node `goal`.
fn reaches(graph: &Graph, start: &str, goal: &str) -> bool {
    let mut stack = vec![start];
    let mut seen = std::collections::HashSet::new();
    while let Some(n) = stack.pop() {
        if n == goal {
            return true;
        }
        if seen.insert(n) {
            stack.extend(graph.wires.iter().filter(|w| w.from.node == n).map(|w| w.to.node.as_str()));
        }
    }
    false
}

/// Adds a wire after [`check_connect`].
pub fn connect(graph: &mut Graph, ports: &PortCache, from: PortRef, to: PortRef) -> Result<(), String> {
    check_connect(graph, ports, &from, &to)?;
    graph.wires.push(Wire::new(from, to));
    Ok(())
}

/// Removes the wire from `from` to `to`.
pub fn disconnect(graph: &mut Graph, from: &PortRef, to: &PortRef) {
    graph.wires.retain(|w| !(&w.from == from && &w.to == to));
}

/// Sets one field of a node's config (`None` removes it).
pub fn set_param(graph: &mut Graph, id: &str, field: &str, value: Option<Value>) {
    let Some(node) = graph.node_mut(id) else { return };
    if !node.config.is_object() {
        node.config = Value::Object(Default::default());
    }
    if let Value::Object(map) = &mut node.config {
        match value {
            Some(v) => {
                map.insert(field.to_string(), v);
            }
            None => {
                map.remove(field);
            }
        }
    }
}

/// Puts a new node of `kind` at `pos` into the wire `from` → `to`: the wire becomes two, from
/// `from` into the new node's first input that accepts its events, and from the new node's
/// first output (other than `errors`) that `to` accepts into `to`. The first keeps the wire's
/// queue settings. Returns the new node's id; on error the graph is unchanged.
pub fn insert_on_wire(
    graph: &mut Graph,
    registry: &Registry,
    kind: &str,
    pos: [f32; 2],
    from: &PortRef,
    to: &PortRef,
) -> Result<String, String> {
    let k = registry.get(kind).ok_or_else(|| format!("unknown node kind `{kind}`"))?;
    let index = graph
        .wires
        .iter()
        .position(|w| &w.from == from && &w.to == to)
        .ok_or_else(|| format!("there is no wire from `{from}` to `{to}`"))?;
    let port_type = |node: &str, name: &str, output: bool| {
        let ports = node_ports(graph, registry, node);
        let list = if output { ports.outputs } else { ports.inputs };
        list.into_iter().find(|p| p.name == name).map_or(PortType::Any, |p| p.ty)
    };
    let (out_ty, in_ty) = (port_type(&from.node, &from.port, true), port_type(&to.node, &to.port, false));
    let ports = k.ports(&k.default_config());
    let input = ports
        .inputs
        .iter()
        .find(|p| out_ty.flows_into(p.ty))
        .ok_or_else(|| format!("`{kind}` has no input that accepts the {} events of `{from}`", out_ty.name()))?;
    let output = ports
        .outputs
        .iter()
        .find(|p| p.name != streamloom_runtime::registry::ERRORS_PORT && p.ty.flows_into(in_ty))
        .ok_or_else(|| format!("`{kind}` has no output that `{to}` accepts ({} events)", in_ty.name()))?;
    let (input, output) = (input.name.clone(), output.name.clone());
    let id = add_node(graph, registry, kind, pos);
    let old = graph.wires.remove(index);
    let upstream = Wire { to: PortRef::new(id.clone(), input), ..old };
    graph.wires.insert(index, upstream);
    graph.wires.insert(index + 1, Wire::new(PortRef::new(id.clone(), output), to.clone()));
    Ok(id)
}

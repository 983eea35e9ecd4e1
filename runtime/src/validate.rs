//! Checks a graph against the registry and returns every problem at once.

use std::collections::{HashMap, HashSet};

use crate::graph::{Graph, SourceMap};
use crate::problem::{Location, Problem, Problems};
use crate::registry::{Ports, Registry};

/// Every problem in `graph`: ids, kinds, versions, configs, wires, types, unconnected
/// required inputs and cycles. Empty when the graph can run.
pub fn validate(graph: &Graph, registry: &Registry) -> Problems {
    let mut problems = Vec::new();
    let mut ports: HashMap<&str, Ports> = HashMap::new();
    let mut seen = HashSet::new();

    if let Err(msg) = graph.settings.stop_timeout() {
        problems
            .push(Problem::error(Location { field: Some("settings.stop_timeout".into()), ..Default::default() }, msg));
    }

    for node in &graph.nodes {
        if node.id.trim().is_empty() {
            problems.push(Problem::error(Location::node(&node.id), "node id is empty"));
        }
        if !seen.insert(node.id.as_str()) {
            problems.push(Problem::error(Location::node(&node.id), format!("duplicate node id `{}`", node.id)));
            continue;
        }
        let Some(kind) = registry.get(&node.kind) else {
            let known: Vec<&str> = registry.kinds().iter().map(|k| k.name()).collect();
            problems.push(Problem::error(
                Location { field: Some("kind".into()), ..Location::node(&node.id) },
                format!("unknown node kind `{}` (known kinds: {})", node.kind, known.join(", ")),
            ));
            continue;
        };
        if node.version > kind.version() {
            problems.push(Problem::error(
                Location { field: Some("version".into()), ..Location::node(&node.id) },
                format!(
                    "`{}` config version {} is newer than this Streamloom supports ({})",
                    node.kind,
                    node.version,
                    kind.version()
                ),
            ));
            continue;
        }
        for p in kind.validate(&node.config) {
            let loc = Location { field: p.field.clone(), ..Location::node(&node.id) };
            problems.push(Problem::error(loc, p.message));
        }
        ports.insert(node.id.as_str(), kind.ports(&node.config));
    }

    let mut wired_inputs = HashSet::new();
    let mut seen_wires = HashSet::new();
    for wire in &graph.wires {
        let loc = || Location::wire(wire.id());
        if !seen_wires.insert((&wire.from, &wire.to)) {
            problems.push(Problem::error(loc(), "duplicate wire"));
        }
        if wire.capacity == Some(0) {
            problems.push(Problem::error(
                Location { field: Some("capacity".into()), ..loc() },
                "capacity must be at least 1",
            ));
        }
        let from_ty = match (graph.node(&wire.from.node), ports.get(wire.from.node.as_str())) {
            (None, _) => {
                problems.push(Problem::error(loc(), format!("wire starts at missing node `{}`", wire.from.node)));
                None
            }
            (Some(_), None) => None, // unknown kind: already reported
            (Some(_), Some(p)) => match p.outputs.iter().find(|o| o.name == wire.from.port) {
                Some(o) => Some(o.ty),
                None => {
                    let names: Vec<&str> = p.outputs.iter().map(|o| o.name.as_str()).collect();
                    problems.push(Problem::error(
                        loc(),
                        format!(
                            "node `{}` has no output `{}` (outputs: {})",
                            wire.from.node,
                            wire.from.port,
                            names.join(", ")
                        ),
                    ));
                    None
                }
            },
        };
        let to_ty = match (graph.node(&wire.to.node), ports.get(wire.to.node.as_str())) {
            (None, _) => {
                problems.push(Problem::error(loc(), format!("wire ends at missing node `{}`", wire.to.node)));
                None
            }
            (Some(_), None) => None,
            (Some(_), Some(p)) => match p.inputs.iter().find(|i| i.name == wire.to.port) {
                Some(i) => {
                    wired_inputs.insert((wire.to.node.as_str(), wire.to.port.as_str()));
                    Some(i.ty)
                }
                None => {
                    let names: Vec<&str> = p.inputs.iter().map(|i| i.name.as_str()).collect();
                    let has = if names.is_empty() { "no inputs".to_string() } else { names.join(", ") };
                    problems.push(Problem::error(
                        loc(),
                        format!("node `{}` has no input `{}` (inputs: {has})", wire.to.node, wire.to.port),
                    ));
                    None
                }
            },
        };
        if let (Some(out), Some(inp)) = (from_ty, to_ty)
            && !out.flows_into(inp)
        {
            problems.push(Problem::error(
                loc(),
                format!(
                    "type mismatch: `{}` emits {} events but `{}` accepts {}",
                    wire.from,
                    out.name(),
                    wire.to,
                    inp.name()
                ),
            ));
        }
    }

    for node in &graph.nodes {
        if let Some(p) = ports.get(node.id.as_str()) {
            for input in p.inputs.iter().filter(|i| i.required) {
                if !wired_inputs.contains(&(node.id.as_str(), input.name.as_str())) {
                    problems.push(Problem::error(
                        Location::node(&node.id),
                        format!("required input `{}` is not connected", input.name),
                    ));
                }
            }
        }
    }

    if let Some(cycle) = find_cycle(graph) {
        problems.push(Problem::error(
            Location::node(&cycle[0]),
            format!("wires form a cycle: {} (bounded queues in a cycle can deadlock)", cycle.join(" -> ")),
        ));
    }
    Problems(problems)
}

/// Validates and fills in line:column from the file's source map.
pub fn validate_located(graph: &Graph, registry: &Registry, map: &SourceMap) -> Problems {
    let problems = validate(graph, registry);
    map.locate(problems, |w| graph.wires.iter().position(|x| x.id() == w))
}

fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    let mut next: HashMap<&str, Vec<&str>> = HashMap::new();
    for w in &graph.wires {
        next.entry(w.from.node.as_str()).or_default().push(w.to.node.as_str());
    }
    // 0 = unvisited, 1 = on stack, 2 = done
    let mut state: HashMap<&str, u8> = HashMap::new();
    for start in graph.nodes.iter().map(|n| n.id.as_str()) {
        if state.get(start).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        state.insert(start, 1);
        while let Some((node, i)) = stack.last().copied() {
            let succ = next.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if let Some(&n) = succ.get(i) {
                if let Some(top) = stack.last_mut() {
                    top.1 += 1;
                }
                match state.get(n).copied().unwrap_or(0) {
                    0 => {
                        state.insert(n, 1);
                        stack.push((n, 0));
                    }
                    1 => {
                        let pos = stack.iter().position(|(x, _)| *x == n).unwrap_or(0);
                        let mut cycle: Vec<String> = stack[pos..].iter().map(|(x, _)| x.to_string()).collect();
                        cycle.push(n.to_string());
                        return Some(cycle);
                    }
                    _ => {}
                }
            } else {
                state.insert(node, 2);
                stack.pop();
            }
        }
    }
    None
}

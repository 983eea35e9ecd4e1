//! The accounting rules of ARCHITECTURE.md as a checker over a final snapshot: every
//! equation that does not hold is returned as a sentence.

use streamloom_runtime::graph::Graph;
use streamloom_runtime::metrics::{MetricsSnapshot, NodeStatus};

/// Every accounting equation of `snap` (the final snapshot of a run of `graph`) that does not
/// hold. `drained`: the run completed or stopped gracefully, so nothing may be left in flight.
pub fn violations(graph: &Graph, snap: &MetricsSnapshot, drained: bool) -> Vec<String> {
    let mut bad = Vec::new();
    for (w, ws) in graph.wires.iter().zip(&snap.wires) {
        if ws.pushed != ws.popped + ws.dropped + ws.depth {
            bad.push(format!(
                "wire {}: pushed {} != popped {} + dropped {} + depth {}",
                ws.id, ws.pushed, ws.popped, ws.dropped, ws.depth
            ));
        }
        if drained && ws.depth != 0 {
            bad.push(format!("wire {}: {} event(s) still queued after the run", w.id(), ws.depth));
        }
    }
    for (i, node) in graph.nodes.iter().enumerate() {
        let n = &snap.nodes[i];
        let inputs: Vec<usize> = (0..graph.wires.len()).filter(|&k| graph.wires[k].to.node == node.id).collect();
        let data_out: Vec<usize> = (0..graph.wires.len())
            .filter(|&k| graph.wires[k].from.node == node.id && graph.wires[k].from.port != "errors")
            .collect();
        let dead_out: Vec<usize> = (0..graph.wires.len())
            .filter(|&k| graph.wires[k].from.node == node.id && graph.wires[k].from.port == "errors")
            .collect();
        if !inputs.is_empty() {
            let resolved = n.passed + n.filtered + n.errors + n.dropped_inside + n.held + n.lost_on_kill;
            if n.events_in != resolved {
                bad.push(format!(
                    "node {}: in {} != passed {} + filtered {} + errors {} + dropped inside {} + held {} + lost {}",
                    n.id, n.events_in, n.passed, n.filtered, n.errors, n.dropped_inside, n.held, n.lost_on_kill
                ));
            }
            let popped: u64 = inputs.iter().map(|&k| snap.wires[k].popped).sum();
            if popped != n.events_in {
                bad.push(format!("node {}: in {} != popped from its input wires {}", n.id, n.events_in, popped));
            }
        }
        if drained && n.held != 0 {
            bad.push(format!("node {}: still holds {} event(s) after the run", n.id, n.held));
        }
        let wire_drops: u64 = data_out.iter().map(|&k| snap.wires[k].dropped).sum();
        if n.dropped != wire_drops + n.dropped_inside {
            bad.push(format!(
                "node {}: dropped {} != drops on its output wires {} + inside {} (a drop counted twice or not at all)",
                n.id, n.dropped, wire_drops, n.dropped_inside
            ));
        }
        if n.status == NodeStatus::Finished {
            if data_out.is_empty() {
                if n.discarded != n.events_out {
                    bad.push(format!(
                        "node {}: out {} with no wire, but discarded {}",
                        n.id, n.events_out, n.discarded
                    ));
                }
            } else {
                for &k in &data_out {
                    if snap.wires[k].pushed != n.events_out {
                        bad.push(format!(
                            "node {}: out {} != pushed {} on wire {}",
                            n.id, n.events_out, snap.wires[k].pushed, snap.wires[k].id
                        ));
                    }
                }
            }
            for &k in &dead_out {
                if snap.wires[k].pushed != n.errors {
                    bad.push(format!(
                        "node {}: errors {} != pushed {} on its errors wire",
                        n.id, n.errors, snap.wires[k].pushed
                    ));
                }
            }
        }
    }
    bad
}

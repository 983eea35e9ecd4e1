//! The wiring: every node's inputs, outputs, dead-letter port and tap, and one bounded
//! [`WireQueue`] per wire of the graph.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::debug::DebugLog;
use crate::graph::{Graph, WhenFull};
use crate::io::{DeadLetters, Inputs, Output};
use crate::metrics::{NodeMetrics, WireMetrics};
use crate::registry::{ERRORS_PORT, Registry};
use crate::tap::{NodeTap, PortTap, RECEIVED};
use crate::wire::WireQueue;

/// One node's ends of the wires.
pub(crate) struct NodeIo {
    pub inputs: Inputs,
    pub outputs: Vec<Output>,
    pub errors: DeadLetters,
}

/// Every node's ends, its counters and tap, and every wire's counters.
pub(crate) struct Wiring {
    pub io: Vec<NodeIo>,
    pub node_metrics: Vec<Arc<NodeMetrics>>,
    pub has_inputs: Vec<bool>,
    /// The nodes wired into each node (by index; a node wired twice is listed twice).
    pub upstream: Vec<Vec<usize>>,
    pub wire_metrics: Vec<Arc<WireMetrics>>,
    pub taps: Vec<Arc<NodeTap>>,
    /// Per node: every wire out of it (data and dead-letter ports), where its barriers go.
    pub out_wires: Vec<Vec<Arc<WireQueue>>>,
    /// Per node: its first data output's only wire, when it has exactly one and it blocks
    /// when full, with the node at its other end and the port's tap (see [`crate::pushdown`]).
    pub sole_wire: Vec<Option<SoleWire>>,
}

/// The one wire out of a node's first data output.
pub(crate) struct SoleWire {
    pub wire: Arc<WireQueue>,
    pub consumer: usize,
    pub tap: Option<PortTap>,
}

/// Builds the wires of an already validated `graph` (port order from each kind); with
/// `debug`, every output port can be marked for debugging into that log.
pub(crate) fn wire(graph: &Graph, registry: &Registry, debug: Option<&Arc<DebugLog>>) -> Wiring {
    let n = graph.nodes.len();
    let node_metrics: Vec<Arc<NodeMetrics>> = (0..n).map(|_| Arc::new(NodeMetrics::default())).collect();
    let notifies: Vec<Arc<Notify>> = (0..n).map(|_| Arc::new(Notify::new())).collect();
    let index_of: HashMap<&str, usize> = graph.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();

    let mut inputs: Vec<Inputs> = Vec::with_capacity(n);
    let mut outputs: Vec<Vec<Output>> = Vec::with_capacity(n);
    let mut dead: Vec<Output> = Vec::with_capacity(n);
    let mut ports_of = Vec::with_capacity(n);
    let mut taps = Vec::with_capacity(n);
    for (i, node) in graph.nodes.iter().enumerate() {
        let ports = registry.get(&node.kind).map(|k| k.ports(&node.config)).unwrap_or_default();
        let data: Vec<&str> = ports.outputs.iter().map(|p| p.name.as_str()).filter(|p| *p != ERRORS_PORT).collect();
        // A sink's tap also keeps what reached it.
        let received = data.is_empty().then_some(RECEIVED);
        let tap = NodeTap::new(
            data.iter().copied().chain([ERRORS_PORT]).chain(received),
            debug.map(|d| (d, node.id.as_str())),
        );
        inputs.push(Inputs::new(notifies[i].clone(), node_metrics[i].clone()).with_tap(tap.port(RECEIVED)));
        outputs.push(data.iter().map(|p| Output::new(node_metrics[i].clone(), true).with_tap(tap.port(p))).collect());
        dead.push(Output::new(node_metrics[i].clone(), false).with_tap(tap.port(ERRORS_PORT)));
        taps.push(tap);
        ports_of.push(ports);
    }

    let mut wire_metrics = Vec::with_capacity(graph.wires.len());
    let mut has_inputs = vec![false; n];
    let mut out_wires: Vec<Vec<Arc<WireQueue>>> = vec![Vec::new(); n];
    let mut upstream = vec![Vec::new(); n];
    // Per node: the wires out of its first data output.
    let mut first_out: Vec<Vec<(Arc<WireQueue>, usize)>> = vec![Vec::new(); n];
    for wire in &graph.wires {
        let (Some(&from), Some(&to)) = (index_of.get(wire.from.node.as_str()), index_of.get(wire.to.node.as_str()))
        else {
            continue; // validation already refused this
        };
        let capacity = graph.capacity_of(wire);
        let metrics = Arc::new(WireMetrics::new(capacity));
        let is_dead_letter = wire.from.port == ERRORS_PORT;
        // A dead letter is counted once, as an error of its node: when its wire drops it, the
        // drop is counted on the wire only.
        let producer = if is_dead_letter { Arc::new(NodeMetrics::default()) } else { node_metrics[from].clone() };
        let queue = WireQueue::new(
            capacity,
            wire.when_full.unwrap_or_default(),
            notifies[to].clone(),
            metrics.clone(),
            producer,
        );
        wire_metrics.push(metrics);
        let in_port = ports_of[to].input_index(&wire.to.port).unwrap_or(0);
        inputs[to].add(in_port, queue.clone());
        has_inputs[to] = true;
        out_wires[from].push(queue.clone());
        upstream[to].push(from);
        if is_dead_letter {
            dead[from].add(queue);
        } else if let Some(out_port) = ports_of[from].output_index(&wire.from.port)
            && let Some(out) = outputs[from].get_mut(out_port)
        {
            if out_port == 0 {
                first_out[from].push((queue.clone(), to));
            }
            out.add(queue);
        }
    }
    let sole_wire = first_out
        .into_iter()
        .enumerate()
        .map(|(i, wires)| match <[_; 1]>::try_from(wires) {
            Ok([(wire, consumer)]) if wire.when_full() == WhenFull::Block => {
                let port = ports_of[i].outputs.iter().find(|p| p.name != ERRORS_PORT).map(|p| p.name.as_str());
                Some(SoleWire { wire, consumer, tap: port.and_then(|p| taps[i].port(p)) })
            }
            _ => None,
        })
        .collect();

    let io = inputs
        .into_iter()
        .zip(outputs)
        .zip(dead)
        .enumerate()
        .map(|(i, ((inputs, outputs), dl))| NodeIo {
            inputs,
            outputs,
            errors: DeadLetters::new(Arc::from(graph.nodes[i].id.as_str()), dl),
        })
        .collect();
    Wiring { io, node_metrics, has_inputs, upstream, wire_metrics, taps, out_wires, sole_wire }
}

//! Checks a graph against the registry and returns every problem at once: errors (the graph
//! cannot run) and warnings (it runs, probably not as meant). Each problem is found with the
//! index of the node or wire it belongs to, so [`validate_located`] places it exactly (the
//! second of two duplicates, the field inside a config) rather than by searching the text.

use std::collections::{HashMap, HashSet};

use crate::env;
use crate::graph::{Graph, MAX_CONFIG_DEPTH, SourceMap, WhenFull, config_depth};
use crate::problem::{Location, Problem, Problems};
use crate::registry::{Category, ERRORS_PORT, ParamKind, Ports, Registry};

/// Largest `batch_size` a graph may set.
pub const MAX_BATCH_SIZE: usize = 100_000;
/// Largest wire capacity (`capacity` of a wire, `default_capacity` of the graph), in events.
pub const MAX_WIRE_CAPACITY: usize = 100_000_000;
/// Most worker threads a graph may ask for (`settings.workers`).
pub const MAX_WORKERS: usize = 256;

/// What a problem belongs to, for placing it in the file.
#[derive(Debug, Clone, Copy)]
enum Target {
    Node(usize),
    Wire(usize),
    Setting,
    Graph,
}

struct Found {
    problem: Problem,
    at: Target,
}

/// Every problem in `graph`: ids, kinds, versions, configs, settings, wires, types,
/// unconnected required inputs and cycles (errors), and unwired outputs, unwired dead letters
/// of sources and dropping wires into sinks (warnings). Without errors the graph can run.
pub fn validate(graph: &Graph, registry: &Registry) -> Problems {
    Problems(check(graph, registry).into_iter().map(|f| f.problem).collect())
}

/// Validates and fills in line:column from the file's source map: node problems at the node
/// (or its config field), wire problems at the wire (or its field), settings at the setting.
pub fn validate_located(graph: &Graph, registry: &Registry, map: &SourceMap) -> Problems {
    let found = check(graph, registry);
    // The map was scanned from the same text the graph was read from; if its lexer saw a
    // different number of nodes or wires, place by id instead of by index.
    if map.node_count() != graph.nodes.len() || map.wire_count() != graph.wires.len() {
        let problems = Problems(found.into_iter().map(|f| f.problem).collect());
        return map.locate(problems, |w| graph.wires.iter().position(|x| x.id() == w));
    }
    Problems(
        found
            .into_iter()
            .map(|Found { mut problem, at }| {
                let field = problem.location.field.as_deref();
                problem.location.line_col = match (at, field) {
                    (Target::Node(i), Some(f)) => map.node_field(i, f),
                    (Target::Node(i), None) => map.node_at(i),
                    (Target::Wire(i), Some(f)) => map.wire_field(i, f),
                    (Target::Wire(i), None) => map.wire(i),
                    (Target::Setting, Some(f)) => map.setting(f),
                    (Target::Setting, None) => map.top_field("settings"),
                    (Target::Graph, Some(f)) => map.top_field(f),
                    (Target::Graph, None) => None,
                };
                problem
            })
            .collect(),
    )
}

fn check(graph: &Graph, registry: &Registry) -> Vec<Found> {
    let mut problems = Vec::new();
    let mut ports: HashMap<&str, Ports> = HashMap::new();
    let mut seen = HashSet::new();
    let mut error = |at: Target, location: Location, message: String| {
        problems.push(Found { problem: Problem::error(location, message), at });
    };

    check_settings(graph, &mut error);
    if graph.nodes.is_empty() {
        // A cron job pointed at an empty (or emptied) file must not pass as a finished run.
        let place = Location { field: Some("nodes".into()), ..Location::default() };
        error(Target::Graph, place, "the graph has no nodes: nothing to run".into());
    }
    for (i, node) in graph.nodes.iter().enumerate() {
        let at = Target::Node(i);
        let field = |f: &str| Location::field(&node.id, f);
        if node.id.trim().is_empty() {
            error(at, field("id"), "node id is empty".into());
        }
        if !seen.insert(node.id.as_str()) {
            error(at, field("id"), format!("duplicate node id `{}` (an earlier node has it)", node.id));
            continue;
        }
        let Some(kind) = registry.get(&node.kind) else {
            let known: Vec<&str> = registry.kinds().iter().map(|k| k.name()).collect();
            error(at, field("kind"), format!("unknown node kind `{}` (known kinds: {})", node.kind, known.join(", ")));
            continue;
        };
        if node.version > kind.version() {
            error(
                at,
                field("version"),
                format!(
                    "`{}` config version {} is newer than this Streamloom supports ({})",
                    node.kind,
                    node.version,
                    kind.version()
                ),
            );
            continue;
        }
        if config_depth(&node.config) > MAX_CONFIG_DEPTH {
            error(at, Location::node(&node.id), format!("config nested deeper than {MAX_CONFIG_DEPTH} levels"));
            continue;
        }
        for (f, message) in env::check(&node.config) {
            error(at, field(&f), message);
        }
        for p in kind.validate(&node.config) {
            let loc = Location { field: p.field.clone(), ..Location::node(&node.id) };
            error(at, loc, p.message);
        }
        ports.insert(node.id.as_str(), kind.ports(&node.config));
    }

    check_shared_files(graph, registry, &mut error);
    let mut problems = check_wires(graph, &ports, problems);
    problems.extend(warnings(graph, registry, &ports));
    problems
}

/// Two sinks writing one file: their writes interleave and each cuts the file back to its own
/// last whole record, so records of the other are lost while both count them as written. The
/// later node is told (a path as written; `./a` and `a` are the same file).
fn check_shared_files(graph: &Graph, registry: &Registry, error: &mut impl FnMut(Target, Location, String)) {
    let mut writers: HashMap<String, &str> = HashMap::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let Some(kind) = registry.get(&node.kind).filter(|k| k.category() == Category::Sink) else { continue };
        for spec in kind.params().iter().filter(|p| p.kind == ParamKind::Path) {
            let Some(path) = node.config.get(&spec.name).and_then(|v| v.as_str()) else { continue };
            let path = path.trim();
            let same = path.strip_prefix("./").unwrap_or(path).to_string();
            if same.is_empty() {
                continue;
            }
            match writers.get(&same) {
                Some(first) => error(
                    Target::Node(i),
                    Location::field(&node.id, &spec.name),
                    format!(
                        "node `{first}` writes `{path}` too: two sinks on one file lose each other's records; give each its own file"
                    ),
                ),
                None => {
                    writers.insert(same, node.id.as_str());
                }
            }
        }
    }
}

fn check_settings(graph: &Graph, error: &mut impl FnMut(Target, Location, String)) {
    let setting = |f: &str| Location { field: Some(f.into()), ..Default::default() };
    if let Some(b) = graph.settings.batch_size
        && !(1..=MAX_BATCH_SIZE).contains(&b)
    {
        error(Target::Setting, setting("batch_size"), format!("batch_size {b} is out of range 1..={MAX_BATCH_SIZE}"));
    }
    if let Some(c) = graph.settings.default_capacity
        && !(1..=MAX_WIRE_CAPACITY).contains(&c)
    {
        error(
            Target::Setting,
            setting("default_capacity"),
            format!("default_capacity {c} is out of range 1..={MAX_WIRE_CAPACITY}"),
        );
    }
    if let Some(w) = graph.settings.workers
        && !(1..=MAX_WORKERS).contains(&w)
    {
        error(Target::Setting, setting("workers"), format!("workers {w} is out of range 1..={MAX_WORKERS}"));
    }
    if let Err(msg) = graph.settings.stop_timeout() {
        error(Target::Setting, setting("stop_timeout"), msg);
    }
    match graph.settings.checkpoint_interval() {
        Err(msg) => error(Target::Setting, setting("checkpoint_interval"), msg),
        Ok(Some(d)) if d < std::time::Duration::from_millis(10) => error(
            Target::Setting,
            setting("checkpoint_interval"),
            "checkpoint_interval must be at least 10ms (each checkpoint makes every file_sink sync to disk)".into(),
        ),
        Ok(_) => {}
    }
}

fn check_wires(graph: &Graph, ports: &HashMap<&str, Ports>, mut found: Vec<Found>) -> Vec<Found> {
    let mut problems = Vec::new();
    let mut wired_inputs = HashSet::new();
    let mut seen_wires = HashSet::new();
    for (wi, wire) in graph.wires.iter().enumerate() {
        let loc = || Location::wire(wire.id());
        if !seen_wires.insert((&wire.from, &wire.to)) {
            problems.push(Problem::error(loc(), "duplicate wire (an earlier wire joins the same ports)"));
        }
        if let Some(c) = wire.capacity
            && !(1..=MAX_WIRE_CAPACITY).contains(&c)
        {
            problems.push(Problem::error(
                Location { field: Some("capacity".into()), ..loc() },
                format!("capacity {c} is out of range 1..={MAX_WIRE_CAPACITY}"),
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
        found.extend(problems.drain(..).map(|problem| Found { problem, at: Target::Wire(wi) }));
    }

    for (i, node) in graph.nodes.iter().enumerate() {
        if let Some(p) = ports.get(node.id.as_str()) {
            for input in p.inputs.iter().filter(|i| i.required) {
                if !wired_inputs.contains(&(node.id.as_str(), input.name.as_str())) {
                    found.push(Found {
                        problem: Problem::error(
                            Location::node(&node.id),
                            format!("required input `{}` is not connected", input.name),
                        ),
                        at: Target::Node(i),
                    });
                }
            }
        }
    }

    if let Some(cycle) = find_cycle(graph) {
        let at = graph.nodes.iter().position(|n| n.id == cycle[0]).map_or(Target::Graph, Target::Node);
        found.push(Found {
            problem: Problem::error(
                Location::node(&cycle[0]),
                format!("wires form a cycle: {} (bounded queues in a cycle can deadlock)", cycle.join(" -> ")),
            ),
            at,
        });
    }
    found
}

/// Warnings: the graph runs, but events are thrown away where the user may not expect it.
fn warnings(graph: &Graph, registry: &Registry, ports: &HashMap<&str, Ports>) -> Vec<Found> {
    let mut found = Vec::new();
    let wired_outputs: HashSet<(&str, &str)> =
        graph.wires.iter().map(|w| (w.from.node.as_str(), w.from.port.as_str())).collect();
    for (i, node) in graph.nodes.iter().enumerate() {
        let (Some(p), Some(kind)) = (ports.get(node.id.as_str()), registry.get(&node.kind)) else { continue };
        for out in p.outputs.iter().filter(|o| o.name != ERRORS_PORT) {
            if !wired_outputs.contains(&(node.id.as_str(), out.name.as_str())) {
                found.push(Found {
                    problem: Problem::warning(
                        Location::node(&node.id),
                        format!("output `{}` is not wired: its events are discarded (counted)", out.name),
                    ),
                    at: Target::Node(i),
                });
            }
        }
        if kind.category() == Category::Source
            && kind.emits_dead_letters()
            && !wired_outputs.contains(&(node.id.as_str(), ERRORS_PORT))
        {
            found.push(Found {
                problem: Problem::warning(
                    Location::node(&node.id),
                    format!(
                        "output `{ERRORS_PORT}` is not wired: input this source cannot read is counted \
                         and logged, then lost (wire it to a sink to keep it)"
                    ),
                ),
                at: Target::Node(i),
            });
        }
    }
    for (wi, wire) in graph.wires.iter().enumerate() {
        let policy = wire.when_full.unwrap_or_default();
        let into_sink = graph
            .node(&wire.to.node)
            .and_then(|n| registry.get(&n.kind))
            .is_some_and(|k| k.category() == Category::Sink);
        if policy != WhenFull::Block && into_sink {
            found.push(Found {
                problem: Problem::warning(
                    Location { field: Some("when_full".into()), ..Location::wire(wire.id()) },
                    format!(
                        "`{}` into sink `{}`: events dropped when the sink falls behind are never written \
                         (counted as dropped); use `block` to keep every event",
                        policy.name(),
                        wire.to.node
                    ),
                ),
                at: Target::Wire(wi),
            });
        }
    }
    found
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

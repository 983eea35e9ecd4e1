//! Text tables: the final summary of a run and the node catalogue.

use std::fmt::Write as _;

use streamloom_runtime::metrics::MetricsSnapshot;
use streamloom_runtime::registry::KindInfo;

/// 1234567 → "1.23M".
pub fn human_count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        1_000_000..=999_999_999 => format!("{:.2}M", n as f64 / 1e6),
        _ => format!("{:.2}G", n as f64 / 1e9),
    }
}

/// Events/s, human-sized.
pub fn human_rate(r: f64) -> String {
    human_count(r.round().max(0.0) as u64)
}

/// The table printed at the end of a headless run: every node's accounting
/// (`in = passed + filtered + errors + dropped inside + held + lost`), every wire's
/// (`pushed = popped + dropped + depth`), and what did not reach a sink.
pub fn summary_table(s: &MetricsSnapshot) -> String {
    let mut out = String::new();
    let secs = s.elapsed_secs.max(1e-9);
    let _ = writeln!(
        out,
        "\n{:<20} {:<12} {:<9} {:>10} {:>10} {:>10} {:>9} {:>8} {:>8} {:>9} {:>6} {:>10} {:>7}",
        "node",
        "kind",
        "status",
        "in",
        "out",
        "passed",
        "filtered",
        "errors",
        "dropped",
        "discarded",
        "held",
        "events/s",
        "busy s"
    );
    for n in &s.nodes {
        let _ = writeln!(
            out,
            "{:<20} {:<12} {:<9} {:>10} {:>10} {:>10} {:>9} {:>8} {:>8} {:>9} {:>6} {:>10} {:>7.2}",
            n.id,
            n.kind,
            n.status.name(),
            n.events_in,
            n.events_out,
            n.passed,
            n.filtered,
            n.errors,
            n.dropped,
            n.discarded,
            n.held,
            human_rate(n.events_in.max(n.events_out) as f64 / secs),
            n.busy_secs
        );
        if n.skipped > 0 {
            let _ = writeln!(out, "    skipped {} blank line(s)", n.skipped);
        }
        if let Some(line) = n.state_line() {
            let _ = writeln!(out, "    state: {line}");
        }
        if let Some(line) = n.gauges_line() {
            let _ = writeln!(out, "    gauges: {line}");
        }
        if let Some(m) = &n.message {
            let _ = writeln!(out, "    {m}");
        }
        if let Some(why) = n.last_error.as_deref().filter(|_| n.errors > 0) {
            let _ = writeln!(out, "    last error: {why}");
        }
    }
    if !s.wires.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<48} {:>12} {:>12} {:>8} {:>8} {:>16}",
            "wire", "pushed", "popped", "dropped", "depth", "max depth/cap"
        );
        for w in &s.wires {
            let _ = writeln!(
                out,
                "{:<48} {:>12} {:>12} {:>8} {:>8} {:>16}",
                w.id,
                w.pushed,
                w.popped,
                w.dropped,
                w.depth,
                format!("{}/{}", w.max_depth, w.capacity)
            );
        }
    }
    let lost: u64 = s.nodes.iter().map(|n| n.lost_on_kill).sum();
    let on_wires: u64 = s.wires.iter().map(|w| w.dropped).sum();
    let inside: u64 = s.nodes.iter().map(|n| n.dropped_inside).sum();
    let dropped = on_wires + inside;
    let discarded: u64 = s.nodes.iter().map(|n| n.discarded).sum();
    let left: u64 = s.wires.iter().map(|w| w.depth).sum::<u64>() + s.nodes.iter().map(|n| n.held).sum::<u64>();
    if lost + dropped + discarded + left > 0 {
        let _ = writeln!(
            out,
            "\nnot delivered: {lost} lost when cancelled, {on_wires} dropped on wires (full under a drop \
             policy, or their consumer had ended), {inside} dropped inside nodes (a buffer's policy, a \
             sink's undelivered), {discarded} discarded on unwired outputs, {left} still queued or held"
        );
        for n in s.nodes.iter().filter(|n| n.lost_on_kill > 0) {
            let _ = writeln!(out, "    node `{}` lost {} event(s) it held when cancelled", n.id, n.lost_on_kill);
        }
    }
    out
}

/// The human form of `streamloom nodes`.
pub fn catalogue_table(kinds: &[KindInfo]) -> String {
    let mut out = String::new();
    for k in kinds {
        let inputs: Vec<String> = k.ports.inputs.iter().map(|p| format!("{}:{}", p.name, p.ty.name())).collect();
        let outputs: Vec<String> = k.ports.outputs.iter().map(|p| format!("{}:{}", p.name, p.ty.name())).collect();
        let _ = writeln!(out, "{:<14} {:<9} v{}  {}", k.name, k.category.name(), k.version, k.description);
        let _ = writeln!(out, "    in: [{}]  out: [{}]", inputs.join(", "), outputs.join(", "));
        for p in &k.params {
            let opt = if p.optional { " (optional)" } else { "" };
            let _ = writeln!(out, "    - {}{opt}: {}", p.name, p.doc);
        }
        if !k.example.is_empty() {
            let _ = writeln!(out, "    example: {}", k.example);
        }
    }
    out
}

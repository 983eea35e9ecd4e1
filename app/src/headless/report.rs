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

/// The table printed at the end of a headless run.
pub fn summary_table(s: &MetricsSnapshot) -> String {
    let mut out = String::new();
    let secs = s.elapsed_secs.max(1e-9);
    let _ = writeln!(
        out,
        "\n{:<24} {:<14} {:<9} {:>12} {:>12} {:>8} {:>8} {:>12} {:>8}",
        "node", "kind", "status", "in", "out", "errors", "dropped", "events/s", "busy s"
    );
    for n in &s.nodes {
        let _ = writeln!(
            out,
            "{:<24} {:<14} {:<9} {:>12} {:>12} {:>8} {:>8} {:>12} {:>8.2}",
            n.id,
            n.kind,
            n.status.name(),
            n.events_in,
            n.events_out,
            n.errors,
            n.dropped,
            human_rate(n.events_in.max(n.events_out) as f64 / secs),
            n.busy_secs
        );
        if let Some(m) = &n.message {
            let _ = writeln!(out, "    {m}");
        }
    }
    if !s.wires.is_empty() {
        let _ = writeln!(
            out,
            "\n{:<48} {:>12} {:>12} {:>16} {:>8}",
            "wire", "pushed", "popped", "max depth/cap", "dropped"
        );
        for w in &s.wires {
            let _ = writeln!(
                out,
                "{:<48} {:>12} {:>12} {:>16} {:>8}",
                w.id,
                w.pushed,
                w.popped,
                format!("{}/{}", w.max_depth, w.capacity),
                w.dropped
            );
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
    }
    out
}

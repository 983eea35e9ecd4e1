//! Progress while a headless run goes: a live table on a terminal, log lines otherwise.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use streamloom_runtime::executor::RunHandle;
use streamloom_runtime::metrics::MetricsSnapshot;

use super::report::{human_count, human_rate};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A table redrawn in place four times a second (stderr is a terminal).
    Live,
    /// One line every five seconds (logs, CI).
    LogLines,
    /// Nothing until the final report.
    None,
}

/// Shows progress until cancelled.
pub async fn show(handle: Arc<RunHandle>, mode: Progress) {
    let period = match mode {
        Progress::Live => Duration::from_millis(250),
        Progress::LogLines => Duration::from_secs(5),
        Progress::None => return,
    };
    let mut drawn_lines = 0;
    let mut tick = tokio::time::interval(period);
    tick.tick().await;
    loop {
        tick.tick().await;
        let snap = handle.snapshot();
        let mut err = std::io::stderr().lock();
        match mode {
            Progress::Live => {
                let text = live_table(&snap);
                if drawn_lines > 0 {
                    // Move up and clear what was drawn last time.
                    let _ = write!(err, "\x1b[{drawn_lines}A\x1b[J");
                }
                drawn_lines = text.lines().count();
                let _ = err.write_all(text.as_bytes());
            }
            _ => {
                let _ = writeln!(err, "{}", log_line(&snap));
            }
        }
    }
}

fn live_table(s: &MetricsSnapshot) -> String {
    let mut out = format!("streamloom  {:>7.1} s\n", s.elapsed_secs);
    for n in &s.nodes {
        out.push_str(&format!(
            "  {:<20} {:<9} in {:>9}/s  out {:>9}/s  total {:>9}  err {:>6}  drop {:>6}\n",
            truncate(&n.id, 20),
            n.status.name(),
            human_rate(n.rate_in),
            human_rate(n.rate_out),
            human_count(n.events_out.max(n.events_in)),
            n.errors,
            n.dropped
        ));
        let own: Vec<String> = n.state_line().into_iter().chain(n.gauges_line().map(|g| format!("[{g}]"))).collect();
        if !own.is_empty() {
            out.push_str(&format!("      {}\n", own.join("  ")));
        }
    }
    for w in &s.wires {
        let fill = if w.capacity == 0 { 0.0 } else { w.depth as f64 / w.capacity as f64 };
        out.push_str(&format!("  {:<44} queue {:>3.0}% {}\n", truncate(&w.id, 44), fill * 100.0, bar(fill, 20)));
    }
    out
}

fn log_line(s: &MetricsSnapshot) -> String {
    let parts: Vec<String> =
        s.nodes.iter().map(|n| format!("{}={}/s", n.id, human_rate(n.rate_out.max(n.rate_in)))).collect();
    let errors: u64 = s.nodes.iter().map(|n| n.errors).sum();
    let dropped: u64 = s.nodes.iter().map(|n| n.dropped).sum();
    format!("[{:.0}s] {} errors={errors} dropped={dropped}", s.elapsed_secs, parts.join(" "))
}

fn bar(fill: f64, width: usize) -> String {
    let n = ((fill.clamp(0.0, 1.0)) * width as f64).round() as usize;
    format!("[{}{}]", "#".repeat(n), ".".repeat(width - n))
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use streamloom_runtime::metrics::{NodeSnapshot, NodeState, NodeStatus};

    use super::*;

    fn node(id: &str, state: Option<NodeState>, message: Option<&str>, gauges: &[(&str, u64)]) -> NodeSnapshot {
        NodeSnapshot {
            id: id.into(),
            kind: "websocket_source".into(),
            status: NodeStatus::Running,
            message: None,
            events_in: 0,
            events_out: 7,
            errors: 0,
            dropped: 0,
            passed: 0,
            filtered: 0,
            discarded: 0,
            skipped: 0,
            dropped_inside: 0,
            held: 0,
            lost_on_kill: 0,
            busy_secs: 0.0,
            rate_in: 0.0,
            rate_out: 0.0,
            state,
            state_message: message.map(String::from),
            gauges: gauges.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
            last_error: None,
        }
    }

    #[test]
    fn the_live_table_prints_each_nodes_own_state_message_and_gauges_under_it() {
        let s = MetricsSnapshot {
            elapsed_secs: 1.0,
            paused_secs: 0.0,
            nodes: vec![
                node("feed", Some(NodeState::Reconnecting), Some("attempt 3, next in 4.2 s"), &[("reconnects", 3)]),
                node("quiet", None, None, &[]),
            ],
            wires: vec![],
        };
        let text = live_table(&s);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].contains("feed") && lines[1].contains("running"), "{text}");
        assert_eq!(lines[2], "      reconnecting: attempt 3, next in 4.2 s  [reconnects 3]", "{text}");
        assert!(lines[3].contains("quiet"), "a node with no own status gets no extra line: {text}");
        assert_eq!(lines.len(), 4, "{text}");
    }
}

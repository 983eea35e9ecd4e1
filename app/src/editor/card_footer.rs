//! What a card says under its pins: its status, counters, state, gauges and worst problem,
//! in at most [`FOOTER_LINES`] lines no wider than [`CARD_WIDTH`]. A card never grows past
//! that while a run goes on, so it never covers the card below (placement keeps that room
//! free); what does not fit is listed on hover of the last line.

use egui::{Color32, RichText, Ui};
use streamloom_runtime::Problem;
use streamloom_runtime::metrics::{NodeSnapshot, NodeStatus};
use streamloom_runtime::node_state::NodeState;

use super::format;
use super::problems::{ERROR, WARNING, severity_color};
use super::viewer::{own_state_color, status_color, status_meaning};

/// The most lines a card's footer shows.
pub const FOOTER_LINES: usize = 5;

/// Room kept free below a card for what a run adds to it (its footer at its tallest; canvas
/// units): placement treats every card as this much taller.
pub const FOOTER_ROOM: f32 = 90.0;

/// The widest a card's texts may be (canvas units at 1:1); longer lines are cut with "…".
pub const CARD_WIDTH: f32 = 230.0;

/// Characters in a card's line of gauges.
const CARD_LINE: usize = 28;

/// One line of a card's footer.
pub struct FooterLine {
    /// The text, styled.
    pub text: RichText,
    /// Shown on hover (the whole text of a line that was cut).
    pub hover: Option<String>,
    /// Drawn beside it (the rate beside the status).
    pub beside: Option<RichText>,
    /// A line of counters: the card is made wide enough for it (a number cut short reads as
    /// another number).
    pub whole: bool,
}

impl FooterLine {
    fn new(text: RichText) -> Self {
        FooterLine { text, hover: None, beside: None, whole: false }
    }

    /// A line of counters (see [`FooterLine::whole`]).
    fn counters(text: RichText) -> Self {
        FooterLine { whole: true, ..FooterLine::new(text) }
    }

    fn hover(mut self, text: impl Into<String>) -> Self {
        self.hover = Some(text.into());
        self
    }

    /// The line's plain text.
    pub fn plain(&self) -> &str {
        self.text.text()
    }
}

/// Every line a card could show, most important first: status (with the rate while running),
/// counts, errors and drops, the node's own state, the failure message, the worst problem,
/// then what is rarer or slower to change.
pub fn footer_lines(s: Option<&NodeSnapshot>, problems: &[&Problem], paused: bool) -> Vec<FooterLine> {
    let mut lines = Vec::new();
    if let Some(s) = s {
        // A rate is shown while the node runs; a paused or ended node has none.
        let running = s.status == NodeStatus::Running;
        let (name, color, meaning) = status_look(s, paused);
        let mut status = FooterLine::new(RichText::new(format!("● {name}")).color(color).small()).hover(meaning);
        if running && !paused {
            let rate = s.rate_out.max(s.rate_in);
            status.beside = Some(RichText::new(format::rate(rate)).small().monospace());
        }
        lines.push(status);
        let mut counts = format!("in {}  out {}", format::count(s.events_in), format::count(s.events_out));
        // Events inside the node (a buffer's queue, a window's state, a source's batch not yet
        // on its wire): without it a running graph's numbers do not add up.
        if s.held > 0 {
            counts.push_str(&format!("  held {}", format::count(s.held)));
        }
        lines.push(FooterLine::counters(RichText::new(counts).small().monospace()).hover(counts_meaning(s)));
        if s.errors > 0 || s.dropped > 0 {
            let text = format!("errors {}  dropped {}", format::count(s.errors), format::count(s.dropped));
            lines.push(FooterLine::counters(RichText::new(text).small().color(ERROR)));
        }
        if let Some(line) = s.state_line() {
            lines.push(cut(&line, 48, own_state_color(s.state)));
        }
        if let Some(msg) = &s.message {
            lines.push(cut(msg, 48, status_color(s.status)));
        }
    }
    if let Some(line) = problem_line(problems) {
        lines.push(line);
    }
    if let Some(s) = s {
        if s.lost_on_kill > 0 {
            let text = format!("lost when cancelled {}", format::count(s.lost_on_kill));
            lines.push(FooterLine::new(RichText::new(text).small().color(ERROR)));
        }
        for line in gauge_lines(s, CARD_LINE) {
            lines.push(FooterLine::new(RichText::new(line).small().monospace()));
        }
        if s.filtered > 0 || s.discarded > 0 {
            let text = format!("filtered {}  discarded {}", format::count(s.filtered), format::count(s.discarded));
            lines.push(FooterLine::counters(RichText::new(text).small().monospace().weak()));
        }
    }
    lines
}

/// What the counts line's numbers mean, with this node's own. `out` counts each event sent
/// once, however many wires it goes on; what a full wire then dropped is counted per wire in
/// `dropped`. A source (nothing in, but something made) counts in `out` what it made, its
/// `held` batch included before its wire takes it.
fn counts_meaning(s: &NodeSnapshot) -> String {
    let wire_dropped = s.dropped.saturating_sub(s.dropped_inside);
    let dropped = if wire_dropped > 0 {
        format!("; its wires then dropped {wire_dropped} (counted per wire)")
    } else {
        String::new()
    };
    let accounted = s.passed + s.filtered + s.errors + s.dropped_inside + s.held + s.lost_on_kill;
    if s.events_in == 0 && accounted > 0 {
        let lost = if s.lost_on_kill > 0 { format!(", {} lost when cancelled", s.lost_on_kill) } else { String::new() };
        return format!(
            "out {}: events made and sent on its outputs{dropped}\nheld {}: made, not yet taken by its wire (in out already){lost}",
            s.events_out, s.held
        );
    }
    let mut text =
        format!("in {}: events received\nout {}: events sent on its outputs{dropped}", s.events_in, s.events_out);
    text.push_str(&format!("\nheld {}: inside the node now (a window: in open windows)", s.held));
    text.push_str(&format!(
        "\nin = passed {} + filtered {} + errors {} + dropped inside {} + held {}",
        s.passed, s.filtered, s.errors, s.dropped_inside, s.held
    ));
    if s.lost_on_kill > 0 {
        text.push_str(&format!(" + lost when cancelled {}", s.lost_on_kill));
    }
    text
}

/// The status line's word, colour and hover text. A running node whose connection is not
/// working (connecting, reconnecting, degraded, given up or closed) takes the colour of that
/// state: a green dot beside "reconnecting: attempt 6" read as all well.
fn status_look(s: &NodeSnapshot, paused: bool) -> (&'static str, Color32, &'static str) {
    let running = s.status == NodeStatus::Running;
    match s.state {
        _ if running && paused => ("paused", WARNING, "Paused: the run is paused."),
        Some(
            NodeState::Connecting
            | NodeState::Reconnecting
            | NodeState::Degraded
            | NodeState::Failed
            | NodeState::Closed,
        ) if running => {
            ("running", own_state_color(s.state), "Running, but its connection is not working (see the line below).")
        }
        _ => (s.status.name(), status_color(s.status), status_meaning(s.status)),
    }
}

/// Draws `lines` as a card's footer: the status and rate side by side, at most
/// [`FOOTER_LINES`] lines, the last one saying how many more there are (all of them on hover).
pub fn show(ui: &mut Ui, mut lines: Vec<FooterLine>) {
    ui.set_max_width(CARD_WIDTH);
    // The card is at least as wide as its counters: a number cut at the card's edge reads as
    // another number ("out 596" for 5963). Counter lines are short (counts are abbreviated).
    let counters = lines.iter().filter(|l| l.whole).take(FOOTER_LINES).map(|l| {
        let text = egui::WidgetText::from(l.text.clone());
        let galley = text.into_galley(ui, Some(egui::TextWrapMode::Extend), f32::INFINITY, egui::TextStyle::Small);
        galley.size().x
    });
    let widest = counters.fold(0.0f32, f32::max);
    ui.set_min_width(widest.min(CARD_WIDTH));
    // Lines never wrap: a long one is cut to the card's width.
    ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
    ui.vertical(|ui| {
        let overflow = (lines.len() > FOOTER_LINES).then(|| lines.split_off(FOOTER_LINES - 1));
        for line in lines {
            // A row of its own only for a line with something beside it (rows are taller).
            let r = match line.beside {
                Some(beside) => {
                    ui.horizontal(|ui| {
                        let r = ui.label(line.text);
                        ui.label(beside);
                        r
                    })
                    .inner
                }
                None => ui.label(line.text),
            };
            if let Some(h) = line.hover {
                r.on_hover_text(h);
            }
        }
        if let Some(rest) = overflow {
            let all: Vec<&str> = rest.iter().map(FooterLine::plain).collect();
            ui.label(RichText::new(format!("+{} more", rest.len())).small().weak()).on_hover_text(all.join("\n"));
        }
    });
}

/// The worst problem, in its severity's colour, with how many more there are (all on hover).
fn problem_line(problems: &[&Problem]) -> Option<FooterLine> {
    let mut sorted = problems.to_vec();
    sorted.sort_by_key(|p| !p.is_error());
    let first = sorted.first()?;
    let more = if sorted.len() > 1 { format!(" (+{})", sorted.len() - 1) } else { String::new() };
    let icon = if first.is_error() { "⛔" } else { "⚠" };
    let all: Vec<&str> = sorted.iter().map(|p| p.message.as_str()).collect();
    let text = RichText::new(format!("{icon} {}{more}", truncate(&first.message, 40))).small();
    Some(FooterLine::new(text.color(severity_color(first.severity))).hover(all.join("\n")))
}

/// `s` cut to `max` characters, the whole of it on hover.
fn cut(s: &str, max: usize, color: Color32) -> FooterLine {
    FooterLine::new(RichText::new(truncate(s, max)).small().color(color)).hover(s)
}

/// `s` cut to `max` characters with "…".
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let t: String = s.chars().take(max).collect();
        format!("{t}…")
    }
}

/// A node's gauges as `name value` pairs, packed into lines of at most `width` characters
/// (a pair longer than that has a line of its own).
fn gauge_lines(s: &NodeSnapshot, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for (name, value) in &s.gauges {
        let pair = format!("{name} {}", format::count(*value));
        match lines.last_mut() {
            Some(line) if line.chars().count() + 2 + pair.chars().count() <= width => {
                line.push_str("  ");
                line.push_str(&pair);
            }
            _ => lines.push(pair),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeMap;

    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use streamloom_runtime::metrics::NodeState;

    use super::*;

    /// A failed connection with a long message, drops and many gauges: more than a card shows.
    fn busy_node() -> NodeSnapshot {
        let long = "gave up after 12 failed attempts to reach wss://a-very-long-host-name.example.invalid:9443/stream";
        NodeSnapshot {
            id: "feed".into(),
            kind: "websocket_source".into(),
            status: NodeStatus::Failed,
            message: Some(long.into()),
            events_in: 0,
            events_out: 7,
            errors: 3,
            dropped: 2,
            passed: 0,
            filtered: 4,
            discarded: 1,
            skipped: 0,
            dropped_inside: 0,
            held: 0,
            lost_on_kill: 5,
            busy_secs: 0.0,
            rate_in: 0.0,
            rate_out: 0.0,
            state: Some(NodeState::Failed),
            state_message: Some(long.into()),
            gauges: [("reconnects", 12), ("clients", 0), ("bytes_in", 123_456), ("messages_in", 99)]
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect::<BTreeMap<_, _>>(),
            last_error: None,
        }
    }

    #[test]
    fn a_card_footer_keeps_to_its_lines_and_width_and_lists_the_rest_on_hover() {
        for status in [NodeStatus::Failed, NodeStatus::Running] {
            footer_fits(status);
        }
    }

    /// A node holding events says so beside its counts (a buffer's queue: in 31.0k, out
    /// 26.0k read as 5,000 events missing).
    #[test]
    fn the_counts_line_says_what_the_node_holds() {
        let node = NodeSnapshot { events_in: 31_000, events_out: 26_000, held: 5_000, ..busy_node() };
        let lines = footer_lines(Some(&node), &[], false);
        assert_eq!(lines[1].plain(), "in 31.0k  out 26.0k  held 5000");
        let node = NodeSnapshot { held: 0, ..node };
        assert_eq!(footer_lines(Some(&node), &[], false)[1].plain(), "in 31.0k  out 26.0k");
    }

    /// A running node's dot is green only while its connection works.
    #[test]
    fn a_running_node_whose_connection_is_down_is_not_shown_green() {
        let green = status_color(NodeStatus::Running);
        let node = |state| NodeSnapshot { status: NodeStatus::Running, state, ..busy_node() };
        assert_eq!(status_look(&node(None), false).1, green);
        assert_eq!(status_look(&node(Some(NodeState::Connected)), false).1, green);
        for state in [NodeState::Connecting, NodeState::Reconnecting, NodeState::Degraded] {
            let (name, color, _) = status_look(&node(Some(state)), false);
            assert_eq!((name, color), ("running", own_state_color(Some(state))), "{state:?}");
            assert_ne!(color, green, "{state:?}");
        }
        assert_eq!(status_look(&node(Some(NodeState::Failed)), false).1, ERROR);
        assert_eq!(status_look(&node(Some(NodeState::Reconnecting)), true).0, "paused");
        // An ended node shows how it ended, whatever its connection last was.
        let ended = NodeSnapshot { status: NodeStatus::Stopped, ..node(Some(NodeState::Reconnecting)) };
        assert_eq!(status_look(&ended, false).1, status_color(NodeStatus::Stopped));
    }

    /// Hovering the counts spells out what they mean with the node's numbers: `out` holds
    /// what a full wire dropped, so `in 40000 out 40000 dropped 12832` adds up.
    #[test]
    fn the_counts_line_says_on_hover_how_its_numbers_add_up() {
        let node = NodeSnapshot {
            events_in: 40_000,
            events_out: 40_000,
            passed: 40_000,
            dropped: 12_832,
            dropped_inside: 0,
            held: 0,
            errors: 0,
            filtered: 0,
            lost_on_kill: 0,
            ..busy_node()
        };
        let text = counts_meaning(&node);
        assert!(text.contains("out 40000: events sent on its outputs; its wires then dropped 12832"), "{text}");
        assert!(text.contains("in = passed 40000 + filtered 0 + errors 0 + dropped inside 0 + held 0"), "{text}");
        assert_eq!(footer_lines(Some(&node), &[], false)[1].hover.as_deref(), Some(text.as_str()));
        // A source takes nothing in: no equation over `in`, what it made is in `out`.
        let source = NodeSnapshot { events_in: 0, events_out: 256, passed: 0, held: 0, lost_on_kill: 256, ..node };
        let text = counts_meaning(&source);
        assert!(!text.contains("in ="), "{text}");
        assert!(text.starts_with("out 256: events made") && text.contains("256 lost when cancelled"), "{text}");
    }

    fn footer_fits(status: NodeStatus) {
        let node = NodeSnapshot { status, ..busy_node() };
        let all = footer_lines(Some(&node), &[], false);
        assert!(all.len() > FOOTER_LINES, "{} lines", all.len());
        let mut h = Harness::builder().with_size(egui::vec2(800.0, 400.0)).build_ui(move |ui| {
            let lines = footer_lines(Some(&NodeSnapshot { status, ..busy_node() }), &[], false);
            let r = ui.scope(|ui| show(ui, lines)).response;
            ui.ctx().data_mut(|d| d.insert_temp(egui::Id::new("footer-rect"), r.rect));
        });
        h.run();
        let more = all.len() - (FOOTER_LINES - 1);
        h.get_by_label(&format!("+{more} more"));
        assert!(h.query_by_label_contains("filtered").is_none(), "a line past the last is on hover only");
        let rect: egui::Rect = h.ctx.data(|d| d.get_temp(egui::Id::new("footer-rect"))).unwrap();
        assert!(rect.width() <= CARD_WIDTH + 0.5, "{rect:?}");
        assert!(rect.height() < FOOTER_ROOM, "{rect:?} fits the room kept below a card");
    }
}

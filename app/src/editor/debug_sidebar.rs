//! The debug sidebar (like Node-RED's): every event of the ports marked for debugging, of
//! `debug` sinks and of `console_sink`s, newest first, with pause, clear, a filter by node
//! and by text, and a collapsible JSON view per event.
//!
//! It keeps its own copy, at most each source's capacity (1000 by default) per source, so
//! memory stays bounded and the events of the last run stay until cleared, the next run
//! starts (each run's list starts empty) or the graph is replaced. While paused it takes
//! nothing new, even from a new run; on resume it takes what the latest run still keeps
//! (events a source's ring dropped meanwhile are not shown).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use egui::{Id, RichText, Ui};
use streamloom_runtime::debug::{DebugCursor, DebugEntry, DebugLog};

use super::json_tree::json_tree;

/// The most events drawn at once (the newest that match the filters).
pub const MAX_DRAWN: usize = 300;

/// Longest one-line preview of an event.
const PREVIEW_CHARS: usize = 120;

/// One kept event, with its text for filtering and its preview.
struct Kept {
    /// Order of arrival in the sidebar (across runs): higher is newer.
    n: u64,
    entry: DebugEntry,
    /// Lower-case compact JSON and source label, for the text filter.
    haystack: String,
    preview: String,
}

/// The debug sidebar's events and controls.
#[derive(Default)]
pub struct DebugSidebar {
    /// Events by source (node id, port), oldest first, each bounded by its capacity.
    kept: BTreeMap<(String, String), VecDeque<Kept>>,
    next: u64,
    /// The log read last, and how far it was read.
    log: Option<(Arc<DebugLog>, DebugCursor)>,
    /// Takes no new events while set.
    pub paused: bool,
    /// Show only this node's events (all when `None`).
    pub node_filter: Option<String>,
    /// Show only events whose JSON or source contains this text (any case).
    pub text_filter: String,
}

impl DebugSidebar {
    /// Takes new events from `log` (the current or last run's), unless paused. Never waits.
    pub fn poll(&mut self, log: Option<Arc<DebugLog>>) {
        let Some(log) = log else { return };
        // Paused, the list stays as it is, even across runs.
        if self.paused {
            return;
        }
        if !self.log.as_ref().is_some_and(|(l, _)| Arc::ptr_eq(l, &log)) {
            // A new run: its list starts empty (counts never mix two runs).
            self.kept.clear();
            self.log = Some((log, DebugCursor::default()));
        }
        let Some((log, cursor)) = &mut self.log else { return };
        let new = log.read_new(cursor);
        for entry in new {
            self.keep(entry);
        }
    }

    fn keep(&mut self, entry: DebugEntry) {
        let text = serde_json::to_string(&entry.value).unwrap_or_default();
        let haystack = format!("{} {}", entry.source.label, text).to_lowercase();
        let preview = if text.chars().count() > PREVIEW_CHARS {
            text.chars().take(PREVIEW_CHARS).chain(['…']).collect()
        } else {
            text
        };
        let ring = self.kept.entry((entry.source.node.clone(), entry.source.port.clone())).or_default();
        while ring.len() >= entry.source.capacity.max(1) {
            ring.pop_front();
        }
        ring.push_back(Kept { n: self.next, entry, haystack, preview });
        self.next += 1;
    }

    /// Forgets every event kept so far (new ones keep coming).
    pub fn clear(&mut self) {
        self.kept.clear();
    }

    /// Forgets everything, the run read included (another graph replaced this one).
    pub fn forget(&mut self) {
        self.kept.clear();
        self.log = None;
        self.node_filter = None;
    }

    /// How many events are kept (all sources).
    pub fn len(&self) -> usize {
        self.kept.values().map(VecDeque::len).sum()
    }

    /// Whether no event is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kept events that pass the filters, newest first, as (source label, seq, value).
    pub fn shown(&self) -> Vec<&DebugEntry> {
        self.matching().into_iter().map(|k| &k.entry).collect()
    }

    fn matching(&self) -> Vec<&Kept> {
        let needle = self.text_filter.trim().to_lowercase();
        let mut out: Vec<&Kept> = self
            .kept
            .iter()
            .filter(|((node, _), _)| self.node_filter.as_ref().is_none_or(|f| f == node))
            .flat_map(|(_, ring)| ring.iter())
            .filter(|k| needle.is_empty() || k.haystack.contains(&needle))
            .collect();
        out.sort_by_key(|k| std::cmp::Reverse(k.n));
        out
    }

    /// Draws the controls and the events.
    pub fn show(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            let pause = if self.paused { "⏵ Resume list" } else { "⏸ Pause list" };
            if ui.button(pause).on_hover_text("Stop or resume taking new events").clicked() {
                self.paused = !self.paused;
            }
            if ui.button("Clear").on_hover_text("Forget the events shown").clicked() {
                self.clear();
            }
        });
        self.filters(ui);
        let matching = self.matching();
        let total = self.len();
        let count = if matching.len() == total {
            format!("{total} event(s)")
        } else {
            format!("{} of {total} event(s) match", matching.len())
        };
        let paused = if self.paused { " · paused" } else { "" };
        // A full source lets its oldest events go: say so rather than look like the end.
        let capacity_reached = self
            .kept
            .values()
            .filter_map(|ring| ring.back().map(|k| (ring.len(), k.entry.source.capacity)))
            .filter(|&(len, capacity)| len >= capacity.max(1))
            .map(|(_, capacity)| capacity)
            .max();
        let full = match capacity_reached {
            Some(cap) => format!(" · sources keep their newest {cap}, older ones are let go"),
            None => String::new(),
        };
        ui.label(RichText::new(format!("{count}{full}{paused}")).weak());
        ui.separator();
        if total == 0 {
            ui.label(
                RichText::new(
                    "No debug events yet. Add a `debug` sink, or mark an output for debugging \
                     (select a node or a wire, then tick its port below the filters), and run.",
                )
                .weak(),
            );
        }
        egui::ScrollArea::vertical().auto_shrink([false, false]).id_salt("debug-events").show(ui, |ui| {
            for k in matching.iter().take(MAX_DRAWN) {
                let e = &k.entry;
                ui.label(RichText::new(format!("{:.3} s · {} · #{}", e.at_secs, e.source.label, e.seq)).small().weak());
                json_tree(ui, Id::new(("debug-event", k.n)), RichText::new(&k.preview).monospace(), &e.value);
            }
            if matching.len() > MAX_DRAWN {
                ui.label(RichText::new(format!("… {} older event(s) not drawn", matching.len() - MAX_DRAWN)).weak());
            }
        });
    }

    fn filters(&mut self, ui: &mut Ui) {
        let nodes: Vec<String> = {
            let mut v: Vec<String> = self.kept.keys().map(|(n, _)| n.clone()).collect();
            v.dedup();
            v
        };
        ui.horizontal(|ui| {
            let label = ui.label("Node");
            let shown = self.node_filter.clone().unwrap_or_else(|| "all nodes".into());
            egui::ComboBox::from_id_salt("debug-node-filter")
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.node_filter, None, "all nodes");
                    for n in nodes {
                        ui.selectable_value(&mut self.node_filter, Some(n.clone()), n);
                    }
                })
                .response
                .labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            let label = ui.label("Text");
            ui.add(egui::TextEdit::singleline(&mut self.text_filter).hint_text("filter events")).labelled_by(label.id);
        });
    }
}

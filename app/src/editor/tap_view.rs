//! The inspector's "Recent events" section: the last events that left the inspected node,
//! newest first, with the port they left on and their JSON (like Node-RED's debug sidebar).

use egui::{RichText, Ui};
use streamloom_runtime::registry::ERRORS_PORT;
use streamloom_runtime::tap::TappedEvent;

use super::problems::ERROR;

/// Longest JSON shown in full; longer events are cut (the whole text is on hover).
const MAX_CHARS: usize = 400;

/// Draws the section for `events` (newest first).
pub fn recent_events(ui: &mut Ui, events: &[TappedEvent]) {
    ui.separator();
    ui.label(RichText::new(format!("Recent events ({})", events.len())).strong()).on_hover_text(
        "The last few events of each batch this node sent while selected, on every output \
         (errors included), newest first; for a sink, what reached it (`received`).",
    );
    if events.is_empty() {
        ui.label(
            RichText::new(
                "Nothing recorded: a node's events are recorded while it is selected during a run \
                 (select it, then run), or mark its output for debugging in the Debug sidebar.",
            )
            .weak(),
        );
        return;
    }
    for t in events {
        let json = serde_json::to_string(&t.event.value).unwrap_or_default();
        ui.horizontal_wrapped(|ui| {
            let port = RichText::new(&*t.port).small().monospace();
            ui.label(if &*t.port == ERRORS_PORT { port.color(ERROR) } else { port.weak() });
            ui.label(RichText::new(format!("#{}", t.event.seq)).small().weak());
            let shown = if json.chars().count() > MAX_CHARS {
                format!("{}…", json.chars().take(MAX_CHARS).collect::<String>())
            } else {
                json.clone()
            };
            let r = ui.label(RichText::new(shown).monospace());
            if json.chars().count() > MAX_CHARS {
                r.on_hover_text(json);
            }
        });
    }
}

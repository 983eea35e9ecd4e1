//! A node's own status in the editor, driven with egui_kittest: the card shows its state and
//! message (a WebSocket client that cannot connect), and its gauges (a window's state); the
//! inspector lists every gauge by name.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use serde_json::json;
use streamloom::editor::EditorApp;
use streamloom_runtime::{Graph, Node, PortRef, Wire};

fn node(id: &str, kind: &str, pos: [f32; 2], config: serde_json::Value) -> Node {
    Node { id: id.into(), kind: kind.into(), version: 1, position: Some(pos), config }
}

fn harness(g: Graph) -> Harness<'static, EditorApp> {
    let app = EditorApp::new(streamloom_nodes::builtin_registry(), Some((g, None)));
    Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .with_max_steps(20)
        .build_ui_state(|ui, app: &mut EditorApp| app.ui(ui), app)
}

/// Presses Run and steps the UI until the run has ended (20 s at most).
fn run_to_end(h: &mut Harness<'static, EditorApp>) {
    h.run_ok();
    h.get_by_label("▶ Run").click();
    let deadline = Instant::now() + Duration::from_secs(20);
    while h.state().runner().outcome().is_none() {
        h.step();
        assert!(Instant::now() < deadline, "run did not finish: {}", h.state().runner().status());
        std::thread::sleep(Duration::from_millis(20));
    }
    h.step();
    h.step();
}

#[test]
fn the_card_shows_a_windows_gauges_and_the_inspector_lists_them_by_name() {
    let g = Graph {
        nodes: vec![
            node("gen", "generator", [0.0, 0.0], json!({"count": 300, "payload": "sample_events", "seed": 1})),
            node(
                "win",
                "window",
                [250.0, 0.0],
                json!({"type": "tumbling", "size": "1s", "time_field": "ts", "aggregates": ["count = count"]}),
            ),
            node("sink", "null_sink", [500.0, 0.0], json!({})),
        ],
        wires: vec![
            Wire::new(PortRef::new("gen", "out"), PortRef::new("win", "in")),
            Wire::new(PortRef::new("win", "out"), PortRef::new("sink", "in")),
        ],
        ..Default::default()
    };
    let mut h = harness(g);
    h.state_mut().select_node("win");
    run_to_end(&mut h);
    // On the card, packed into lines short enough not to widen it much.
    h.get_by_label("keys 0  open_windows 0");
    h.get_by_label("state_bytes 0");
    for gauge in ["open_windows", "keys", "state_bytes"] {
        h.get_by_label(gauge);
    }
}

#[test]
fn the_card_shows_a_connections_state_and_message() {
    // Nothing listens on port 1: every attempt is refused, and after two the node gives up.
    let g = Graph {
        nodes: vec![
            node(
                "feed",
                "websocket_source",
                [0.0, 0.0],
                json!({"url": "ws://127.0.0.1:1/", "max_attempts": 2, "backoff_initial": "50ms", "backoff_max": "50ms"}),
            ),
            node("sink", "null_sink", [300.0, 0.0], json!({})),
        ],
        wires: vec![Wire::new(PortRef::new("feed", "out"), PortRef::new("sink", "in"))],
        ..Default::default()
    };
    let mut h = harness(g);
    h.state_mut().select_node("feed");
    run_to_end(&mut h);
    // On the card (cut to fit) and in the inspector (whole).
    let shown = h.query_all_by_label_contains("failed: gave up after 2 failed attempt(s); last").count();
    assert_eq!(shown, 2);
    h.get_by_label("reconnects");
}

//! Old graph files keep loading: every fixture of every format version loads, round-trips
//! and (apart from kinds this build does not know) validates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use streamloom_runtime::graph::{load_file, parse, to_ron};
use streamloom_runtime::validate::validate;

#[test]
fn every_format_fixture_loads_round_trips_and_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let registry = streamloom_nodes::builtin_registry();
    let mut count = 0;
    for version in std::fs::read_dir(&root).unwrap() {
        let version = version.unwrap().path();
        if !version.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&version).unwrap() {
            let path = file.unwrap().path();
            let (graph, _) = load_file(&path).unwrap_or_else(|p| panic!("{p}"));
            let text = to_ron(&graph);
            let (again, _) = parse(&text).unwrap_or_else(|p| panic!("{}: {p}\n{text}", path.display()));
            assert_eq!(again, graph, "{}", path.display());
            assert_eq!(to_ron(&again), text);
            for p in validate(&graph, &registry).0 {
                assert!(
                    p.message.contains("unknown node kind") || p.message.contains("some_future_kind"),
                    "{}: {p}",
                    path.display()
                );
            }
            count += 1;
        }
    }
    assert!(count >= 2, "fixtures found: {count}");
}

#[test]
fn an_unknown_kind_survives_load_and_save_unchanged() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/format-v1/minimal_and_future_kind.ron");
    let (graph, _) = load_file(&path).unwrap();
    let later = graph.node("later").unwrap();
    assert_eq!(later.version, 3);
    assert_eq!(later.config, serde_json::json!({"anything": [1, "two", {"three": 3.0}]}));
    let (again, _) = parse(&to_ron(&graph)).unwrap();
    assert_eq!(again.node("later"), Some(later));
}

#[test]
fn a_format_2_file_keeps_its_comments_and_groups() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/format-v2/comments_and_groups.ron");
    let (graph, _) = load_file(&path).unwrap();
    assert_eq!(graph.comments.len(), 1);
    assert_eq!(graph.comments[0].text, "Ten events,\nthen done.");
    assert_eq!(graph.groups[0].nodes, vec!["gen".to_string(), "double".to_string()]);
    assert_eq!(graph.groups[0].color, [200, 120, 40]);
    assert!(to_ron(&graph).contains("format: 2,"));
}

//! Tests that run over every registered kind.

use serde_json::Value;
use streamloom_runtime::graph::{Graph, Node, parse, to_ron};
use streamloom_runtime::registry::ERRORS_PORT;

use crate::builtin_registry;

#[test]
fn every_default_config_round_trips_through_ron_and_validates() {
    let registry = builtin_registry();
    assert!(registry.kinds().len() >= 8);
    for kind in registry.kinds() {
        let config = kind.default_config();
        assert!(config.is_object(), "{}: default config is a struct", kind.name());
        assert!(
            kind.validate(&config).is_empty(),
            "{}: default config is valid: {:?}",
            kind.name(),
            kind.validate(&config)
        );
        let graph = Graph {
            nodes: vec![Node {
                id: "n".into(),
                kind: kind.name().into(),
                version: kind.version(),
                position: None,
                config,
            }],
            ..Default::default()
        };
        let text = to_ron(&graph);
        let (back, _) = parse(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", kind.name()));
        assert_eq!(back, graph, "{}: round trip", kind.name());
        assert!(kind.validate(&back.nodes[0].config).is_empty(), "{}: still valid after the round trip", kind.name());
    }
}

#[test]
fn every_param_names_a_config_field_and_every_kind_has_an_errors_port() {
    let registry = builtin_registry();
    for kind in registry.kinds() {
        let config = kind.default_config();
        let obj = config.as_object().unwrap();
        for p in kind.params() {
            assert!(
                p.optional || obj.contains_key(&p.name),
                "{}: param `{}` is a field of the default config",
                kind.name(),
                p.name
            );
        }
        for p in kind.params() {
            if let streamloom_runtime::registry::ParamKind::Choice { choices } = &p.kind
                && let Some(v) = obj.get(&p.name)
            {
                assert_eq!(
                    v.as_str(),
                    choices.first().map(String::as_str),
                    "{}: the first choice of `{}` is its default (the editor shows it when a file omits it)",
                    kind.name(),
                    p.name
                );
            }
        }
        let ports = kind.ports(&config);
        assert_eq!(ports.outputs.last().map(|p| p.name.as_str()), Some(ERRORS_PORT), "{}", kind.name());
    }
}

#[test]
fn unknown_and_missing_fields_name_the_field() {
    let registry = builtin_registry();
    let filter = registry.get("filter").unwrap();
    let problems = filter.validate(&serde_json::json!({"condition": ".a", "conditon": ".b"}));
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].field.as_deref(), Some("conditon"));
    assert!(problems[0].message.contains("unknown field"), "{}", problems[0].message);
    let problems = filter.validate(&Value::Object(Default::default()));
    assert_eq!(problems[0].field.as_deref(), Some("condition"));
    assert!(problems[0].message.contains("missing field"), "{}", problems[0].message);
}

#[test]
fn every_kind_has_an_example_naming_it_or_one_of_its_parameters() {
    for kind in builtin_registry().kinds() {
        let example = kind.example();
        assert!(example.len() > 40, "{}: an example of a sentence or more for the help panel", kind.name());
        let params = kind.params();
        assert!(
            params.is_empty() || params.iter().any(|p| example.contains(&format!("`{}", p.name))),
            "{}: the example shows at least one of its parameters: {example}",
            kind.name()
        );
    }
}

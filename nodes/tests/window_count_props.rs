//! Count windows on random streams against a brute-force reference: per key, after every
//! `every`-th event a row over its last `n` events; at the end, if events came after the last
//! row, the row the next firing would have had so far; every event resolved once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;
use streamloom_nodes::operators::window::{AggSpec, CountWindows, KeyFields};

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn count_windows_match_a_brute_force_reference(
        every in 1u64..5,
        panes in 1u64..4,
        events in prop::collection::vec((0u8..3, -20i64..20), 0..80),
    ) {
        let n = every * panes;
        let specs = ["c = count", "s = sum(v)", "lo = min(v)"].iter().map(|s| AggSpec::parse(s).unwrap()).collect();
        let mut w = CountWindows::new(n, every, specs, KeyFields::new(&["k".into()]));
        let mut rows = Vec::new();
        let mut resolved = 0;
        for (k, v) in &events {
            resolved += w.add(&json!({"k": k, "v": v}), None, &mut rows);
        }
        let before_end = rows.len();
        resolved += w.finish(&mut rows);
        prop_assert_eq!(resolved, events.len() as u64);
        prop_assert_eq!(w.keys(), 0);

        // Reference: per key, the rows in order.
        let mut seen: BTreeMap<u8, Vec<i64>> = BTreeMap::new();
        let mut expected: Vec<(u8, u64, i64, i64)> = Vec::new();
        for (k, v) in &events {
            let list = seen.entry(*k).or_default();
            list.push(*v);
            if (list.len() as u64).is_multiple_of(every) {
                let last: Vec<i64> = list.iter().rev().take(n as usize).copied().collect();
                expected.push((*k, last.len() as u64, last.iter().sum(), *last.iter().min().unwrap()));
            }
        }
        let mut at_end = Vec::new();
        for (k, list) in &seen {
            let partial = list.len() as u64 % every;
            if partial != 0 {
                // The window the next firing would have had, so far: the panes before it and
                // the partial one.
                let take = (partial + (panes - 1) * every) as usize;
                let last: Vec<i64> = list.iter().rev().take(take).copied().collect();
                at_end.push((*k, last.len() as u64, last.iter().sum(), *last.iter().min().unwrap()));
            }
        }
        let got: Vec<(u8, u64, i64, i64)> = rows
            .iter()
            .map(|r| {
                let v = &r.value;
                (v["k"].as_u64().unwrap() as u8, v["c"].as_u64().unwrap(), v["s"].as_i64().unwrap(), v["lo"].as_i64().unwrap())
            })
            .collect();
        prop_assert_eq!(&got[..before_end], &expected[..]);
        prop_assert_eq!(&got[before_end..], &at_end[..]);
    }
}

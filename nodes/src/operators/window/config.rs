//! The `window` node's config: the window type and its durations, the key fields, the
//! aggregates, where event time comes from, and the allowed lateness.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use streamloom_runtime::registry::{ConfigProblem, ParamKind, ParamSpec};

use super::aggregate::AggSpec;
use super::assign::Assigner;
use crate::event_time::TimeUnit;

/// The kind of window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowType {
    /// Fixed, non-overlapping windows of `size`, aligned to the epoch plus `offset`.
    #[default]
    Tumbling,
    /// Windows of `size` starting every `slide` (hopping); an event is in `size / slide` of them.
    Sliding,
    /// Per key, a window that extends while events arrive within `gap` of each other.
    Session,
    /// Windows that grow by `step` from a start aligned to `max_size`, up to `max_size`.
    Cumulative,
    /// Per key, a window over the last `n` events, firing every `every` events.
    Count,
    /// Per key, one window over the whole stream, emitted every `interval` and at the end.
    Global,
}

/// Which clock windows follow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeMode {
    /// The events' own time, and watermarks.
    #[default]
    Event,
    /// The node's wall clock when an event arrives; windows fire on the clock.
    Processing,
}

/// Config of `window`.
///
/// Accounting: an event absorbed into a window is `held` until the last window holding it is
/// final (fired and past `allowed_lateness`, or at end of stream), then `passed`; one sent to
/// `late` is `passed` once delivered; one without a usable time or with a non-number for a
/// numeric aggregate is an `error`. Count windows hold an event until its last window fired,
/// global windows until end of stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// tumbling, sliding, session or cumulative.
    #[serde(rename = "type", default)]
    pub window_type: WindowType,
    /// Window length (tumbling, sliding), e.g. `10s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// How far apart sliding windows start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slide: Option<String>,
    /// Shift of the window starts from the epoch (tumbling, sliding, cumulative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<String>,
    /// Largest quiet time inside a session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gap: Option<String>,
    /// How much a cumulative window grows at each firing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Largest cumulative window; windows restart at multiples of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<String>,
    /// Global windows: how often rows are emitted (processing time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Count windows: events per window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// Count windows: fire every this many events (default `n`: tumbling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<u64>,
    /// Field paths (`user`, `geo.country`) whose values together form the key; empty: one stream.
    #[serde(default)]
    pub key_by: Vec<String>,
    /// Named aggregates, each `name = function(field)`: see [`AggSpec`].
    pub aggregates: Vec<String>,
    /// event or processing time.
    #[serde(default)]
    pub time: TimeMode,
    /// An input silent this long is left out of the watermark until it sends again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<String>,
    /// Field with the event time; absent: the time the source set (`time_field` there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_field: Option<String>,
    /// Unit of a numeric time field: ms or s.
    #[serde(default)]
    pub time_unit: TimeUnit,
    /// How long after a window's end late events still update it.
    #[serde(default = "zero")]
    pub allowed_lateness: String,
}

fn zero() -> String {
    "0s".into()
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            window_type: WindowType::Tumbling,
            size: Some("10s".into()),
            slide: None,
            offset: None,
            gap: None,
            step: None,
            max_size: None,
            interval: None,
            n: None,
            every: None,
            key_by: vec!["user".into()],
            aggregates: vec!["count = count".into(), "sum = sum(value)".into(), "p95 = p95(value)".into()],
            time: TimeMode::Event,
            idle_timeout: None,
            time_field: Some("ts".into()),
            time_unit: TimeUnit::Ms,
            allowed_lateness: zero(),
        }
    }
}

/// The parameters, for the editor's form and validation.
pub fn params() -> Vec<ParamSpec> {
    let dur = |name: &str, doc: &str| ParamSpec::optional(name, ParamKind::Text, doc);
    vec![
        ParamSpec::choice(
            "type",
            &["tumbling", "sliding", "session", "cumulative", "count", "global"],
            "tumbling: size (+offset); sliding: size, slide; session: gap, per key; cumulative: step, max_size; \
             count: n (+every); global: interval",
        ),
        dur("size", "Window length, e.g. 10s, 500ms, 1m (tumbling, sliding)"),
        dur("slide", "How far apart sliding windows start, e.g. 5s"),
        dur("offset", "Shift of window starts from the epoch, e.g. 2s (tumbling, sliding, cumulative)"),
        dur("gap", "A session closes after this long without an event of its key, e.g. 30s"),
        dur("step", "A cumulative window fires every step, e.g. 1m"),
        dur("max_size", "A cumulative window restarts after this, e.g. 1h"),
        dur("interval", "Global windows: emit the keys that changed this often (wall clock), e.g. 10s"),
        ParamSpec::optional("n", ParamKind::Integer { min: 1, max: 1_000_000 }, "Count windows: events per window"),
        ParamSpec::optional(
            "every",
            ParamKind::Integer { min: 1, max: 1_000_000 },
            "Count windows: fire every this many events (divides n; absent: n)",
        ),
        ParamSpec::new("key_by", ParamKind::TextList, "Key field paths (user, geo.country); empty: one window stream"),
        ParamSpec::new(
            "aggregates",
            ParamKind::TextList,
            "name = function(field): count, sum, avg, min, max, first, last, count_distinct, \
             p50/p90/p95/p99 or percentile(field, 0.75) (approximate: within 1 % of the value at rank \
             q·(n−1)), collect(field, 100); field `.` is the event",
        ),
        ParamSpec::choice(
            "time",
            &["event", "processing"],
            "event: the events' time and watermarks; processing: the wall clock on arrival, windows fire on the clock",
        ),
        dur("idle_timeout", "Leave an input silent this long out of the watermark until it sends again, e.g. 30s"),
        ParamSpec::optional(
            "time_field",
            ParamKind::Text,
            "Field with the event time (epoch ms or s, or RFC 3339 text); absent: the source's time_field",
        ),
        ParamSpec::choice("time_unit", &["ms", "s"], "Unit of a numeric time field"),
        ParamSpec::new(
            "allowed_lateness",
            ParamKind::Text,
            "Keep a fired window this long (0s: none); a late event in that span re-fires it with update: true",
        ),
    ]
}

/// Reads a duration written like `10s`, `500ms`, `1m`, `1h 30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| format!("`{text}` is not a duration like 10s, 500ms, 1m: {e}"))
}

/// Milliseconds of a duration field, checked (`positive`: must be more than 0).
fn millis(field: &str, value: Option<&str>, positive: bool) -> Result<Option<i64>, ConfigProblem> {
    let Some(text) = value else { return Ok(None) };
    let d = parse_duration(text).map_err(|m| ConfigProblem::field(field, m))?;
    let ms = i64::try_from(d.as_millis()).ok().filter(|ms| *ms <= MAX_MS);
    match ms {
        None => Err(ConfigProblem::field(field, format!("`{text}` is longer than 10 years"))),
        Some(0) if positive => Err(ConfigProblem::field(field, format!("`{text}` must be at least 1ms"))),
        Some(ms) => Ok(Some(ms)),
    }
}

/// Longest duration accepted (10 years), so window arithmetic never overflows.
const MAX_MS: i64 = 10 * 366 * 86_400_000;

/// How events are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// By event time.
    Time(Assigner),
    /// One window per key, emitted every `interval` ms.
    Global {
        /// Emission period (ms).
        interval: i64,
    },
    /// By count: `n` events, firing every `every`.
    Count {
        /// Events per window.
        n: u64,
        /// Events between firings.
        every: u64,
    },
}

/// A config read into what the node runs with.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Where events go.
    pub grouping: Grouping,
    /// Allowed lateness in ms.
    pub lateness: i64,
    /// Idle timeout of inputs in ms.
    pub idle_timeout: Option<i64>,
    /// The aggregates.
    pub aggregates: Vec<AggSpec>,
}

impl WindowConfig {
    /// Reads the config into a [`Plan`], or every problem, each naming its field.
    pub fn plan(&self) -> Result<Plan, Vec<ConfigProblem>> {
        let mut problems = Vec::new();
        let mut get = |field: &str, value: &Option<String>, positive: bool| {
            millis(field, value.as_deref(), positive).unwrap_or_else(|p| {
                problems.push(p);
                None
            })
        };
        let size = get("size", &self.size, true);
        let slide = get("slide", &self.slide, true);
        let offset = get("offset", &self.offset, false);
        let gap = get("gap", &self.gap, true);
        let step = get("step", &self.step, true);
        let max_size = get("max_size", &self.max_size, true);
        let lateness = get("allowed_lateness", &Some(self.allowed_lateness.clone()), false);
        let idle_timeout = get("idle_timeout", &self.idle_timeout, true);
        let interval = get("interval", &self.interval, true);
        let unreadable: Vec<String> = problems.iter().filter_map(|p| p.field.clone()).collect();
        let grouping = if matches!(self.window_type, WindowType::Count | WindowType::Global) {
            self.count_grouping(&mut problems, [size, slide, offset, gap, step, max_size], lateness, interval)
        } else {
            if interval.is_some() {
                problems.push(ConfigProblem::field("interval", "only global windows have `interval`; remove it"));
            }
            for (field, v) in [("n", self.n), ("every", self.every)] {
                if v.is_some() {
                    problems.push(ConfigProblem::field(field, format!("only count windows have `{field}`; remove it")));
                }
            }
            Assigner::from_parts(self.window_type, size, slide, offset.unwrap_or(0), gap, step, max_size)
                .map_err(|ps| {
                    problems
                        .extend(ps.into_iter().filter(|p| !p.field.as_ref().is_some_and(|f| unreadable.contains(f))))
                })
                .ok()
                .map(Grouping::Time)
        };
        let mut aggregates = Vec::new();
        for (i, text) in self.aggregates.iter().enumerate() {
            match AggSpec::parse(text) {
                Ok(a) if aggregates.iter().any(|b: &AggSpec| b.name == a.name) => problems.push(ConfigProblem::field(
                    &format!("aggregates[{i}]"),
                    format!("the name `{}` is used twice", a.name),
                )),
                Ok(a) => aggregates.push(a),
                Err(m) => problems.push(ConfigProblem::field(&format!("aggregates[{i}]"), m)),
            }
        }
        if self.aggregates.is_empty() {
            problems.push(ConfigProblem::field("aggregates", "name at least one aggregate, e.g. count = count"));
        }
        for (i, k) in self.key_by.iter().enumerate() {
            if k.trim().trim_start_matches('.').is_empty() {
                problems.push(ConfigProblem::field(&format!("key_by[{i}]"), "a key field path is empty"));
            }
            if let Some(a) = aggregates.iter().find(|a| a.name == super::row::field_name(k)) {
                problems.push(ConfigProblem::field(
                    &format!("key_by[{i}]"),
                    format!("the key `{k}` and the aggregate `{}` would share an output field", a.name),
                ));
            }
        }
        match (grouping, lateness, problems.is_empty()) {
            (Some(grouping), Some(lateness), true) => Ok(Plan { grouping, lateness, idle_timeout, aggregates }),
            _ => Err(problems),
        }
    }

    /// A count window's `n` and `every`, or a global window's `interval`; the time windows'
    /// duration fields must be absent.
    fn count_grouping(
        &self,
        problems: &mut Vec<ConfigProblem>,
        durations: [Option<i64>; 6],
        lateness: Option<i64>,
        interval: Option<i64>,
    ) -> Option<Grouping> {
        let ty = if self.window_type == WindowType::Count { "count" } else { "global" };
        let names = ["size", "slide", "offset", "gap", "step", "max_size"];
        for (field, v) in names.iter().zip(durations) {
            if v.is_some() {
                problems.push(ConfigProblem::field(field, format!("{ty} windows have no `{field}`; remove it")));
            }
        }
        if lateness.is_some_and(|l| l > 0) {
            problems.push(ConfigProblem::field("allowed_lateness", format!("{ty} windows have no lateness; use 0s")));
        }
        if self.window_type == WindowType::Global {
            for (field, v) in [("n", self.n), ("every", self.every)] {
                if v.is_some() {
                    problems.push(ConfigProblem::field(field, format!("only count windows have `{field}`; remove it")));
                }
            }
            if interval.is_none() && self.interval.is_none() {
                problems.push(ConfigProblem::field("interval", "global windows need `interval`, e.g. 10s"));
            }
            return interval.map(|interval| Grouping::Global { interval });
        }
        if interval.is_some() {
            problems.push(ConfigProblem::field("interval", "only global windows have `interval`; remove it"));
        }
        let Some(n) = self.n.filter(|n| *n > 0) else {
            problems.push(ConfigProblem::field("n", "count windows need `n`, the events per window"));
            return None;
        };
        let every = self.every.unwrap_or(n);
        if every == 0 || n % every != 0 {
            problems.push(ConfigProblem::field("every", format!("`every` must divide n ({n})")));
            return None;
        }
        Some(Grouping::Count { n, every })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_humans_write_them() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_duration("ten").is_err());
    }

    #[test]
    fn default_config_plans_and_problems_name_their_field() {
        assert!(WindowConfig::default().plan().is_ok());
        let cfg = WindowConfig {
            window_type: WindowType::Sliding,
            size: Some("0s".into()),
            aggregates: vec!["a = sum(x)".into(), "a = count".into(), "b = median(x)".into()],
            ..Default::default()
        };
        let problems = cfg.plan().unwrap_err();
        let fields: Vec<_> = problems.iter().filter_map(|p| p.field.as_deref()).collect();
        assert_eq!(fields, ["size", "slide", "aggregates[1]", "aggregates[2]"], "{problems:?}");
    }
}

//! Reading field paths and event times out of records (windows and sources with `time_field`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Unit of a numeric event-time field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Milliseconds since the epoch.
    #[default]
    Ms,
    /// Seconds since the epoch.
    S,
}

/// Event times beyond ± this many ms (about 31,000 years) are refused, so window arithmetic
/// with durations of at most 10 years cannot overflow.
pub const MAX_TIME: i64 = 1_000_000_000_000_000;

/// A dotted field path (`user`, `.geo.country`; `.` alone is the whole record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path(Vec<String>);

impl Path {
    /// Reads `a.b.c`, with or without a leading dot.
    pub fn parse(text: &str) -> Path {
        let t = text.trim().trim_start_matches('.');
        Path(if t.is_empty() { Vec::new() } else { t.split('.').map(str::to_string).collect() })
    }

    /// The value at this path, if there is one.
    pub fn get<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        self.0.iter().try_fold(v, |v, k| crate::field_lookup::member(v, k))
    }

    /// The path's parts.
    pub fn parts(&self) -> &[String] {
        &self.0
    }
}

/// Where event times come from.
#[derive(Debug, Clone)]
pub struct TimeSource {
    /// The field; `None`: the time the source set on the event.
    pub field: Option<Path>,
    /// Its unit when numeric.
    pub unit: TimeUnit,
}

impl TimeSource {
    /// The event time of a record in ms, when it has one: [`TimeSource::time_of`] without
    /// the text of why not, for callers that take an event without a time as it is.
    pub fn time_if_any(&self, value: &Value, stamped: Option<i64>) -> Option<i64> {
        match &self.field {
            None => stamped,
            Some(_) => self.time_of(value, stamped).ok(),
        }
    }

    /// The event time of a record in ms, or why there is none.
    pub fn time_of(&self, value: &Value, stamped: Option<i64>) -> Result<i64, String> {
        let Some(path) = &self.field else {
            return stamped.ok_or_else(|| {
                "the event has no event time: set `time_field` on the window or on its source".to_string()
            });
        };
        let field = path.get(value).ok_or_else(|| format!("no time field `{}`", path.0.join(".")))?;
        self.time_of_field(field)
    }

    /// The event time in ms held by `field`, the value of the record's time field, or why it
    /// is not a time.
    pub fn time_of_field(&self, field: &Value) -> Result<i64, String> {
        let name = || self.field.as_ref().map_or(String::new(), |p| p.0.join("."));
        let ms = match field {
            Value::Number(n) => {
                let scale = if self.unit == TimeUnit::S { 1000.0 } else { 1.0 };
                match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => self.scaled(i),
                    (None, Some(f)) => {
                        Some((f * scale).floor()).filter(|x| x.abs() < MAX_TIME as f64).map(|x| x as i64)
                    }
                    _ => None,
                }
            }
            Value::String(s) => Some(parse_rfc3339(s)?),
            other => return Err(format!("time field `{}` is not a time: {}", name(), short(other))),
        };
        ms.filter(|t| t.unsigned_abs() <= MAX_TIME.unsigned_abs())
            .ok_or_else(|| format!("time field `{}` is out of range: {}", name(), short(field)))
    }

    /// The event time in ms of a time field holding the integer `i`, when it is in range
    /// (what [`TimeSource::time_of_field`] gives for it).
    pub fn time_of_integer(&self, i: i64) -> Option<i64> {
        self.scaled(i).filter(|t| t.unsigned_abs() <= MAX_TIME.unsigned_abs())
    }

    /// An integer time in ms, before the range check.
    fn scaled(&self, i: i64) -> Option<i64> {
        if self.unit == TimeUnit::Ms { Some(i) } else { i.checked_mul(1000) }
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

/// Reads RFC 3339 text (`2024-05-01T12:00:00.250Z`, `2024-05-01T14:00:00+02:00`) into epoch ms.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let bad = || format!("`{}` is not RFC 3339 time", short(&Value::from(text)));
    let t = text.trim();
    // humantime reads UTC only: take a numeric offset off and apply it ourselves.
    let (base, offset_min) = match t.len().checked_sub(6).and_then(|i| t.get(i..).map(|tail| (i, tail))) {
        Some((i, tail)) if tail.starts_with(['+', '-']) && tail.as_bytes().get(3) == Some(&b':') => {
            let h: i64 = tail.get(1..3).and_then(|x| x.parse().ok()).ok_or_else(bad)?;
            let m: i64 = tail.get(4..6).and_then(|x| x.parse().ok()).ok_or_else(bad)?;
            let sign = if tail.starts_with('-') { -1 } else { 1 };
            (format!("{}Z", t.get(..i).ok_or_else(bad)?), sign * (h * 60 + m))
        }
        _ => (t.to_string(), 0),
    };
    let st = humantime::parse_rfc3339_weak(&base).map_err(|_| bad())?;
    let ms = match st.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).map_err(|_| bad())?,
        Err(e) => -i64::try_from(e.duration().as_millis()).map_err(|_| bad())?,
    };
    Ok(ms - offset_min * 60_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// An integer's time is what the field holding it gives, in range or not.
    #[test]
    fn an_integer_time_is_the_fields_time() {
        for unit in [TimeUnit::Ms, TimeUnit::S] {
            let source = TimeSource { field: Some(Path::parse("t")), unit };
            for i in [0, 1, -1, 1_700_000_000_003, MAX_TIME, MAX_TIME + 1, -MAX_TIME - 1, i64::MAX, i64::MIN] {
                assert_eq!(source.time_of_integer(i), source.time_of_field(&json!(i)).ok(), "{i} {unit:?}");
            }
        }
    }

    #[test]
    fn times_read_from_ms_seconds_floats_and_text() {
        let ms = TimeSource { field: Some(Path::parse("t")), unit: TimeUnit::Ms };
        let s = TimeSource { field: Some(Path::parse(".t")), unit: TimeUnit::S };
        assert_eq!(ms.time_of(&json!({"t": 1500}), None), Ok(1500));
        assert_eq!(ms.time_of(&json!({"t": 1500.7}), None), Ok(1500));
        assert_eq!(s.time_of(&json!({"t": 2}), None), Ok(2000));
        assert_eq!(s.time_of(&json!({"t": 2.5}), None), Ok(2500));
        assert_eq!(ms.time_of(&json!({"t": "1970-01-01T00:00:01.250Z"}), None), Ok(1250));
        assert_eq!(ms.time_of(&json!({"t": "1970-01-01T02:00:01+02:00"}), None), Ok(1000));
        assert!(ms.time_of(&json!({"t": "soon"}), None).is_err());
        assert!(ms.time_of(&json!({"t": true}), None).is_err());
        assert!(ms.time_of(&json!({"u": 1}), None).is_err());
        assert!(s.time_of(&json!({"t": i64::MAX}), None).is_err());
        let stamped = TimeSource { field: None, unit: TimeUnit::Ms };
        assert_eq!(stamped.time_of(&json!({}), Some(7)), Ok(7));
        assert!(stamped.time_of(&json!({}), None).is_err());
    }

    #[test]
    fn a_time_if_any_is_the_time_or_none_where_time_of_says_why_not() {
        let ms = TimeSource { field: Some(Path::parse("t")), unit: TimeUnit::Ms };
        let stamped = TimeSource { field: None, unit: TimeUnit::Ms };
        for (source, value, stamp) in [
            (&ms, json!({"t": 1500}), None),
            (&ms, json!({"t": "soon"}), Some(3)),
            (&ms, json!({"u": 1}), None),
            (&stamped, json!({}), Some(7)),
            (&stamped, json!({"t": 1}), None),
        ] {
            assert_eq!(source.time_if_any(&value, stamp), source.time_of(&value, stamp).ok(), "{value}");
        }
    }
}

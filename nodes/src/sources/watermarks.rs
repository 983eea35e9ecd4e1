//! Watermarks of a source: the largest event time seen, less a fixed delay. Shared by
//! `file_source` and `websocket_source` (event times themselves: [`crate::event_time`]).

use serde_json::Value;
use streamloom_runtime::Batch;

use crate::event_time::{Path, TimeSource, TimeUnit};

/// The event time of `value` in ms: its field `field` (a path) as ms since the epoch or RFC
/// 3339 text, if it has a usable one.
pub fn event_time(value: &Value, field: &str) -> Option<i64> {
    TimeSource { field: Some(Path::parse(field)), unit: TimeUnit::Ms }.time_of(value, None).ok()
}

/// The watermark of one source: the largest event time seen, less the delay.
#[derive(Debug, Clone)]
pub struct Watermarks {
    delay_ms: i64,
    max_time: i64,
}

impl Watermarks {
    /// Watermarks trailing the largest time seen by `delay_ms`.
    pub fn new(delay_ms: i64) -> Self {
        Watermarks { delay_ms, max_time: i64::MIN }
    }

    /// Notes the times of `batch`.
    pub fn observe(&mut self, batch: &Batch) {
        self.max_time = batch.iter().filter_map(|e| e.time).fold(self.max_time, i64::max);
    }

    /// Notes one more time, if there is one (of events that never became a batch).
    pub fn observe_time(&mut self, time: Option<i64>) {
        if let Some(t) = time {
            self.max_time = self.max_time.max(t);
        }
    }

    /// The watermark, once some event had a time.
    pub fn current(&self) -> Option<i64> {
        (self.max_time != i64::MIN).then(|| self.max_time.saturating_sub(self.delay_ms))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use streamloom_runtime::Event;

    use super::*;

    #[test]
    fn the_watermark_trails_the_largest_time_by_the_delay() {
        let mut w = Watermarks::new(100);
        assert_eq!(w.current(), None);
        let ev = |t: i64| {
            let v = json!({"ts": t});
            let mut e = Event::new(v.clone(), 0, 0);
            e.time = event_time(&v, "ts");
            e
        };
        w.observe(&vec![ev(1000), ev(700)]);
        assert_eq!(w.current(), Some(900));
        w.observe(&vec![ev(500)]);
        assert_eq!(w.current(), Some(900), "never goes back");
        assert_eq!(event_time(&json!({"ts": "late"}), "ts"), None);
        assert_eq!(event_time(&json!({"m": {"ts": "1970-01-01T00:00:01Z"}}), "m.ts"), Some(1000));
    }
}

//! Exponential backoff with jitter between connection attempts.

use std::time::Duration;

use streamloom_runtime::registry::{ParamKind, ParamSpec};

/// The parameter docs of `backoff_initial` and `backoff_max`, shared by every connecting kind.
pub fn backoff_params() -> [ParamSpec; 2] {
    [
        ParamSpec::new("backoff_initial", ParamKind::Text, "Wait after the first failed attempt; doubles after each"),
        ParamSpec::new("backoff_max", ParamKind::Text, "Longest wait between attempts"),
    ]
}

/// Delays between failed attempts: `initial`, doubling up to `max`, each cut by a random
/// factor in [0.5, 1] so that many clients do not retry in step. After `max_attempts`
/// consecutive failures (0: never) it gives up.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    max_attempts: u64,
    failures: u64,
}

impl Backoff {
    /// A backoff that has seen no failure yet.
    pub fn new(initial: Duration, max: Duration, max_attempts: u64) -> Self {
        Backoff { initial, max: max.max(initial), max_attempts, failures: 0 }
    }

    /// Records a failure; returns how long to wait before the next attempt, or `None` when
    /// the attempts are spent.
    pub fn next_delay(&mut self) -> Option<Duration> {
        self.failures += 1;
        if self.max_attempts != 0 && self.failures >= self.max_attempts {
            return None;
        }
        let doublings = (self.failures - 1).min(32) as i32;
        let full = self.initial.as_secs_f64() * 2f64.powi(doublings);
        let capped = full.min(self.max.as_secs_f64());
        Some(Duration::from_secs_f64(capped * (0.5 + fastrand::f64() * 0.5)))
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// Forgets the failures (after a successful connection).
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_with_jitter_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000), 0);
        let bounds = [(50, 100), (100, 200), (200, 400), (400, 800), (500, 1000), (500, 1000)];
        for (lo, hi) in bounds {
            let d = b.next_delay().unwrap_or_default();
            assert!(d >= Duration::from_millis(lo) && d <= Duration::from_millis(hi), "{d:?} not in {lo}..={hi} ms");
        }
        assert_eq!(b.failures(), 6);
        b.reset();
        assert!(b.next_delay().unwrap_or_default() <= Duration::from_millis(100));
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let mut b = Backoff::new(Duration::from_millis(1), Duration::from_millis(2), 3);
        assert!(b.next_delay().is_some());
        assert!(b.next_delay().is_some());
        assert!(b.next_delay().is_none(), "the third failed attempt is the last");
    }

    #[test]
    fn zero_attempts_means_forever() {
        let mut b = Backoff::new(Duration::from_millis(1), Duration::from_millis(2), 0);
        assert!((0..10_000).all(|_| b.next_delay().is_some()));
    }
}

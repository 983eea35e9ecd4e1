//! A run's clock: wall time since the start, and how much of it the run spent paused, so
//! durations and whole-run rates can leave the pauses out.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wall time since the run started, and its pauses.
pub(crate) struct RunClock {
    started: Instant,
    /// Paused time of the pauses that ended, and the start of the current pause.
    paused: Mutex<(Duration, Option<Instant>)>,
}

impl RunClock {
    /// A clock started now.
    pub fn start() -> Self {
        RunClock { started: Instant::now(), paused: Mutex::new((Duration::ZERO, None)) }
    }

    /// Seconds since the start, pauses included.
    pub fn elapsed_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Seconds spent paused so far (the current pause included).
    pub fn paused_secs(&self) -> f64 {
        let p = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        (p.0 + p.1.map_or(Duration::ZERO, |since| since.elapsed())).as_secs_f64()
    }

    /// A pause starts (a second call while paused changes nothing).
    pub fn pause(&self) {
        let mut p = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        p.1.get_or_insert_with(Instant::now);
    }

    /// The pause ends (nothing when not paused).
    pub fn resume(&self) {
        let mut p = self.paused.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(since) = p.1.take() {
            p.0 += since.elapsed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paused_time_is_counted_once_per_pause() {
        let c = RunClock::start();
        c.pause();
        c.pause();
        std::thread::sleep(Duration::from_millis(30));
        c.resume();
        c.resume();
        let paused = c.paused_secs();
        assert!((0.03..0.5).contains(&paused), "{paused}");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(c.paused_secs(), paused, "not paused: the paused time stays");
        assert!(c.elapsed_secs() >= paused + 0.02);
    }
}

//! Pieces the broker node kinds (NATS, MQTT) share: subject/topic templates, the pending
//! acknowledgements of a batch, and the reconnect delays.

pub mod acks;
pub mod mqtt_conn;
pub mod mqtt_inbox;
pub mod nats_conn;
pub mod template;

use std::time::Duration;

/// The delay before reconnect attempt `attempt` (1-based): `initial` doubling up to `max`,
/// cut by a random factor in [0.5, 1] (the same rule as [`crate::ws::backoff::Backoff`],
/// for clients that count attempts themselves).
pub fn reconnect_delay(attempt: usize, initial: Duration, max: Duration) -> Duration {
    let mut b = crate::ws::backoff::Backoff::new(initial, max, 0);
    let mut d = initial;
    for _ in 0..attempt.clamp(1, 40) {
        d = b.next_delay().unwrap_or(max);
    }
    d
}

#[cfg(test)]
mod tests {
    use super::reconnect_delay;
    use std::time::Duration;

    #[test]
    fn reconnect_delays_double_up_to_the_cap() {
        let (i, m) = (Duration::from_millis(100), Duration::from_millis(800));
        let d1 = reconnect_delay(1, i, m);
        assert!(d1 >= Duration::from_millis(50) && d1 <= i, "{d1:?}");
        let d3 = reconnect_delay(3, i, m);
        assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400), "{d3:?}");
        assert!(reconnect_delay(30, i, m) <= m);
    }
}

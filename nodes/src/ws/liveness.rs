//! Telling a live connection from a dead one: pings sent every `ping_interval` must be
//! answered within `pong_timeout`, and (for a source) some data message must arrive within
//! `idle_timeout`. A connection that fails either is dead and the node reconnects.

use std::time::Duration;

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// The liveness settings (each off when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LivenessOptions {
    /// Send a ping this often.
    pub ping_interval: Option<Duration>,
    /// Longest wait for the pong of a ping.
    pub pong_timeout: Duration,
    /// Longest silence (no text or binary message) before the connection counts as dead.
    pub idle_timeout: Option<Duration>,
}

/// What the connection's owner must do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Duty {
    /// Nothing yet.
    Wait,
    /// Send a ping.
    Ping,
    /// The connection is dead; the reason.
    Dead(String),
}

/// One open connection's liveness.
#[derive(Debug)]
pub struct Liveness {
    opts: LivenessOptions,
    last_data: Instant,
    last_ping: Instant,
    /// When the unanswered ping was sent.
    awaiting_pong: Option<Instant>,
}

impl Liveness {
    /// A connection opened now.
    pub fn new(opts: LivenessOptions) -> Self {
        let now = Instant::now();
        Liveness { opts, last_data: now, last_ping: now, awaiting_pong: None }
    }

    /// Notes a message received.
    pub fn received(&mut self, m: &Message) {
        self.received_at(m, Instant::now());
    }

    /// Notes a message received at `now` (one clock reading for a batch of messages).
    pub fn received_at(&mut self, m: &Message, now: Instant) {
        match m {
            Message::Text(_) | Message::Binary(_) => self.last_data = now,
            Message::Pong(_) => self.awaiting_pong = None,
            _ => {}
        }
    }

    /// Notes a ping sent now.
    pub fn pinged(&mut self) {
        let now = Instant::now();
        self.last_ping = now;
        self.awaiting_pong.get_or_insert(now);
    }

    /// The next instant something is due, if any.
    pub fn next_due(&self) -> Option<Instant> {
        let pong = self.awaiting_pong.map(|t| t + self.opts.pong_timeout);
        let ping = self.opts.ping_interval.filter(|_| self.awaiting_pong.is_none()).map(|p| self.last_ping + p);
        let idle = self.opts.idle_timeout.map(|t| self.last_data + t);
        [pong, ping, idle].into_iter().flatten().min()
    }

    /// What is due at `now`.
    pub fn duty(&self, now: Instant) -> Duty {
        if let Some(sent) = self.awaiting_pong
            && now >= sent + self.opts.pong_timeout
        {
            return Duty::Dead(format!("no pong within {}", humantime::format_duration(self.opts.pong_timeout)));
        }
        if let Some(idle) = self.opts.idle_timeout
            && now >= self.last_data + idle
        {
            return Duty::Dead(format!("no message within {} (idle timeout)", humantime::format_duration(idle)));
        }
        match self.opts.ping_interval {
            Some(p) if self.awaiting_pong.is_none() && now >= self.last_ping + p => Duty::Ping,
            _ => Duty::Wait,
        }
    }

    /// Sleeps until something is due (forever when nothing ever is).
    pub async fn tick(&self) {
        match self.next_due() {
            Some(t) => tokio::time::sleep_until(t).await,
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(ping: Option<u64>, pong: u64, idle: Option<u64>) -> LivenessOptions {
        LivenessOptions {
            ping_interval: ping.map(Duration::from_millis),
            pong_timeout: Duration::from_millis(pong),
            idle_timeout: idle.map(Duration::from_millis),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_ping_unanswered_past_the_pong_timeout_is_a_dead_connection() {
        let mut l = Liveness::new(opts(Some(100), 50, None));
        let t0 = Instant::now();
        assert_eq!(l.next_due(), Some(t0 + Duration::from_millis(100)));
        assert_eq!(l.duty(t0), Duty::Wait);
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(l.duty(Instant::now()), Duty::Ping);
        l.pinged();
        assert_eq!(l.next_due(), Some(Instant::now() + Duration::from_millis(50)), "now the pong is due");
        tokio::time::advance(Duration::from_millis(49)).await;
        assert_eq!(l.duty(Instant::now()), Duty::Wait);
        l.received(&Message::Pong(Default::default()));
        tokio::time::advance(Duration::from_millis(10)).await;
        assert_eq!(l.duty(Instant::now()), Duty::Wait, "answered in time");
        tokio::time::advance(Duration::from_millis(41)).await;
        l.pinged();
        tokio::time::advance(Duration::from_millis(50)).await;
        assert!(matches!(l.duty(Instant::now()), Duty::Dead(why) if why.contains("no pong within 50ms")));
    }

    #[tokio::test(start_paused = true)]
    async fn silence_past_the_idle_timeout_is_a_dead_connection_and_data_resets_it() {
        let mut l = Liveness::new(opts(None, 50, Some(200)));
        tokio::time::advance(Duration::from_millis(150)).await;
        l.received(&Message::text("x"));
        l.received(&Message::Ping(Default::default()));
        tokio::time::advance(Duration::from_millis(150)).await;
        assert_eq!(l.duty(Instant::now()), Duty::Wait, "data 150 ms ago");
        tokio::time::advance(Duration::from_millis(50)).await;
        assert!(matches!(l.duty(Instant::now()), Duty::Dead(why) if why.contains("idle timeout")));
        assert_eq!(Liveness::new(opts(None, 50, None)).next_due(), None, "nothing due when all is off");
    }
}

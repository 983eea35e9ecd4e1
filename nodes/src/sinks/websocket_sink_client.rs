//! `websocket_sink` in client mode: connects to a server and sends each event as JSON text,
//! with the same connection options and reconnect rules as `websocket_source`.
//!
//! While disconnected the sink takes nothing from its input, so the input wire's policy
//! decides: `block` holds the graph back, the drop policies drop (and count) on the wire.
//! Events taken but not yet written when a connection breaks are held and written after the
//! reconnect. Accounting: `passed` counts events written to a connection; at a stop while
//! disconnected, what is held and what still arrives is dropped inside (counted).

use std::collections::VecDeque;

use futures_util::{SinkExt, StreamExt};
use streamloom_runtime::Event;
use streamloom_runtime::io::{NodeContext, Received};
use streamloom_runtime::metrics::{Gauge, NodeState};
use streamloom_runtime::registry::NodeError;
use tokio_tungstenite::tungstenite::Message;

use crate::ws::client::{ClientSettings, Socket};
use crate::ws::liveness::{Duty, Liveness};

/// How one connection ended.
enum Ended {
    /// The input ended and everything was written.
    Done,
    /// The connection broke; the reason.
    Broken(String),
}

/// The client sink's gauges.
struct Gauges {
    reconnects: Gauge,
    bytes_out: Gauge,
}

/// Connects, writes, and reconnects as configured until the input ends.
pub async fn run(mut client: ClientSettings, reconnect: bool, mut ctx: NodeContext) -> Result<(), NodeError> {
    let own = &ctx.metrics.own;
    let gauges = Gauges { reconnects: own.gauge("reconnects"), bytes_out: own.gauge("bytes_out") };
    let mut pending: VecDeque<Event> = VecDeque::new();
    loop {
        ctx.metrics.own.set_state(NodeState::Connecting);
        let (why, unauthorized) = match client.connect(&ctx.control.stop).await {
            Ok(None) => return drop_rest(pending, &mut ctx).await,
            Ok(Some(socket)) => {
                client.backoff.reset();
                ctx.metrics.own.set_state(NodeState::Connected);
                match write(socket, &client, &mut pending, &mut ctx, &gauges).await {
                    Ended::Done => return Ok(()),
                    Ended::Broken(why) if !reconnect => {
                        ctx.metrics.own.set(NodeState::Closed, format!("{why}; reconnect is off"));
                        let lost = pending.len();
                        drop_rest(pending, &mut ctx).await?;
                        return Err(NodeError(format!(
                            "websocket_sink `{}`: {why}; reconnect is off ({lost} event(s) held were dropped)",
                            ctx.id
                        )));
                    }
                    Ended::Broken(why) => (why, false),
                }
            }
            Err(f) => (f.reason, f.unauthorized),
        };
        let Some(delay) = client.backoff.next_delay() else {
            let failures = client.backoff.failures();
            ctx.metrics.own.set(NodeState::Failed, format!("gave up after {failures} failed attempt(s); last: {why}"));
            return Err(NodeError(format!(
                "websocket_sink `{}`: gave up after {failures} failed attempt(s); last: {why}",
                ctx.id
            )));
        };
        let next = format!("attempt {}, next in {:.1} s", client.backoff.failures(), delay.as_secs_f64());
        tracing::warn!(node = %ctx.id, "websocket_sink: {why}; {next}");
        gauges.reconnects.add(1);
        let held = if pending.is_empty() { String::new() } else { format!("; {} event(s) held", pending.len()) };
        if unauthorized {
            ctx.metrics.own.set(NodeState::Failed, format!("{why}; {next}{held}"));
        } else {
            ctx.metrics.own.set(NodeState::Reconnecting, format!("{next} ({why}){held}"));
        }
        if !ctx.control.sleep_until(tokio::time::Instant::now() + delay).await {
            return drop_rest(pending, &mut ctx).await;
        }
    }
}

/// A stop while disconnected: what is held and what still arrives cannot be delivered; it
/// is dropped inside and counted.
async fn drop_rest(pending: VecDeque<Event>, ctx: &mut NodeContext) -> Result<(), NodeError> {
    let mut dropped = pending.len();
    // Undelivered: no checkpoint may say they are done.
    ctx.checkpoints.abort();
    ctx.metrics.count_dropped_inside(pending.len());
    while let Some(r) = ctx.inputs.recv().await {
        if let Received::Data { batch, .. } = r {
            dropped += batch.len();
            ctx.metrics.count_dropped_inside(batch.len());
        }
    }
    if dropped > 0 {
        ctx.metrics.own.set(NodeState::Failed, format!("stopped while disconnected; {dropped} event(s) not delivered"));
    }
    Ok(())
}

/// Writes what is held, then takes input and writes it, until the input ends (a polite
/// close) or the connection breaks (what was not written stays held).
async fn write(
    mut socket: Socket,
    client: &ClientSettings,
    pending: &mut VecDeque<Event>,
    ctx: &mut NodeContext,
    gauges: &Gauges,
) -> Ended {
    let mut liveness = Liveness::new(client.liveness);
    loop {
        if !pending.is_empty() {
            let started = std::time::Instant::now();
            let written = send_all(&mut socket, pending, ctx, gauges).await;
            ctx.add_busy(started);
            if let Err(why) = written {
                return Ended::Broken(why);
            }
        }
        tokio::select! {
            biased;
            read = socket.next() => match read {
                Some(Ok(Message::Close(_))) => return Ended::Broken("closed by the server".into()),
                Some(Ok(m)) => liveness.received(&m),
                Some(Err(e)) => return Ended::Broken(e.to_string()),
                None => return Ended::Broken("the connection ended".into()),
            },
            _ = liveness.tick() => match liveness.duty(tokio::time::Instant::now()) {
                Duty::Wait => {}
                Duty::Ping => {
                    liveness.pinged();
                    if let Err(e) = socket.send(Message::Ping(Default::default())).await {
                        return Ended::Broken(format!("ping: {e}"));
                    }
                }
                Duty::Dead(why) => return Ended::Broken(why),
            },
            input = ctx.inputs.recv() => match input {
                Some(Received::Data { batch, .. }) => pending.extend(batch),
                Some(Received::Watermark(_) | Received::Timer(_) | Received::Barrier(_)) => {}
                None => {
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), socket.close(None)).await;
                    return Ended::Done;
                }
            },
        }
    }
}

/// Writes every held event; those written count as passed. On failure the unwritten stay
/// held.
async fn send_all(
    socket: &mut Socket,
    pending: &mut VecDeque<Event>,
    ctx: &NodeContext,
    gauges: &Gauges,
) -> Result<(), String> {
    let mut written = 0;
    let mut result = Ok(());
    while let Some(ev) = pending.front() {
        let text = ev.value.to_string();
        let len = text.len() as u64;
        if let Err(e) = socket.feed(Message::text(text)).await {
            result = Err(e.to_string());
            break;
        }
        pending.pop_front();
        gauges.bytes_out.add(len);
        written += 1;
    }
    if result.is_ok()
        && let Err(e) = socket.flush().await
    {
        result = Err(e.to_string());
    }
    ctx.metrics.count_passed(written);
    result
}

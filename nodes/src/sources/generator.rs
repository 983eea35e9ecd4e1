//! `generator`: synthetic events at a set rate or as fast as possible, deterministic with a
//! seed. The `sample_events` payload is the peer benchmark's stream (see `sample_events`).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use streamloom_runtime::io::NodeContext;
use streamloom_runtime::registry::{
    BuildContext, Category, ConfigProblem, NodeTask, ParamKind, ParamSpec, PortSpec, PortType, Ports, TypedNodeKind,
};
use streamloom_runtime::{Batch, Event};

use crate::sample_events::{MAX_DELAY_MS, SampleEvents};

/// What each generated event holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payload {
    /// `{"ts","user","type","value"}` records of the benchmark stream, with event time.
    #[default]
    SampleEvents,
    /// The sequence number itself (the cheapest possible event).
    Sequence,
}

/// Config of `generator`.
///
/// A field the file leaves out means what its doc says (`count`: until stopped; `rate`: as
/// fast as possible), not the example's value: the example (`Default`) is what a new node
/// from the palette starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorConfig {
    /// Number of events; absent means until stopped.
    #[serde(default)]
    pub count: Option<u64>,
    /// Events per second; absent means as fast as possible.
    #[serde(default)]
    pub rate: Option<f64>,
    /// What each event holds.
    #[serde(default)]
    pub payload: Payload,
    /// Seed of the pseudo-random stream.
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_seed() -> u64 {
    42
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        GeneratorConfig {
            count: Some(10_000),
            rate: Some(1000.0),
            payload: Payload::SampleEvents,
            seed: default_seed(),
        }
    }
}

/// The `generator` kind.
pub struct Generator;

impl TypedNodeKind for Generator {
    type Config = GeneratorConfig;
    const NAME: &'static str = "generator";
    const DESCRIPTION: &'static str =
        "Synthetic events at a set rate or as fast as possible, deterministic with a seed";
    const CATEGORY: Category = Category::Source;
    const EXAMPLE: &'static str = "A load test: `count: 100000`, `rate: 5000`, `payload: \"sample_events\"`, `seed: 7` sends the same 100,000 purchase-like records at 5,000 per second on every run; leave `rate` out to go as fast as the graph takes them.";
    const DEAD_LETTERS: bool = false;

    fn params() -> Vec<ParamSpec> {
        vec![
            ParamSpec::optional(
                "count",
                ParamKind::Integer { min: 0, max: i64::MAX },
                "Events to produce; empty: until stopped",
            ),
            ParamSpec::optional(
                "rate",
                ParamKind::Float { min: 0.001, max: 1e9 },
                "Events per second, sent in batches of a twentieth of a second's worth (the first at once); empty: as fast as possible",
            ),
            ParamSpec::choice(
                "payload",
                &["sample_events", "sequence"],
                "sample_events: benchmark records with event time; sequence: the sequence number",
            ),
            ParamSpec::integer("seed", 0, i64::MAX, "Seed of the pseudo-random stream"),
        ]
    }

    fn ports(config: &GeneratorConfig) -> Ports {
        let ty = match config.payload {
            Payload::SampleEvents => PortType::Record,
            Payload::Sequence => PortType::Any,
        };
        Ports { inputs: vec![], outputs: vec![PortSpec::output("out", ty, "Generated events")] }
    }

    fn validate(config: &GeneratorConfig) -> Vec<ConfigProblem> {
        match config.rate {
            Some(r) if !(r.is_finite() && r > 0.0) => {
                vec![ConfigProblem::field("rate", "rate must be a positive number")]
            }
            _ => vec![],
        }
    }

    fn build(config: GeneratorConfig, _ctx: &BuildContext) -> Result<Box<dyn NodeTask>, ConfigProblem> {
        Ok(Box::new(move |ctx: NodeContext| -> streamloom_runtime::registry::NodeFuture { Box::pin(run(config, ctx)) }))
    }
}

/// Stop is checked before each batch is generated (and ends the pacing sleep), never between
/// generating a batch and sending it: every event generated is sent (counted as `unsent` while
/// it is being pushed, so a cancel mid-send is counted, never silent).
async fn run(config: GeneratorConfig, mut ctx: NodeContext) -> Result<(), streamloom_runtime::registry::NodeError> {
    let total = config.count.unwrap_or(u64::MAX);
    let mut stream = SampleEvents::new(config.seed);
    let mut seq: u64 = 0;
    // With a rate, send small batches often (about 20 a second) so the stream stays smooth.
    let batch_size = match config.rate {
        Some(r) => ((r / 20.0) as usize).clamp(1, ctx.batch_size),
        None => ctx.batch_size,
    };
    let mut paced_from = (tokio::time::Instant::now(), 0u64);
    let mut max_ts = i64::MIN;
    while seq < total {
        if ctx.control.wait_if_paused().await {
            paced_from = (tokio::time::Instant::now(), seq);
        }
        if ctx.control.stopping() {
            break;
        }
        let n = (batch_size as u64).min(total - seq) as usize;
        if let Some(rate) = config.rate {
            let due = paced_from.0 + Duration::from_secs_f64((seq - paced_from.1) as f64 / rate);
            if !ctx.control.sleep_until(due).await {
                break;
            }
        }
        let mut batch: Batch = Vec::with_capacity(n);
        match config.payload {
            Payload::Sequence => {
                batch.extend((seq..seq + n as u64).map(|s| Event::new(Value::from(s), ctx.index, s)));
            }
            Payload::SampleEvents => {
                for (s, ev) in (seq..seq + n as u64).zip(&mut stream) {
                    max_ts = max_ts.max(ev.ts);
                    batch.push(Event { value: ev.to_value(), time: Some(ev.ts), source: ctx.index, seq: s });
                }
            }
        }
        seq += n as u64;
        // Nothing awaits between generating and sending; mid-send the batch is `unsent`.
        ctx.emit(0, batch).await?;
        if max_ts != i64::MIN {
            ctx.forward_watermark(max_ts - MAX_DELAY_MS);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A field left out means what the form says when it is unset: no `rate` is as fast as
    /// possible and no `count` is until stopped (the example's 1000/s and 10,000 once applied
    /// to every file that left them out).
    #[test]
    fn fields_left_out_mean_unpaced_and_endless() {
        let c: GeneratorConfig = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!((c.count, c.rate, c.payload, c.seed), (None, None, Payload::SampleEvents, 42));
        let example = GeneratorConfig::default();
        assert_eq!((example.count, example.rate), (Some(10_000), Some(1000.0)), "a new node starts paced");
    }
}

//! A JetStream peer for the tests: creates the stream `ORDERS`, publishes to it, reads a
//! consumer's counts.

#![allow(dead_code, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};

/// A small runtime for the test's own NATS client.
pub fn peer() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

/// Creates the file-backed stream `ORDERS` on `orders.>`.
pub fn create_stream(rt: &tokio::runtime::Runtime, url: &str) {
    rt.block_on(async {
        let js = jetstream::new(async_nats::connect(url).await.unwrap());
        js.create_stream(stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .unwrap();
    });
}

/// Publishes `payloads` to JetStream (each acknowledged by the stream).
pub fn js_publish(rt: &tokio::runtime::Runtime, url: &str, subject: &str, payloads: Vec<String>) {
    rt.block_on(async {
        let js = jetstream::new(async_nats::connect(url).await.unwrap());
        for p in payloads {
            js.publish(subject.to_string(), p.into()).await.unwrap().await.unwrap();
        }
    });
}

/// The consumer `durable`'s (pending, ack pending) on `ORDERS`.
pub fn consumer_counts(rt: &tokio::runtime::Runtime, url: &str, durable: &str) -> (u64, usize) {
    rt.block_on(async {
        let js = jetstream::new(async_nats::connect(url).await.unwrap());
        let mut c: jetstream::consumer::PullConsumer =
            js.get_stream("ORDERS").await.unwrap().get_consumer(durable).await.unwrap();
        let info = c.info().await.unwrap();
        (info.num_pending, info.num_ack_pending)
    })
}

/// The consumer's counts once no acknowledgement is pending (or after a second): the last
/// acknowledgements, sent as the run ends, reach the server over another connection.
pub fn settled_counts(rt: &tokio::runtime::Runtime, url: &str, durable: &str) -> (u64, usize) {
    let started = Instant::now();
    loop {
        let counts = consumer_counts(rt, url, durable);
        if counts.1 == 0 || started.elapsed() > Duration::from_secs(1) {
            return counts;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

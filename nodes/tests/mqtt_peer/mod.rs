//! An MQTT peer for the tests: publishes at QoS 1, makes a persistent session.

#![allow(dead_code, clippy::unwrap_used)]

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

/// Publishes `payloads` at QoS 1 and waits for every PUBACK.
pub fn publish(port: u16, topic: &str, payloads: Vec<String>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (client, mut el) = AsyncClient::new(MqttOptions::new("test-publisher", "127.0.0.1", port), 100);
        let n = payloads.len();
        let topic = topic.to_string();
        tokio::spawn(async move {
            for p in payloads {
                client.publish(topic.clone(), QoS::AtLeastOnce, false, p).await.unwrap();
            }
        });
        let mut acked = 0;
        while acked < n {
            if let Event::Incoming(Packet::PubAck(_)) = el.poll().await.unwrap() {
                acked += 1;
            }
        }
    });
}

/// Connects as `client_id` with a persistent session, subscribes to `filter` at QoS 1, and
/// leaves (the broker keeps the session and queues for it).
pub fn subscribe_once(port: u16, client_id: &str, filter: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut o = MqttOptions::new(client_id, "127.0.0.1", port);
        o.set_clean_session(false);
        let (client, mut el) = AsyncClient::new(o, 10);
        client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
        loop {
            if let Event::Incoming(Packet::SubAck(_)) = el.poll().await.unwrap() {
                break;
            }
        }
        client.disconnect().await.unwrap();
        while el.poll().await.is_ok() {}
    });
}

/// Publishes one `bytes`-byte payload at QoS 1 and waits for its PUBACK.
pub fn publish_large(port: u16, topic: &str, bytes: usize) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut o = MqttOptions::new("test-large-publisher", "127.0.0.1", port);
        o.set_max_packet_size(bytes + 1024, bytes + 1024);
        let (client, mut el) = AsyncClient::new(o, 10);
        client.publish(topic, QoS::AtLeastOnce, false, vec![b'7'; bytes]).await.unwrap();
        while !matches!(el.poll().await.unwrap(), Event::Incoming(Packet::PubAck(_))) {}
    });
}

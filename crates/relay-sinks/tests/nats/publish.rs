//! Publishing: each event stored once even when republished; subject, headers and
//! payload on the wire.

use crate::server::*;
use crate::support::*;
use async_nats::jetstream::consumer;
use futures::StreamExt;
use relay_contracts::{Outcome, Sink};
use relay_sinks::nats::CONTENT_TYPE;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_are_stored_once_even_when_republished() {
    const N: usize = 2000;
    let server = NatsServer::start(ServerOptions::default()).await;
    let js = server.jetstream().await;
    create_stream(&js, "PORTAL_EVENTS", &["portal.events.>"]).await;

    let mut cfg = server.config("nats");
    // A window far smaller than the batch: publishes queue for it instead of deadlocking.
    cfg.max_pending_acks = 64;
    let sink = connect(&cfg).await;
    assert!(!sink.preserves_order());
    assert_eq!(sink.name(), "nats");

    let events: Vec<_> = (0..N)
        .map(|i| event(&format!("evt-{i}"), &format!("agg-{}", i % 100), ROUTE))
        .collect();
    let outcomes =
        futures::future::join_all(events.iter().map(|e| sink.publish_one(e.clone()))).await;
    assert_acked(&outcomes);
    assert_eq!(messages(&js, "PORTAL_EVENTS").await, N as u64);

    // The same ids again (a replay after a crash): acked as duplicates, not stored twice.
    let outcomes =
        futures::future::join_all(events.iter().map(|e| sink.publish_one(e.clone()))).await;
    assert_acked(&outcomes);
    assert_eq!(messages(&js, "PORTAL_EVENTS").await, N as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subject_headers_and_payload_on_the_wire() {
    let server = NatsServer::start(ServerOptions::default()).await;
    let js = server.jetstream().await;
    create_stream(&js, "PORTAL_EVENTS", &["portal.events.>"]).await;
    let sink = connect(&server.config("nats")).await;

    let sent = [
        event("e-1", "dp-1", "audit.data_product_created"),
        event("e-2", "dp-1", "audit.data_product_updated"),
        event("e-3", "order-7", "order.created"),
    ];
    for e in &sent {
        assert_eq!(sink.publish_one(e.clone()).await, Outcome::Acked);
    }

    let stream = js.get_stream("PORTAL_EVENTS").await.unwrap();
    let consumer: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config::default())
        .await
        .unwrap();
    let mut batch = consumer
        .fetch()
        .max_messages(sent.len())
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(message) = batch.next().await {
        got.push(message.unwrap());
    }
    assert_eq!(got.len(), sent.len());
    for (message, e) in got.iter().zip(&sent) {
        assert_eq!(
            message.subject.as_str(),
            format!("portal.events.{}", e.route)
        );
        assert_eq!(message.payload, e.body, "the envelope, byte for byte");
        let headers = message.headers.as_ref().expect("headers");
        assert_eq!(
            headers.get("Nats-Msg-Id").map(|v| v.as_str()),
            Some(e.id.as_str())
        );
        assert_eq!(
            headers.get("Content-Type").map(|v| v.as_str()),
            Some("application/cloudevents+json")
        );
        assert_eq!(CONTENT_TYPE, "application/cloudevents+json");
    }
}

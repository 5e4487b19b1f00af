//! Rejections and outages: messages over the size limits, a full stream, an outage the
//! same sink recovers from, an unreachable server.

use crate::server::*;
use crate::support::*;
use async_nats::jetstream::stream;
use relay_contracts::{Outcome, Sink};
use relay_sinks::nats::NatsConfig;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_max_payload_is_rejected() {
    let server = NatsServer::start(ServerOptions {
        max_payload: Some(4096),
        ..Default::default()
    })
    .await;
    let mut cfg = server.config("nats");
    cfg.create_stream = true;
    let sink = connect(&cfg).await;

    assert_eq!(
        sink.publish_one(big_event("small-1", 1000)).await,
        Outcome::Acked
    );
    match sink.publish_one(big_event("big", 8000)).await {
        Outcome::Rejected(reason) => {
            assert!(reason.contains("max_payload of 4096"), "{reason}")
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    // Just under the limit including headers is still fine, and the connection is intact.
    assert_eq!(
        sink.publish_one(big_event("small-2", 3800)).await,
        Outcome::Acked
    );
    assert_eq!(
        messages(&server.jetstream().await, "PORTAL_EVENTS").await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_streams_max_msg_size_is_rejected() {
    let server = NatsServer::start(ServerOptions::default()).await;
    let js = server.jetstream().await;
    js.create_stream(stream::Config {
        name: "PORTAL_EVENTS".into(),
        subjects: vec!["portal.events.>".into()],
        max_message_size: 2048,
        ..Default::default()
    })
    .await
    .unwrap();
    let sink = connect(&server.config("nats")).await;
    match sink.publish_one(big_event("big", 4000)).await {
        Outcome::Rejected(reason) => assert!(reason.contains("10054"), "{reason}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(
        sink.publish_one(big_event("small", 100)).await,
        Outcome::Acked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_stream_is_retryable() {
    let server = NatsServer::start(ServerOptions::default()).await;
    let js = server.jetstream().await;
    js.create_stream(stream::Config {
        name: "PORTAL_EVENTS".into(),
        subjects: vec!["portal.events.>".into()],
        max_messages: 2,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    })
    .await
    .unwrap();
    let sink = connect(&server.config("nats")).await;
    assert_eq!(
        sink.publish_one(event("e-1", "a", ROUTE)).await,
        Outcome::Acked
    );
    assert_eq!(
        sink.publish_one(event("e-2", "a", ROUTE)).await,
        Outcome::Acked
    );
    match sink.publish_one(event("e-3", "a", ROUTE)).await {
        Outcome::Retryable(reason) => assert!(reason.contains("maximum messages"), "{reason}"),
        other => panic!("expected Retryable, got {other:?}"),
    }
    // Once there is room again, the retry goes through.
    js.get_stream("PORTAL_EVENTS")
        .await
        .unwrap()
        .purge()
        .await
        .unwrap();
    assert_eq!(
        sink.publish_one(event("e-3", "a", ROUTE)).await,
        Outcome::Acked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_retryable_and_the_same_sink_recovers() {
    let mut server = NatsServer::start(ServerOptions::default()).await;
    let mut cfg = server.config("nats");
    cfg.create_stream = true;
    cfg.ack_timeout = Duration::from_secs(1);
    let sink = connect(&cfg).await;
    assert_eq!(
        sink.publish_one(event("before", "a", ROUTE)).await,
        Outcome::Acked
    );

    server.stop();
    let during = event("during", "b", ROUTE);
    for _ in 0..3 {
        let started = Instant::now();
        match sink.publish_one(during.clone()).await {
            Outcome::Retryable(_) => {}
            other => panic!("expected Retryable while the server is down, got {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "bounded by ack_timeout, took {:?}",
            started.elapsed()
        );
    }

    server.restart().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match sink.publish_one(during.clone()).await {
            Outcome::Acked => break,
            Outcome::Retryable(reason) => {
                assert!(
                    Instant::now() < deadline,
                    "still failing 60 s after the restart: {reason}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Outcome::Rejected(reason) => panic!("rejected: {reason}"),
        }
    }
    assert_eq!(
        sink.publish_one(event("after", "c", ROUTE)).await,
        Outcome::Acked
    );
    // Whatever the client sent while disconnected was deduplicated by id.
    assert_eq!(
        messages(&server.jetstream().await, "PORTAL_EVENTS").await,
        3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_fails_at_start() {
    let port = free_port();
    let cfg = NatsConfig::new("nats", format!("nats://127.0.0.1:{port}"));
    let started = Instant::now();
    let msg = connect_err(&cfg).await.to_string();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        msg.contains(&format!(
            "cannot connect to NATS at nats://127.0.0.1:{port}"
        )),
        "{msg}"
    );
    assert!(msg.contains("reachable"), "{msg}");
}

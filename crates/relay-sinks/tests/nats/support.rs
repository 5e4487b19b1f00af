//! Helpers: test events, connecting the sink, and looking at the server's streams.

use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use relay_contracts::{OutboundEvent, Outcome, SinkError};
use relay_sinks::nats::{NatsConfig, NatsSink};
use std::sync::Arc;

pub const ROUTE: &str = "audit.data_product_created";

// ------------------------------------------------------------------ helpers

pub fn event(id: &str, aggregate: &str, route: &str) -> Arc<OutboundEvent> {
    let body = serde_json::json!({
        "specversion": "1.0", "id": id, "source": "/data-product-portal",
        "type": "portal.audit.data_product_created.v1", "subject": aggregate,
        "datacontenttype": "application/json", "data": {"n": id},
    });
    Arc::new(OutboundEvent {
        id: id.into(),
        aggregate: aggregate.into(),
        kind: "portal.audit.data_product_created.v1".into(),
        route: route.into(),
        commit_lsn: 0x1962F70,
        body: Bytes::from(serde_json::to_vec(&body).unwrap()),
    })
}

/// An event whose envelope is about `bytes` long.
pub fn big_event(id: &str, bytes: usize) -> Arc<OutboundEvent> {
    let body = format!(
        "{{\"specversion\":\"1.0\",\"id\":\"{id}\",\"data\":\"{}\"}}",
        "x".repeat(bytes)
    );
    Arc::new(OutboundEvent {
        id: id.into(),
        aggregate: "big".into(),
        kind: "portal.audit.x.v1".into(),
        route: ROUTE.into(),
        commit_lsn: 1,
        body: Bytes::from(body),
    })
}

pub async fn connect(cfg: &NatsConfig) -> NatsSink {
    match NatsSink::connect(cfg).await {
        Ok(sink) => sink,
        Err(e) => panic!("connect: {e}"),
    }
}

pub async fn connect_err(cfg: &NatsConfig) -> SinkError {
    match NatsSink::connect(cfg).await {
        Ok(_) => panic!("connect should have failed"),
        Err(e) => e,
    }
}

pub async fn create_stream(js: &jetstream::Context, name: &str, subjects: &[&str]) {
    js.create_stream(stream::Config {
        name: name.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
    .await
    .expect("create the stream");
}

pub async fn stream_info(js: &jetstream::Context, name: &str) -> stream::Info {
    let mut stream = js.get_stream(name).await.expect("the stream exists");
    stream.info().await.expect("stream info").clone()
}

pub async fn messages(js: &jetstream::Context, name: &str) -> u64 {
    stream_info(js, name).await.state.messages
}

pub fn assert_acked(outcomes: &[Outcome]) {
    let bad: Vec<_> = outcomes.iter().filter(|o| **o != Outcome::Acked).collect();
    assert!(bad.is_empty(), "not acked: {bad:?}");
}

//! The stream: missing, not capturing the subjects, or created by the sink keeping the
//! operator's settings.

use crate::server::*;
use crate::support::*;
use async_nats::jetstream::stream;
use relay_contracts::{Outcome, Sink, SinkErrorKind};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_stream_is_one_clear_error() {
    let server = NatsServer::start(ServerOptions::default()).await;
    let err = connect_err(&server.config("nats")).await;
    assert_eq!(err.kind, SinkErrorKind::Missing, "{err:?}");
    let msg = err.to_string();
    for want in [
        "sink `nats`",
        "stream PORTAL_EVENTS does not exist",
        "portal.events.>",
        "nats stream add PORTAL_EVENTS --subjects 'portal.events.>' --storage file --dupe-window 2m",
        "create_stream = true",
    ] {
        assert!(msg.contains(want), "{msg:?} should contain {want:?}");
    }
    assert!(!msg.contains('\n'), "one line: {msg:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_does_not_capture_the_subjects_is_refused() {
    let server = NatsServer::start(ServerOptions::default()).await;
    let js = server.jetstream().await;
    create_stream(&js, "PORTAL_EVENTS", &["portal.events.audit.*"]).await;
    let msg = connect_err(&server.config("nats")).await.to_string();
    for want in [
        "stream PORTAL_EVENTS",
        "portal.events.audit.*",
        "does not cover portal.events.>",
        "create_stream = true",
    ] {
        assert!(msg.contains(want), "{msg:?} should contain {want:?}");
    }

    // Filters that cover the prefix only together are accepted.
    js.update_stream(stream::Config {
        name: "PORTAL_EVENTS".into(),
        subjects: vec!["portal.events.*".into(), "portal.events.*.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let sink = connect(&server.config("nats")).await;
    assert_eq!(
        sink.publish_one(event("e-1", "a", ROUTE)).await,
        Outcome::Acked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_stream_creates_it_and_keeps_operator_settings() {
    let server = NatsServer::start(ServerOptions::default()).await;
    let js = server.jetstream().await;

    let mut cfg = server.config("nats");
    cfg.create_stream = true;
    cfg.duplicate_window = Duration::from_secs(300);
    let sink = connect(&cfg).await;
    let info = stream_info(&js, "PORTAL_EVENTS").await;
    assert_eq!(info.config.subjects, ["portal.events.>"]);
    assert_eq!(info.config.storage, stream::StorageType::File);
    assert_eq!(info.config.duplicate_window, Duration::from_secs(300));
    assert_eq!(
        sink.publish_one(event("e-1", "a", ROUTE)).await,
        Outcome::Acked
    );
    // Connecting again finds it as it should be.
    drop(connect(&cfg).await);
    assert_eq!(messages(&js, "PORTAL_EVENTS").await, 1);

    // An existing stream gets the subject added; what the operator set stays.
    js.create_stream(stream::Config {
        name: "LEGACY".into(),
        subjects: vec!["legacy.>".into()],
        max_messages: 1000,
        duplicate_window: Duration::from_secs(3600),
        ..Default::default()
    })
    .await
    .unwrap();
    let mut cfg = server.config("legacy");
    cfg.stream = "LEGACY".into();
    cfg.subject_prefix = "other.events".into();
    cfg.create_stream = true;
    let sink = connect(&cfg).await;
    let info = stream_info(&js, "LEGACY").await;
    assert_eq!(info.config.subjects, ["legacy.>", "other.events.>"]);
    assert_eq!(info.config.max_messages, 1000);
    assert_eq!(info.config.duplicate_window, Duration::from_secs(3600));
    assert_eq!(
        sink.publish_one(event("e-1", "a", ROUTE)).await,
        Outcome::Acked
    );
    assert_eq!(messages(&js, "LEGACY").await, 1);
}

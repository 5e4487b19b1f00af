//! Authentication (token, user and password, NKey), TLS with a private CA, and an
//! invalid configuration refused before connecting.

use crate::server::*;
use crate::support::*;
use relay_contracts::{Outcome, Sink};
use relay_sinks::nats::{NatsConfig, Secret};
use std::path::PathBuf;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_authentication() {
    let token = "relay-test-token-5d1f";
    let server = NatsServer::start(ServerOptions {
        token: Some(token.into()),
        ..Default::default()
    })
    .await;
    let mut cfg = server.config("nats");
    cfg.create_stream = true;
    let sink = connect(&cfg).await;
    assert_eq!(
        sink.publish_one(event("e-1", "a", ROUTE)).await,
        Outcome::Acked
    );

    cfg.token = Some(Secret::new("wrong-token-8c2e"));
    let msg = connect_err(&cfg).await.to_string();
    assert!(msg.contains("check user/password, token"), "{msg}");
    assert!(
        !msg.contains("wrong-token-8c2e") && !msg.contains(token),
        "{msg}"
    );

    cfg.token = None;
    let msg = connect_err(&cfg).await.to_string();
    assert!(msg.contains("cannot connect to NATS"), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_password_authentication() {
    let server = NatsServer::start(ServerOptions {
        user: Some(("relay".into(), "relay-pass-71a0".into())),
        ..Default::default()
    })
    .await;
    let mut cfg = server.config("nats");
    cfg.create_stream = true;
    let sink = connect(&cfg).await;
    assert_eq!(
        sink.publish_one(event("e-1", "a", ROUTE)).await,
        Outcome::Acked
    );

    cfg.password = Some(Secret::new("wrong-pass-93b4"));
    let msg = connect_err(&cfg).await.to_string();
    assert!(msg.contains("check user/password"), "{msg}");
    assert!(!msg.contains("wrong-pass-93b4"), "{msg}");

    // Credentials in the URL work too, and never show up in messages.
    let mut cfg = NatsConfig::new(
        "nats",
        format!("nats://relay:wrong-pass-93b4@127.0.0.1:{}", server.port),
    );
    cfg.create_stream = true;
    let msg = connect_err(&cfg).await.to_string();
    assert!(msg.contains("nats://***@127.0.0.1"), "{msg}");
    assert!(!msg.contains("wrong-pass-93b4"), "{msg}");
    cfg.url = format!("nats://relay:relay-pass-71a0@127.0.0.1:{}", server.port).into();
    let sink = connect(&cfg).await;
    assert_eq!(
        sink.publish_one(event("e-2", "a", ROUTE)).await,
        Outcome::Acked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nkey_authentication() {
    let user = nkeys::KeyPair::new_user();
    let seed = user.seed().unwrap();
    let server = NatsServer::start(ServerOptions {
        nkey: Some((seed.clone(), user.public_key())),
        ..Default::default()
    })
    .await;
    let mut cfg = server.config("nats");
    cfg.create_stream = true;
    let sink = connect(&cfg).await;
    assert_eq!(
        sink.publish_one(event("e-1", "a", ROUTE)).await,
        Outcome::Acked
    );
    assert_eq!(
        messages(&server.jetstream().await, "PORTAL_EVENTS").await,
        1
    );

    let other = nkeys::KeyPair::new_user().seed().unwrap();
    cfg.nkey_seed = Some(Secret::new(other.as_str()));
    let msg = connect_err(&cfg).await.to_string();
    assert!(msg.contains("nkey_seed"), "{msg}");
    assert!(!msg.contains(&other) && !msg.contains(&seed), "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_private_ca() {
    let server = NatsServer::start(ServerOptions {
        tls: true,
        ..Default::default()
    })
    .await;
    let mut cfg = server.config("nats");
    cfg.create_stream = true;
    let sink = connect(&cfg).await;
    assert_eq!(
        sink.publish_one(event("e-1", "a", ROUTE)).await,
        Outcome::Acked
    );
    assert_eq!(
        messages(&server.jetstream().await, "PORTAL_EVENTS").await,
        1
    );

    // Without the CA the server's certificate is not trusted.
    cfg.tls_ca_file = None;
    let msg = connect_err(&cfg).await.to_string();
    assert!(msg.contains("tls_ca_file"), "{msg}");

    // A CA file that does not exist is named.
    cfg.tls_ca_file = Some(PathBuf::from("/nonexistent/ca.pem"));
    let msg = connect_err(&cfg).await.to_string();
    assert!(
        msg.contains("cannot read tls_ca_file /nonexistent/ca.pem"),
        "{msg}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configuration_is_refused_before_connecting() {
    let mut cfg = NatsConfig::new("nats", "nats://127.0.0.1:1");
    cfg.subject_prefix = "portal.>".into();
    let msg = connect_err(&cfg).await.to_string();
    assert!(
        msg.contains("invalid configuration: `subject_prefix`"),
        "{msg}"
    );
}

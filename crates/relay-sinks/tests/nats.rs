//! The NATS JetStream sink against a real `nats-server -js`: one server per test on free
//! loopback ports, with its own store directory, killed and removed on drop.
//!
//! Needs `nats-server` (2.10+): `$NATS_SERVER_BIN`, else the path scripts/install-deps.sh
//! installs it to. Without it every test fails, saying so.

use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;
use futures::StreamExt;
use relay_contracts::{OutboundEvent, Outcome, Sink, SinkError, SinkErrorKind};
use relay_sinks::nats::{NatsConfig, NatsSink, Secret, CONTENT_TYPE};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const INSTALLED_BIN: &str = "/opt/outbox-relay-deps/venv/bin/nats-server";
const ROUTE: &str = "audit.data_product_created";

// ------------------------------------------------------------------ the server

fn nats_server_bin() -> PathBuf {
    let bin = std::env::var_os("NATS_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(INSTALLED_BIN));
    assert!(
        bin.is_file(),
        "nats-server not found at {} (from $NATS_SERVER_BIN or the default install path): \
         run scripts/install-deps.sh, then `eval \"$(scripts/install-deps.sh --env)\"`",
        bin.display()
    );
    bin
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

#[derive(Default, Clone)]
struct ServerOptions {
    token: Option<String>,
    user: Option<(String, String)>,
    max_payload: Option<usize>,
    /// (seed, public key) of the only user allowed in.
    nkey: Option<(String, String)>,
    tls: bool,
}

struct NatsServer {
    child: Option<Child>,
    port: u16,
    monitor: u16,
    dir: PathBuf,
    args: Vec<String>,
    options: ServerOptions,
}

static SERVERS: AtomicU32 = AtomicU32::new(0);

impl NatsServer {
    async fn start(options: ServerOptions) -> Self {
        let bin = nats_server_bin();
        let n = SERVERS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("relay-sinks-nats-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the server directory");
        let (port, monitor) = (free_port(), free_port());
        let mut args: Vec<String> = vec![
            bin.display().to_string(),
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-m".into(),
            monitor.to_string(),
            "-js".into(),
            "-sd".into(),
            dir.join("store").display().to_string(),
        ];
        // What has no command-line flag goes into a config file (the flags take precedence).
        let mut conf = String::new();
        if let Some(max) = options.max_payload {
            conf.push_str(&format!("max_payload: {max}\n"));
        }
        if let Some((_, public)) = &options.nkey {
            conf.push_str(&format!(
                "authorization {{ users = [ {{ nkey: \"{public}\" }} ] }}\n"
            ));
        }
        if !conf.is_empty() {
            let path = dir.join("server.conf");
            std::fs::write(&path, conf).unwrap();
            args.extend(["-c".into(), path.display().to_string()]);
        }
        if let Some(token) = &options.token {
            args.extend(["--auth".into(), token.clone()]);
        }
        if let Some((user, pass)) = &options.user {
            args.extend(["--user".into(), user.clone(), "--pass".into(), pass.clone()]);
        }
        if options.tls {
            args.extend([
                "--tls".into(),
                "--tlscert".into(),
                fixture("server.pem").display().to_string(),
                "--tlskey".into(),
                fixture("server-key.pem").display().to_string(),
            ]);
        }
        let mut server = Self {
            child: None,
            port,
            monitor,
            dir,
            args,
            options,
        };
        server.spawn().await;
        server
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("open the server log");
        let child = Command::new(&self.args[0])
            .args(&self.args[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.args[0]));
        self.child = Some(child);
        self.wait_ready().await;
    }

    /// Poll `/healthz?js-enabled-only=true` until it answers 200.
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("nats-server exited ({status}):\n{}", self.log());
                }
            }
            if healthz(self.monitor).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nats-server not ready after 20 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop and start again on the same port with the same store directory.
    async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// A sink configuration for this server (its credentials, a short ack timeout).
    fn config(&self, name: &str) -> NatsConfig {
        let mut cfg = NatsConfig::new(name, self.url());
        cfg.ack_timeout = Duration::from_secs(2);
        if let Some(token) = &self.options.token {
            cfg.token = Some(Secret::new(token.as_str()));
        }
        if let Some((user, pass)) = &self.options.user {
            cfg.user = Some(user.clone());
            cfg.password = Some(Secret::new(pass.as_str()));
        }
        if let Some((seed, _)) = &self.options.nkey {
            cfg.nkey_seed = Some(Secret::new(seed.as_str()));
        }
        if self.options.tls {
            cfg.tls_ca_file = Some(fixture("ca.pem"));
        }
        cfg
    }

    /// A plain client for looking at the server's state.
    async fn jetstream(&self) -> jetstream::Context {
        let mut options = async_nats::ConnectOptions::new();
        if let Some(token) = &self.options.token {
            options = options.token(token.clone());
        }
        if let Some((user, pass)) = &self.options.user {
            options = options.user_and_password(user.clone(), pass.clone());
        }
        if let Some((seed, _)) = &self.options.nkey {
            options = options.nkey(seed.clone());
        }
        if self.options.tls {
            options = options
                .add_root_certificates(fixture("ca.pem"))
                .require_tls(true);
        }
        let client = options
            .connect(self.url())
            .await
            .expect("inspection client");
        jetstream::new(client)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `GET /healthz?js-enabled-only=true` over a raw HTTP/1.0 request: 200 or not.
async fn healthz(port: u16) -> bool {
    let Ok(Ok(mut conn)) = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    else {
        return false;
    };
    let request = b"GET /healthz?js-enabled-only=true HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if conn.write_all(request).await.is_err() {
        return false;
    }
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.read_to_end(&mut response)).await;
    let status_line = String::from_utf8_lossy(&response);
    status_line.split_whitespace().nth(1) == Some("200")
}

// ------------------------------------------------------------------ helpers

fn event(id: &str, aggregate: &str, route: &str) -> Arc<OutboundEvent> {
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
fn big_event(id: &str, bytes: usize) -> Arc<OutboundEvent> {
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

async fn connect(cfg: &NatsConfig) -> NatsSink {
    match NatsSink::connect(cfg).await {
        Ok(sink) => sink,
        Err(e) => panic!("connect: {e}"),
    }
}

async fn connect_err(cfg: &NatsConfig) -> SinkError {
    match NatsSink::connect(cfg).await {
        Ok(_) => panic!("connect should have failed"),
        Err(e) => e,
    }
}

async fn create_stream(js: &jetstream::Context, name: &str, subjects: &[&str]) {
    js.create_stream(stream::Config {
        name: name.into(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
    .await
    .expect("create the stream");
}

async fn stream_info(js: &jetstream::Context, name: &str) -> stream::Info {
    let mut stream = js.get_stream(name).await.expect("the stream exists");
    stream.info().await.expect("stream info").clone()
}

async fn messages(js: &jetstream::Context, name: &str) -> u64 {
    stream_info(js, name).await.state.messages
}

fn assert_acked(outcomes: &[Outcome]) {
    let bad: Vec<_> = outcomes.iter().filter(|o| **o != Outcome::Acked).collect();
    assert!(bad.is_empty(), "not acked: {bad:?}");
}

// ------------------------------------------------------------------ tests

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

//! Issue 11: the webhook sink against a real HTTP receiver on loopback (hyper, started by
//! each test; see `outbox_relay_tests::webhook`), through the real binary and a real slot.
//!
//! 1. 5,000 events, 503 on every 7th request (half of them with `Retry-After: 1`), a stall
//!    past the timeout on every 50th: all arrive; duplicates only with the same
//!    `webhook-id`; each subject's events in commit order, retries included.
//! 2. Every signature verifies with the PyPI `standardwebhooks` package, before, during
//!    and after a secret rotation.
//! 3. 400 for one event type: those are dead-lettered with status and body excerpt.
//! 4. One of two endpoints down for 5 s: the other keeps receiving, the slot stays
//!    strictly before the first undelivered transaction, nothing is lost, and the log
//!    says which endpoint holds how many events back.
//! 5. The sink itself: HTTPS with a private CA and HTTP/2, a probe that sends nothing,
//!    the `event_types` filter, the portal-v2 body, 400 and Retry-After outcomes.

use bytes::Bytes;
use outbox_relay_tests::webhook::{
    fixture_dir, fixture_tls, standardwebhooks_python, Receiver, Recorded, Reply,
};
use outbox_relay_tests::*;
use relay_contracts::{Outcome, Sink};
use relay_sinks::webhook::Format;
use relay_sinks::{WebhookConfig, WebhookSink};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn five_thousand_events_through_503s_and_stalls_arrive_in_subject_order() {
    let db = TestDb::start(setup()).await;
    db.create_witness_slot().await;
    let receiver = Receiver::start(Arc::new(|n, _: &Recorded| {
        if n % 50 == 49 {
            Reply::Stall(Duration::from_secs(2))
        } else if n % 14 == 6 {
            Reply::RetryAfter(503, "1".into())
        } else if n % 14 == 13 {
            Reply::Status(503, "busy".into())
        } else {
            Reply::ok()
        }
    }))
    .await;
    let sinks = webhook_sink(
        "hooks",
        &receiver.url("/events"),
        &format!("\"{SECRET_A}\""),
        "300ms",
    );
    let cfg = config(&db, "relay", &sinks, "");
    let mut relay = RelayProcess::run(&cfg, &db.path("relay.log"));

    for t in 0..250 {
        db.insert_events(20, 97, t * 20).await;
    }
    let witness = db.witness_transactions("public.events").await;
    let commit_order: Vec<String> = witness.iter().flat_map(|t| t.ids.clone()).collect();
    assert_eq!(commit_order.len(), 5000);
    wait_until(
        Duration::from_secs(600),
        "all 5,000 events answered 2xx",
        || {
            let done = receiver.delivered_ids().len() >= 5000;
            async move { done }
        },
    )
    .await;

    let requests = receiver.requests();
    let position: HashMap<&String, usize> = commit_order
        .iter()
        .enumerate()
        .map(|(i, id)| (id, i))
        .collect();
    let delivered = receiver.delivered_ids();
    assert!(
        commit_order.iter().all(|id| delivered.contains(id)),
        "every event arrived"
    );
    assert!(
        requests.iter().all(|r| position.contains_key(&r.id())),
        "nothing but our events"
    );
    // Duplicates only with the same webhook-id: one body per id, one id per body.
    let mut body_of: HashMap<String, Bytes> = HashMap::new();
    let mut id_of: HashMap<Bytes, String> = HashMap::new();
    for r in &requests {
        assert_eq!(
            body_of.entry(r.id()).or_insert_with(|| r.body.clone()),
            &r.body,
            "one body per id"
        );
        assert_eq!(
            id_of.entry(r.body.clone()).or_insert_with(|| r.id()),
            &r.id(),
            "one id per body"
        );
        assert_eq!(
            r.header("content-type"),
            Some("application/cloudevents+json")
        );
        assert!(r
            .header("webhook-signature")
            .is_some_and(|s| s.starts_with("v1,")));
        assert_eq!(r.json()["id"], serde_json::json!(r.id()));
    }
    // Each subject's requests (retries included) in commit order: a retry never lands
    // after a newer event of its subject.
    let mut by_subject: HashMap<String, Vec<usize>> = HashMap::new();
    for r in &requests {
        let subject = r.json()["subject"].as_str().unwrap().to_string();
        by_subject
            .entry(subject)
            .or_default()
            .push(position[&r.id()]);
    }
    assert_eq!(by_subject.len(), 97);
    for (subject, positions) in &by_subject {
        assert!(
            positions.windows(2).all(|w| w[0] <= w[1]),
            "subject {subject} out of commit order"
        );
    }
    // The scenario happened: stalls, 503s, and Retry-After honoured (the retry of an
    // event answered `Retry-After: 1` came at least a second later).
    let stalled = requests.iter().filter(|r| r.status.is_none()).count();
    let refused = requests.iter().filter(|r| r.status == Some(503)).count();
    assert!(
        stalled >= 50 && refused >= 300,
        "stalled {stalled}, 503 {refused}"
    );
    let mut checked = 0;
    for (i, r) in requests.iter().enumerate() {
        if r.n % 50 != 49 && r.n % 14 == 6 {
            let next = requests[i + 1..]
                .iter()
                .find(|x| x.id() == r.id())
                .expect("retried");
            assert!(
                next.at.duration_since(r.at) >= Duration::from_secs(1),
                "Retry-After honoured"
            );
            checked += 1;
        }
    }
    assert!(checked > 100);
    assert!(requests.len() > 5000 + stalled);

    let last_end = witness.last().unwrap().end_lsn;
    wait_until(
        Duration::from_secs(60),
        "slot confirmed past the last transaction",
        || async { db.confirmed_flush_lsn().await >= last_end },
    )
    .await;
    stop_gracefully(&mut relay).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_signature_verifies_with_the_reference_library_through_a_rotation() {
    let db = TestDb::start(setup()).await;
    let receiver = Receiver::start(ok_script()).await;
    // Old secret only; both (rotation: the new one first); the new one only.
    let phases = [
        format!("\"{SECRET_A}\""),
        format!("[\"{SECRET_B}\", \"{SECRET_A}\"]"),
        format!("\"{SECRET_B}\""),
    ];
    let mut boundaries = vec![0];
    for (p, secret) in phases.iter().enumerate() {
        let sinks = webhook_sink("hooks", &receiver.url("/hook?token=t0ken"), secret, "5s");
        let cfg = config(&db, &format!("phase{p}"), &sinks, "");
        let mut relay = RelayProcess::run(&cfg, &db.path(&format!("relay{p}.log")));
        for t in 0..5 {
            db.insert_events(6, 4, p * 100 + t * 6).await;
        }
        let want = 30 * (p + 1);
        wait_until(
            Duration::from_secs(120),
            "the phase's events delivered",
            || {
                let n = receiver.delivered_ids().len();
                async move { n >= want }
            },
        )
        .await;
        stop_gracefully(&mut relay).await;
        assert!(
            !relay.log_text().contains("t0ken"),
            "the URL's query never reaches the log"
        );
        boundaries.push(receiver.requests().len());
    }
    let requests = receiver.requests();
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for (p, window) in boundaries.windows(2).enumerate() {
        for r in &requests[window[0]..window[1]] {
            let signatures = r.header("webhook-signature").unwrap().split(' ').count();
            assert_eq!(signatures, if p == 1 { 2 } else { 1 });
            cases.push((SECRET_A, r));
            expected.push(p <= 1);
            cases.push((SECRET_B, r));
            expected.push(p >= 1);
        }
    }
    // A negative control: a changed body must not verify.
    let mut tampered = requests[0].clone();
    tampered.body = Bytes::from(String::from_utf8_lossy(&tampered.body).replacen(
        "data_product",
        "data_pr0duct",
        1,
    ));
    cases.push((SECRET_A, &tampered));
    expected.push(false);
    let results = verify_with_python(&cases);
    assert_eq!(results.len(), cases.len());
    for ((result, want), (secret, r)) in results.iter().zip(&expected).zip(&cases) {
        let secret_name = if *secret == SECRET_A { "old" } else { "new" };
        assert_eq!(
            result == "ok",
            *want,
            "request {} with the {secret_name} secret: {result}",
            r.n
        );
    }
    assert!(expected.iter().filter(|w| **w).count() >= 120);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_400_for_one_event_type_is_dead_lettered_with_status_and_excerpt() {
    let db = TestDb::start(setup()).await;
    db.create_witness_slot().await;
    let receiver = Receiver::start(Arc::new(|_, r: &Recorded| {
        let kind = r.json()["type"].as_str().unwrap_or_default().to_string();
        if kind == "portal.audit.dataset_updated.v1" {
            Reply::Status(400, format!("{{\"error\": \"unknown event type {kind}\"}}"))
        } else {
            Reply::ok()
        }
    }))
    .await;
    let dead = db.path("dead-letters.jsonl");
    let sinks = webhook_sink(
        "hooks",
        &receiver.url("/"),
        &format!("\"{SECRET_A}\""),
        "5s",
    );
    let extra = format!("\n[dead_letter]\npath = \"{}\"\n", dead.display());
    let cfg = config(&db, "relay", &sinks, &extra);
    let mut relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    for t in 0..30 {
        insert_mixed(&db, 10, 7, t * 10).await;
    }
    let witness = db.witness_transactions("public.events").await;
    let all: HashSet<String> = witness.iter().flat_map(|t| t.ids.clone()).collect();
    assert_eq!(all.len(), 300);
    wait_until(Duration::from_secs(120), "every event answered", || {
        let answered: HashSet<String> = receiver.requests().iter().map(Recorded::id).collect();
        let n = read_jsonl(&dead).len();
        async move { answered.len() >= 300 && n >= 100 }
    })
    .await;
    let requests = receiver.requests();
    let refused: HashSet<String> = requests
        .iter()
        .filter(|r| r.status == Some(400))
        .map(Recorded::id)
        .collect();
    assert_eq!(refused.len(), 100, "every third event is a dataset_updated");
    assert_eq!(
        requests.iter().filter(|r| r.status == Some(400)).count(),
        100,
        "a 400 is not retried"
    );
    let delivered = receiver.delivered_ids();
    assert_eq!(delivered.len(), 200, "the rest flow");
    assert!(
        delivered.is_disjoint(&refused)
            && delivered.union(&refused).cloned().collect::<HashSet<_>>() == all
    );
    let letters = read_jsonl(&dead);
    assert_eq!(letters.len(), 100);
    for letter in &letters {
        let id = letter["id"].as_str().unwrap();
        assert!(refused.contains(id));
        assert_eq!(letter["stage"], "sink:hooks");
        assert_eq!(letter["event"]["type"], "portal.audit.dataset_updated.v1");
        let reason = letter["reason"].as_str().unwrap();
        assert!(reason.contains("HTTP 400 Bad Request"), "{reason}");
        assert!(
            reason.contains("unknown event type portal.audit.dataset_updated.v1"),
            "{reason}"
        );
    }
    let last_end = witness.last().unwrap().end_lsn;
    wait_until(
        Duration::from_secs(60),
        "slot confirmed past the last transaction",
        || async { db.confirmed_flush_lsn().await >= last_end },
    )
    .await;
    stop_gracefully(&mut relay).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_down_for_5s_holds_the_slot_and_loses_nothing() {
    let db = TestDb::start(setup()).await;
    db.create_witness_slot().await;
    let down = Receiver::start(ok_script()).await;
    let up = Receiver::start(ok_script()).await;
    let secret = format!("\"{SECRET_A}\"");
    let sinks = webhook_sink("hooks-down", &down.url("/a"), &secret, "1s")
        + &webhook_sink("hooks-up", &up.url("/b"), &secret, "1s");
    let cfg = config(&db, "relay", &sinks, "");
    let mut relay = RelayProcess::run(&cfg, &db.path("relay.log"));

    for t in 0..4 {
        db.insert_events(5, 3, t * 5).await;
    }
    let first = db.witness_transactions("public.events").await;
    let first_end = first.last().unwrap().end_lsn;
    wait_until(
        Duration::from_secs(60),
        "the first 20 events confirmed",
        || async { db.confirmed_flush_lsn().await >= first_end },
    )
    .await;

    down.stop();
    let stopped_at = tokio::time::Instant::now();
    let received_before = down.requests().len();
    for t in 0..10 {
        db.insert_events(5, 3, 100 + t * 5).await;
    }
    let witness = db.witness_transactions("public.events").await;
    let second = &witness[first.len()..];
    let second_ids: HashSet<String> = second.iter().flat_map(|t| t.ids.clone()).collect();
    assert_eq!(second_ids.len(), 50);
    // The healthy endpoint keeps receiving (within the in-flight window)...
    wait_until(
        Duration::from_secs(60),
        "the healthy endpoint got the new events",
        || {
            let done = second_ids.is_subset(&up.delivered_ids());
            async move { done }
        },
    )
    .await;
    // ...and the log names the endpoint that holds everything back, and how much.
    wait_until(
        Duration::from_secs(60),
        "a retry warning for hooks-down",
        || {
            let log = relay.log_text();
            async move {
                log.lines()
                    .any(|l| l.contains("retrying") && l.contains("hooks-down"))
            }
        },
    )
    .await;
    // Down for 5 s: the slot stays strictly before the first transaction the endpoint
    // has not got, at every look (the server's view of the relay's feedback).
    let first_undelivered = second[0].end_lsn;
    let mut looks = 0;
    while tokio::time::Instant::now() < stopped_at + Duration::from_secs(5) || looks == 0 {
        let confirmed = db.confirmed_flush_lsn().await;
        assert!(
            confirmed < first_undelivered,
            "confirmed {} is not before {}, the first transaction the endpoint has not got",
            relay_contracts::format_lsn(confirmed),
            relay_contracts::format_lsn(first_undelivered)
        );
        looks += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        down.requests().len(),
        received_before,
        "nothing reached the endpoint while down"
    );
    let log = relay.log_text();
    let warning = log
        .lines()
        .find(|l| l.contains("retrying") && l.contains("hooks-down"))
        .unwrap();
    assert!(
        warning.contains("waiting_events=") && warning.contains("failing_for="),
        "{warning}"
    );
    assert!(
        warning.contains(&down.url("/a")),
        "the reason names the endpoint: {warning}"
    );

    down.restart().await;
    wait_until(
        Duration::from_secs(120),
        "the endpoint that was down got everything",
        || {
            let done = second_ids.is_subset(&down.delivered_ids());
            async move { done }
        },
    )
    .await;
    let last_end = witness.last().unwrap().end_lsn;
    wait_until(
        Duration::from_secs(60),
        "slot confirmed past the last transaction",
        || async { db.confirmed_flush_lsn().await >= last_end },
    )
    .await;
    let all: HashSet<String> = witness.iter().flat_map(|t| t.ids.clone()).collect();
    assert_eq!(
        down.delivered_ids(),
        all,
        "nothing lost at the endpoint that was down"
    );
    assert_eq!(up.delivered_ids(), all);
    stop_gracefully(&mut relay).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sink_speaks_https_with_a_private_ca_and_http2_and_probes_without_sending() {
    relay_sinks::install_crypto_provider();
    let receiver = Receiver::start_tls(ok_script(), fixture_tls(&["h2", "http/1.1"])).await;
    let url = format!("https://127.0.0.1:{}/hook", receiver.addr.port());
    let mut cfg = WebhookConfig::new("tls", &url, Some(SECRET_A));
    cfg.tls_ca_file = Some(fixture_dir().join("ca.pem"));
    let sink = WebhookSink::new(&cfg).await.unwrap();
    let probe = sink.probe().await.unwrap();
    assert!(probe.detail.contains("ALPN h2"), "{}", probe.detail);
    assert!(receiver.requests().is_empty(), "the probe sent no request");

    assert_eq!(
        sink.publish_one(event("e-1", "portal.x.v1")).await,
        Outcome::Acked
    );
    let got = receiver.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].version, hyper::Version::HTTP_2);
    assert_eq!(got[0].id(), "e-1");
    assert_eq!(
        got[0].header("content-type"),
        Some("application/cloudevents+json")
    );

    // Filtered out: acked without a request.
    let mut filtered = cfg.clone();
    filtered.event_types = Some(relay_contracts::config::OneOrMany(
        vec!["portal.y.*".into()],
    ));
    let sink2 = WebhookSink::new(&filtered).await.unwrap();
    assert_eq!(
        sink2.publish_one(event("e-2", "portal.x.v1")).await,
        Outcome::Acked
    );
    assert_eq!(
        sink2.publish_one(event("e-3", "portal.y.created.v1")).await,
        Outcome::Acked
    );
    let ids: Vec<String> = receiver.requests().iter().map(Recorded::id).collect();
    assert_eq!(ids, ["e-1", "e-3"]);

    // The web PKI roots do not know the private CA: the probe and a delivery fail,
    // the delivery as retryable.
    let untrusted = WebhookConfig::new("untrusted", &url, Some(SECRET_A));
    let sink3 = WebhookSink::new(&untrusted).await.unwrap();
    let err = sink3.probe().await.unwrap_err().to_string();
    assert!(
        err.contains("TLS handshake") && err.contains("tls_ca_file"),
        "{err}"
    );
    assert!(matches!(
        sink3.publish_one(event("e-4", "t")).await,
        Outcome::Retryable(_)
    ));
    assert_eq!(receiver.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sink_posts_the_portal_v2_body_and_classifies_answers() {
    relay_sinks::install_crypto_provider();
    let receiver = Receiver::start(Arc::new(|_, r: &Recorded| match r.id().as_str() {
        "bad" => Reply::Status(422, "field data.id: required\n".into()),
        "busy" => Reply::RetryAfter(429, "1".into()),
        _ => Reply::ok(),
    }))
    .await;
    let mut cfg = WebhookConfig::new("v2", receiver.url("/v2"), None);
    cfg.format = Format::PortalV2;
    cfg.headers
        .insert("Authorization".into(), "Bearer xyz".into());
    let sink = WebhookSink::new(&cfg).await.unwrap();
    assert!(sink.probe().await.unwrap().detail.contains("accepts TCP"));
    assert_eq!(
        sink.publish_one(event("good", "data_product.event")).await,
        Outcome::Acked
    );
    let r = &receiver.requests()[0];
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("authorization"), Some("Bearer xyz"));
    assert_eq!(r.header("webhook-id"), Some("good"));
    assert!(r.header("webhook-timestamp").is_some());
    assert!(
        r.header("webhook-signature").is_none(),
        "no secret, no signature"
    );
    assert_eq!(
        r.json(),
        serde_json::json!({ "specversion": "1.0", "id": "good", "source": "data-product-portal",
            "type": "data_product.event", "time": "2026-01-01T00:00:00.000000Z", "data": { "id": "s1" } })
    );
    match sink.publish_one(event("bad", "t")).await {
        Outcome::Rejected(reason) => {
            assert!(
                reason.contains("HTTP 422") && reason.contains("field data.id: required"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
    let started = Instant::now();
    match sink.publish_one(event("busy", "t")).await {
        Outcome::Retryable(reason) => assert!(
            reason.contains("HTTP 429") && reason.contains("Retry-After"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured before reporting"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_receiver_example_verifies_and_deduplicates() {
    relay_sinks::install_crypto_provider();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/webhook-receiver/receiver.py");
    let child = std::process::Command::new(standardwebhooks_python())
        .arg("-u")
        .arg(example)
        .env("WEBHOOK_SECRET", SECRET_B)
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the example receiver");
    struct Reap(Option<std::process::Child>);
    impl Drop for Reap {
        fn drop(&mut self) {
            if let Some(mut c) = self.0.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
    let mut child = Reap(Some(child));
    wait_until(
        Duration::from_secs(30),
        "the example receiver listening",
        || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
        },
    )
    .await;
    let url = format!("http://127.0.0.1:{port}/");
    let sink = WebhookSink::new(&WebhookConfig::new("example", &url, Some(SECRET_B)))
        .await
        .unwrap();
    for id in ["x-1", "x-1", "x-2"] {
        assert_eq!(
            sink.publish_one(event(id, "portal.data_product.created.v1"))
                .await,
            Outcome::Acked
        );
    }
    // Signed with another secret: refused (401), which the relay dead-letters.
    let wrong = WebhookSink::new(&WebhookConfig::new("wrong", &url, Some(SECRET_A)))
        .await
        .unwrap();
    match wrong.publish_one(event("x-3", "t")).await {
        Outcome::Rejected(reason) => assert!(reason.contains("HTTP 401"), "{reason}"),
        other => panic!("{other:?}"),
    }
    let mut c = child.0.take().unwrap();
    c.kill().unwrap();
    let out = c.wait_with_output().unwrap();
    let handled: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        handled,
        ["x-1", "x-2"],
        "verified, and the repeated id handled once"
    );
}

//! Issue 3: NATS JetStream delivery against a real nats-server, end to end through the
//! `outbox-relay` binary.

use outbox_relay_tests::nats::{read_stream_with_python, NatsServer};
use outbox_relay_tests::proxy::FaultProxy;
use outbox_relay_tests::*;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

fn nats_sink(url: &str, extra: &str) -> String {
    format!(
        "[[sinks]]\nname = \"broker\"\ntype = \"nats\"\nurl = \"{url}\"\ncreate_stream = true\n{extra}\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_thousand_events_once_each_in_the_stream_despite_three_sigkills() {
    let seed: u64 = std::env::var("OUTBOX_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("nats crash test seed: {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let nats = NatsServer::start();
    let db = TestDb::start(Setup::default()).await;
    let cfg = db.config("relay", &nats_sink(&nats.url(), ""));
    let log = db.path("relay.log");
    let producer_db = connect(&db.cluster.conninfo("portal")).await;
    let producer = tokio::spawn(async move {
        for t in 0..1000i64 {
            producer_db
                .execute(
                    "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
                     SELECT gen_random_uuid(), 'data_product_updated', 'DATA_PRODUCT',
                            ('00000000-0000-4000-8000-' || lpad(((g + $2::bigint) % 101)::text, 12, '0'))::uuid,
                            $1::text::uuid
                     FROM generate_series(1::bigint, 20::bigint) g",
                    &[&ACTOR, &(t * 20)],
                )
                .await
                .unwrap();
            if t % 20 == 0 {
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
        }
    });
    let mut relay = RelayProcess::run(&cfg, &log);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(300..1500))).await;
        relay.kill9();
        wait_until(Duration::from_secs(30), "slot released", || async {
            !db.slot_active().await
        })
        .await;
        relay = RelayProcess::run(&cfg, &log);
    }
    producer.await.unwrap();
    wait_until(
        Duration::from_secs(180),
        "20,000 messages in the stream",
        || {
            let n = nats.stream_messages("PORTAL_EVENTS").unwrap_or(0);
            async move { n >= 20_000 }
        },
    )
    .await;
    // Let the relay confirm, then make sure no late duplicates arrive.
    let last = db.current_wal_lsn().await;
    wait_until(
        Duration::from_secs(60),
        "slot confirmed everything",
        || async { db.confirmed_flush_lsn().await >= last },
    )
    .await;
    assert_eq!(
        nats.stream_messages("PORTAL_EVENTS"),
        Some(20_000),
        "exactly one message per event"
    );
    let read = read_stream_with_python(&nats, 20_000);
    assert_eq!(read["count"], 20_000);
    assert_eq!(read["unique_ids"], 20_000);
    assert!(relay.exited().is_none(), "{}", relay.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ten_second_broker_outage_loses_nothing_and_holds_the_slot() {
    let mut nats = NatsServer::start();
    let db = TestDb::start(Setup::default()).await;
    db.create_witness_slot().await;
    let cfg = db.config("relay", &nats_sink(&nats.url(), "ack_timeout = \"1s\""));
    let mut relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    let producer_db = connect(&db.cluster.conninfo("portal")).await;
    let producer = tokio::spawn(async move {
        for t in 0..600i64 {
            producer_db
                .execute(
                    "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
                     SELECT gen_random_uuid(), 'data_product_updated', 'DATA_PRODUCT', gen_random_uuid(), $1::text::uuid
                     FROM generate_series(1, 5)",
                    &[&ACTOR],
                )
                .await
                .unwrap();
            let _ = t;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    wait_until(Duration::from_secs(60), "some events in the stream", || {
        let n = nats.stream_messages("PORTAL_EVENTS").unwrap_or(0);
        async move { n >= 200 }
    })
    .await;
    nats.stop();
    // What the stream held when the broker stopped: a copy of its store, read later.
    let snapshot = nats.store.with_extension("at-stop");
    copy_dir(&nats.store, &snapshot);
    let mut outage_confirmed = Vec::new();
    let outage_end = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < outage_end {
        outage_confirmed.push(db.confirmed_flush_lsn().await);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    nats.start_again();
    producer.await.unwrap();
    wait_until(
        Duration::from_secs(120),
        "all 3,000 events in the stream",
        || {
            let n = nats.stream_messages("PORTAL_EVENTS").unwrap_or(0);
            async move { n >= 3000 }
        },
    )
    .await;
    // The relay confirms what the broker acked, and stays up doing so: wait for the slot
    // to reach the end, or for the relay to exit (an exited relay never confirms it).
    let end = db.current_wal_lsn().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while relay_process_alive(&mut relay)
        && db.confirmed_flush_lsn().await < end
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        relay_process_alive(&mut relay),
        "recovered without a restart: the relay exited ({:?}) {}",
        relay.exited(),
        relay.log_text()
    );
    assert!(
        db.confirmed_flush_lsn().await >= end,
        "the slot confirmed everything after the outage"
    );
    let log = relay.log_text();
    assert!(log.contains("retrying"), "{log}");
    let all = read_stream_with_python(&nats, 3000);
    assert_eq!(all["unique_ids"], 3000, "no event lost");
    assert_eq!(all["count"], 3000, "no duplicates in the stream");

    // The slot during the outage never passed the first transaction missing from the
    // stream as it was when the broker stopped.
    let witness = db.witness_transactions("public.events").await;
    let mut at_stop_server = NatsServer::start();
    at_stop_server.stop();
    at_stop_server.start_on(&snapshot);
    let at_stop = read_stream_with_python(&at_stop_server, 0);
    let present: HashSet<String> = at_stop["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let first_missing =
        first_incomplete(&witness, &present).expect("some events were published after the outage");
    let max_confirmed = outage_confirmed.iter().copied().max().unwrap();
    assert!(
        max_confirmed < first_missing.end_lsn,
        "slot confirmed {} during the outage, past {} (first transaction missing from the stream)",
        relay_contracts::format_lsn(max_confirmed),
        relay_contracts::format_lsn(first_missing.end_lsn)
    );
    let _ = std::fs::remove_dir_all(&snapshot);
}

/// Still running: `try_wait` reaps a dead child, so an exited relay (a zombie that
/// `/proc` would still list) counts as dead.
fn relay_process_alive(relay: &mut RelayProcess) -> bool {
    relay.exited().is_none()
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_stream_is_one_clear_error() {
    let nats = NatsServer::start();
    let db = TestDb::start(Setup::default()).await;
    let cfg = db.config(
        "relay",
        &format!(
            "[[sinks]]\nname = \"broker\"\ntype = \"nats\"\nurl = \"{}\"\n",
            nats.url()
        ),
    );
    let (code, _out, stderr) = run_to_end(&["run", "--config", cfg.to_str().unwrap()]);
    assert_ne!(code, 0);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_default();
    assert!(
        line.contains("PORTAL_EVENTS") && line.contains("portal.events.>"),
        "{stderr}"
    );
    assert!(line.contains("create_stream"), "names the fix: {stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_consumer_sees_each_aggregate_in_commit_order_despite_lost_publishes_acks_and_cuts(
) {
    let nats = NatsServer::start();
    // Between the relay and the server: stalls, cut connections, and publishes or acks
    // lost on the way. Without the one-in-flight-per-aggregate rule, a retried event
    // would land after a later one of its subject.
    let proxy = FaultProxy::start_nats(nats.port, 11).await;
    let db = TestDb::start(Setup::default()).await;
    db.create_witness_slot().await;
    let cfg = db.config("relay", &nats_sink(&proxy.url(), "ack_timeout = \"500ms\""));
    let relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    proxy.drop_messages(0.03);
    for t in 0..200 {
        db.insert_events(5, 8, t * 5).await;
        if t % 40 == 10 {
            // Stall the connection long enough for acks to time out, then let it go.
            proxy.stall();
            tokio::time::sleep(Duration::from_millis(rng.gen_range(800..1500))).await;
            proxy.resume();
        }
        if t % 40 == 30 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            proxy.cut();
        }
    }
    proxy.drop_messages(0.0);
    assert!(
        proxy.dropped_publishes() > 0 && proxy.dropped_acks() > 0 && proxy.connections_cut() > 0,
        "faults injected: {} publishes and {} acks dropped, {} connections cut",
        proxy.dropped_publishes(),
        proxy.dropped_acks(),
        proxy.connections_cut()
    );
    wait_until(
        Duration::from_secs(120),
        "1,000 events in the stream",
        || {
            let n = nats.stream_messages("PORTAL_EVENTS").unwrap_or(0);
            async move { n >= 1000 }
        },
    )
    .await;
    assert!(
        relay.log_text().contains("retrying"),
        "timeouts were injected:\n{}",
        relay.log_text()
    );
    let read = read_stream_with_python(&nats, 1000);
    assert_eq!(read["unique_ids"], 1000);
    let witness = db.witness_transactions("public.events").await;
    let position: HashMap<String, usize> = witness
        .iter()
        .flat_map(|t| t.ids.clone())
        .enumerate()
        .map(|(i, id)| (id, i))
        .collect();
    let mut per_subject: HashMap<String, Vec<usize>> = HashMap::new();
    for e in read["events"].as_array().unwrap() {
        per_subject
            .entry(e["subject"].as_str().unwrap().to_string())
            .or_default()
            .push(position[e["id"].as_str().unwrap()]);
    }
    assert_eq!(per_subject.len(), 8);
    for (subject, positions) in per_subject {
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "subject {subject} out of commit order: {positions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_the_broker_refuses_for_good_is_dead_lettered_and_the_stream_goes_on() {
    let nats = NatsServer::start_with_config("max_payload: 4096\n");
    let db = TestDb::start(Setup {
        schema: "CREATE TABLE outbox (id uuid PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text NOT NULL,
                     type text NOT NULL, payload text);"
            .into(),
        table: "public.outbox".into(),
        ..Setup::default()
    })
    .await;
    let dlq = db.path("dead-letters.jsonl");
    let cfg = db.config(
        "relay",
        &format!(
            "[capture]\nprofile = \"debezium-outbox\"\ntable = \"public.outbox\"\n\n{}\n[dead_letter]\npath = \"{}\"\n",
            nats_sink(&nats.url(), "subject_prefix = \"shop\"\nstream = \"SHOP\""),
            dlq.display()
        ),
    );
    let relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    db.admin
        .batch_execute(
            "INSERT INTO outbox VALUES ('ffffffff-0000-4000-8000-000000000001', 'order', 'o-1', 'OrderCreated', '{\"n\": 1}');
             INSERT INTO outbox VALUES ('ffffffff-0000-4000-8000-000000000002', 'order', 'o-2', 'OrderCreated', repeat('x', 8000));
             INSERT INTO outbox VALUES ('ffffffff-0000-4000-8000-000000000003', 'order', 'o-3', 'OrderCreated', '{\"n\": 3}');",
        )
        .await
        .unwrap();
    wait_until(
        Duration::from_secs(60),
        "two small events in the stream, the big one dead-lettered",
        || {
            let n = nats.stream_messages("SHOP").unwrap_or(0);
            let d = read_jsonl(&dlq).len();
            async move { n >= 2 && d >= 1 }
        },
    )
    .await;
    let dead = &read_jsonl(&dlq)[0];
    assert_eq!(dead["id"], "ffffffff-0000-4000-8000-000000000002");
    assert_eq!(dead["stage"], "sink:broker");
    assert!(
        dead["reason"].as_str().unwrap().contains("max_payload"),
        "{dead}"
    );
    assert_eq!(dead["event"]["subject"], "o-2", "the whole event is kept");
    let end = db.current_wal_lsn().await;
    wait_until(
        Duration::from_secs(30),
        "slot confirmed past the dead letter",
        || async { db.confirmed_flush_lsn().await >= end },
    )
    .await;
    assert_eq!(nats.stream_messages("SHOP"), Some(2));
    assert!(
        relay.log_text().contains("rejected permanently"),
        "{}",
        relay.log_text()
    );
}

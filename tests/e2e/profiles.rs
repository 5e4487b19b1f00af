//! The Debezium-outbox and logical-message capture profiles, end to end.

use outbox_relay_tests::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn debezium_outbox_rows_become_events() {
    let db = TestDb::start(Setup {
        schema: "CREATE TABLE outbox (id uuid PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text NOT NULL,
                     type text NOT NULL, payload jsonb, payload_bytes bytea);"
            .into(),
        table: "public.outbox".into(),
        ..Setup::default()
    })
    .await;
    let out = db.path("events.jsonl");
    let cfg = db.config(
        "relay",
        &format!(
            "[capture]\nprofile = \"debezium-outbox\"\ntable = \"public.outbox\"\n\n[[sinks]]\nname = \"a\"\ntype = \"file\"\npath = \"{}\"\n",
            out.display()
        ),
    );
    let _relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    db.admin
        .batch_execute(
            "INSERT INTO outbox VALUES ('eeeeeeee-0000-4000-8000-000000000001', 'order', 'o-1', 'OrderCreated', '{\"total\": 12.5}');
             INSERT INTO outbox VALUES ('eeeeeeee-0000-4000-8000-000000000002', 'order', 'o-1', 'OrderPaid', NULL);",
        )
        .await
        .unwrap();
    wait_until(Duration::from_secs(60), "two events", || async {
        read_jsonl(&out).len() >= 2
    })
    .await;
    let lines = read_jsonl(&out);
    assert_eq!(lines[0]["id"], "eeeeeeee-0000-4000-8000-000000000001");
    assert_eq!(lines[0]["type"], "OrderCreated");
    assert_eq!(lines[0]["subject"], "o-1");
    assert_eq!(lines[0]["aggregatetype"], "order");
    assert_eq!(lines[0]["data"]["total"], 12.5);
    assert_eq!(lines[0]["specversion"], "1.0");
    assert!(lines[1]["data"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn logical_messages_become_events_with_replay_stable_ids() {
    let db = TestDb::start(Setup {
        schema: "CREATE TABLE IF NOT EXISTS users (id uuid PRIMARY KEY, email varchar); CREATE TABLE events (id uuid);".into(),
        ..Setup::default()
    })
    .await;
    // Keep a copy of the slot to replay the same WAL later.
    let out = db.path("events.jsonl");
    let cfg = db.config(
        "relay",
        &format!(
            "[capture]\nprofile = \"logical-message\"\nmessage_prefix = \"portal-outbox\"\n\n[[sinks]]\nname = \"a\"\ntype = \"file\"\npath = \"{}\"\n",
            out.display()
        ),
    );
    db.admin
        .batch_execute(
            "SELECT pg_copy_logical_replication_slot('outbox_relay', 'outbox_relay_copy')",
        )
        .await
        .unwrap();
    let mut relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    db.admin
        .batch_execute(
            "BEGIN;
             SELECT pg_logical_emit_message(true, 'portal-outbox', '{\"type\": \"thing.done\", \"subject\": \"t-1\", \"data\": {\"n\": 1}}');
             SELECT pg_logical_emit_message(true, 'other-prefix', 'ignored');
             SELECT pg_logical_emit_message(true, 'portal-outbox', 'plain text');
             COMMIT;",
        )
        .await
        .unwrap();
    wait_until(Duration::from_secs(60), "two events", || async {
        read_jsonl(&out).len() >= 2
    })
    .await;
    let first = read_jsonl(&out);
    assert_eq!(first.len(), 2, "the other prefix is not captured");
    assert_eq!(first[0]["type"], "thing.done");
    assert_eq!(first[0]["subject"], "t-1");
    assert_eq!(first[0]["data"]["n"], 1);
    assert_eq!(first[1]["data"], "plain text");
    assert_ne!(first[0]["id"], first[1]["id"]);
    // Replay the same WAL through the copied slot: the same ids come out.
    relay.kill9();
    wait_until(Duration::from_secs(30), "slot released", || async {
        !db.slot_active().await
    })
    .await;
    let replay_out = db.path("replay.jsonl");
    let replay_cfg = db.dir.join("replay.toml");
    std::fs::write(
        &replay_cfg,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("slot = \"outbox_relay\"", "slot = \"outbox_relay_copy\"")
            .replace(out.to_str().unwrap(), replay_out.to_str().unwrap()),
    )
    .unwrap();
    let _replay = RelayProcess::run(&replay_cfg, &db.path("replay.log"));
    wait_until(Duration::from_secs(60), "replayed events", || async {
        read_jsonl(&replay_out).len() >= 2
    })
    .await;
    assert_eq!(ids_of(&read_jsonl(&replay_out)), ids_of(&first));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_transactional_message_without_a_dead_letter_file_stops_the_relay_before_it() {
    let db = TestDb::start(Setup {
        schema: "CREATE TABLE IF NOT EXISTS users (id uuid PRIMARY KEY, email varchar); CREATE TABLE events (id uuid);".into(),
        ..Setup::default()
    })
    .await;
    let out = db.path("events.jsonl");
    let cfg = db.config(
        "relay",
        &format!(
            "[capture]\nprofile = \"logical-message\"\nmessage_prefix = \"portal-outbox\"\n\n[[sinks]]\nname = \"a\"\ntype = \"file\"\npath = \"{}\"\n",
            out.display()
        ),
    );
    let mut relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    db.admin
        .batch_execute(
            "SELECT pg_logical_emit_message(true, 'portal-outbox', '{\"type\": \"ok\"}')",
        )
        .await
        .unwrap();
    wait_until(Duration::from_secs(60), "the first event", || async {
        !read_jsonl(&out).is_empty()
    })
    .await;
    let before = db.current_wal_lsn().await;
    db.admin
        .batch_execute(
            "SELECT pg_logical_emit_message(false, 'portal-outbox', 'not in a transaction')",
        )
        .await
        .unwrap();
    wait_until(Duration::from_secs(60), "the relay stops", || {
        let exited = relay.exited();
        async move { exited.is_some() }
    })
    .await;
    assert!(!relay.exited().unwrap().success());
    assert!(
        relay.log_text().contains("non-transactional"),
        "{}",
        relay.log_text()
    );
    assert!(
        db.confirmed_flush_lsn().await <= before,
        "the slot stays before the message"
    );
}

//! The replication slot: missing, active, invalidated, with the wrong plugin or in
//! another database.

use std::process::{Command, Stdio};

use relay_check::{checks, render, Target};

use crate::cluster::*;
use crate::support::*;

#[tokio::test]
async fn missing_slot_fails_alone_and_its_fix_creates_it() {
    let pg = Cluster::start(&["wal_level=logical"]);
    let _admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL]).await;
    let relay = pg.connect("outbox_relay", "portal").await;
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::SLOT]);
    // No findings that depend on the slot.
    for dependent in [
        checks::SLOT_PLUGIN,
        checks::SLOT_DATABASE,
        checks::SLOT_VALID,
        checks::SLOT_ACTIVE,
    ] {
        assert!(!names(&findings).contains(&dependent), "{findings:?}");
    }
    let text = render(&findings);
    assert!(
        text.contains(
            "FAIL slot: replication slot \"outbox_relay\" does not exist (create it in database \
             \"portal\", as the relay's role or a superuser; events are streamed from its creation \
             on) — fix: SELECT pg_create_logical_replication_slot('outbox_relay', 'pgoutput');\n"
        ),
        "{text}"
    );
    // The relay's role may create its own slot.
    relay
        .batch_execute(fix(&findings, checks::SLOT))
        .await
        .unwrap();
    assert_all_ok(&check(&relay, &Target::default()).await);
}

#[tokio::test]
async fn active_slot_fails_naming_the_pid_and_terminating_it_frees_the_slot() {
    let pg = Cluster::start(&["wal_level=logical"]);
    let admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL, SLOT_SQL]).await;
    // Another consumer holds the slot (as the relay's role, like a second relay).
    let consumer = Background(
        Command::new(pg.bin.join("pg_recvlogical"))
            .args(["-h", "127.0.0.1", "-p", &pg.port.to_string()])
            .args([
                "-U",
                "outbox_relay",
                "-d",
                "portal",
                "--slot",
                "outbox_relay",
            ])
            .args(["--start", "--no-loop", "-f", "/dev/null"])
            .args([
                "-o",
                "proto_version=1",
                "-o",
                "publication_names=outbox_relay",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn pg_recvlogical"),
    );
    wait_until(
        &admin,
        "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'outbox_relay' AND active)",
        "pg_recvlogical to hold the slot",
    )
    .await;
    let pid: i32 = admin
        .query_one(
            "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'outbox_relay'",
            &[],
        )
        .await
        .unwrap()
        .get(0);

    let relay = pg.connect("outbox_relay", "portal").await;
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::SLOT_ACTIVE]);
    let active = get(&findings, checks::SLOT_ACTIVE);
    assert!(
        active.message.contains(&format!("active_pid {pid}")),
        "{active:?}"
    );
    let terminate = fix(&findings, checks::SLOT_ACTIVE);
    assert!(
        terminate.starts_with(&format!("SELECT pg_terminate_backend({pid});")),
        "{terminate}"
    );

    // The relay's role may terminate a walsender of its own role.
    relay.batch_execute(terminate).await.unwrap();
    wait_until(
        &admin,
        "SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'outbox_relay'",
        "the slot to be released",
    )
    .await;
    drop(consumer);
    assert_all_ok(&check(&relay, &Target::default()).await);
}

#[tokio::test]
async fn invalidated_slot_fails_and_recreating_it_fixes_it() {
    // A tiny max_slot_wal_keep_size: a few WAL switches and a checkpoint
    // invalidate an unread slot (wal_status = 'lost' on PostgreSQL 15).
    let pg = Cluster::start(&["wal_level=logical", "max_slot_wal_keep_size=1MB"]);
    let admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL, SLOT_SQL]).await;
    for _ in 0..3 {
        admin
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS filler (x int); INSERT INTO filler VALUES (1); \
                 SELECT pg_switch_wal();",
            )
            .await
            .unwrap();
    }
    admin.batch_execute("CHECKPOINT").await.unwrap();
    wait_until(
        &admin,
        "SELECT wal_status = 'lost' FROM pg_replication_slots WHERE slot_name = 'outbox_relay'",
        "the slot to be invalidated",
    )
    .await;

    let relay = pg.connect("outbox_relay", "portal").await;
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::SLOT_VALID]);
    let invalid = get(&findings, checks::SLOT_VALID);
    assert!(invalid.message.contains("wal_removed"), "{invalid:?}");
    assert!(
        invalid
            .message
            .contains("replayed from \"public\".\"events\""),
        "{invalid:?}"
    );
    let recreate = fix(&findings, checks::SLOT_VALID);
    assert_eq!(
        recreate,
        "SELECT pg_drop_replication_slot('outbox_relay'); \
         SELECT pg_create_logical_replication_slot('outbox_relay', 'pgoutput');"
    );
    // Two statements, so not one batch (the drop writes): run them one by one.
    for statement in recreate.split_inclusive(';') {
        relay.batch_execute(statement).await.unwrap();
    }
    assert_all_ok(&check(&relay, &Target::default()).await);
}

#[tokio::test]
async fn slot_with_wrong_plugin_or_in_another_database_fails() {
    let pg = Cluster::start(&["wal_level=logical"]);
    let admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL]).await;
    let relay = pg.connect("outbox_relay", "portal").await;

    // test_decoding instead of pgoutput
    admin
        .batch_execute("SELECT pg_create_logical_replication_slot('outbox_relay', 'test_decoding')")
        .await
        .unwrap();
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::SLOT_PLUGIN]);
    assert!(get(&findings, checks::SLOT_PLUGIN)
        .message
        .contains("uses plugin test_decoding"));
    assert!(fix(&findings, checks::SLOT_PLUGIN)
        .starts_with("SELECT pg_drop_replication_slot('outbox_relay');"));

    // a physical slot of the same name
    admin
        .batch_execute(
            "SELECT pg_drop_replication_slot('outbox_relay'); \
             SELECT pg_create_physical_replication_slot('outbox_relay');",
        )
        .await
        .unwrap();
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::SLOT_PLUGIN]);
    assert!(get(&findings, checks::SLOT_PLUGIN)
        .message
        .contains("physical slot"));
    assert!(!names(&findings).contains(&checks::SLOT_DATABASE));

    // a pgoutput slot created in another database
    admin
        .batch_execute("SELECT pg_drop_replication_slot('outbox_relay')")
        .await
        .unwrap();
    admin.batch_execute("CREATE DATABASE other").await.unwrap();
    pg.connect("postgres", "other")
        .await
        .batch_execute(SLOT_SQL)
        .await
        .unwrap();
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::SLOT_DATABASE]);
    let wrong_db = get(&findings, checks::SLOT_DATABASE);
    assert!(
        wrong_db.message.contains("belongs to database \"other\""),
        "{wrong_db:?}"
    );
}

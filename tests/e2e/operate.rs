//! Operating the relay (issue 12): metrics and readiness through a broker outage, and
//! `status` / start-up verification on a healthy slot, a missing publication and an
//! invalidated slot.

use outbox_relay_tests::nats::NatsServer;
use outbox_relay_tests::*;
use std::time::{Duration, Instant};

fn scrape(port: u16) -> String {
    http_get(port, "/metrics")
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .unwrap_or_default()
}

/// Slot lag in bytes (from the server) and seconds (oldest unresolved commit).
fn lag(port: u16) -> (f64, f64) {
    let m = scrape(port);
    (
        metric(&m, "outbox_relay_slot_lag_bytes", &[]).unwrap_or(-1.0),
        metric(&m, "outbox_relay_slot_lag_seconds", &[]).unwrap_or(-1.0),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_readiness_follow_a_broker_outage() {
    let mut nats = NatsServer::start();
    let db = TestDb::start(Setup::default()).await;
    let port = relay_tempdb::free_port().unwrap();
    let cfg = db.config(
        "relay",
        &format!(
            "[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [[sinks]]\nname = \"broker\"\ntype = \"nats\"\nurl = \"{}\"\ncreate_stream = true\nack_timeout = \"1s\"\n",
            nats.url()
        ),
    );
    let _relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    // A steady trickle of portal activity for the whole test.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producer = {
        let conninfo = db.cluster.conninfo("portal");
        let stop = stop.clone();
        tokio::spawn(async move {
            let c = connect(&conninfo).await;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                c.execute(
                    "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
                     SELECT gen_random_uuid(), 'data_product_updated', 'DATA_PRODUCT', gen_random_uuid(), $1::text::uuid
                     FROM generate_series(1, 5)",
                    &[&ACTOR],
                )
                .await
                .unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    wait_until(
        Duration::from_secs(60),
        "ready and lag measured",
        || async {
            http_get(port, "/health/ready").is_some_and(|(s, _)| s == 200) && lag(port).0 >= 0.0
        },
    )
    .await;
    // Baseline: the worst lag over 6 s of normal streaming (the server-side figure is
    // polled every 5 s).
    let mut base = (0.0f64, 0.0f64);
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        let (b, s) = lag(port);
        base = (base.0.max(b), base.1.max(s));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    nats.stop();
    let mut worst = (0.0f64, 0.0f64);
    let mut not_ready_body = None;
    let until = Instant::now() + Duration::from_secs(12);
    while Instant::now() < until {
        let (b, s) = lag(port);
        worst = (worst.0.max(b), worst.1.max(s));
        if let Some((503, body)) = http_get(port, "/health/ready") {
            not_ready_body.get_or_insert(body);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let body = not_ready_body.expect("/health/ready stayed 200 while the broker was down");
    assert!(body.contains("broker"), "the reason names the sink: {body}");
    println!(
        "baseline lag {:.0} B / {:.2} s; during the outage up to {:.0} B / {:.2} s",
        base.0, base.1, worst.0, worst.1
    );
    assert!(
        worst.0 > base.0,
        "slot lag bytes did not rise: {worst:?} vs {base:?}"
    );
    assert!(
        worst.1 > base.1 + 5.0,
        "slot lag seconds did not rise: {worst:?} vs {base:?}"
    );

    nats.start_again();
    let back = Instant::now();
    wait_until(
        Duration::from_secs(60),
        "lag back to its baseline",
        || async {
            let (b, s) = lag(port);
            (0.0..=base.0.max(64.0 * 1024.0)).contains(&b) && s <= base.1.max(1.0)
        },
    )
    .await;
    println!(
        "lag back to its baseline {:?} after the broker returned",
        back.elapsed()
    );
    wait_until(Duration::from_secs(30), "ready again", || async {
        http_get(port, "/health/ready").is_some_and(|(s, _)| s == 200)
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    producer.await.unwrap();
    let m = scrape(port);
    let retried = metric(
        &m,
        "outbox_relay_events_retried_total",
        &["sink=\"broker\""],
    );
    assert!(retried.unwrap_or(0.0) > 0.0, "retries counted:\n{m}");
    let observed = metric(
        &m,
        "outbox_relay_commit_to_ack_seconds_count",
        &["sink=\"broker\""],
    );
    assert!(
        observed.unwrap_or(0.0) > 0.0,
        "latency histogram observed:\n{m}"
    );
    let acked = metric(&m, "outbox_relay_events_acked_total", &["sink=\"broker\""]);
    let read = metric(&m, "outbox_relay_events_read_total", &[]);
    assert!(
        acked.unwrap_or(0.0) > 0.0 && read.unwrap_or(0.0) > 0.0,
        "{m}"
    );
    assert!(
        metric(&m, "outbox_relay_confirmed_lsn", &[]).unwrap_or(0.0) > 0.0,
        "confirmed LSN exported:\n{m}"
    );
}

fn status(cfg: &std::path::Path) -> (i32, serde_json::Value, String) {
    let (code, stdout, stderr) =
        run_to_end(&["status", "--config", cfg.to_str().unwrap(), "--json"]);
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("status --json printed no JSON ({e}):\n{stdout}\n{stderr}"));
    (code, json, stderr)
}

fn file_cfg(db: &TestDb) -> std::path::PathBuf {
    db.config(
        "relay",
        &format!(
            "[[sinks]]\nname = \"file\"\ntype = \"file\"\npath = \"{}\"\n",
            db.path("events.jsonl").display()
        ),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn status_on_a_healthy_relay_and_with_a_missing_publication() {
    let db = TestDb::start(Setup::default()).await;
    let cfg = file_cfg(&db);
    let relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    db.insert_events(5, 1, 0).await;
    wait_until(Duration::from_secs(30), "delivered", || async {
        read_jsonl(&db.path("events.jsonl")).len() >= 5
    })
    .await;
    let (code, s, _) = status(&cfg);
    assert_eq!(code, 0, "a healthy relay needs no action: {s:#}");
    assert_eq!(s["slot"]["active"], true, "{s:#}");
    assert!(s["slot"]["lag_bytes"].as_i64().is_some(), "{s:#}");
    assert!(s["needs_action"].as_array().unwrap().is_empty(), "{s:#}");
    assert!(s["publications"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["exists"] == true));
    drop(relay);

    db.admin
        .batch_execute("DROP PUBLICATION outbox_relay_deletes")
        .await
        .unwrap();
    let (code, s, _) = status(&cfg);
    assert_ne!(code, 0, "a missing publication needs action: {s:#}");
    let action: Vec<&str> = s["needs_action"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert_eq!(action.len(), 1, "one line for the one problem: {action:?}");
    assert!(action[0].contains("outbox_relay_deletes"), "{action:?}");
    // `run` refuses to stream, with the same reason, before any change is read.
    let (code, _, stderr) = run_to_end(&["run", "--config", cfg.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(stderr.contains("outbox_relay_deletes"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalidated_slot_stops_the_relay_and_says_what_was_lost() {
    let db = TestDb::start(Setup {
        options: relay_tempdb::ClusterOptions::default()
            .set("max_slot_wal_keep_size", "1MB")
            .set("wal_keep_size", "0"),
        ..Setup::default()
    })
    .await;
    let cfg = file_cfg(&db);
    // The relay is down while the database writes far more WAL than the slot may keep.
    for _ in 0..4 {
        db.admin
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS filler(x text);
                 INSERT INTO filler SELECT repeat(md5(g::text), 100) FROM generate_series(1, 5000) g;
                 SELECT pg_switch_wal();",
            )
            .await
            .unwrap();
    }
    wait_until(
        Duration::from_secs(60),
        "the slot is invalidated",
        || async {
            db.admin.batch_execute("CHECKPOINT").await.unwrap();
            db.admin
                .query_one(
                    "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'outbox_relay'",
                    &[],
                )
                .await
                .unwrap()
                .get::<_, Option<String>>(0)
                .as_deref()
                == Some("lost")
        },
    )
    .await;
    let (code, s, _) = status(&cfg);
    assert_ne!(code, 0, "{s:#}");
    assert_eq!(s["slot"]["wal_status"], "lost", "{s:#}");
    let action = s["needs_action"].to_string();
    assert!(action.contains("may be lost"), "{action}");
    let (code, _, stderr) = run_to_end(&["run", "--config", cfg.to_str().unwrap()]);
    assert_ne!(code, 0, "the relay must stop, not stream past the gap");
    assert!(
        stderr.contains("may be lost") && stderr.contains("never recreates"),
        "says what was lost and how to recover: {stderr}"
    );
    // And it did not recreate the slot behind the operator's back.
    let still_lost: Option<String> = db
        .admin
        .query_one(
            "SELECT wal_status FROM pg_replication_slots WHERE slot_name = 'outbox_relay'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(still_lost.as_deref(), Some("lost"));
}

/// PostgreSQL 17: `check` recognises a failover slot (sql/04_slot.sql, high availability).
#[tokio::test(flavor = "multi_thread")]
async fn check_recognises_a_postgres_17_failover_slot() {
    let db = TestDb::start(Setup {
        bin: pg17(),
        ..Setup::default()
    })
    .await;
    let cfg = file_cfg(&db);
    let check = || {
        let (code, stdout, stderr) = run_to_end(&["check", "--config", cfg.to_str().unwrap()]);
        let line = stdout
            .lines()
            .chain(stderr.lines())
            .filter(|l| l.contains("slot_failover"))
            .collect::<Vec<_>>()
            .join("\n");
        (code, line, format!("{stdout}{stderr}"))
    };
    let (code, line, all) = check();
    assert_eq!(code, 0, "{all}");
    assert!(line.contains("is not a failover slot"), "{all}");
    db.admin
        .batch_execute(
            "SELECT pg_drop_replication_slot('outbox_relay');
             SELECT pg_create_logical_replication_slot('outbox_relay', 'pgoutput', false, false, true);",
        )
        .await
        .unwrap();
    let (code, line, all) = check();
    assert_eq!(code, 0, "{all}");
    assert!(
        line.contains("is a failover slot") && line.contains("synchronized_standby_slots is empty"),
        "{all}"
    );
}

/// The opt-in heartbeat: a logical message every `source.heartbeat`, written by the
/// relay's own role, so a slot on a quiet database has WAL of its own to confirm.
#[tokio::test(flavor = "multi_thread")]
async fn the_heartbeat_writes_a_logical_message_and_the_slot_confirms_past_it() {
    let db = TestDb::start(Setup::default()).await;
    db.create_witness_slot().await;
    let cfg = db.config(
        "relay",
        &format!(
            "[[sinks]]\nname = \"file\"\ntype = \"file\"\npath = \"{}\"\n",
            db.path("events.jsonl").display()
        ),
    );
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("[source]\n", "[source]\nheartbeat = \"1s\"\n");
    std::fs::write(&cfg, text).unwrap();
    let relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    let beats = || async {
        db.admin
            .query(
                "SELECT lsn::text FROM pg_logical_slot_peek_changes('witness', NULL, NULL)
                  WHERE data LIKE 'message:%prefix: outbox-relay.heartbeat%'",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| parse_lsn(r.get::<_, &str>(0)))
            .collect::<Vec<u64>>()
    };
    wait_until(
        Duration::from_secs(30),
        "two heartbeats in the WAL",
        || async { beats().await.len() >= 2 },
    )
    .await;
    let first = beats().await[0];
    wait_until(
        Duration::from_secs(30),
        "the slot confirmed past a heartbeat",
        || async { db.confirmed_flush_lsn().await > first },
    )
    .await;
    assert!(
        !relay.log_text().contains("heartbeat failed"),
        "{}",
        relay.log_text()
    );
    assert!(
        read_jsonl_required(&db.path("events.jsonl")).is_empty(),
        "a heartbeat is no event"
    );
}

//! Issue 2, proof 6: malformed input never crashes the relay and is never dropped.
//!
//! Policy (README "Bad input"): a row that cannot be made into an event (columns that do
//! not match the profile, NULL in a required column, invalid UTF-8) is written to the
//! dead-letter file with its raw row (bytes kept as base64) and the reason; without a
//! dead-letter file the relay stops with a clear error and the slot stays before the row.
//! Large payloads are delivered as-is, with memory bounded by the in-flight limits.

use outbox_relay_tests::*;
use std::time::Duration;

const LOOSE_SCHEMA: &str = "
CREATE TABLE users (id uuid PRIMARY KEY, email varchar);
-- the portal's columns, but without NOT NULL: a broken writer could insert anything
CREATE TABLE events (id uuid, name varchar, subject_type varchar, subject_id uuid, target_type varchar,
    target_id uuid, deleted_subject_identifier varchar, deleted_target_identifier varchar, actor_id uuid,
    created_on timestamp DEFAULT now(), updated_on timestamp, deleted_at timestamp);
";

/// These tables are not the portal's domain tables: no enrichment lookups.
const NO_ENRICH: &str = "[capture]\nenrich = false\n\n";

fn relay_config(
    db: &TestDb,
    dead_letter: bool,
    extra: &str,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let out = db.path("events.jsonl");
    let dlq = db.path("dead-letters.jsonl");
    let mut rest = format!(
        "{extra}[[sinks]]\nname = \"archive\"\ntype = \"file\"\npath = \"{}\"\n",
        out.display()
    );
    if dead_letter {
        rest.push_str(&format!("\n[dead_letter]\npath = \"{}\"\n", dlq.display()));
    }
    (db.config("relay", &rest), out, dlq)
}

#[tokio::test(flavor = "multi_thread")]
async fn null_in_a_required_column_is_dead_lettered_and_the_stream_goes_on() {
    let db = TestDb::start(Setup {
        schema: LOOSE_SCHEMA.into(),
        ..Setup::default()
    })
    .await;
    db.create_witness_slot().await;
    let (cfg, out, dlq) = relay_config(&db, true, NO_ENRICH);
    let mut relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    db.insert_events(3, 3, 0).await;
    db.admin
        .batch_execute(&format!(
            "INSERT INTO events(id, name, subject_type, actor_id) VALUES
               ('bbbbbbbb-0000-4000-8000-000000000001', NULL, 'DATA_PRODUCT', '{ACTOR}');
             INSERT INTO events(id, name, subject_type, actor_id) VALUES
               ('bbbbbbbb-0000-4000-8000-000000000002', 'data_product_created', 'DATA_PRODUCT', NULL);"
        ))
        .await
        .unwrap();
    db.insert_events(3, 3, 10).await;
    wait_until(
        Duration::from_secs(60),
        "good rows delivered, bad rows dead-lettered",
        || async { read_jsonl(&out).len() >= 6 && read_jsonl(&dlq).len() >= 2 },
    )
    .await;
    let dead = read_jsonl(&dlq);
    assert_eq!(dead[0]["id"], "bbbbbbbb-0000-4000-8000-000000000001");
    assert!(
        dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("`name` is NULL"),
        "{}",
        dead[0]
    );
    assert_eq!(dead[0]["stage"], "capture");
    assert_eq!(
        dead[0]["row"]["subject_type"], "DATA_PRODUCT",
        "raw row kept"
    );
    assert!(dead[1]["reason"]
        .as_str()
        .unwrap()
        .contains("`actor_id` is NULL"));
    let last = db
        .witness_transactions("public.events")
        .await
        .last()
        .unwrap()
        .end_lsn;
    wait_until(
        Duration::from_secs(30),
        "slot confirmed past the dead-lettered rows",
        || async { db.confirmed_flush_lsn().await >= last },
    )
    .await;
    assert!(
        relay.exited().is_none(),
        "still running:\n{}",
        relay.log_text()
    );
    assert!(relay.log_text().contains("malformed row"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_that_does_not_match_the_profile_is_dead_lettered_row_by_row() {
    let db = TestDb::start(Setup {
        schema: "CREATE TABLE users (id uuid PRIMARY KEY, email varchar);
                 CREATE TABLE audit (id uuid, title text, kind text);"
            .into(),
        table: "public.audit".into(),
        ..Setup::default()
    })
    .await;
    let (cfg, out, dlq) = relay_config(
        &db,
        true,
        "[capture]\nprofile = \"portal\"\ntable = \"public.audit\"\n\n",
    );
    let _relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    db.admin
        .batch_execute(
            "INSERT INTO audit VALUES (gen_random_uuid(), 't', 'k'), (gen_random_uuid(), 'u', 'k')",
        )
        .await
        .unwrap();
    wait_until(
        Duration::from_secs(60),
        "both rows dead-lettered",
        || async { read_jsonl(&dlq).len() >= 2 },
    )
    .await;
    let dead = read_jsonl(&dlq);
    assert!(
        dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("has no column `name`"),
        "{}",
        dead[0]
    );
    assert_eq!(dead[0]["row"]["title"], "t");
    assert!(read_jsonl_required(&out).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_dead_letter_file_a_bad_row_stops_the_relay_before_it() {
    let db = TestDb::start(Setup {
        schema: LOOSE_SCHEMA.into(),
        ..Setup::default()
    })
    .await;
    db.create_witness_slot().await;
    let (cfg, out, _) = relay_config(&db, false, NO_ENRICH);
    let mut relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    db.insert_events(2, 2, 0).await;
    db.admin
        .batch_execute("INSERT INTO events(id, name, subject_type) VALUES ('cccccccc-0000-4000-8000-000000000001', 'x', 'DATA_PRODUCT')")
        .await
        .unwrap();
    db.insert_events(2, 2, 5).await;
    wait_until(Duration::from_secs(60), "the relay stops", || {
        let exited = relay.exited();
        async move { exited.is_some() }
    })
    .await;
    assert!(!relay.exited().unwrap().success());
    let log = relay.log_text();
    assert!(
        log.contains("cccccccc-0000-4000-8000-000000000001")
            && log.contains("`actor_id` is NULL")
            && log.contains("dead_letter"),
        "{log}"
    );
    let witness = db.witness_transactions("public.events").await;
    let bad = witness
        .iter()
        .find(|t| t.ids.iter().any(|i| i.starts_with("cccccccc")))
        .unwrap();
    assert!(
        db.confirmed_flush_lsn().await < bad.end_lsn,
        "the slot stays before the bad row"
    );
    assert_eq!(read_jsonl(&out).len(), 2, "events before it were delivered");
    // Nothing is lost: restarted with a dead-letter file, the relay replays from the slot,
    // dead-letters the bad row and delivers the events after it.
    let (cfg, out, dlq) = relay_config(&db, true, NO_ENRICH);
    let _relay = RelayProcess::run(&cfg, &db.path("relay2.log"));
    wait_until(
        Duration::from_secs(60),
        "replayed after restart",
        || async { read_jsonl(&out).len() >= 4 && !read_jsonl(&dlq).is_empty() },
    )
    .await;
    assert_eq!(
        read_jsonl(&dlq)[0]["id"],
        "cccccccc-0000-4000-8000-000000000001"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_utf8_is_dead_lettered_with_its_bytes() {
    // A SQL_ASCII database stores any bytes in text columns.
    let db = TestDb::start(Setup {
        schema: LOOSE_SCHEMA.into(),
        database_options: "ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
            .into(),
        ..Setup::default()
    })
    .await;
    let (cfg, out, dlq) = relay_config(&db, true, NO_ENRICH);
    let _relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    db.admin
        .batch_execute(&format!(
            "INSERT INTO events(id, name, subject_type, actor_id) VALUES
               ('dddddddd-0000-4000-8000-000000000001', 'data_product_created', E'DATA\\xff\\xfePRODUCT', '{ACTOR}')"
        ))
        .await
        .unwrap();
    db.insert_events(1, 1, 0).await;
    wait_until(
        Duration::from_secs(60),
        "dead letter and the next event",
        || async { !read_jsonl(&dlq).is_empty() && !read_jsonl(&out).is_empty() },
    )
    .await;
    let dead = &read_jsonl(&dlq)[0];
    assert!(
        dead["reason"].as_str().unwrap().contains("not valid UTF-8"),
        "{dead}"
    );
    // base64 of "DATA\xff\xfePRODUCT"
    assert_eq!(
        dead["row"]["subject_type"]["base64"],
        "REFUQf/+UFJPRFVDVA=="
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_megabyte_payloads_stream_with_bounded_memory() {
    let db = TestDb::start(Setup {
        schema: "CREATE TABLE outbox (id uuid PRIMARY KEY, aggregatetype text NOT NULL, aggregateid text NOT NULL,
                     type text NOT NULL, payload text);
                 ALTER TABLE outbox ALTER COLUMN payload SET STORAGE EXTERNAL;"
            .into(),
        table: "public.outbox".into(),
        ..Setup::default()
    })
    .await;
    let (cfg, out, _) = relay_config(
        &db,
        true,
        "[capture]\nprofile = \"debezium-outbox\"\ntable = \"public.outbox\"\n\n\
         [pipeline]\nmax_inflight_bytes = 33554432\n\n",
    );
    // A small replication buffer: its bound is buffer_events × row size.
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        "status_interval = \"200ms\"",
        "status_interval = \"200ms\"\nbuffer_events = 8",
    );
    std::fs::write(&cfg, text).unwrap();
    // A backlog: all rows are committed before the relay starts, so the reader could
    // run ahead of delivery by the whole 400 MB if nothing bounded it.
    const ROWS: usize = 40; // 400 MB through the relay
    for i in 0..ROWS {
        // ~10 MB of incompressible-looking text per row
        db.admin
            .execute(
                "INSERT INTO outbox VALUES (gen_random_uuid(), 'blob', $1, 'blob.stored',
                    (SELECT string_agg(md5(g::text || $1), '') FROM generate_series(1, 327680) g))",
                &[&format!("agg-{}", i % 4)],
            )
            .await
            .unwrap();
    }
    let relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    let mut peak = 0;
    wait_until(
        Duration::from_secs(300),
        "all 10 MB payloads delivered",
        || {
            peak = peak.max(
                relay
                    .peak_rss_kib()
                    .expect("the relay's /proc status is readable"),
            );
            let n = std::fs::read(&out)
                .map(|b| b.iter().filter(|c| **c == b'\n').count())
                .unwrap_or(0);
            async move { n >= ROWS }
        },
    )
    .await;
    peak = peak.max(
        relay
            .peak_rss_kib()
            .expect("the relay's /proc status is readable"),
    );
    let lines = read_jsonl(&out);
    assert_eq!(lines.len(), ROWS);
    assert!(
        lines
            .iter()
            .all(|l| l["data"].as_str().map(str::len) == Some(327680 * 32)),
        "payloads delivered as-is"
    );
    println!(
        "peak RSS while streaming {} MB: {} MiB",
        ROWS * 10,
        peak / 1024
    );
    // The bounds configured above: 32 MiB in flight to the sink, 8 rows (10 MiB each) in
    // the replication buffer, one row being decoded and encoded (2 × 10 MiB), plus the
    // process's own 40 MiB. Measured: about 154 MiB with the 400 MB backlog.
    let bound_kib = (32 + 8 * 10 + 2 * 10 + 40) * 1024;
    assert!(
        peak < bound_kib,
        "peak RSS {} MiB over the configured bound of {} MiB: memory must stay bounded by the buffers, not grow with the backlog",
        peak / 1024,
        bound_kib / 1024
    );
}

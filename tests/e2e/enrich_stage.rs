//! Issue 8: the enrich stage cannot freeze the relay, and configuration errors of the
//! lookup connection are one clear line and slow retries, never a replay storm.
//!
//! - A domain table locked by `LOCK TABLE … ACCESS EXCLUSIVE` longer than the lookup
//!   lock timeout: the relay logs the timeout, retries, and delivers everything once the
//!   lock goes; a SIGTERM during the block exits within the drain timeout with the slot
//!   before the undelivered events.
//! - A lookup connection that pg_hba rejects, and a lookup table the role may not read:
//!   one clear error line each, reconnects no faster than the backoff, nothing lost
//!   once fixed.

use outbox_relay_tests::*;
use std::time::Duration;

const P: &str = "0b6f1c2e-0000-4000-8000-0000000000a1";

async fn product(db: &TestDb) {
    db.admin
        .batch_execute(&format!(
            "INSERT INTO abstract_data_products(id, name, namespace, status) VALUES ('{P}', 'Revenue', 'revenue', 'active');
             INSERT INTO data_products(id) VALUES ('{P}');"
        ))
        .await
        .unwrap();
}

/// Insert one `data_product_updated` audit row; returns its id.
async fn audit_update(db: &TestDb) -> String {
    let row = db
        .admin
        .query_one(
            "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
             VALUES (gen_random_uuid(), 'data_product_updated', 'DATA_PRODUCT', $1::text::uuid, $2::text::uuid)
             RETURNING id::text",
            &[&P, &ACTOR],
        )
        .await
        .unwrap();
    row.get(0)
}

fn ids(path: &std::path::Path) -> Vec<String> {
    ids_of(&read_jsonl(path))
}

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_domain_table_times_out_lookups_and_sigterm_still_exits() {
    let db = TestDb::start(Setup::default()).await;
    product(&db).await;
    let out = db.path("events.jsonl");
    let cfg = db.config(
        "relay",
        &format!(
            "[capture]\nlookup_timeout = \"2s\"\nlookup_lock_timeout = \"300ms\"\n\n\
             [[sinks]]\nname = \"file\"\ntype = \"file\"\npath = \"{}\"\n\n\
             [pipeline]\nretry_initial = \"50ms\"\nretry_max = \"200ms\"\ndrain_timeout = \"3s\"\n",
            out.display()
        ),
    );
    let log = db.path("relay.log");
    let mut relay = RelayProcess::run(&cfg, &log);
    let first = audit_update(&db).await;
    wait_until(Duration::from_secs(30), "the first event", || async {
        ids(&out).contains(&first)
    })
    .await;

    // Block the lookups' table for longer than the lock timeout, several times over.
    let locker = connect(&db.cluster.conninfo("portal")).await;
    locker
        .batch_execute("BEGIN; LOCK TABLE abstract_data_products IN ACCESS EXCLUSIVE MODE;")
        .await
        .unwrap();
    let blocked = [audit_update(&db).await, audit_update(&db).await];
    wait_until(
        Duration::from_secs(30),
        "a lock timeout in the log",
        || async { relay.log_text().contains("lock timeout") },
    )
    .await;
    assert!(
        blocked.iter().all(|id| !ids(&out).contains(id)),
        "nothing enriched while the table is locked"
    );
    locker.batch_execute("ROLLBACK").await.unwrap();
    wait_until(
        Duration::from_secs(60),
        "the blocked events after the lock",
        || async {
            let have = ids(&out);
            blocked.iter().all(|id| have.contains(id))
        },
    )
    .await;
    assert!(relay.exited().is_none(), "{}", relay.log_text());

    // Block again and ask the relay to stop while its lookups wait.
    locker
        .batch_execute("BEGIN; LOCK TABLE abstract_data_products IN ACCESS EXCLUSIVE MODE;")
        .await
        .unwrap();
    let before_last = db.current_wal_lsn().await;
    let last = audit_update(&db).await;
    let timeouts = count(&relay.log_text(), "lock timeout");
    wait_until(Duration::from_secs(30), "another lock timeout", || async {
        count(&relay.log_text(), "lock timeout") > timeouts
    })
    .await;
    relay.terminate();
    // Liveness, not speed: the drain timeout is 3 s; the process must be gone well
    // within a bound it could not meet if the loop were stuck in a lookup.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while relay.exited().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the relay did not exit after SIGTERM\n{}",
            relay.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let confirmed = db.confirmed_flush_lsn().await;
    assert!(
        confirmed <= before_last,
        "the slot ({}) passed the transaction of an undelivered event (which began after {})",
        relay_contracts::format_lsn(confirmed),
        relay_contracts::format_lsn(before_last)
    );
    assert!(!ids(&out).contains(&last));
    locker.batch_execute("ROLLBACK").await.unwrap();

    // Restarted, it delivers what the stop left behind, once.
    let _relay = RelayProcess::run(&cfg, &db.path("relay2.log"));
    wait_until(
        Duration::from_secs(60),
        "the last event after a restart",
        || async { ids(&out).contains(&last) },
    )
    .await;
    let all = ids(&out);
    for id in blocked.iter().chain([&first, &last]) {
        assert_eq!(
            all.iter().filter(|x| *x == id).count(),
            1,
            "{id} exactly once"
        );
    }
}

/// Reconnects happen no faster than the operator backoff (5 s, 10 s, … capped at 5 min):
/// within `window`, at most this many sessions start.
async fn assert_slow_retries(relay: &RelayProcess, needle: &str, window: Duration) {
    wait_until(Duration::from_secs(30), "the error line", || async {
        relay.log_text().contains(needle)
    })
    .await;
    let sessions_before = count(&relay.log_text(), "streaming");
    tokio::time::sleep(window).await;
    let text = relay.log_text();
    let sessions = count(&text, "streaming") - sessions_before;
    assert!(
        sessions <= 2,
        "{sessions} reconnects in {window:?}: a replay loop faster than the backoff\n{text}"
    );
    let errors = count(&text, needle);
    assert!((1..=3).contains(&errors), "{errors} error lines\n{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lookup_connection_refused_by_pg_hba_retries_slowly_and_recovers() {
    let db = TestDb::start(Setup::default()).await;
    product(&db).await;
    // The lookups connect as a role of their own, which pg_hba rejects; replication
    // (as outbox_relay) is accepted.
    db.admin
        .batch_execute(&format!(
            "CREATE ROLE outbox_lookup LOGIN PASSWORD '{RELAY_PASSWORD}' IN ROLE outbox_relay;"
        ))
        .await
        .unwrap();
    let hba = db.cluster.root().join("data/pg_hba.conf");
    let original = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!("host portal outbox_lookup 127.0.0.1/32 reject\n{original}"),
    )
    .unwrap();
    db.admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();

    let out = db.path("events.jsonl");
    let lookup_url = format!(
        "postgres://outbox_lookup:{RELAY_PASSWORD}@127.0.0.1:{}/portal",
        db.cluster.port()
    );
    let cfg = db.config(
        "relay",
        &format!(
            "[[sinks]]\nname = \"file\"\ntype = \"file\"\npath = \"{}\"\n",
            out.display()
        ),
    );
    // lookup_url belongs to [source], which db.config writes first.
    let text = std::fs::read_to_string(&cfg).unwrap().replacen(
        "[source]\n",
        &format!("[source]\nlookup_url = \"{lookup_url}\"\n"),
        1,
    );
    std::fs::write(&cfg, text).unwrap();
    let relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    let id = audit_update(&db).await;
    assert_slow_retries(
        &relay,
        "pg_hba.conf rejects connection",
        Duration::from_secs(12),
    )
    .await;
    assert!(!ids(&out).contains(&id));
    let log = relay.log_text();
    assert!(!log.contains(RELAY_PASSWORD), "a password in the log");

    std::fs::write(&hba, original).unwrap();
    db.admin
        .batch_execute("SELECT pg_reload_conf()")
        .await
        .unwrap();
    wait_until(
        Duration::from_secs(120),
        "the event once pg_hba is fixed",
        || async { ids(&out).contains(&id) },
    )
    .await;
    assert_eq!(ids(&out).iter().filter(|x| **x == id).count(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lookup_table_the_role_cannot_read_retries_slowly_and_recovers() {
    let db = TestDb::start(Setup::default()).await;
    product(&db).await;
    db.admin
        .batch_execute("REVOKE SELECT ON abstract_data_products FROM outbox_relay")
        .await
        .unwrap();
    let out = db.path("events.jsonl");
    let cfg = db.config(
        "relay",
        &format!(
            "[[sinks]]\nname = \"file\"\ntype = \"file\"\npath = \"{}\"\n",
            out.display()
        ),
    );
    let relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    let id = audit_update(&db).await;
    assert_slow_retries(&relay, "permission denied", Duration::from_secs(12)).await;
    assert!(
        relay.log_text().contains("sql/03_enrichment.sql"),
        "the line names the fix"
    );
    assert!(!ids(&out).contains(&id));

    db.admin
        .batch_execute("GRANT SELECT ON abstract_data_products TO outbox_relay")
        .await
        .unwrap();
    wait_until(
        Duration::from_secs(120),
        "the event once the grant is back",
        || async { ids(&out).contains(&id) },
    )
    .await;
    assert_eq!(ids(&out).iter().filter(|x| **x == id).count(), 1);
}

/// 50,000 data products deleted in one transaction with a tombstone budget of 1 MiB:
/// the rows past the budget go to the spill file, the held bytes in memory never pass
/// the budget, the ten removals the portal audits get their audit events, and every
/// other product its derived removal (id and commit LSN from the deleting transaction).
#[tokio::test(flavor = "multi_thread")]
async fn a_fifty_thousand_row_delete_stays_within_the_tombstone_budget() {
    use outbox_relay::{Config, Relay};
    use relay_contracts::Sink;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    const N: i64 = 50_000;
    const BUDGET: u64 = 1 << 20;
    let db = TestDb::start(Setup::default()).await;
    let out = db.path("events.jsonl");
    let text = std::fs::read_to_string(db.config(
        "relay",
        &format!(
            "[capture]\ntombstone_budget = {BUDGET}\nspill_dir = \"{}\"\ndelete_hold_transactions = 12\ndelete_hold = \"1h\"\n\n\
             [[sinks]]\nname = \"file\"\ntype = \"file\"\npath = \"{}\"\n",
            db.path("spill").display(),
            out.display()
        ),
    ))
    .unwrap();
    let cfg = Config::parse(&text, "test", &|_| None).unwrap();
    let file = relay_sinks::FileSink::open("file", &out).unwrap();
    let relay = Arc::new(Relay::with_sinks(&cfg, vec![Arc::new(file) as Arc<dyn Sink>]).unwrap());
    let metrics = relay.metrics();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runner = {
        let relay = Arc::clone(&relay);
        tokio::spawn(async move { relay.run(stop_rx).await })
    };
    // Sample the gauges while everything streams.
    let sampler = {
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let (mut max_bytes, mut max_spilled) = (0, 0);
            loop {
                max_bytes = max_bytes.max(metrics.held_bytes.load(Ordering::Relaxed));
                max_spilled = max_spilled.max(metrics.held_spilled.load(Ordering::Relaxed));
                if metrics.events_acked.load(Ordering::Relaxed) >= N as u64 + 5 {
                    return (max_bytes, max_spilled);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    db.admin
        .batch_execute(&format!(
            "INSERT INTO abstract_data_products(id, name, namespace)
               SELECT ('5e1ec7ed-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'p' || i, 'ns' || i
               FROM generate_series(1, {N}) i;
             INSERT INTO data_products(id) SELECT id FROM abstract_data_products;"
        ))
        .await
        .unwrap();
    db.admin
        .batch_execute("DELETE FROM abstract_data_products")
        .await
        .unwrap();
    // The portal audits ten of the removals, one transaction each; five more
    // transactions (updates of a product that is gone) age the other holds past
    // delete_hold_transactions.
    let audited: Vec<String> = (1..=10)
        .map(|i| format!("5e1ec7ed-0000-4000-8000-{i:012x}"))
        .collect();
    for p in &audited {
        db.admin
            .execute(
                "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
                 VALUES (gen_random_uuid(), 'data_product_removed', 'DATA_PRODUCT', $1::text::uuid, $2::text::uuid)",
                &[p, &ACTOR],
            )
            .await
            .unwrap();
    }
    for _ in 0..5 {
        audit_update(&db).await;
    }
    let (max_bytes, max_spilled) = tokio::time::timeout(Duration::from_secs(600), sampler)
        .await
        .expect("every removal delivered within 10 minutes")
        .unwrap();
    stop_tx.send(true).unwrap();
    runner.await.unwrap().unwrap();

    assert!(
        max_spilled > 0,
        "the budget was exceeded, so rows were spilled"
    );
    assert!(
        max_bytes <= BUDGET,
        "held {max_bytes} bytes in memory, over the {BUDGET} budget"
    );
    let (updates, events): (Vec<_>, Vec<_>) = read_jsonl(&out)
        .into_iter()
        .partition(|e| e["type"] == "portal.data_product.updated.v1");
    assert_eq!(updates.len(), 5);
    assert_eq!(
        events.len(),
        N as usize,
        "one removal per product, none twice"
    );
    let mut subjects = std::collections::HashSet::new();
    let mut delete_lsns = std::collections::HashSet::new();
    for e in &events {
        assert_eq!(e["type"], "portal.data_product.removed.v1", "{e}");
        let subject = e["subject"].as_str().unwrap().to_string();
        if audited.contains(&subject) {
            assert_eq!(e["auditname"], "data_product_removed");
        } else {
            assert_eq!(e["data"]["derived"]["reason"], "audit_row_missing", "{e}");
            let lsn = e["commitlsn"].as_str().unwrap();
            delete_lsns.insert(lsn.to_string());
            assert_eq!(
                e["id"].as_str().unwrap(),
                relay_contracts::derived_event_id(
                    "data_product.removed.orphan",
                    &subject,
                    parse_lsn(lsn)
                )
            );
            assert_eq!(
                e["data"]["data_product"]["name"],
                format!("p{}", i64::from_str_radix(&subject[24..], 16).unwrap())
            );
        }
        assert!(subjects.insert(subject));
    }
    assert_eq!(
        delete_lsns.len(),
        1,
        "every derived removal names the deleting transaction"
    );
}

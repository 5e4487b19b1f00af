//! Issue 2, proof 4: an idle audit table pins no WAL while another table takes 100 MB
//! of writes: the slot's confirmed position keeps advancing.

use outbox_relay_tests::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_audit_table_does_not_pin_wal() {
    let db = TestDb::start(Setup::default()).await;
    db.admin
        .batch_execute("CREATE TABLE filler (id bigserial PRIMARY KEY, pad text)")
        .await
        .unwrap();
    let out = db.path("events.jsonl");
    let cfg = db.config(
        "relay",
        &format!(
            "[[sinks]]\nname = \"archive\"\ntype = \"file\"\npath = \"{}\"\n",
            out.display()
        ),
    );
    let _relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    wait_until(Duration::from_secs(30), "relay holds the slot", || async {
        db.slot_active().await
    })
    .await;
    let start_lsn = db.current_wal_lsn().await;
    let start_confirmed = db.confirmed_flush_lsn().await;

    // 100 MB of writes to another table: 100 transactions of 1,000 rows × ~1 KB
    // (md5 text does not compress away), sampling the slot as we go.
    let mut samples = vec![start_confirmed];
    for i in 0..100 {
        db.admin
            .execute(
                "INSERT INTO filler(pad) SELECT repeat(md5(g::text || $1::text), 32) FROM generate_series(1, 1000) g",
                &[&(i as i64).to_string()],
            )
            .await
            .unwrap();
        if i % 10 == 9 {
            samples.push(db.confirmed_flush_lsn().await);
        }
    }
    let end_lsn = db.current_wal_lsn().await;
    assert!(
        end_lsn - start_lsn >= 100 << 20,
        "wrote at least 100 MB of WAL"
    );
    wait_until(
        Duration::from_secs(60),
        "slot confirmed past the writes",
        || async { db.confirmed_flush_lsn().await >= end_lsn },
    )
    .await;
    samples.push(db.confirmed_flush_lsn().await);
    assert!(
        samples.windows(2).all(|w| w[0] <= w[1]),
        "monotonic: {samples:?}"
    );
    let distinct = samples.windows(2).filter(|w| w[0] < w[1]).count();
    assert!(
        distinct >= 2,
        "advanced during the writes, not only at the end: {samples:?}"
    );
    assert!(
        read_jsonl_required(&out).is_empty(),
        "no audit rows, no events"
    );
}

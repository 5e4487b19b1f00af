//! Issue 8, benchmark 3: a large DELETE on captured domain tables (REPLICA IDENTITY FULL,
//! published for DELETE by `sql/03_enrichment.sql`) streamed through the relay with
//! enrichment to the null sink, in a process of its own so the peak RSS (VmHWM) is the
//! relay's (plus a small harness).
//!
//! The real portal schema; N data products (`abstract_data_products` + `data_products`);
//! a slot made after them; one transaction deleting all of them (2·N row deletes, every
//! old row in the WAL); a later audit row (an unrelated `data_product_updated`). No audit
//! row explains the delete, so every held delete falls due (`delete_hold = "1s"` once the
//! reader has caught up) and is emitted as a derived removal: the relay has to keep N
//! deleted products (tombstones and held entries) through the whole transaction. Done
//! when the slot is confirmed past the audit row.
//!
//! `cargo bench -p outbox-relay-benches --bench delete` (release). `BENCH_ROWS` sets N
//! (default 1,000,000).

use outbox_relay::{Config, Relay};
use outbox_relay_tests::bench::peak_rss_mib;
use outbox_relay_tests::real_portal::seed;
use outbox_relay_tests::{connect, parse_lsn, Setup, TestDb, ACTOR, PORTAL_PUBLICATIONS};
use relay_contracts::Sink;
use relay_sinks::NullSink;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn vm_hwm_mib() -> f64 {
    peak_rss_mib("self").unwrap_or(0.0)
}

async fn lsn(client: &tokio_postgres::Client, sql: &str) -> u64 {
    let row = client.query_one(sql, &[]).await.unwrap();
    parse_lsn(&row.get::<_, String>(0))
}

#[tokio::main]
async fn main() {
    let n: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let db = TestDb::start(Setup::real_portal()).await;
    let admin = connect(&db.cluster.conninfo("portal")).await;
    eprintln!("bench: {n} data products …");
    admin
        .batch_execute(&format!(
            "INSERT INTO abstract_data_products(id, name, abstract_data_product_type, description, namespace, domain_id, status)
                SELECT ('10000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'Product ' || g, 'data_products',
                       'A product that is about to go', 'product-' || g, '{}', 'active'
                  FROM generate_series(1, {n}) g;
             INSERT INTO data_products(id, about, type_id, lifecycle_id, usage)
                SELECT id, '# about', '{}', '{}', 'internal' FROM abstract_data_products;",
            seed::DOMAIN,
            seed::PRODUCT_TYPE,
            seed::LIFECYCLE_DRAFT
        ))
        .await
        .expect("products");
    // A slot is created in a transaction of its own (a multi-statement batch is one).
    admin
        .batch_execute("SELECT pg_drop_replication_slot('outbox_relay')")
        .await
        .expect("drop the setup's slot");
    admin
        .batch_execute("SELECT pg_create_logical_replication_slot('bench_delete', 'pgoutput')")
        .await
        .expect("the bench's slot, after the products");
    let before = lsn(&admin, "SELECT pg_current_wal_lsn()::text").await;
    eprintln!(
        "bench: one transaction deleting them ({} row deletes) …",
        2 * n
    );
    admin
        .batch_execute(
            "BEGIN; DELETE FROM data_products; DELETE FROM abstract_data_products; COMMIT;",
        )
        .await
        .unwrap();
    admin
        .execute(
            "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
             VALUES (gen_random_uuid(), 'data_product_updated', 'DATA_PRODUCT', gen_random_uuid(), $1::text::uuid)",
            &[&ACTOR],
        )
        .await
        .unwrap();
    let end = lsn(&admin, "SELECT pg_current_wal_lsn()::text").await;
    let wal_mib = (end - before) as f64 / (1 << 20) as f64;

    let text = format!(
        "[source]\nurl = \"{}\"\nslot = \"bench_delete\"\npublication = {PORTAL_PUBLICATIONS}\n\n\
         [capture]\nenrich = true\ndelete_hold = \"1s\"\n\n[[sinks]]\nname = \"x\"\ntype = \"null\"\n",
        db.relay_url()
    );
    let cfg = Config::parse(&text, "bench", &|_| None).expect("config");
    let relay = Arc::new(
        Relay::with_sinks(&cfg, vec![Arc::new(NullSink::new("null")) as Arc<dyn Sink>])
            .expect("relay"),
    );
    let metrics = relay.metrics();
    let rss_before = vm_hwm_mib();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let start = Instant::now();
    let runner = {
        let relay = Arc::clone(&relay);
        tokio::spawn(async move { relay.run(stop_rx).await })
    };
    let (mut held_bytes, mut held_deletes, mut spilled) = (0u64, 0u64, 0u64);
    loop {
        held_bytes = held_bytes.max(metrics.held_bytes.load(Ordering::Relaxed));
        held_deletes = held_deletes.max(metrics.held_deletes.load(Ordering::Relaxed));
        spilled = spilled.max(metrics.held_spilled.load(Ordering::Relaxed));
        let confirmed = lsn(
            &admin,
            "SELECT coalesce(confirmed_flush_lsn, '0/0')::text FROM pg_replication_slots WHERE slot_name = 'bench_delete'",
        )
        .await;
        if confirmed >= end {
            break;
        }
        assert!(!runner.is_finished(), "the relay stopped early");
        assert!(
            start.elapsed() < Duration::from_secs(3600),
            "the relay did not get past the delete ({} events acked)",
            metrics.events_acked.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = start.elapsed();
    let peak = vm_hwm_mib();
    let acked = metrics.events_acked.load(Ordering::Relaxed);
    let _ = stop_tx.send(true);
    let _ = runner.await;
    println!(
        "\n{n} data products deleted in one transaction ({} row deletes, {wal_mib:.0} MiB of WAL, REPLICA IDENTITY FULL), \
         relay with enrichment → null sink, delete_hold 1s",
        2 * n
    );
    println!("time to confirm past it:   {:>10.1} s", took.as_secs_f64());
    println!("events delivered:          {acked:>10}");
    println!("peak RSS (VmHWM):          {peak:>10.1} MiB (harness alone before the relay started: {rss_before:.1} MiB)");
    println!("peak held deletes:         {held_deletes:>10} (sampled every 100 ms)");
    println!("peak held bytes in memory: {held_bytes:>10}");
    println!("peak rows spilled to disk: {spilled:>10}");
}

//! Throughput of the relay's spine, as ratios against a baseline measured in the same run
//! (these machines are noisy; absolute numbers mean little).
//!
//! One throwaway PostgreSQL; a backlog of audit rows in 100-row transactions; then the
//! same backlog drained by
//!   1. `pg_recvlogical` (PostgreSQL's own client, pgoutput, output to /dev/null): baseline
//!   2. the relay with the `null` sink: source + decode + capture + tracker
//!   3. the relay with the `file` sink: plus JSON lines and fsync per batch
//!
//! `cargo bench -p outbox-relay-benches` (release build). `BENCH_ROWS` sets the backlog.

use outbox_relay::Config;
use outbox_relay_tests::bench::{drain, peak_rss_mib};
use relay_contracts::Sink;
use relay_sinks::{FileSink, NullSink};
use relay_tempdb::{Cluster, ClusterOptions, PgBinaries};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PASSWORD: &str = "bench";

async fn connect(conninfo: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

async fn drain_with_relay(
    cluster: &Cluster,
    slot: &str,
    sink: Arc<dyn Sink>,
    rows: u64,
    enrich: bool,
) -> Duration {
    let text = format!(
        "[source]\nurl = \"postgres://outbox_relay:{PASSWORD}@127.0.0.1:{}/portal\"\nslot = \"{slot}\"\n\n\
         [capture]\nenrich = {enrich}\n\n[[sinks]]\nname = \"x\"\ntype = \"null\"\n",
        cluster.port()
    );
    let cfg = Config::parse(&text, "bench", &|_| None).expect("config");
    drain(&cfg, vec![sink], rows, Duration::from_secs(600))
        .await
        .took
}

fn pg_recvlogical() -> PathBuf {
    let dir = std::env::var_os("OUTBOX_PG15_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into());
    dir.join("pg_recvlogical")
}

#[tokio::main]
async fn main() {
    let rows: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let per_tx = 100;
    let bin = PgBinaries::find().expect("PostgreSQL binaries (scripts/install-deps.sh)");
    let cluster =
        tokio::task::spawn_blocking(move || Cluster::start(&bin, ClusterOptions::default()))
            .await
            .unwrap()
            .expect("cluster");
    let admin = connect(&cluster.conninfo("postgres")).await;
    admin.batch_execute("CREATE DATABASE portal").await.unwrap();
    let db = connect(&cluster.conninfo("portal")).await;
    db.batch_execute(outbox_relay::demo::PORTAL_SCHEMA)
        .await
        .unwrap();
    db.batch_execute(outbox_relay::demo::SQL_ROLE)
        .await
        .unwrap();
    db.batch_execute(&format!("ALTER ROLE outbox_relay PASSWORD '{PASSWORD}'"))
        .await
        .unwrap();
    db.batch_execute(outbox_relay::demo::SQL_PUBLICATION)
        .await
        .unwrap();
    db.batch_execute(outbox_relay::demo::SQL_ENRICHMENT)
        .await
        .unwrap();
    for slot in ["outbox_relay", "relay_file", "relay_enrich", "baseline"] {
        db.batch_execute(&format!(
            "SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')"
        ))
        .await
        .unwrap();
    }
    db.batch_execute(
        "INSERT INTO users(id, email) VALUES ('aaaaaaaa-0000-4000-8000-000000000001', 'bench@example.com')",
    )
    .await
    .unwrap();
    // 1,000 data products for the audit rows to name, so lookups find real rows.
    db.batch_execute(
        "INSERT INTO domains(id, name) VALUES ('dddddddd-0000-4000-8000-000000000001', 'Finance');
         INSERT INTO abstract_data_products(id, name, namespace, domain_id)
           SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, 'Product ' || g, 'product-' || g,
                  'dddddddd-0000-4000-8000-000000000001' FROM generate_series(1, 1000) g;
         INSERT INTO data_products(id) SELECT id FROM abstract_data_products;",
    )
    .await
    .unwrap();
    eprintln!("bench: inserting {rows} audit rows in {per_tx}-row transactions …");
    for t in 0..rows / per_tx {
        db.execute(
            "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
             SELECT gen_random_uuid(), 'data_product_updated', 'DATA_PRODUCT',
                    ('00000000-0000-4000-8000-' || lpad((1 + (g + $1::bigint) % 1000)::text, 12, '0'))::uuid,
                    'aaaaaaaa-0000-4000-8000-000000000001' FROM generate_series(1::bigint, 100::bigint) g",
            &[&((t * per_tx) as i64)],
        )
        .await
        .unwrap();
    }
    let end: String = db
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .unwrap()
        .get(0);

    // 1. baseline: pg_recvlogical drains the same backlog to /dev/null
    let start = Instant::now();
    let status = tokio::process::Command::new(pg_recvlogical())
        .args([
            "-d",
            &cluster.conninfo("portal"),
            "--slot",
            "baseline",
            "--start",
            "--no-loop",
        ])
        .args([
            "--endpos",
            &end,
            "-o",
            "proto_version=1",
            "-o",
            "publication_names=outbox_relay",
            "-f",
            "/dev/null",
        ])
        .status()
        .await
        .expect("run pg_recvlogical");
    assert!(status.success(), "pg_recvlogical failed");
    let baseline = start.elapsed();

    // 2. relay → null sink; 3. relay → file sink (fsync per batch); 4. with enrichment
    let null = drain_with_relay(
        &cluster,
        "outbox_relay",
        Arc::new(NullSink::new("null")),
        rows,
        false,
    )
    .await;
    let file_path = cluster.root().join("bench.jsonl");
    let file_sink = Arc::new(FileSink::open("file", &file_path).expect("file sink"));
    let file = drain_with_relay(&cluster, "relay_file", file_sink, rows, false).await;
    let enriched = drain_with_relay(
        &cluster,
        "relay_enrich",
        Arc::new(NullSink::new("null")),
        rows,
        true,
    )
    .await;

    let rate = |d: Duration| rows as f64 / d.as_secs_f64();
    println!(
        "\nthroughput, {rows} audit rows in {per_tx}-row transactions (same run, same backlog)"
    );
    println!("{:<36} {:>12} {:>10}", "reader", "rows/s", "vs base");
    for (name, d) in [
        ("pg_recvlogical → /dev/null (base)", baseline),
        ("relay → null sink", null),
        ("relay → file sink (fsync)", file),
        ("relay + enrichment → null sink", enriched),
    ] {
        println!(
            "{name:<36} {:>12.0} {:>9.2}x",
            rate(d),
            rate(d) / rate(baseline)
        );
    }
    println!(
        "enrichment (lookups batched across transactions) vs the same stream without: {:.2}x",
        rate(enriched) / rate(null)
    );
    println!(
        "peak RSS of the bench process (relay + harness): {:.0} MiB",
        peak_rss_mib("self").unwrap_or(0.0)
    );
    let _ = std::fs::remove_file(&file_path);
}

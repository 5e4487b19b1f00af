//! Issue 8, benchmark 1: what enrichment costs, on the real portal schema, as ratios
//! measured in the same run on the same stream (these machines are noisy; absolute
//! numbers mean little).
//!
//! One PostgreSQL with `tests/fixtures/portal_schema.sql`, its reference rows and
//! `sql/01`–`04`; thousands of distinct entities (1,000 data products, 2,000 output ports,
//! 2,000 technical assets of all eight configuration types, 500 users, 4,000 role
//! assignments, 2,000 access links with their requests, 2,000 asset↔port links); three
//! slots made after them; then a backlog of audit rows of all 33 names in 100-row
//! transactions, each naming existing entities with the subject/target types the portal
//! uses (`PORTAL.md`). The same backlog is drained by
//!   1. the relay without enrichment → null sink (base)
//!   2. the relay with enrichment → null sink
//!   3. the relay with enrichment → NATS JetStream (a real `nats-server -js`, acks awaited)
//!
//! `cargo bench -p outbox-relay-benches --bench enrich` (release; needs NATS_SERVER_BIN,
//! set by `eval "$(scripts/install-deps.sh --env)"`). `BENCH_ROWS` sets the backlog
//! (default 100,000).

use outbox_relay::Config;
use outbox_relay_tests::bench::{drain, Drained};
use outbox_relay_tests::nats::NatsServer;
use outbox_relay_tests::real_portal::backlog::{self, entities_sql, PORTS, PRODUCTS, USERS};
use outbox_relay_tests::{connect, Setup, TestDb, PORTAL_PUBLICATIONS};
use relay_contracts::Sink;
use relay_sinks::{NatsConfig, NatsSink, NullSink};
use std::sync::Arc;
use std::time::Duration;

const PER_TX: usize = 100;
const LIMIT: Duration = Duration::from_secs(1800);

fn config(db: &TestDb, slot: &str, enrich: bool) -> Config {
    let text = format!(
        "[source]\nurl = \"{}\"\nslot = \"{slot}\"\npublication = {PORTAL_PUBLICATIONS}\n\n\
         [capture]\nenrich = {enrich}\n{extra}\n[[sinks]]\nname = \"x\"\ntype = \"null\"\n",
        db.relay_url(),
        extra = std::env::var("BENCH_CAPTURE")
            .unwrap_or_default()
            .replace(';', "\n")
    );
    Config::parse(&text, "bench", &|_| None).expect("config")
}

async fn run(db: &TestDb, slot: &str, enrich: bool, sink: Arc<dyn Sink>, rows: u64) -> Drained {
    drain(&config(db, slot, enrich), vec![sink], rows, LIMIT).await
}

#[tokio::main]
async fn main() {
    let rows: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let db = TestDb::start(Setup::real_portal()).await;
    let admin = connect(&db.cluster.conninfo("portal")).await;
    eprintln!("bench: {PRODUCTS} products, {PORTS} output ports / technical assets / access links / asset links, {USERS} users …");
    admin
        .batch_execute(&entities_sql())
        .await
        .expect("entities");
    for slot in ["bench_plain", "bench_enrich", "bench_nats"] {
        admin
            .batch_execute(&format!(
                "SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')"
            ))
            .await
            .unwrap();
    }
    // The harness's own slot would only pin WAL.
    admin
        .batch_execute("SELECT pg_drop_replication_slot('outbox_relay')")
        .await
        .unwrap();
    eprintln!("bench: {rows} audit rows of all 33 names in {PER_TX}-row transactions …");
    backlog::insert(&admin, rows, PER_TX, 0).await;

    let plain = run(
        &db,
        "bench_plain",
        false,
        Arc::new(NullSink::new("null")),
        rows,
    )
    .await;
    let enriched = run(
        &db,
        "bench_enrich",
        true,
        Arc::new(NullSink::new("null")),
        rows,
    )
    .await;
    let nats = NatsServer::start();
    let mut nats_cfg = NatsConfig::new("broker", nats.url());
    nats_cfg.create_stream = true;
    nats_cfg.stream = "ENRICH".into();
    nats_cfg.subject_prefix = "enrich".into();
    let sink = Arc::new(NatsSink::connect(&nats_cfg).await.expect("nats sink")) as Arc<dyn Sink>;
    let jetstream = run(&db, "bench_nats", true, sink, rows).await;
    let in_stream = nats.stream_messages("ENRICH").unwrap_or(0);

    println!(
        "\nenrichment on the real portal schema: {rows} audit rows (all 33 names) in {PER_TX}-row transactions, \
         {PRODUCTS} products, {PORTS} ports/assets/access links/asset links, {USERS} users (same run, same stream)"
    );
    println!(
        "{:<38} {:>9} {:>8} {:>8} {:>13} {:>15}",
        "relay", "events/s", "vs base", "seconds", "relay µs CPU", "others µs CPU"
    );
    let per_event = |secs: f64| secs * 1e6 / rows as f64;
    for (name, d) in [
        ("no enrichment → null sink (base)", plain),
        ("enrichment → null sink", enriched),
        ("enrichment → JetStream (acked)", jetstream),
    ] {
        println!(
            "{name:<38} {:>9.0} {:>7.2}x {:>8.1} {:>13.1} {:>15.1}",
            d.rate(rows),
            d.rate(rows) / plain.rate(rows),
            d.took.as_secs_f64(),
            per_event(d.cpu.own),
            per_event(d.cpu.others()),
        );
    }
    println!(
        "ratio enrich/no-enrich (null sink): {:.2}x; enrich → JetStream vs no-enrich → null: {:.2}x; \
         messages in the stream: {in_stream}\n\
         (CPU per event: the relay is this process; \"others\" is the rest of the machine, \
         mostly PostgreSQL — decoding, and the lookups when enrichment is on — and nats-server)",
        enriched.rate(rows) / plain.rate(rows),
        jetstream.rate(rows) / plain.rate(rows)
    );
}

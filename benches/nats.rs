//! NATS JetStream delivery throughput: audit rows → relay → JetStream ack, against the raw
//! async-nats publish-with-ack rate measured in the same run on the same server.
//!
//! 1. raw: async-nats publishes N envelopes of the same size with `Nats-Msg-Id`, a bounded
//!    window of outstanding acks (pipelined), awaiting every ack.
//! 2. relay, N audit rows with N distinct aggregates (no ordering holdback).
//! 3. relay, the same with 16 aggregates: the cost of keeping one unacked event per
//!    aggregate (DESIGN.md invariant 5).
//!
//! `cargo bench -p outbox-relay-benches --bench nats` (needs NATS_SERVER_BIN, set by
//! `eval "$(scripts/install-deps.sh --env)"`). `BENCH_ROWS` sets N.

use outbox_relay::Config;
use outbox_relay_tests::bench::drain;
use outbox_relay_tests::compare::raw_nats;
use outbox_relay_tests::nats::NatsServer;
use outbox_relay_tests::{connect, Setup, TestDb, ACTOR};
use relay_contracts::Sink;
use relay_sinks::{NatsConfig, NatsSink};
use std::sync::Arc;
use std::time::Duration;

const ENVELOPE_BYTES: usize = 600;

async fn relay_drain(aggregates: Option<u64>, n: u64, nats_url: &str) -> (Duration, u64) {
    let db = TestDb::start(Setup::default()).await;
    let per_tx = 100u64;
    let admin = connect(&db.cluster.conninfo("portal")).await;
    for t in 0..n / per_tx {
        let subject = match aggregates {
            None => "gen_random_uuid()".to_string(),
            Some(a) => format!(
                "('00000000-0000-4000-8000-' || lpad(((g + {}) % {a})::text, 12, '0'))::uuid",
                t * per_tx
            ),
        };
        admin
            .execute(
                &format!(
                    "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
                     SELECT gen_random_uuid(), 'data_product_updated', 'DATA_PRODUCT', {subject}, $1::text::uuid
                     FROM generate_series(1, {per_tx}) g"
                ),
                &[&ACTOR],
            )
            .await
            .unwrap();
    }
    let cfg = Config::parse(
        &format!(
            "[source]\nurl = \"{}\"\n\n[capture]\nenrich = false\n\n[[sinks]]\nname = \"x\"\ntype = \"null\"\n",
            db.relay_url()
        ),
        "bench",
        &|_| None,
    )
    .unwrap();
    let mut nats_cfg = NatsConfig::new("broker", nats_url);
    nats_cfg.create_stream = true;
    nats_cfg.stream = format!("BENCH_{}", aggregates.unwrap_or(0));
    nats_cfg.subject_prefix = format!("bench{}", aggregates.unwrap_or(0));
    let sink = Arc::new(NatsSink::connect(&nats_cfg).await.expect("nats sink")) as Arc<dyn Sink>;
    let d = drain(&cfg, vec![sink], n, Duration::from_secs(900)).await;
    (d.took, d.retries)
}

#[tokio::main]
async fn main() {
    let n: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000);
    let nats = NatsServer::start();
    let raw = raw_nats(&nats, "RAW", n, ENVELOPE_BYTES).await.took;
    let (distinct, _) = relay_drain(None, n, &nats.url()).await;
    let (sixteen, _) = relay_drain(Some(16), n.min(20_000), &nats.url()).await;
    let rate = |rows: u64, d: Duration| rows as f64 / d.as_secs_f64();
    let base = rate(n, raw);
    println!("\nNATS JetStream delivery, {n} events (same run, same nats-server, file storage)");
    println!("{:<52} {:>10} {:>9}", "path", "events/s", "vs raw");
    println!(
        "{:<52} {:>10.0} {:>8.2}x",
        "raw async-nats publish + ack (4096 in flight) (base)", base, 1.0
    );
    println!(
        "{:<52} {:>10.0} {:>8.2}x",
        "audit rows → relay → JetStream ack, distinct subjects",
        rate(n, distinct),
        rate(n, distinct) / base
    );
    let m = n.min(20_000);
    println!(
        "{:<52} {:>10.0} {:>8.2}x",
        format!("same, 16 aggregates ({m} events; order holdback)"),
        rate(m, sixteen),
        rate(m, sixteen) / base
    );
}

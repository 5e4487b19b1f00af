//! The chaos suite (issue 12): 50,000 events to NATS JetStream while, at random moments
//! drawn from a printed seed, the relay is SIGKILLed (5 times), PostgreSQL restarted
//! (2), nats-server restarted (2) and every connection through the TCP proxies in front
//! of PostgreSQL and NATS cut (3). At the end every event id is in the stream; the
//! duplicates (at-least-once) are counted and reported. `CHAOS_SEED` replays a run.

use outbox_relay_tests::nats::{read_stream_with_python, NatsServer};
use outbox_relay_tests::proxy::FaultProxy;
use outbox_relay_tests::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const EVENTS: usize = 50_000;
const PER_TX: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    KillRelay,
    RestartPostgres,
    RestartNats,
    CutConnections,
}

/// Commit all events in transactions of `PER_TX`, ids chosen here so a transaction whose
/// commit outcome was lost to a restart can be retried without doubling it.
async fn produce(conninfo: String, seed: u64, committed: Arc<AtomicUsize>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed);
    let mut client: Option<tokio_postgres::Client> = None;
    let mut tx = 0;
    while tx * PER_TX < EVENTS {
        let ids: Vec<String> = (0..PER_TX).map(|_| uuid_from(rng.gen::<u128>())).collect();
        loop {
            if client.as_ref().is_none_or(|c| c.is_closed()) {
                client = match tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await {
                    Ok((c, conn)) => {
                        tokio::spawn(conn);
                        Some(c)
                    }
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
            }
            let c = client.as_ref().unwrap();
            let r = c
                .execute(
                    "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
                     SELECT t.id::uuid, 'data_product_updated', 'DATA_PRODUCT',
                            md5((t.ord % 40)::text)::uuid, $2::text::uuid
                     FROM unnest($1::text[]) WITH ORDINALITY AS t(id, ord)
                     ON CONFLICT (id) DO NOTHING",
                    &[&ids, &ACTOR],
                )
                .await;
            match r {
                Ok(_) => break,
                Err(_) => {
                    client = None;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        tx += 1;
        committed.store(tx * PER_TX, Ordering::SeqCst);
        // About 20 s of production, so the faults land while events are being written.
        if tx % 10 == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn uuid_from(x: u128) -> String {
    // A version-4 layout, so PostgreSQL and consumers see an ordinary UUID.
    let x = (x & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
    let h = format!("{x:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_thousand_events_survive_kills_restarts_and_cuts() {
    let seed: u64 = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::thread_rng().gen());
    println!("chaos seed {seed} (CHAOS_SEED={seed} replays this schedule)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut nats = NatsServer::start();
    let db = TestDb::start(Setup::default()).await;
    let pg_proxy = FaultProxy::start(db.cluster.port()).await;
    let nats_proxy = FaultProxy::start(nats.port).await;
    let cfg = db.config(
        "relay",
        &format!(
            "[[sinks]]\nname = \"broker\"\ntype = \"nats\"\nurl = \"{}\"\ncreate_stream = true\nack_timeout = \"2s\"\n",
            nats_proxy.url()
        ),
    );
    // The relay reaches PostgreSQL through the proxy too.
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        &format!("127.0.0.1:{}/", db.cluster.port()),
        &format!("127.0.0.1:{}/", pg_proxy.port),
    );
    std::fs::write(&cfg, text).unwrap();

    let committed = Arc::new(AtomicUsize::new(0));
    let producer = tokio::spawn(produce(
        db.cluster.conninfo("portal"),
        seed,
        Arc::clone(&committed),
    ));
    let mut schedule: Vec<Fault> = [
        [Fault::KillRelay; 5].as_slice(),
        &[Fault::RestartPostgres; 2],
        &[Fault::RestartNats; 2],
        &[Fault::CutConnections; 3],
    ]
    .concat();
    schedule.shuffle(&mut rng);

    let mut runs = 0;
    let mut relay = RelayProcess::run(&cfg, &db.path(&format!("relay-{runs}.log")));
    let started = Instant::now();
    let (mut kills, mut pg_restarts, mut nats_restarts, mut cuts) = (0, 0, 0, 0);
    for fault in &schedule {
        tokio::time::sleep(Duration::from_millis(rng.gen_range(700..2500))).await;
        match fault {
            Fault::KillRelay => {
                relay.kill9();
                runs += 1;
                relay = RelayProcess::run(&cfg, &db.path(&format!("relay-{runs}.log")));
                kills += 1;
            }
            Fault::RestartPostgres => {
                tokio::task::block_in_place(|| {
                    db.cluster.stop().expect("pg_ctl stop");
                    std::thread::sleep(Duration::from_millis(500));
                    db.cluster.start_again().expect("pg_ctl start");
                });
                pg_restarts += 1;
            }
            Fault::RestartNats => {
                nats.stop();
                tokio::time::sleep(Duration::from_millis(500)).await;
                nats.start_again();
                nats_restarts += 1;
            }
            Fault::CutConnections => {
                let n = pg_proxy.cut() + nats_proxy.cut();
                assert!(n > 0, "a cut with no connection open proves nothing");
                cuts += 1;
            }
        }
        println!(
            "{:>6.1}s {fault:?} ({} events committed so far)",
            started.elapsed().as_secs_f64(),
            committed.load(Ordering::SeqCst)
        );
    }
    producer.await.unwrap();
    let admin = connect(&db.cluster.conninfo("portal")).await;
    let total: i64 = admin
        .query_one("SELECT count(*) FROM events", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(total as usize, EVENTS);
    let lsn = |q: &'static str| {
        let admin = &admin;
        async move {
            let s: String = admin.query_one(q, &[]).await.unwrap().get(0);
            parse_lsn(&s)
        }
    };
    let end = lsn("SELECT pg_current_wal_lsn()::text").await;
    wait_until(
        Duration::from_secs(300),
        "the slot confirmed past the last event (all acked)",
        || async {
            lsn("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = 'outbox_relay'")
                .await
                >= end
        },
    )
    .await;
    let in_stream = nats.stream_messages("PORTAL_EVENTS").unwrap_or(0) as usize;
    let read = read_stream_with_python(&nats, in_stream);
    let count = read["count"].as_u64().unwrap() as usize;
    let unique = read["unique_ids"].as_u64().unwrap() as usize;
    let missing = EVENTS.saturating_sub(unique);
    println!(
        "chaos seed {seed}: {EVENTS} events, {kills} relay kills, {pg_restarts} PostgreSQL restarts, \
         {nats_restarts} nats-server restarts, {cuts} connection cuts; missing {missing}, \
         duplicates {} ({:.1} s)",
        count - unique,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(missing, 0, "seed {seed}: events missing from the stream");
    assert!(kills >= 5 && pg_restarts >= 2 && nats_restarts >= 2 && cuts >= 3);
    assert!(relay.exited().is_none(), "the last relay is still running");
}

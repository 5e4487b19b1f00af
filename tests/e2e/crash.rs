//! Issue 2, proof 2: SIGKILL at random moments while 20,000 events stream. After every
//! kill the slot's confirmed position is before the end of the first transaction with an
//! event missing from the sink (PostgreSQL reads a confirmed position equal to a
//! transaction's `end_lsn` as "that transaction is done" and never sends it again); in
//! the end every event is there.

use outbox_relay_tests::*;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_moments_loses_nothing() {
    let seed: u64 = std::env::var("OUTBOX_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("crash test seed: {seed} (rerun with OUTBOX_TEST_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let db = TestDb::start(Setup::default()).await;
    db.create_witness_slot().await;
    let out = db.path("events.jsonl");
    let cfg = db.config(
        "relay",
        &format!(
            "[[sinks]]\nname = \"archive\"\ntype = \"file\"\npath = \"{}\"\n",
            out.display()
        ),
    );
    let log = db.path("relay.log");

    // The producer: 20,000 events in transactions of 1..=20, paced so the stream lasts.
    let producer_db = connect(&db.cluster.conninfo("portal")).await;
    let producer = tokio::spawn(async move {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x5eed);
        let mut sent = 0usize;
        let mut tx = 0usize;
        while sent < 20_000 {
            let n = rng.gen_range(1..=20).min(20_000 - sent);
            producer_db
                .execute(
                    "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
                     SELECT gen_random_uuid(), 'data_product_updated', 'DATA_PRODUCT',
                            ('00000000-0000-4000-8000-' || lpad(((g + $2::bigint) % 211)::text, 12, '0'))::uuid,
                            $1::text::uuid
                     FROM generate_series(1::bigint, $3::bigint) g",
                    &[&ACTOR, &(sent as i64), &(n as i64)],
                )
                .await
                .unwrap();
            sent += n;
            tx += 1;
            if tx.is_multiple_of(25) {
                tokio::time::sleep(Duration::from_millis(rng.gen_range(5..40))).await;
            }
        }
    });

    struct Snapshot {
        confirmed: u64,
        present: HashSet<String>,
    }
    let mut snapshots = Vec::new();
    let mut relay = RelayProcess::run(&cfg, &log);
    for kill in 0..6 {
        let delay = rng.gen_range(200..1500);
        tokio::time::sleep(Duration::from_millis(delay)).await;
        relay.kill9();
        // Wait until the server let go of the slot, so nothing the dead relay sent is
        // still on its way; then the confirmed position is final for this kill.
        wait_until(
            Duration::from_secs(30),
            "slot released after SIGKILL",
            || async { !db.slot_active().await },
        )
        .await;
        let confirmed = db.confirmed_flush_lsn().await;
        let present: HashSet<String> = ids_of(&read_jsonl(&out)).into_iter().collect();
        println!(
            "kill {kill} after {delay} ms: {} events in the sink, slot confirmed {}",
            present.len(),
            relay_contracts::format_lsn(confirmed)
        );
        snapshots.push(Snapshot { confirmed, present });
        relay = RelayProcess::run(&cfg, &log);
    }
    producer.await.unwrap();
    wait_until(
        Duration::from_secs(180),
        "all 20,000 events in the sink",
        || async {
            ids_of(&read_jsonl(&out))
                .into_iter()
                .collect::<HashSet<_>>()
                .len()
                >= 20_000
        },
    )
    .await;

    let witness = db.witness_transactions("public.events").await;
    let all: HashSet<String> = witness.iter().flat_map(|t| t.ids.clone()).collect();
    assert_eq!(all.len(), 20_000);
    let delivered: HashSet<String> = ids_of(&read_jsonl(&out)).into_iter().collect();
    assert!(
        all.is_subset(&delivered),
        "every event id is present at least once"
    );
    for (i, s) in snapshots.iter().enumerate() {
        if let Some(first_missing) = first_incomplete(&witness, &s.present) {
            assert!(
                s.confirmed < first_missing.end_lsn,
                "kill {i} (seed {seed}): slot confirmed {} but transaction ending at {} had an event missing from the sink",
                relay_contracts::format_lsn(s.confirmed),
                relay_contracts::format_lsn(first_missing.end_lsn)
            );
        }
    }
    // The kills happened while events were streaming, not after.
    assert!(
        snapshots.iter().any(|s| s.present.len() < 20_000),
        "at least one kill landed mid-stream (seed {seed})"
    );
    let log_text = relay.log_text();
    assert!(log_text.contains("streaming"), "{log_text}");
}

//! Issue 2, proof 3: a sink that fails (retryable) for a while stalls the confirmed LSN
//! without losing or reordering anything; when it recovers, everything arrives.
//!
//! The sink under test here is a fault-injecting wrapper around the real file sink, run
//! through the real pipeline and a real replication slot: what is tested is the
//! pipeline's retry, ordering and LSN logic, not the file sink.

use futures::future::BoxFuture;
use outbox_relay::{Config, Relay};
use outbox_relay_tests::*;
use rand::{Rng, SeedableRng};
use relay_contracts::{Batch, Outcome, Probe, Sink, SinkError};
use relay_sinks::FileSink;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Fails every publish while `down`, and a random share of them always; otherwise
/// delegates to the file sink. Half of the random failures happen after the event was
/// written (a lost ack: the broker has it, the relay hears an error), so at-least-once
/// is exercised: those events must be there, possibly twice. Not order-preserving, so
/// the pipeline must keep each aggregate's order itself.
struct FlakySink {
    inner: FileSink,
    down: AtomicBool,
    failures: AtomicU64,
    lost_acks: AtomicU64,
    rng: Mutex<rand::rngs::StdRng>,
}

impl Sink for FlakySink {
    fn name(&self) -> &str {
        "flaky"
    }

    fn publish(&self, batch: Batch) -> BoxFuture<'static, Vec<Outcome>> {
        let outcomes: Vec<_> = batch
            .into_iter()
            .map(|event| {
                let flaky = self.rng.lock().unwrap().gen_bool(0.2);
                let down = self.down.load(Ordering::SeqCst);
                if !down && flaky && self.rng.lock().unwrap().gen_bool(0.5) {
                    self.failures.fetch_add(1, Ordering::SeqCst);
                    self.lost_acks.fetch_add(1, Ordering::SeqCst);
                    let written = self.inner.publish_one(event);
                    return Box::pin(async move {
                        let _ = written.await;
                        Outcome::Retryable("injected: ack lost after the write".into())
                    }) as BoxFuture<'static, Outcome>;
                }
                if down || flaky {
                    self.failures.fetch_add(1, Ordering::SeqCst);
                    let delay = self.rng.lock().unwrap().gen_range(0..20);
                    return Box::pin(async move {
                        tokio::time::sleep(Duration::from_millis(delay)).await;
                        Outcome::Retryable("injected: broker unavailable".into())
                    }) as BoxFuture<'static, Outcome>;
                }
                self.inner.publish_one(event)
            })
            .collect();
        Box::pin(futures::future::join_all(outcomes))
    }

    fn probe(&self) -> BoxFuture<'static, Result<Probe, SinkError>> {
        self.inner.probe()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_sink_stalls_the_lsn_and_loses_or_reorders_nothing() {
    let db = TestDb::start(Setup::default()).await;
    db.create_witness_slot().await;
    let out = db.path("events.jsonl");
    let text = format!(
        "[source]\nurl = \"{}\"\nstatus_interval = \"100ms\"\n\n[[sinks]]\nname = \"flaky\"\ntype = \"null\"\n\n\
         [pipeline]\nretry_initial = \"20ms\"\nretry_max = \"200ms\"\n",
        db.relay_url()
    );
    let cfg = Config::parse(&text, "test", &|_| None).unwrap();
    let sink = Arc::new(FlakySink {
        inner: FileSink::open("flaky", &out).unwrap(),
        down: AtomicBool::new(true),
        failures: AtomicU64::new(0),
        lost_acks: AtomicU64::new(0),
        rng: Mutex::new(rand::rngs::StdRng::seed_from_u64(7)),
    });
    let relay = Arc::new(Relay::with_sinks(&cfg, vec![sink.clone() as Arc<dyn Sink>]).unwrap());
    let metrics = relay.metrics();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runner = {
        let relay = Arc::clone(&relay);
        tokio::spawn(async move { relay.run(stop_rx).await })
    };
    let before = db.confirmed_flush_lsn().await;

    // 300 transactions of 5 events over 12 aggregates, while the sink is down.
    for t in 0..300 {
        db.insert_events(5, 12, t * 5).await;
    }
    wait_until(Duration::from_secs(60), "many failed attempts", || async {
        sink.failures.load(Ordering::SeqCst) > 200
    })
    .await;
    let witness = db.witness_transactions("public.events").await;
    assert_eq!(witness.len(), 300);
    // While the sink is down nothing is delivered and the slot does not move past the
    // first transaction.
    assert!(read_jsonl_required(&out).is_empty());
    assert!(db.confirmed_flush_lsn().await < witness[0].end_lsn);
    assert_eq!(db.confirmed_flush_lsn().await, before);

    // Recover (20 % of publishes still fail at random) and sample the invariant as it drains.
    sink.down.store(false, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "not everything was delivered within 120 s of the sink's recovery"
        );
        let confirmed = db.confirmed_flush_lsn().await; // read before the file: see module doc
        let present: HashSet<String> = ids_of(&read_jsonl(&out)).into_iter().collect();
        if let Some(first_missing) = first_incomplete(&witness, &present) {
            assert!(
                confirmed < first_missing.end_lsn,
                "confirmed {} passed a transaction ({}) with an undelivered event",
                relay_contracts::format_lsn(confirmed),
                relay_contracts::format_lsn(first_missing.end_lsn)
            );
        } else {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let lines = read_jsonl(&out);
    let ids = ids_of(&lines);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 1500, "every event delivered");
    let lost_acks = sink.lost_acks.load(Ordering::SeqCst);
    assert!(lost_acks > 0, "the test injected no lost ack");
    // A lost ack is retried, so its event is there twice; nothing else duplicates.
    let duplicates = ids.len() - unique.len();
    eprintln!("lost acks injected: {lost_acks}; duplicates delivered: {duplicates}");
    assert!(
        duplicates > 0 && duplicates as u64 <= lost_acks,
        "duplicates {duplicates} must come from the {lost_acks} lost acks"
    );
    // Each aggregate's events are in commit order, retries included.
    let commit_order: Vec<String> = witness.iter().flat_map(|t| t.ids.clone()).collect();
    let position: std::collections::HashMap<&String, usize> = commit_order
        .iter()
        .enumerate()
        .map(|(i, id)| (id, i))
        .collect();
    for (aggregate, ids) in per_aggregate(&lines) {
        let positions: Vec<usize> = ids.iter().map(|id| position[id]).collect();
        assert!(
            positions.windows(2).all(|w| w[0] <= w[1]),
            "aggregate {aggregate} out of commit order (a retried duplicate comes right after itself)"
        );
    }
    assert!(metrics.retries.load(Ordering::Relaxed) > 200);
    let last_end = witness.last().unwrap().end_lsn;
    wait_until(
        Duration::from_secs(30),
        "slot confirmed past the last transaction",
        || async { db.confirmed_flush_lsn().await >= last_end },
    )
    .await;
    stop_tx.send(true).unwrap();
    runner.await.unwrap().unwrap();
}

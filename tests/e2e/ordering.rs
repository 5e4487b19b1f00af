//! Issue 2, proof 1 (and the PostgreSQL 17 smoke test): audit rows arrive at the file
//! sink exactly once, in commit order.

use outbox_relay_tests::*;
use std::collections::HashSet;
use std::time::Duration;

async fn exactly_once_in_commit_order(db: TestDb, txns: usize, per_tx: usize) {
    db.create_witness_slot().await;
    let out = db.path("events.jsonl");
    let cfg = db.config(
        "relay",
        &format!(
            "[[sinks]]\nname = \"archive\"\ntype = \"file\"\npath = \"{}\"\n",
            out.display()
        ),
    );
    let mut relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    for t in 0..txns {
        db.insert_events(per_tx, 97, t * per_tx).await;
    }
    let total = txns * per_tx;
    wait_until(
        Duration::from_secs(120),
        "all events in the file sink",
        || async { read_jsonl(&out).len() >= total },
    )
    .await;
    let witness = db.witness_transactions("public.events").await;
    assert_eq!(witness.len(), txns, "witness saw every transaction");
    let expected: Vec<String> = witness.iter().flat_map(|t| t.ids.clone()).collect();
    let got = ids_of(&read_jsonl(&out));
    assert_eq!(got.len(), total, "exactly once: no duplicates");
    assert_eq!(got, expected, "file order is WAL commit order");
    // Every line carries its transaction's commit LSN, and those never go backwards.
    let lines = read_jsonl(&out);
    let lsns: Vec<u64> = lines
        .iter()
        .map(|l| parse_lsn(l["commitlsn"].as_str().unwrap()))
        .collect();
    assert!(lsns.windows(2).all(|w| w[0] <= w[1]));
    let unique: HashSet<&String> = got.iter().collect();
    assert_eq!(unique.len(), total);
    // The slot confirms the last transaction once everything is acked.
    let last_end = witness.last().unwrap().end_lsn;
    wait_until(
        Duration::from_secs(30),
        "slot confirmed past the last transaction",
        || async { db.confirmed_flush_lsn().await >= last_end },
    )
    .await;
    relay.terminate();
    wait_until(Duration::from_secs(30), "graceful exit on SIGTERM", || {
        let exited = relay.exited();
        async move { exited.is_some() }
    })
    .await;
    assert!(relay.exited().unwrap().success(), "{}", relay.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_rows_in_a_thousand_transactions_arrive_once_in_commit_order() {
    let db = TestDb::start(Setup::default()).await;
    exactly_once_in_commit_order(db, 1000, 10).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgresql_17_smoke() {
    let db = TestDb::start(Setup {
        bin: pg17(),
        ..Setup::default()
    })
    .await;
    // `check` passes on 17, then the stream works end to end.
    let cfg = db.config("check", "[[sinks]]\nname = \"n\"\ntype = \"null\"\n");
    let (code, stdout, stderr) = run_to_end(&["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "check on PostgreSQL 17:\n{stdout}\n{stderr}");
    exactly_once_in_commit_order(db, 100, 10).await;
}

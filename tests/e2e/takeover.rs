//! Issue 2, proof 8: a second relay on the same slot waits while the first runs and
//! takes over when it is killed.

use outbox_relay_tests::*;
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn a_standby_relay_waits_then_takes_over() {
    let db = TestDb::start(Setup::default()).await;
    let out_a = db.path("a.jsonl");
    let out_b = db.path("b.jsonl");
    let cfg_a = db.config(
        "a",
        &format!(
            "[[sinks]]\nname = \"a\"\ntype = \"file\"\npath = \"{}\"\n",
            out_a.display()
        ),
    );
    let cfg_b = db.config(
        "b",
        &format!(
            "[[sinks]]\nname = \"b\"\ntype = \"file\"\npath = \"{}\"\n",
            out_b.display()
        ),
    );
    let mut a = RelayProcess::run(&cfg_a, &db.path("a.log"));
    wait_until(
        Duration::from_secs(30),
        "relay A holds the slot",
        || async { db.slot_active().await },
    )
    .await;
    let b = RelayProcess::run(&cfg_b, &db.path("b.log"));
    wait_until(
        Duration::from_secs(30),
        "relay B says it waits for the slot",
        || async { b.log_text().contains("state: standby") },
    )
    .await;
    db.insert_events(10, 3, 0).await;
    wait_until(Duration::from_secs(30), "A delivers", || async {
        read_jsonl(&out_a).len() >= 10
    })
    .await;
    assert!(
        read_jsonl(&out_b).is_empty(),
        "B must not stream while A holds the slot"
    );

    a.kill9();
    db.insert_events(10, 3, 100).await;
    wait_until(
        Duration::from_secs(60),
        "B takes over and delivers the later events",
        || async { read_jsonl(&out_b).len() >= 10 },
    )
    .await;
    let union: HashSet<String> = ids_of(&read_jsonl(&out_a))
        .into_iter()
        .chain(ids_of(&read_jsonl(&out_b)))
        .collect();
    let all: HashSet<String> = db
        .admin
        .query("SELECT id::text FROM events", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(all.len(), 20);
    assert!(all.is_subset(&union), "nothing lost across the takeover");
    assert!(b.log_text().contains("streaming"), "{}", b.log_text());
}

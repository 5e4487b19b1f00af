//! Two relays on one slot (issue 12, proofs 2 and 4): the second waits as a standby —
//! it says so in its log and on `/health/ready` (503, reason "standby") — and takes over
//! within seconds of the active relay's SIGKILL, losing nothing.

use outbox_relay_tests::*;
use std::collections::HashSet;
use std::time::{Duration, Instant};

fn relay_cfg(
    db: &TestDb,
    name: &str,
    out: &std::path::Path,
    metrics_port: u16,
) -> std::path::PathBuf {
    db.config(
        name,
        &format!(
            "[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n\n\
             [[sinks]]\nname = \"{name}\"\ntype = \"file\"\npath = \"{}\"\n",
            out.display()
        ),
    )
}

fn ready(port: u16) -> Option<(u16, String)> {
    http_get(port, "/health/ready")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standby_relay_waits_then_takes_over_within_ten_seconds() {
    let db = TestDb::start(Setup::default()).await;
    let (out_a, out_b) = (db.path("a.jsonl"), db.path("b.jsonl"));
    let (port_a, port_b) = (
        relay_tempdb::free_port().unwrap(),
        relay_tempdb::free_port().unwrap(),
    );
    let mut a = RelayProcess::run(&relay_cfg(&db, "a", &out_a, port_a), &db.path("a.log"));
    wait_until(Duration::from_secs(30), "relay A ready", || async {
        ready(port_a).is_some_and(|(s, _)| s == 200)
    })
    .await;
    let b = RelayProcess::run(&relay_cfg(&db, "b", &out_b, port_b), &db.path("b.log"));
    wait_until(
        Duration::from_secs(30),
        "relay B reports standby",
        || async { ready(port_b).is_some_and(|(s, body)| s == 503 && body.contains("standby")) },
    )
    .await;
    assert!(
        b.log_text().contains("state: standby"),
        "one log line for the standby state:\n{}",
        b.log_text()
    );
    db.insert_events(10, 3, 0).await;
    wait_until(Duration::from_secs(30), "A delivers", || async {
        read_jsonl(&out_a).len() >= 10
    })
    .await;
    assert!(
        read_jsonl_required(&out_b).is_empty(),
        "B must not stream while A holds the slot"
    );

    // Events keep coming while A dies.
    let producer = {
        let conninfo = db.cluster.conninfo("portal");
        tokio::spawn(async move {
            let c = connect(&conninfo).await;
            for t in 0..60i64 {
                c.execute(
                    "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
                     SELECT gen_random_uuid(), 'data_product_updated', 'DATA_PRODUCT', gen_random_uuid(), $1::text::uuid
                     FROM generate_series(1, 5)",
                    &[&ACTOR],
                )
                .await
                .unwrap();
                let _ = t;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.kill9();
    let killed = Instant::now();
    wait_until(
        Duration::from_secs(30),
        "B ready after the takeover",
        || async { ready(port_b).is_some_and(|(s, _)| s == 200) },
    )
    .await;
    let takeover = killed.elapsed();
    println!("standby takeover: ready {takeover:?} after the active relay's SIGKILL");
    assert!(
        takeover < Duration::from_secs(10),
        "the standby took {takeover:?} to take over"
    );
    producer.await.unwrap();
    let all: HashSet<String> = db
        .admin
        .query("SELECT id::text FROM events", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(all.len(), 10 + 300);
    wait_until(Duration::from_secs(60), "every event in A or B", || async {
        let union: HashSet<String> = ids_of(&read_jsonl(&out_a))
            .into_iter()
            .chain(ids_of(&read_jsonl(&out_b)))
            .collect();
        all.is_subset(&union)
    })
    .await;
    assert!(b.log_text().contains("streaming"), "{}", b.log_text());
}

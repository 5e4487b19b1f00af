//! A database restart mid-stream: the relay reconnects by itself and loses nothing.

use outbox_relay_tests::*;
use std::collections::HashSet;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_survives_a_database_restart() {
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
    let mut relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    for t in 0..50 {
        db.insert_events(10, 7, t * 10).await;
    }
    db.cluster.stop().expect("stop PostgreSQL");
    tokio::time::sleep(Duration::from_millis(1500)).await; // the relay meets a dead server
    db.cluster.start_again().expect("start PostgreSQL");
    let admin = connect(&db.cluster.conninfo("portal")).await;
    for t in 50..100 {
        admin
            .execute(
                "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
                 SELECT gen_random_uuid(), 'data_product_updated', 'DATA_PRODUCT', gen_random_uuid(), $1::text::uuid
                 FROM generate_series(1, 10) g",
                &[&ACTOR],
            )
            .await
            .unwrap();
        let _ = t;
    }
    wait_until(
        Duration::from_secs(120),
        "all 1,000 events after the restart",
        || async {
            ids_of(&read_jsonl(&out))
                .into_iter()
                .collect::<HashSet<_>>()
                .len()
                >= 1000
        },
    )
    .await;
    assert!(
        relay.exited().is_none(),
        "the same process recovered:\n{}",
        relay.log_text()
    );
    let log = relay.log_text();
    assert!(
        log.contains("reconnecting") || log.contains("retrying"),
        "{log}"
    );
    // The witness slot lives in the same cluster: compare against it.
    let admin_witness = TestDb::witness_on(&admin).await;
    let all: HashSet<String> = admin_witness.into_iter().collect();
    let got: HashSet<String> = ids_of(&read_jsonl(&out)).into_iter().collect();
    assert!(all.is_subset(&got));
    relay.kill9();
}

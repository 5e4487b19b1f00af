//! A relation that changes shape mid-stream (ALTER TABLE) is decoded with its new shape.

use outbox_relay_tests::*;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn alter_table_mid_stream() {
    let db = TestDb::start(Setup::default()).await;
    let out = db.path("events.jsonl");
    let cfg = db.config(
        "relay",
        &format!(
            "[capture]\nenrich = false # this test looks at the raw row\n\n[[sinks]]\nname = \"archive\"\ntype = \"file\"\npath = \"{}\"\n",
            out.display()
        ),
    );
    let _relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    db.insert_events(2, 1, 0).await;
    db.admin
        .batch_execute("ALTER TABLE events ADD COLUMN tenant text DEFAULT 'acme'")
        .await
        .unwrap();
    db.insert_events(2, 1, 0).await;
    db.admin
        .batch_execute("ALTER TABLE events DROP COLUMN deleted_at")
        .await
        .unwrap();
    db.insert_events(2, 1, 0).await;
    wait_until(Duration::from_secs(60), "six events", || async {
        read_jsonl(&out).len() >= 6
    })
    .await;
    let lines = read_jsonl(&out);
    assert!(lines[0]["data"].get("tenant").is_none());
    assert!(lines[0]["data"].get("deleted_at").is_some());
    assert_eq!(lines[2]["data"]["tenant"], "acme");
    assert_eq!(lines[5]["data"]["tenant"], "acme");
    assert!(lines[5]["data"].get("deleted_at").is_none());
}

//! The enrichment linger is for a relay that is busy: one that keeps up enriches at once.

use super::support::*;
use outbox_relay_tests::*;
use std::time::Duration;

/// With a one-hour linger, audit rows committed one by one to a relay that keeps up are
/// delivered all the same, enriched: a batch starts as soon as nothing more can be read
/// and no batch is being enriched (group commit). Before that, each waited for the
/// linger, and this test would time out.
#[tokio::test(flavor = "multi_thread")]
async fn a_relay_that_keeps_up_enriches_without_waiting_for_the_linger() {
    let db = TestDb::start(Setup::default()).await;
    db.admin.batch_execute(&domain_sql()).await.unwrap();
    let out = db.path("events.jsonl");
    let cfg = relay_config_with(&db, &out, "enrich_linger = \"1h\"");
    let _relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    for n in 1..=3 {
        audit(&db, "dataset_updated", ("DATASET", D), None).await;
        wait_until(
            Duration::from_secs(60),
            "the event, long before the linger",
            || async { read_jsonl(&out).len() >= n },
        )
        .await;
    }
    let lines = read_jsonl(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    for line in &lines {
        assert_eq!(line["type"], "portal.output_port.updated.v1");
        assert_eq!(at(line, "data.enrichment.status"), "complete");
        assert_eq!(at(line, "data.output_port.name"), "Revenue daily");
    }
    assert_valid(&lines);
}

//! Unknown names and missing entities (delivered with a marker), and database failures
//! (down: retryable; a broken schema: not).

use crate::common::*;
use relay_catalog::{BusinessEvent, Enricher, LookupClient, Tombstones};
use relay_contracts::Classify;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_and_missing_entities_are_delivered_with_a_marker() {
    let db = start().await;
    let ghost = "12345678-0000-4000-8000-000000000000";
    let records = vec![
        rec("data_product_archived", ("DATA_PRODUCT", P), None),
        rec("data_product_updated", ("DATA_PRODUCT", ghost), None),
        rec(
            "data_product_dataset_link_approved",
            ("DATASET", D),
            Some(("DATA_PRODUCT", ghost)),
        ),
        rec(
            "dataset_role_assignment_created",
            ("DATASET", D),
            Some(("USER", "not-a-uuid")),
        ),
    ];
    let evs: Vec<BusinessEvent> = Enricher::default()
        .enrich(&db.lookups, &records, &Tombstones::new())
        .await
        .unwrap();
    assert_eq!(evs.len(), 4);
    for ev in &evs {
        envelope(ev);
        assert!(!ev.enriched, "{}", ev.event_type);
    }
    assert_eq!(evs[0].event_type, "portal.unknown.v1");
    assert_eq!(evs[0].route, "unknown");
    assert_eq!(evs[0].subject, P);
    assert_eq!(evs[0].audit_name, "data_product_archived");
    assert_eq!(at(&evs[0].data, "enrichment.status"), "unknown_audit_name");
    assert_eq!(at(&evs[0].data, "audit.name"), "data_product_archived");

    assert_eq!(evs[1].event_type, "portal.data_product.updated.v1");
    assert_eq!(evs[1].subject, ghost);
    assert_eq!(at(&evs[1].data, "state"), "unknown");
    assert_eq!(at(&evs[1].data, "enrichment.status"), "entity_not_found");
    assert_eq!(
        at(&evs[1].data, "enrichment.missing"),
        &json!([format!("data_product:{ghost}")])
    );
    // What the lookup did not find is what it saw at enrichment time: marked, all but the
    // id the audit row names.
    let read = at(&evs[1].data, "enrichment.read_at_enrichment");
    for ptr in [
        "/data_product/name",
        "/data_product/domain",
        "/data_product/members",
    ] {
        assert!(
            read.as_array().unwrap().contains(&json!(ptr)),
            "{ptr} in {read}"
        );
    }
    assert!(!read
        .as_array()
        .unwrap()
        .contains(&json!("/data_product/id")));

    // Access to a port whose consumer does not exist: the port is still enriched.
    assert_eq!(evs[2].subject, format!("access:{ghost}:{D}"));
    assert_eq!(at(&evs[2].data, "access.status"), "approved");
    assert_eq!(at(&evs[2].data, "access.output_port.name"), "Revenue daily");
    let missing = at(&evs[2].data, "enrichment.missing");
    assert_eq!(
        missing,
        &json!([
            format!("access:{ghost}/{D}"),
            format!("data_product:{ghost}")
        ])
    );

    assert_eq!(at(&evs[3].data, "enrichment.status"), "entity_not_found");
    assert_eq!(
        at(&evs[3].data, "output_port_membership.output_port.name"),
        "Revenue daily"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_down_is_retryable_and_a_broken_schema_is_not() {
    let db = start().await;
    let records = [rec("dataset_created", ("DATASET", D), None)];
    let enricher = Enricher::default();
    assert!(
        enricher
            .enrich(&db.lookups, &records, &Tombstones::new())
            .await
            .unwrap()[0]
            .enriched
    );

    // A schema that does not match the catalog: permanent, names the query.
    let other = connect(&db.cluster.conninfo("portal")).await;
    other
        .batch_execute("ALTER TABLE datasets RENAME COLUMN access_type TO kind")
        .await
        .unwrap();
    let err = enricher
        .enrich(&db.lookups, &records, &Tombstones::new())
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(err.query(), "output_ports");
    assert!(err.to_string().contains("42703"), "{err}");
    other
        .batch_execute("ALTER TABLE datasets RENAME COLUMN kind TO access_type")
        .await
        .unwrap();

    // The database stops: retryable; after a restart and a reconnect the same batch works.
    let cluster = &db.cluster;
    tokio::task::block_in_place(|| cluster.stop()).unwrap();
    let err = enricher
        .enrich(&db.lookups, &records, &Tombstones::new())
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("unavailable"), "{err}");
    tokio::task::block_in_place(|| cluster.start_again()).unwrap();
    let client = connect(&cluster.conninfo("portal")).await;
    let evs = enricher
        .enrich(&LookupClient::new(client), &records, &Tombstones::new())
        .await
        .unwrap();
    assert!(evs[0].enriched);
}

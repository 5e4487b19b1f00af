//! Removals from captured deletes (a product deleted with its children) and derived
//! events (access expiry) with stable ids.

use crate::common::*;
use relay_catalog::{
    access_expired_event, access_expired_record, cascade_removed_events, Enricher, Tombstones,
};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_deleted_with_children_from_captured_deletes() {
    let db = start().await;
    let c = &db.client;
    // Children of P: port D (with access from C and the link to A), asset A.
    c.batch_execute(&format!(
        "INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status) VALUES
           ('99999999-0000-4000-8000-000000000009', '{C}', '{D}', 'APPROVED');
         INSERT INTO input_port_requests(id, input_port_id, decision, access_duration_type) VALUES
           ('99999999-1111-4000-8000-000000000009', '99999999-0000-4000-8000-000000000009', 'APPROVED', 'PERMANENT');"
    ))
    .await
    .unwrap();
    // What the WAL carries for the delete transaction (REPLICA IDENTITY FULL).
    let mut t = Tombstones::new();
    for (table, filter) in [
        ("abstract_data_products", format!("id = '{P}'")),
        ("data_products", format!("id = '{P}'")),
        (
            "role_assignments_data_product",
            format!("data_product_id = '{P}'"),
        ),
        ("datasets", format!("data_product_id = '{P}'")),
        ("data_outputs", format!("owner_id = '{P}'")),
        ("data_output_configurations", format!("id = '{CFG_A}'")),
        (
            "s3_technical_asset_configurations",
            format!("id = '{CFG_A}'"),
        ),
        ("data_outputs_datasets", format!("dataset_id = '{D}'")),
        ("input_ports", format!("dataset_id = '{D}'")),
        (
            "input_port_requests",
            "input_port_id = '99999999-0000-4000-8000-000000000009'".to_string(),
        ),
    ] {
        assert!(
            capture_deletes(c, &mut t, table, &filter).await > 0,
            "{table}"
        );
    }
    c.batch_execute(&format!(
        "BEGIN; DELETE FROM data_outputs WHERE owner_id = '{P}';
         DELETE FROM data_output_configurations WHERE id = '{CFG_A}';
         DELETE FROM abstract_data_products WHERE id = '{P}';
         UPDATE events SET deleted_subject_identifier = 'Revenue' WHERE subject_id = '{P}'; COMMIT;"
    ))
    .await
    .unwrap();
    assert_eq!(
        c.query_one(
            &format!("SELECT count(*) FROM datasets WHERE id = '{D}'"),
            &[]
        )
        .await
        .unwrap()
        .get::<_, i64>(0),
        0,
        "the port went with its product"
    );

    // The removal event (a later transaction), from the tombstones.
    let mut removed = rec("data_product_removed", ("DATA_PRODUCT", P), None);
    removed.deleted_subject_identifier = Some("Revenue".into());
    // The removal accounts for every delete captured in the cascade.
    let resolved = relay_catalog::resolved_tombstones(&removed, &t);
    assert_eq!(resolved.len(), t.len(), "{resolved:?}");
    let enricher = Enricher::default();
    let evs = enricher.enrich(&db.lookups, &[removed], &t).await.unwrap();
    let d = &evs[0].data;
    envelope(&evs[0]);
    assert_eq!(at(d, "state"), "last_known");
    assert_eq!(at(d, "data_product.name"), "Revenue");
    assert_eq!(at(d, "data_product.about"), "About revenue");
    assert_eq!(at(d, "data_product.domain.name"), "Finance");
    // The product's own fields are its WAL delete's (not marked); the domain it pointed
    // at still exists and was looked up (so were its type and lifecycle), and so were the
    // actor and the member list.
    assert_eq!(
        at(d, "enrichment.read_at_enrichment"),
        &json!([
            "/actor/email",
            "/actor/external_id",
            "/data_product/domain/name",
            "/data_product/lifecycle/name",
            "/data_product/lifecycle/value",
            "/data_product/members",
            "/data_product/owners",
            "/data_product/type/name"
        ])
    );
    assert_eq!(
        at(d, "data_product.owners.0.user.email"),
        "alice@example.com"
    );

    // The derived removals of the children, offline and with lookups.
    let lsn = 0x1A2B3C4D;
    let offline = cascade_removed_events(P, &t, lsn);
    let types: Vec<&str> = offline.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "portal.access.removed.v1",
            "portal.technical_asset.removed.v1",
            "portal.output_port.removed.v1"
        ]
    );
    for ev in &offline {
        let env = envelope(ev);
        assert!(env.get("auditname").is_none());
        assert_eq!(at(&ev.data, "derived.reason"), "data_product_removed");
        assert_eq!(at(&ev.data, "state"), "last_known");
        // Built from captured rows only: nothing was read at enrichment time.
        assert_eq!(at(&ev.data, "enrichment.read_at_enrichment"), &json!([]));
    }
    assert_eq!(offline[0].subject, "99999999-0000-4000-8000-000000000009");
    assert_eq!(at(&offline[0].data, "access.consumer.id"), C);
    assert_eq!(
        at(&offline[0].data, "access.output_port.name"),
        "Revenue daily"
    );
    assert_eq!(
        at(&offline[0].data, "access.validity.access_duration_type"),
        "permanent"
    );
    // The consumer is alive: not in the tombstones, so named by id only.
    assert_eq!(at(&offline[0].data, "enrichment.status"), "not_looked_up");
    assert!(!offline[0].enriched);
    assert_eq!(offline[1].subject, A);
    assert_eq!(
        at(&offline[1].data, "technical_asset.configuration.bucket"),
        "datalake"
    );
    assert_eq!(
        at(&offline[1].data, "technical_asset.data_product.name"),
        "Revenue"
    );
    assert!(offline[1].enriched);
    assert_eq!(offline[2].subject, D);
    assert_eq!(
        at(&offline[2].data, "output_port.namespace"),
        "revenue-daily"
    );
    assert_eq!(
        at(
            &offline[2].data,
            "output_port.technical_assets.0.technical_asset.id"
        ),
        A
    );

    // Stable ids: the same WAL yields the same ids; another commit LSN others.
    let again = cascade_removed_events(P, &t, lsn);
    assert_eq!(
        offline.iter().map(|e| &e.id).collect::<Vec<_>>(),
        again.iter().map(|e| &e.id).collect::<Vec<_>>()
    );
    assert_ne!(cascade_removed_events(P, &t, lsn + 1)[0].id, offline[0].id);
    assert_eq!(
        offline[2].id,
        relay_contracts::derived_event_id("output_port.removed.cascade", D, lsn)
    );

    // With lookups, the live consumer is filled in.
    let records = relay_catalog::cascade_removed_records(P, &t, lsn);
    let online = enricher.enrich(&db.lookups, &records, &t).await.unwrap();
    assert!(online.iter().all(|e| e.enriched), "{:#}", online[0].data);
    assert_eq!(at(&online[0].data, "access.consumer.name"), "Forecast");
    assert_eq!(online[0].id, offline[0].id);
    for ev in &online {
        envelope(ev);
    }

    // Had the audit row never come, the held delete is emitted after the bounded hold.
    let port_row = t.get("datasets", D).unwrap();
    let orphan = relay_catalog::orphan_removed_record("datasets", port_row, lsn).unwrap();
    assert!(relay_catalog::orphan_removed_record("data_products", port_row, lsn).is_none());
    assert_eq!(
        orphan.id,
        relay_catalog::orphan_removed_record("public.datasets", port_row, lsn)
            .unwrap()
            .id
    );
    let ev = &enricher.enrich(&db.lookups, &[orphan], &t).await.unwrap()[0];
    envelope(ev);
    assert_eq!(ev.event_type, "portal.output_port.removed.v1");
    assert_eq!(ev.subject, D);
    assert_eq!(at(&ev.data, "derived.reason"), "audit_row_missing");
    assert_eq!(at(&ev.data, "state"), "last_known");
    assert_eq!(at(&ev.data, "output_port.data_product.name"), "Revenue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_expiry_yields_a_derived_event_with_a_stable_id() {
    let db = start().await;
    let c = &db.client;
    c.batch_execute(&format!(
        "INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status) VALUES
           ('99999999-0000-4000-8000-000000000007', '{C}', '{D}', 'APPROVED');
         INSERT INTO input_port_requests(id, input_port_id, decision, access_duration_type, valid_from, valid_until) VALUES
           ('99999999-1111-4000-8000-000000000007', '99999999-0000-4000-8000-000000000007', 'APPROVED', 'TIME_BOUND', '2026-01-01', '2026-06-30');
         UPDATE input_ports SET status = 'EXPIRED' WHERE id = '99999999-0000-4000-8000-000000000007';"
    ))
    .await
    .unwrap();
    // The updated row as pgoutput delivers it.
    let row = relay_catalog::old_tuple_row([
        ("id", Some("99999999-0000-4000-8000-000000000007")),
        ("consuming_abstract_data_product_id", Some(C)),
        ("dataset_id", Some(D)),
        ("status", Some("EXPIRED")),
    ]);
    let lsn = 0x0000_0001_0000_00AB;
    let offline = access_expired_event(&row, lsn);
    assert_eq!(offline.event_type, "portal.access.expired.v1");
    assert_eq!(offline.subject, "99999999-0000-4000-8000-000000000007");
    assert_eq!(offline.audit_name, "");
    assert_eq!(
        offline.id,
        relay_contracts::derived_event_id(
            "access.expired",
            "99999999-0000-4000-8000-000000000007",
            lsn
        )
    );
    assert_eq!(
        offline.id,
        access_expired_event(&row, lsn).id,
        "replay: same id"
    );
    assert_eq!(at(&offline.data, "access.status"), "expired");
    envelope(&offline);

    let rec = access_expired_record(&row, lsn);
    assert_eq!(rec.id, offline.id);
    let evs = Enricher::default()
        .enrich(&db.lookups, &[rec], &Tombstones::new())
        .await
        .unwrap();
    let ev = &evs[0];
    envelope(ev);
    assert!(ev.enriched);
    assert_eq!(ev.subject, "99999999-0000-4000-8000-000000000007");
    assert_eq!(at(&ev.data, "access.status"), "expired");
    assert_eq!(at(&ev.data, "derived.reason"), "access_expired");
    assert_eq!(at(&ev.data, "actor"), &Value::Null);
    assert_eq!(at(&ev.data, "access.consumer.name"), "Forecast");
    assert_eq!(at(&ev.data, "access.validity.valid_until"), "2026-06-30");
    assert_eq!(
        at(&ev.data, "access.technical_assets.0.technical_asset.id"),
        A
    );
}

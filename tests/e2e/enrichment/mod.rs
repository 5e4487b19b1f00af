//! Issue 4 through the real binary: enriched business events, removals carrying the
//! last known state across a relay restart, access expiry with replay-stable ids, and
//! every emitted event valid against its published JSON Schema.

use outbox_relay_tests::*;
use serde_json::Value;
use std::time::Duration;

mod linger;
mod support;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_product_removed_with_children_across_a_restart_carries_their_last_state() {
    let db = TestDb::start(Setup::default()).await;
    db.admin.batch_execute(&domain_sql()).await.unwrap();
    let out = db.path("events.jsonl");
    let cfg = relay_config(&db, &out);
    let log = db.path("relay.log");
    let mut relay = RelayProcess::run(&cfg, &log);

    // Created, the way the portal commits it: the change first, the audit row later.
    audit(&db, "data_product_created", ("DATA_PRODUCT", P), None).await;
    audit(
        &db,
        "data_product_dataset_link_approved",
        ("DATASET", D),
        Some(("DATA_PRODUCT", Q)),
    )
    .await;
    wait_until(Duration::from_secs(60), "two enriched events", || async {
        read_jsonl(&out).len() >= 2
    })
    .await;
    let lines = read_jsonl(&out);
    let created = &lines[0];
    assert_eq!(created["type"], "portal.data_product.created.v1");
    assert_eq!(created["subject"], P);
    assert_eq!(at(created, "data.data_product.name"), "Revenue");
    assert_eq!(at(created, "data.data_product.domain.name"), "Finance");
    assert_eq!(created["auditname"], "data_product_created");
    assert!(created["enrichedat"].is_string());
    let approved = &lines[1];
    assert_eq!(approved["type"], "portal.access.approved.v1");
    assert_eq!(
        approved["subject"], I,
        "access events are about the access link"
    );
    assert_eq!(at(approved, "data.access.consumer.name"), "Forecast");
    assert_eq!(
        at(approved, "data.access.output_port.namespace"),
        "revenue-daily"
    );
    assert_eq!(at(approved, "data.access.status"), "approved");

    // The product is deleted (its children in cascade) ...
    db.admin
        .batch_execute(&format!(
            "DELETE FROM abstract_data_products WHERE id = '{P}'"
        ))
        .await
        .unwrap();
    let after_delete = db.current_wal_lsn().await;
    // ... the relay reads the delete (a later marker event arrives), holds it ...
    audit(&db, "data_product_updated", ("DATA_PRODUCT", Q), None).await;
    wait_until(
        Duration::from_secs(60),
        "marker after the delete",
        || async { read_jsonl(&out).len() >= 3 },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await; // a few status intervals
    assert!(
        db.confirmed_flush_lsn().await < after_delete,
        "the held delete keeps the slot before it"
    );
    // ... and dies before the audit row of the removal commits.
    relay.kill9();
    wait_until(Duration::from_secs(30), "slot released", || async {
        !db.slot_active().await
    })
    .await;
    audit(&db, "data_product_removed", ("DATA_PRODUCT", P), None).await;

    let _relay = RelayProcess::run(&cfg, &log);
    wait_until(
        Duration::from_secs(60),
        "the removal and its cascade",
        || async {
            let lines = read_jsonl(&out);
            !of_type(&lines, "portal.data_product.removed.v1").is_empty()
                && !of_type(&lines, "portal.technical_asset.removed.v1").is_empty()
                && !of_type(&lines, "portal.output_port.removed.v1").is_empty()
        },
    )
    .await;
    let lines = read_jsonl(&out);
    let removed = of_type(&lines, "portal.data_product.removed.v1")[0];
    assert_eq!(removed["subject"], P);
    assert_eq!(at(removed, "data.state"), "last_known", "{removed}");
    assert_eq!(at(removed, "data.data_product.name"), "Revenue");
    assert_eq!(at(removed, "data.data_product.namespace"), "revenue");
    assert_eq!(at(removed, "data.data_product.status"), "removed");
    let asset = of_type(&lines, "portal.technical_asset.removed.v1")[0];
    assert_eq!(asset["subject"], A);
    assert_eq!(at(asset, "data.technical_asset.namespace"), "revenue-s3");
    assert_eq!(
        at(asset, "data.technical_asset.configuration.bucket"),
        "datalake"
    );
    assert_eq!(
        at(asset, "data.technical_asset.configuration.path"),
        "daily"
    );
    assert_eq!(
        at(asset, "data.technical_asset.data_product.name"),
        "Revenue"
    );
    let port = of_type(&lines, "portal.output_port.removed.v1")[0];
    assert_eq!(port["subject"], D);
    assert_eq!(at(port, "data.output_port.namespace"), "revenue-daily");
    let access = of_type(&lines, "portal.access.removed.v1");
    assert!(
        access.iter().any(|a| a["subject"] == I),
        "the access link went with its port: {access:?}"
    );
    assert_valid(&lines);
    // Everything delivered: the slot moves past the delete now.
    let end = db.current_wal_lsn().await;
    wait_until(
        Duration::from_secs(30),
        "slot confirmed past the removal",
        || async { db.confirmed_flush_lsn().await >= end },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn access_expiry_is_an_event_with_the_same_id_on_replay() {
    let db = TestDb::start(Setup::default()).await;
    db.admin.batch_execute(&domain_sql()).await.unwrap();
    // A copy of the slot, made before anything happens, replays the same WAL later.
    db.admin
        .batch_execute(
            "SELECT pg_copy_logical_replication_slot('outbox_relay', 'outbox_relay_copy')",
        )
        .await
        .unwrap();
    let out = db.path("events.jsonl");
    let cfg = relay_config(&db, &out);
    let mut relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    // The portal's background job: not audited.
    db.admin
        .batch_execute(&format!(
            "UPDATE input_ports SET status = 'EXPIRED' WHERE id = '{I}'"
        ))
        .await
        .unwrap();
    // Other updates of input_ports are not expiry.
    db.admin
        .batch_execute(&format!(
            "UPDATE input_ports SET status = 'EXPIRED' WHERE id = '{I}'"
        ))
        .await
        .unwrap();
    audit(&db, "data_product_updated", ("DATA_PRODUCT", Q), None).await;
    wait_until(Duration::from_secs(60), "expiry and the marker", || async {
        read_jsonl(&out).len() >= 2
    })
    .await;
    let lines = read_jsonl(&out);
    let expired = of_type(&lines, "portal.access.expired.v1");
    assert_eq!(
        expired.len(),
        1,
        "one expiry, not one per update: {lines:?}"
    );
    let e = expired[0];
    assert_eq!(e["subject"], I);
    assert_eq!(at(e, "data.access.status"), "expired");
    assert_eq!(at(e, "data.access.consumer.name"), "Forecast");
    assert!(e.get("auditname").is_none(), "derived: no audit row");
    assert_valid(&lines);

    relay.kill9();
    wait_until(Duration::from_secs(30), "slot released", || async {
        !db.slot_active().await
    })
    .await;
    let replay_out = db.path("replay.jsonl");
    let replay_cfg = db.path("replay.toml");
    std::fs::write(
        &replay_cfg,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("slot = \"outbox_relay\"", "slot = \"outbox_relay_copy\"")
            .replace(out.to_str().unwrap(), replay_out.to_str().unwrap()),
    )
    .unwrap();
    let _replay = RelayProcess::run(&replay_cfg, &db.path("replay.log"));
    wait_until(Duration::from_secs(60), "replayed", || async {
        read_jsonl(&replay_out).len() >= 2
    })
    .await;
    let replayed = read_jsonl(&replay_out);
    assert_eq!(
        of_type(&replayed, "portal.access.expired.v1")[0]["id"],
        e["id"],
        "same WAL, same id"
    );
    assert_eq!(ids_of(&replayed), ids_of(&lines));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_names_and_missing_entities_are_delivered_with_a_marker() {
    let db = TestDb::start(Setup::default()).await;
    let out = db.path("events.jsonl");
    let _relay = RelayProcess::run(&relay_config(&db, &out), &db.path("relay.log"));
    audit(&db, "data_product_teleported", ("DATA_PRODUCT", P), None).await;
    audit(&db, "dataset_updated", ("DATASET", D), None).await;
    wait_until(Duration::from_secs(60), "two events", || async {
        read_jsonl(&out).len() >= 2
    })
    .await;
    let lines = read_jsonl(&out);
    assert_eq!(lines[0]["type"], "portal.unknown.v1");
    assert_eq!(lines[0]["auditname"], "data_product_teleported");
    assert_eq!(lines[1]["type"], "portal.output_port.updated.v1");
    assert_eq!(at(&lines[1], "data.enrichment.status"), "entity_not_found");
    assert_valid(&lines[1..]);
}

#[test]
fn the_catalog_command_prints_the_checked_in_contract() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let (code, asyncapi, err) = run_to_end(&["catalog", "--format", "asyncapi"]);
    assert_eq!(code, 0, "{err}");
    let printed: Value = serde_json::from_str(&asyncapi).unwrap();
    let checked_in: Value =
        serde_json::from_str(&std::fs::read_to_string(docs.join("asyncapi.json")).unwrap())
            .unwrap();
    assert_eq!(printed, checked_in);
    let (code, schemas, _) = run_to_end(&["catalog", "--format", "jsonschema"]);
    assert_eq!(code, 0);
    let schemas: serde_json::Map<String, Value> = serde_json::from_str(&schemas).unwrap();
    assert!(schemas.contains_key("portal.access.expired.v1") && schemas.len() > 30);
    let (code, markdown, _) = run_to_end(&["catalog", "--format", "markdown"]);
    assert_eq!(code, 0);
    assert_eq!(
        markdown.trim_end(),
        std::fs::read_to_string(docs.join("catalog.md"))
            .unwrap()
            .trim_end()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delete_whose_audit_row_never_comes_is_emitted_after_the_hold() {
    let db = TestDb::start(Setup::default()).await;
    db.admin.batch_execute(&domain_sql()).await.unwrap();
    let out = db.path("events.jsonl");
    let cfg = relay_config_with(&db, &out, "delete_hold = \"2s\"");
    let relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    db.admin
        .batch_execute(&format!(
            "DELETE FROM abstract_data_products WHERE id = '{P}'"
        ))
        .await
        .unwrap();
    let after_delete = db.current_wal_lsn().await;
    wait_until(
        Duration::from_secs(60),
        "removals emitted after the hold",
        || async {
            let lines = read_jsonl(&out);
            !of_type(&lines, "portal.data_product.removed.v1").is_empty()
                && !of_type(&lines, "portal.technical_asset.removed.v1").is_empty()
        },
    )
    .await;
    wait_until(
        Duration::from_secs(30),
        "slot confirmed past the delete",
        || async { db.confirmed_flush_lsn().await >= after_delete },
    )
    .await;
    let lines = read_jsonl(&out);
    let removed = of_type(&lines, "portal.data_product.removed.v1");
    assert_eq!(removed.len(), 1);
    assert_eq!(
        at(removed[0], "data.derived.reason"),
        "audit_row_missing",
        "{}",
        removed[0]
    );
    assert_eq!(at(removed[0], "data.data_product.namespace"), "revenue");
    // Each child once: the cascade accounts for the children's own held deletes.
    for ty in [
        "portal.technical_asset.removed.v1",
        "portal.output_port.removed.v1",
    ] {
        assert_eq!(of_type(&lines, ty).len(), 1, "{ty} exactly once: {lines:?}");
    }
    assert_valid(&lines);
    assert!(relay
        .log_text()
        .contains("got no audit row within capture.delete_hold"));
}

/// Every one of the 33 audit names, committed after the domain change as the portal
/// does, becomes its business event through the real binary: type, subject, audit name,
/// a key enriched field, and a valid envelope.
#[tokio::test(flavor = "multi_thread")]
async fn every_audit_name_becomes_its_business_event_end_to_end() {
    let db = TestDb::start(Setup::default()).await;
    db.admin.batch_execute(&domain_sql()).await.unwrap();
    db.admin
        .batch_execute(&format!(
            "INSERT INTO users(id, email, external_id) VALUES ('{U}', 'member@example.com', 'ext-member');
             INSERT INTO roles(id, name, scope) VALUES ('0b6f1c2e-0000-4000-8000-000000000012', 'Owner', 'data_product'),
                                                       ('0b6f1c2e-0000-4000-8000-000000000013', 'Reader', 'dataset');
             INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision) VALUES
                ('0b6f1c2e-0000-4000-8000-000000000014', '{P}', '{U}', '0b6f1c2e-0000-4000-8000-000000000012', 'APPROVED');
             INSERT INTO role_assignments_dataset(id, dataset_id, user_id, role_id, decision) VALUES
                ('0b6f1c2e-0000-4000-8000-000000000015', '{D}', '{U}', '0b6f1c2e-0000-4000-8000-000000000013', 'APPROVED');
             INSERT INTO data_outputs_datasets(id, data_output_id, dataset_id, status) VALUES ('{L}', '{A}', '{D}', 'APPROVED');"
        ))
        .await
        .unwrap();
    let out = db.path("events.jsonl");
    let _relay = RelayProcess::run(&relay_config(&db, &out), &db.path("relay.log"));
    const DP: &str = "DATA_PRODUCT";
    const DS: &str = "DATASET";
    const DO: &str = "DATA_OUTPUT";
    const US: &str = "USER";
    // (audit name, subject, target, expected type, expected CloudEvents subject)
    type Entity<'a> = (&'a str, &'a str);
    let cases: Vec<(&str, Entity, Option<Entity>, &str, &str)> = vec![
        (
            "data_product_created",
            (DP, P),
            None,
            "portal.data_product.created.v1",
            P,
        ),
        (
            "data_product_updated",
            (DP, P),
            None,
            "portal.data_product.updated.v1",
            P,
        ),
        (
            "data_product_setting_updated",
            (DP, P),
            None,
            "portal.data_product.settings_updated.v1",
            P,
        ),
        (
            "dataset_created",
            (DS, D),
            None,
            "portal.output_port.created.v1",
            D,
        ),
        (
            "dataset_updated",
            (DS, D),
            None,
            "portal.output_port.updated.v1",
            D,
        ),
        (
            "dataset_setting_updated",
            (DS, D),
            None,
            "portal.output_port.settings_updated.v1",
            D,
        ),
        (
            "data_output_created",
            (DO, A),
            Some((DP, P)),
            "portal.technical_asset.created.v1",
            A,
        ),
        (
            "data_output_updated",
            (DO, A),
            None,
            "portal.technical_asset.updated.v1",
            A,
        ),
        (
            "data_output_dataset_link_requested",
            (DO, A),
            Some((DS, D)),
            "portal.technical_asset_link.requested.v1",
            L,
        ),
        (
            "data_output_dataset_link_approved",
            (DS, D),
            Some((DO, A)),
            "portal.technical_asset_link.approved.v1",
            L,
        ),
        (
            "data_output_dataset_link_denied",
            (DS, D),
            Some((DO, A)),
            "portal.technical_asset_link.denied.v1",
            L,
        ),
        (
            "data_output_dataset_link_removed",
            (DO, A),
            Some((DS, D)),
            "portal.technical_asset_link.removed.v1",
            L,
        ),
        (
            "data_product_dataset_link_requested",
            (DP, Q),
            Some((DS, D)),
            "portal.access.requested.v1",
            I,
        ),
        (
            "data_product_dataset_link_approved",
            (DS, D),
            Some((DP, Q)),
            "portal.access.approved.v1",
            I,
        ),
        (
            "data_product_dataset_link_denied",
            (DS, D),
            Some((DP, Q)),
            "portal.access.denied.v1",
            I,
        ),
        (
            "data_product_dataset_link_revoked",
            (DS, D),
            Some((DP, Q)),
            "portal.access.revoked.v1",
            I,
        ),
        (
            "data_product_dataset_link_cancelled",
            (DP, Q),
            Some((DS, D)),
            "portal.access.cancelled.v1",
            I,
        ),
        (
            "data_product_dataset_link_removed",
            (DP, Q),
            Some((DS, D)),
            "portal.access.removed.v1",
            I,
        ),
        (
            "data_product_role_assignment_requested",
            (DP, P),
            Some((US, U)),
            "portal.data_product_membership.requested.v1",
            P,
        ),
        (
            "data_product_role_assignment_approved",
            (DP, P),
            Some((US, U)),
            "portal.data_product_membership.approved.v1",
            P,
        ),
        (
            "data_product_role_assignment_denied",
            (DP, P),
            Some((US, U)),
            "portal.data_product_membership.denied.v1",
            P,
        ),
        (
            "data_product_role_assignment_created",
            (DP, P),
            Some((US, U)),
            "portal.data_product_membership.created.v1",
            P,
        ),
        (
            "data_product_role_assignment_updated",
            (DP, P),
            Some((US, U)),
            "portal.data_product_membership.updated.v1",
            P,
        ),
        (
            "data_product_role_assignment_removed",
            (DP, P),
            Some((US, U)),
            "portal.data_product_membership.removed.v1",
            P,
        ),
        (
            "dataset_role_assignment_requested",
            (DS, D),
            Some((US, U)),
            "portal.output_port_membership.requested.v1",
            D,
        ),
        (
            "dataset_role_assignment_approved",
            (DS, D),
            Some((US, U)),
            "portal.output_port_membership.approved.v1",
            D,
        ),
        (
            "dataset_role_assignment_denied",
            (DS, D),
            Some((US, U)),
            "portal.output_port_membership.denied.v1",
            D,
        ),
        (
            "dataset_role_assignment_created",
            (DS, D),
            Some((US, U)),
            "portal.output_port_membership.created.v1",
            D,
        ),
        (
            "dataset_role_assignment_updated",
            (DS, D),
            Some((US, U)),
            "portal.output_port_membership.updated.v1",
            D,
        ),
        (
            "dataset_role_assignment_removed",
            (DS, D),
            Some((US, U)),
            "portal.output_port_membership.removed.v1",
            D,
        ),
        (
            "data_output_removed",
            (DO, A),
            Some((DP, P)),
            "portal.technical_asset.removed.v1",
            A,
        ),
        (
            "dataset_removed",
            (DS, D),
            Some((DP, P)),
            "portal.output_port.removed.v1",
            D,
        ),
        (
            "data_product_removed",
            (DP, P),
            None,
            "portal.data_product.removed.v1",
            P,
        ),
    ];
    assert_eq!(cases.len(), 33);
    for (name, subject, target, _, _) in &cases {
        audit(&db, name, *subject, *target).await;
    }
    wait_until(Duration::from_secs(60), "33 events", || async {
        read_jsonl(&out).len() >= 33
    })
    .await;
    let lines = read_jsonl(&out);
    assert_eq!(
        lines.len(),
        33,
        "one event per audit row (nothing deleted, so no cascades)"
    );
    for ((name, _, _, ty, subject), e) in cases.iter().zip(&lines) {
        assert_eq!(e["auditname"], *name);
        assert_eq!(e["type"], *ty, "{name}");
        assert_eq!(e["subject"], *subject, "{name}: {e}");
        assert_eq!(at(e, "data.enrichment.status"), "complete", "{name}: {e}");
        let entity = ty.split('.').nth(1).unwrap();
        match entity {
            "data_product" => assert_eq!(at(e, "data.data_product.name"), "Revenue", "{name}"),
            "output_port" => assert_eq!(
                at(e, "data.output_port.namespace"),
                "revenue-daily",
                "{name}"
            ),
            "technical_asset" => {
                assert_eq!(
                    at(e, "data.technical_asset.configuration.bucket"),
                    "datalake",
                    "{name}"
                )
            }
            "access" => assert_eq!(at(e, "data.access.consumer.name"), "Forecast", "{name}"),
            _ => assert!(
                e.to_string().contains("member@example.com") || entity == "technical_asset_link",
                "{name}: {e}"
            ),
        }
        // the decision or status implied by the name, never a lookup
        let action = ty.split('.').nth(2).unwrap();
        if ["approved", "denied", "revoked", "cancelled", "requested"].contains(&action)
            && entity == "access"
        {
            let expected = if action == "requested" {
                "pending"
            } else {
                action
            };
            assert_eq!(at(e, "data.access.status"), expected, "{name}");
        }
    }
    assert_valid(&lines);
}

//! Enrichment against a real PostgreSQL 15 with the portal-like schema: one scenario per
//! audit name (the portal's change, then the audit row the portal writes), removals from
//! captured deletes, derived events, unknown names, missing entities and failures.
//! Every emitted envelope is validated against its JSON Schema.

mod common;

use common::*;
use relay_catalog::{
    access_expired_event, access_expired_record, cascade_removed_events, AuditRecord,
    BusinessEvent, Catalog, Enricher, Tombstones,
};
use relay_contracts::Classify;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const DP: &str = "DATA_PRODUCT";
const DS: &str = "DATASET";
const DO: &str = "DATA_OUTPUT";
const U: &str = "USER";

/// Product created in the scenarios.
const N: &str = "11111111-0000-4000-8000-000000000004";
/// Output port of N.
const D2: &str = "22222222-0000-4000-8000-000000000002";
/// Output port of P that gets removed.
const D3: &str = "22222222-0000-4000-8000-000000000003";
/// Technical asset of N.
const A2: &str = "33333333-0000-4000-8000-000000000002";
/// Technical asset of N that gets removed.
const A3: &str = "33333333-0000-4000-8000-000000000003";

struct Run<'a> {
    db: &'a Db,
    enricher: Enricher,
    tombstones: Tombstones,
    covered: BTreeSet<String>,
}

impl Run<'_> {
    async fn sql(&self, sql: &str) {
        self.db
            .client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Enrich one audit row; check its type and subject; return the validated envelope.
    async fn event(&mut self, rec: AuditRecord, ty: &str, subject: &str) -> Value {
        let evs = self
            .enricher
            .enrich(
                &self.db.client,
                std::slice::from_ref(&rec),
                &self.tombstones,
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", rec.name));
        let ev = &evs[0];
        assert_eq!(ev.event_type, ty, "{}", rec.name);
        assert_eq!(ev.subject, subject, "{}: subject", rec.name);
        assert_eq!(ev.id, rec.id);
        assert_eq!(ev.audit_name, rec.name);
        assert!(ev.enriched, "{}: not enriched: {:#}", rec.name, ev.data);
        self.covered.insert(rec.name.clone());
        let env = envelope(ev);
        assert_eq!(env["auditname"], json!(rec.name));
        env["data"].clone()
    }

    async fn capture(&mut self, table: &str, filter: &str) -> usize {
        capture_deletes(&self.db.client, &mut self.tombstones, table, filter).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_audit_name_becomes_its_business_event() {
    let db = start().await;
    let mut run = Run {
        db: &db,
        enricher: Enricher::new(Catalog::portal()),
        tombstones: Tombstones::new(),
        covered: BTreeSet::new(),
    };

    // ---- data products: the change commits first, the audit row later ----
    run.sql(&format!(
        "INSERT INTO abstract_data_products(id, name, namespace, status, domain_id) VALUES
           ('{N}', 'Churn', 'churn', 'pending', '77777777-0000-4000-8000-000000000001');
         INSERT INTO data_products(id, type_id, lifecycle_id) VALUES
           ('{N}', '77777777-0000-4000-8000-000000000002', '77777777-0000-4000-8000-000000000003');
         INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision) VALUES
           ('88888888-0000-4000-8000-000000000010', '{N}', '{ALICE}', '{R_OWNER}', 'APPROVED');"
    ))
    .await;
    let d = run
        .event(
            rec("data_product_created", (DP, N), None),
            "portal.data_product.created.v1",
            N,
        )
        .await;
    assert_eq!(at(&d, "data_product.name"), "Churn");
    assert_eq!(at(&d, "data_product.namespace"), "churn");
    assert_eq!(at(&d, "data_product.kind"), "data_product");
    assert_eq!(at(&d, "data_product.status"), "pending");
    assert_eq!(at(&d, "data_product.domain.name"), "Finance");
    assert_eq!(at(&d, "data_product.type.name"), "Source aligned");
    assert_eq!(at(&d, "data_product.lifecycle.name"), "Production");
    assert_eq!(at(&d, "data_product.lifecycle.value"), 3);
    assert_eq!(
        at(&d, "data_product.owners.0.user.email"),
        "alice@example.com"
    );
    assert_eq!(
        at(&d, "data_product.owners.0.user.external_id"),
        "ext-alice"
    );
    assert_eq!(at(&d, "data_product.owners.0.role.name"), "Owner");
    assert_eq!(at(&d, "actor.email"), "actor@example.com");
    assert_eq!(at(&d, "occurred_on"), "2026-11-29T08:35:06.629784Z");
    assert_eq!(at(&d, "state"), "current");

    run.sql(&format!("UPDATE abstract_data_products SET status = 'active', description = 'Who leaves' WHERE id = '{N}'"))
        .await;
    let d = run
        .event(
            rec("data_product_updated", (DP, N), None),
            "portal.data_product.updated.v1",
            N,
        )
        .await;
    assert_eq!(at(&d, "data_product.status"), "active");
    assert_eq!(at(&d, "data_product.description"), "Who leaves");

    let d = run
        .event(
            rec("data_product_setting_updated", (DP, N), None),
            "portal.data_product.settings_updated.v1",
            N,
        )
        .await;
    assert_eq!(at(&d, "action"), "settings_updated");

    // ---- output ports ----
    run.sql(&format!(
        "INSERT INTO datasets(id, namespace, name, status, access_type, data_product_id) VALUES
           ('{D2}', 'churn-weekly', 'Churn weekly', 'PENDING', 'UNRESTRICTED', '{N}')"
    ))
    .await;
    let d = run
        .event(
            rec("dataset_created", (DS, D2), None),
            "portal.output_port.created.v1",
            D2,
        )
        .await;
    assert_eq!(at(&d, "output_port.name"), "Churn weekly");
    assert_eq!(at(&d, "output_port.namespace"), "churn-weekly");
    assert_eq!(at(&d, "output_port.access_type"), "unrestricted");
    assert_eq!(at(&d, "output_port.status"), "pending");
    assert_eq!(at(&d, "output_port.data_product.name"), "Churn");
    assert_eq!(at(&d, "output_port.technical_assets"), &json!([]));

    run.sql(&format!(
        "UPDATE datasets SET status = 'ACTIVE', access_type = 'RESTRICTED' WHERE id = '{D2}'"
    ))
    .await;
    let d = run
        .event(
            rec("dataset_updated", (DS, D2), None),
            "portal.output_port.updated.v1",
            D2,
        )
        .await;
    assert_eq!(at(&d, "output_port.status"), "active");
    assert_eq!(at(&d, "output_port.access_type"), "restricted");
    run.event(
        rec("dataset_setting_updated", (DS, D2), None),
        "portal.output_port.settings_updated.v1",
        D2,
    )
    .await;

    // ---- technical assets: create/remove name the owner ----
    run.sql(&format!(
        "INSERT INTO data_output_configurations(id, configuration_type) VALUES
           ('44444444-0000-4000-8000-000000000002', 'S3TechnicalAssetConfiguration'),
           ('44444444-0000-4000-8000-000000000003', 'GlueTechnicalAssetConfiguration');
         INSERT INTO s3_technical_asset_configurations(id, bucket, suffix, path) VALUES
           ('44444444-0000-4000-8000-000000000002', 'lake', 'churn', 'weekly');
         INSERT INTO glue_technical_asset_configurations(id, database, \"table\", entire_schema) VALUES
           ('44444444-0000-4000-8000-000000000003', 'churn_db', 'scores', true);
         INSERT INTO data_outputs(id, namespace, name, status, platform_id, service_id, owner_id, configuration_id) VALUES
           ('{A2}', 'churn-s3', 'Churn on S3', 'PENDING', '77777777-0000-4000-8000-000000000004',
            '77777777-0000-4000-8000-000000000005', '{N}', '44444444-0000-4000-8000-000000000002'),
           ('{A3}', 'churn-glue', 'Churn in Glue', 'ACTIVE', '77777777-0000-4000-8000-000000000004',
            NULL, '{N}', '44444444-0000-4000-8000-000000000003');"
    ))
    .await;
    let d = run
        .event(
            rec("data_output_created", (DO, A2), Some((DP, N))),
            "portal.technical_asset.created.v1",
            A2,
        )
        .await;
    assert_eq!(at(&d, "technical_asset.name"), "Churn on S3");
    assert_eq!(at(&d, "technical_asset.status"), "pending");
    assert_eq!(at(&d, "technical_asset.platform.name"), "AWS");
    assert_eq!(at(&d, "technical_asset.service.name"), "S3");
    assert_eq!(
        at(&d, "technical_asset.configuration"),
        &json!({"type": "S3TechnicalAssetConfiguration", "bucket": "lake", "suffix": "churn", "path": "weekly"})
    );
    assert_eq!(at(&d, "technical_asset.data_product.namespace"), "churn");

    run.sql(&format!(
        "UPDATE data_outputs SET status = 'ACTIVE' WHERE id = '{A2}'"
    ))
    .await;
    let d = run
        .event(
            rec("data_output_updated", (DO, A2), None),
            "portal.technical_asset.updated.v1",
            A2,
        )
        .await;
    assert_eq!(at(&d, "technical_asset.status"), "active");

    // Removal: the row (and its configuration) is gone when the audit row commits; the
    // payload comes from the captured deletes.
    run.capture("data_outputs", &format!("id = '{A3}'")).await;
    run.capture(
        "data_output_configurations",
        "id = '44444444-0000-4000-8000-000000000003'",
    )
    .await;
    run.capture(
        "glue_technical_asset_configurations",
        "id = '44444444-0000-4000-8000-000000000003'",
    )
    .await;
    run.sql(&format!(
        "BEGIN; DELETE FROM data_outputs WHERE id = '{A3}';
         DELETE FROM data_output_configurations WHERE id = '44444444-0000-4000-8000-000000000003'; COMMIT;"
    ))
    .await;
    let d = run
        .event(
            rec("data_output_removed", (DO, A3), Some((DP, N))),
            "portal.technical_asset.removed.v1",
            A3,
        )
        .await;
    assert_eq!(at(&d, "state"), "last_known");
    assert_eq!(at(&d, "technical_asset.status"), "removed");
    assert_eq!(at(&d, "technical_asset.namespace"), "churn-glue");
    assert_eq!(
        at(&d, "technical_asset.configuration.type"),
        "GlueTechnicalAssetConfiguration"
    );
    assert_eq!(at(&d, "technical_asset.configuration.database"), "churn_db");
    assert_eq!(at(&d, "technical_asset.configuration.table"), "scores");
    assert_eq!(at(&d, "technical_asset.data_product.name"), "Churn");

    // ---- asset↔port links: same transaction as the link change ----
    run.sql(&format!(
        "BEGIN; INSERT INTO data_outputs_datasets(id, data_output_id, dataset_id, status) VALUES
           ('55555555-0000-4000-8000-000000000002', '{A2}', '{D2}', 'PENDING'); COMMIT;"
    ))
    .await;
    let d = run
        .event(
            rec(
                "data_output_dataset_link_requested",
                (DO, A2),
                Some((DS, D2)),
            ),
            "portal.technical_asset_link.requested.v1",
            "55555555-0000-4000-8000-000000000002",
        )
        .await;
    assert_eq!(at(&d, "technical_asset_link.status"), "pending");
    assert_eq!(
        at(
            &d,
            "technical_asset_link.technical_asset.configuration.bucket"
        ),
        "lake"
    );
    assert_eq!(
        at(&d, "technical_asset_link.output_port.name"),
        "Churn weekly"
    );

    run.sql("UPDATE data_outputs_datasets SET status = 'APPROVED' WHERE id = '55555555-0000-4000-8000-000000000002'")
        .await;
    let d = run
        .event(
            rec(
                "data_output_dataset_link_approved",
                (DS, D2),
                Some((DO, A2)),
            ),
            "portal.technical_asset_link.approved.v1",
            "55555555-0000-4000-8000-000000000002",
        )
        .await;
    assert_eq!(at(&d, "technical_asset_link.status"), "approved");
    assert_eq!(at(&d, "technical_asset_link.technical_asset.id"), A2);

    run.sql(&format!(
        "INSERT INTO data_outputs_datasets(id, data_output_id, dataset_id, status) VALUES
           ('55555555-0000-4000-8000-000000000003', '{A2}', '{D}', 'DENIED')"
    ))
    .await;
    let d = run
        .event(
            rec("data_output_dataset_link_denied", (DS, D), Some((DO, A2))),
            "portal.technical_asset_link.denied.v1",
            "55555555-0000-4000-8000-000000000003",
        )
        .await;
    assert_eq!(at(&d, "technical_asset_link.status"), "denied");
    assert_eq!(
        at(&d, "technical_asset_link.output_port.data_product.name"),
        "Revenue"
    );

    run.capture(
        "data_outputs_datasets",
        "id = '55555555-0000-4000-8000-000000000003'",
    )
    .await;
    run.sql("DELETE FROM data_outputs_datasets WHERE id = '55555555-0000-4000-8000-000000000003'")
        .await;
    let d = run
        .event(
            rec("data_output_dataset_link_removed", (DO, A2), Some((DS, D))),
            "portal.technical_asset_link.removed.v1",
            "55555555-0000-4000-8000-000000000003",
        )
        .await;
    assert_eq!(at(&d, "technical_asset_link.status"), "removed");
    assert_eq!(at(&d, "state"), "last_known");

    // ---- access: consumer C on port D2 ----
    run.sql(&format!(
        "INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status) VALUES
           ('99999999-0000-4000-8000-000000000001', '{C}', '{D2}', 'PENDING');
         INSERT INTO input_port_requests(id, input_port_id, decision, justification, access_duration_type, created_on) VALUES
           ('99999999-1111-4000-8000-000000000001', '99999999-0000-4000-8000-000000000001', 'PENDING',
            'Churn-aware forecast', 'TIME_BOUND', '2026-11-29 08:00:00');"
    ))
    .await;
    let d = run
        .event(
            rec(
                "data_product_dataset_link_requested",
                (DP, C),
                Some((DS, D2)),
            ),
            "portal.access.requested.v1",
            "99999999-0000-4000-8000-000000000001",
        )
        .await;
    assert_eq!(at(&d, "access.status"), "pending");
    assert_eq!(at(&d, "side"), "consumer");
    assert_eq!(at(&d, "access.consumer.name"), "Forecast");
    assert_eq!(at(&d, "access.output_port.name"), "Churn weekly");
    assert_eq!(at(&d, "access.output_port.data_product.name"), "Churn");
    assert_eq!(at(&d, "access.justification"), "Churn-aware forecast");

    // Approval: link and request change in the audit row's transaction. The relay is
    // behind: by enrichment time the access was already revoked, yet the event says
    // "approved" (the name decides, never the lookup).
    run.sql(
        "BEGIN;
         UPDATE input_ports SET status = 'REVOKED' WHERE id = '99999999-0000-4000-8000-000000000001';
         UPDATE input_port_requests SET decision = 'APPROVED', valid_from = '2026-12-01', valid_until = '2027-05-31'
           WHERE id = '99999999-1111-4000-8000-000000000001';
         COMMIT;",
    )
    .await;
    let d = run
        .event(
            rec(
                "data_product_dataset_link_approved",
                (DS, D2),
                Some((DP, C)),
            ),
            "portal.access.approved.v1",
            "99999999-0000-4000-8000-000000000001",
        )
        .await;
    assert_eq!(at(&d, "access.status"), "approved");
    assert_eq!(at(&d, "side"), "producer");
    assert_eq!(at(&d, "access.consumer.id"), C);
    assert_eq!(at(&d, "access.output_port.id"), D2);
    assert_eq!(
        at(&d, "access.validity"),
        &json!({"access_duration_type": "time_bound", "valid_from": "2026-12-01", "valid_until": "2027-05-31", "revoked_at": null})
    );
    assert_eq!(at(&d, "access.technical_assets.0.technical_asset.id"), A2);
    assert_eq!(at(&d, "access.technical_assets.0.link_status"), "approved");
    assert_eq!(
        at(
            &d,
            "access.technical_assets.0.technical_asset.configuration.bucket"
        ),
        "lake"
    );

    for (subject, target, side) in [
        ((DS, D2), (DP, C), "producer"),
        ((DP, C), (DS, D2), "consumer"),
    ] {
        let d = run
            .event(
                rec("data_product_dataset_link_revoked", subject, Some(target)),
                "portal.access.revoked.v1",
                "99999999-0000-4000-8000-000000000001",
            )
            .await;
        assert_eq!(at(&d, "access.status"), "revoked");
        assert_eq!(at(&d, "side"), side);
        assert_eq!(at(&d, "access.consumer.id"), C);
    }

    // Denied, for an exploration.
    run.sql(&format!(
        "INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status) VALUES
           ('99999999-0000-4000-8000-000000000002', '{X}', '{D2}', 'DENIED')"
    ))
    .await;
    let d = run
        .event(
            rec("data_product_dataset_link_denied", (DS, D2), Some((DP, X))),
            "portal.access.denied.v1",
            "99999999-0000-4000-8000-000000000002",
        )
        .await;
    assert_eq!(at(&d, "access.status"), "denied");
    assert_eq!(at(&d, "access.consumer.kind"), "exploration");
    assert_eq!(at(&d, "access.validity"), &Value::Null);

    // Cancelled by the consumer: the pending link is deleted with the audit row.
    run.sql(&format!(
        "INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status) VALUES
           ('99999999-0000-4000-8000-000000000003', '{X}', '{D}', 'PENDING')"
    ))
    .await;
    run.capture("input_ports", "id = '99999999-0000-4000-8000-000000000003'")
        .await;
    run.sql("DELETE FROM input_ports WHERE id = '99999999-0000-4000-8000-000000000003'")
        .await;
    let d = run
        .event(
            rec(
                "data_product_dataset_link_cancelled",
                (DP, X),
                Some((DS, D)),
            ),
            "portal.access.cancelled.v1",
            "99999999-0000-4000-8000-000000000003",
        )
        .await;
    assert_eq!(at(&d, "access.status"), "cancelled");
    assert_eq!(at(&d, "state"), "last_known");
    assert_eq!(at(&d, "access.output_port.name"), "Revenue daily");

    // Removed by the producer: link and requests deleted in the audit row's transaction.
    run.capture("input_ports", "id = '99999999-0000-4000-8000-000000000001'")
        .await;
    run.capture(
        "input_port_requests",
        "input_port_id = '99999999-0000-4000-8000-000000000001'",
    )
    .await;
    run.sql("DELETE FROM input_ports WHERE id = '99999999-0000-4000-8000-000000000001'")
        .await;
    let d = run
        .event(
            rec("data_product_dataset_link_removed", (DS, D2), Some((DP, C))),
            "portal.access.removed.v1",
            "99999999-0000-4000-8000-000000000001",
        )
        .await;
    assert_eq!(at(&d, "access.status"), "removed");
    assert_eq!(at(&d, "side"), "producer");
    assert_eq!(at(&d, "state"), "last_known");
    assert_eq!(at(&d, "access.validity.valid_until"), "2027-05-31");
    assert_eq!(at(&d, "access.technical_assets.0.technical_asset.id"), A2);

    // ---- data product team ----
    let team = [
        (
            "data_product_role_assignment_requested",
            "PENDING",
            R_MEMBER,
            "pending",
        ),
        (
            "data_product_role_assignment_approved",
            "APPROVED",
            R_MEMBER,
            "approved",
        ),
        (
            "data_product_role_assignment_updated",
            "APPROVED",
            R_OWNER,
            "approved",
        ),
    ];
    for (i, (name, decision, role, status)) in team.iter().enumerate() {
        if i == 0 {
            run.sql(&format!(
                "INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision) VALUES
                   ('88888888-0000-4000-8000-000000000011', '{N}', '{BOB}', '{role}', '{decision}')"
            ))
            .await;
        } else {
            run.sql(&format!(
                "UPDATE role_assignments_data_product SET decision = '{decision}', role_id = '{role}'
                   WHERE id = '88888888-0000-4000-8000-000000000011'"
            ))
            .await;
        }
        let action = name.rsplit('_').next().unwrap();
        let d = run
            .event(
                rec(name, (DP, N), Some((U, BOB))),
                &format!("portal.data_product_membership.{action}.v1"),
                N,
            )
            .await;
        assert_eq!(at(&d, "data_product_membership.status"), *status);
        assert_eq!(
            at(&d, "data_product_membership.user.email"),
            "bob@example.com"
        );
        assert_eq!(
            at(&d, "data_product_membership.user.external_id"),
            "ext-bob"
        );
        assert_eq!(at(&d, "data_product_membership.data_product.name"), "Churn");
        let role_name = if *role == R_OWNER { "Owner" } else { "Member" };
        assert_eq!(at(&d, "data_product_membership.role.name"), role_name);
    }
    run.sql(&format!(
        "INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision) VALUES
           ('88888888-0000-4000-8000-000000000012', '{N}', '{CAROL}', '{R_MEMBER}', 'APPROVED')"
    ))
    .await;
    let d = run
        .event(
            rec(
                "data_product_role_assignment_created",
                (DP, N),
                Some((U, CAROL)),
            ),
            "portal.data_product_membership.created.v1",
            N,
        )
        .await;
    assert_eq!(at(&d, "data_product_membership.status"), "approved");
    assert_eq!(
        at(&d, "data_product_membership.user.email"),
        "carol@example.com"
    );
    run.sql(&format!(
        "INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision) VALUES
           ('88888888-0000-4000-8000-000000000013', '{P}', '{BOB}', '{R_MEMBER}', 'DENIED')"
    ))
    .await;
    let d = run
        .event(
            rec(
                "data_product_role_assignment_denied",
                (DP, P),
                Some((U, BOB)),
            ),
            "portal.data_product_membership.denied.v1",
            P,
        )
        .await;
    assert_eq!(at(&d, "data_product_membership.status"), "denied");
    run.capture(
        "role_assignments_data_product",
        "id = '88888888-0000-4000-8000-000000000012'",
    )
    .await;
    run.sql("DELETE FROM role_assignments_data_product WHERE id = '88888888-0000-4000-8000-000000000012'")
        .await;
    let d = run
        .event(
            rec(
                "data_product_role_assignment_removed",
                (DP, N),
                Some((U, CAROL)),
            ),
            "portal.data_product_membership.removed.v1",
            N,
        )
        .await;
    assert_eq!(at(&d, "data_product_membership.status"), "removed");
    assert_eq!(at(&d, "data_product_membership.role.name"), "Member");
    assert_eq!(at(&d, "state"), "last_known");

    // ---- output port team ----
    let port_team = [
        (
            "dataset_role_assignment_requested",
            "PENDING",
            R_PORT_READER,
            "pending",
        ),
        (
            "dataset_role_assignment_approved",
            "APPROVED",
            R_PORT_READER,
            "approved",
        ),
        (
            "dataset_role_assignment_updated",
            "APPROVED",
            R_PORT_OWNER,
            "approved",
        ),
    ];
    for (i, (name, decision, role, status)) in port_team.iter().enumerate() {
        if i == 0 {
            run.sql(&format!(
                "INSERT INTO role_assignments_dataset(id, dataset_id, user_id, role_id, decision) VALUES
                   ('88888888-1111-4000-8000-000000000011', '{D2}', '{BOB}', '{role}', '{decision}')"
            ))
            .await;
        } else {
            run.sql(&format!(
                "UPDATE role_assignments_dataset SET decision = '{decision}', role_id = '{role}'
                   WHERE id = '88888888-1111-4000-8000-000000000011'"
            ))
            .await;
        }
        let action = name.rsplit('_').next().unwrap();
        let d = run
            .event(
                rec(name, (DS, D2), Some((U, BOB))),
                &format!("portal.output_port_membership.{action}.v1"),
                D2,
            )
            .await;
        assert_eq!(at(&d, "output_port_membership.status"), *status);
        assert_eq!(
            at(&d, "output_port_membership.user.email"),
            "bob@example.com"
        );
        assert_eq!(
            at(&d, "output_port_membership.output_port.name"),
            "Churn weekly"
        );
        assert_eq!(at(&d, "output_port_membership.role.scope"), "dataset");
    }
    run.sql(&format!(
        "INSERT INTO role_assignments_dataset(id, dataset_id, user_id, role_id, decision) VALUES
           ('88888888-1111-4000-8000-000000000012', '{D2}', '{CAROL}', '{R_PORT_READER}', 'APPROVED'),
           ('88888888-1111-4000-8000-000000000013', '{D}', '{CAROL}', '{R_PORT_READER}', 'DENIED')"
    ))
    .await;
    run.event(
        rec(
            "dataset_role_assignment_created",
            (DS, D2),
            Some((U, CAROL)),
        ),
        "portal.output_port_membership.created.v1",
        D2,
    )
    .await;
    let d = run
        .event(
            rec("dataset_role_assignment_denied", (DS, D), Some((U, CAROL))),
            "portal.output_port_membership.denied.v1",
            D,
        )
        .await;
    assert_eq!(at(&d, "output_port_membership.status"), "denied");
    run.capture(
        "role_assignments_dataset",
        "id = '88888888-1111-4000-8000-000000000012'",
    )
    .await;
    run.sql(
        "DELETE FROM role_assignments_dataset WHERE id = '88888888-1111-4000-8000-000000000012'",
    )
    .await;
    let d = run
        .event(
            rec(
                "dataset_role_assignment_removed",
                (DS, D2),
                Some((U, CAROL)),
            ),
            "portal.output_port_membership.removed.v1",
            D2,
        )
        .await;
    assert_eq!(at(&d, "output_port_membership.status"), "removed");
    assert_eq!(
        at(&d, "output_port_membership.user.email"),
        "carol@example.com"
    );

    // ---- output port removed (DATASET → DATA_PRODUCT), from captured deletes ----
    run.sql(&format!(
        "INSERT INTO datasets(id, namespace, name, status, access_type, data_product_id) VALUES
           ('{D3}', 'revenue-monthly', 'Revenue monthly', 'ACTIVE', 'PUBLIC', '{P}');
         INSERT INTO data_outputs_datasets(id, data_output_id, dataset_id, status) VALUES
           ('55555555-0000-4000-8000-000000000004', '{A}', '{D3}', 'APPROVED');"
    ))
    .await;
    run.capture("datasets", &format!("id = '{D3}'")).await;
    run.capture("data_outputs_datasets", &format!("dataset_id = '{D3}'"))
        .await;
    run.sql(&format!("DELETE FROM datasets WHERE id = '{D3}'"))
        .await;
    let d = run
        .event(
            rec("dataset_removed", (DS, D3), Some((DP, P))),
            "portal.output_port.removed.v1",
            D3,
        )
        .await;
    assert_eq!(at(&d, "state"), "last_known");
    assert_eq!(at(&d, "output_port.status"), "removed");
    assert_eq!(at(&d, "output_port.namespace"), "revenue-monthly");
    assert_eq!(at(&d, "output_port.access_type"), "public");
    assert_eq!(at(&d, "output_port.data_product.name"), "Revenue");
    assert_eq!(
        at(&d, "output_port.technical_assets.0.technical_asset.id"),
        A
    );
    assert_eq!(
        at(
            &d,
            "output_port.technical_assets.0.technical_asset.configuration.bucket"
        ),
        "datalake"
    );

    // ---- data product removed: the product and its team are gone ----
    run.sql(&format!(
        "INSERT INTO abstract_data_products(id, name, namespace, status) VALUES
           ('11111111-0000-4000-8000-000000000005', 'Old', 'old', 'archived');
         INSERT INTO data_products(id, lifecycle_id) VALUES
           ('11111111-0000-4000-8000-000000000005', '77777777-0000-4000-8000-000000000003');
         INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision) VALUES
           ('88888888-0000-4000-8000-000000000020', '11111111-0000-4000-8000-000000000005', '{ALICE}', '{R_OWNER}', 'APPROVED');"
    ))
    .await;
    let old = "11111111-0000-4000-8000-000000000005";
    run.capture("abstract_data_products", &format!("id = '{old}'"))
        .await;
    run.capture("data_products", &format!("id = '{old}'")).await;
    run.capture(
        "role_assignments_data_product",
        &format!("data_product_id = '{old}'"),
    )
    .await;
    run.sql(&format!(
        "DELETE FROM abstract_data_products WHERE id = '{old}'"
    ))
    .await;
    let d = run
        .event(
            rec("data_product_removed", (DP, old), None),
            "portal.data_product.removed.v1",
            old,
        )
        .await;
    assert_eq!(at(&d, "state"), "last_known");
    assert_eq!(at(&d, "data_product.status"), "removed");
    assert_eq!(at(&d, "data_product.namespace"), "old");
    assert_eq!(at(&d, "data_product.lifecycle.name"), "Production");
    assert_eq!(
        at(&d, "data_product.owners.0.user.email"),
        "alice@example.com"
    );

    let all: BTreeSet<String> = Catalog::portal()
        .audit_specs()
        .map(|s| s.key.to_string())
        .collect();
    let missing: Vec<&String> = all.difference(&run.covered).collect();
    assert!(
        missing.is_empty(),
        "audit names without a scenario: {missing:?}"
    );
}

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
    let evs = enricher.enrich(c, &[removed], &t).await.unwrap();
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
    let online = enricher.enrich(c, &records, &t).await.unwrap();
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
    let ev = &enricher.enrich(c, &[orphan], &t).await.unwrap()[0];
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
        .enrich(c, &[rec], &Tombstones::new())
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
        .enrich(&db.client, &records, &Tombstones::new())
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
async fn one_query_per_entity_kind_per_batch() {
    let db = start_with(
        relay_tempdb::ClusterOptions::default()
            .set("shared_preload_libraries", "pg_stat_statements"),
    )
    .await;
    let c = &db.client;
    c.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .await
        .unwrap();
    // Ten consumers get access to D; ten products are created.
    let mut records = Vec::new();
    for i in 0..10 {
        let consumer = format!("11111111-2222-4000-8000-{i:012}");
        let product = format!("11111111-3333-4000-8000-{i:012}");
        c.batch_execute(&format!(
            "INSERT INTO abstract_data_products(id, name, namespace) VALUES
               ('{consumer}', 'Consumer {i}', 'consumer-{i}'), ('{product}', 'Product {i}', 'product-{i}');
             INSERT INTO data_products(id) VALUES ('{consumer}'), ('{product}');
             INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status) VALUES
               ('99999999-2222-4000-8000-{i:012}', '{consumer}', '{D}', 'APPROVED');"
        ))
        .await
        .unwrap();
        records.push(rec(
            "data_product_dataset_link_approved",
            ("DATASET", D),
            Some(("DATA_PRODUCT", &consumer)),
        ));
        records.push(rec(
            "data_product_created",
            ("DATA_PRODUCT", &product),
            None,
        ));
    }
    c.batch_execute("SELECT pg_stat_statements_reset()")
        .await
        .unwrap();
    let evs = Enricher::default()
        .enrich(c, &records, &Tombstones::new())
        .await
        .unwrap();
    assert_eq!(evs.len(), 20);
    assert!(evs.iter().all(|e| e.enriched));
    for (i, ev) in evs.iter().enumerate() {
        envelope(ev);
        if i % 2 == 0 {
            assert_eq!(ev.subject, format!("99999999-2222-4000-8000-{:012}", i / 2));
            assert_eq!(
                at(&ev.data, "access.consumer.name"),
                format!("Consumer {}", i / 2).as_str()
            );
        } else {
            assert_eq!(
                at(&ev.data, "data_product.name"),
                format!("Product {}", i / 2).as_str()
            );
        }
    }
    let rows = c
        .query(
            "SELECT query, calls FROM pg_stat_statements
             WHERE query LIKE '%::text[]::uuid[]%' AND query NOT LIKE '%pg_stat_statements%'",
            &[],
        )
        .await
        .unwrap();
    let total: i64 = rows.iter().map(|r| r.get::<_, i64>(1)).sum();
    for r in &rows {
        assert_eq!(
            r.get::<_, i64>(1),
            1,
            "ran more than once: {}",
            r.get::<_, String>(0)
        );
    }
    let named = Catalog::portal().queries().len() as i64;
    assert!(
        (5..=named).contains(&total),
        "{total} lookups for 20 events (at most {named}, one per entity kind)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_down_is_retryable_and_a_broken_schema_is_not() {
    let db = start().await;
    let records = [rec("dataset_created", ("DATASET", D), None)];
    let enricher = Enricher::default();
    assert!(
        enricher
            .enrich(&db.client, &records, &Tombstones::new())
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
        .enrich(&db.client, &records, &Tombstones::new())
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
        .enrich(&db.client, &records, &Tombstones::new())
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("unavailable"), "{err}");
    tokio::task::block_in_place(|| cluster.start_again()).unwrap();
    let client = connect(&cluster.conninfo("portal")).await;
    let evs = enricher
        .enrich(&client, &records, &Tombstones::new())
        .await
        .unwrap();
    assert!(evs[0].enriched);
}

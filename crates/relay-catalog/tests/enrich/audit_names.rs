//! One scenario per audit name: the portal's change, then the audit row the portal
//! writes, enriched into its business event.

use crate::common::*;
use crate::support::*;
use relay_catalog::{Catalog, Enricher, Tombstones};
use serde_json::{json, Value};
use std::collections::BTreeSet;

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

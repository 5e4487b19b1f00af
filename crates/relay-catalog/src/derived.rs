//! Derived events: what the portal does not audit but a provisioner must hear about —
//! access expiry, children deleted in cascade with a data product, and deletes whose
//! audit row never came. Their ids are UUIDv5 over (kind, entity id, commit LSN), so a
//! replay of the same WAL yields the same ids.

use serde_json::{Map, Value};

use crate::catalog::{
    DERIVED_ACCESS_CASCADE, DERIVED_ACCESS_EXPIRED, DERIVED_ACCESS_EXPLORATION,
    DERIVED_ACCESS_ORPHAN, DERIVED_ASSET_CASCADE, DERIVED_ASSET_ORPHAN, DERIVED_LINK_ORPHAN,
    DERIVED_PORT_CASCADE, DERIVED_PORT_MEMBERSHIP_ORPHAN, DERIVED_PORT_ORPHAN,
    DERIVED_PRODUCT_MEMBERSHIP_ORPHAN, DERIVED_PRODUCT_ORPHAN,
};
use crate::enricher::Enricher;
use crate::model::{AuditRecord, BusinessEvent};
use crate::store::text;
use crate::tombstones::{id_key, Row, Tombstones};

/// Kinds in the UUIDv5 ids of derived events (fixed forever: they are part of the ids).
const KIND_ACCESS_EXPIRED: &str = "access.expired";
const KIND_PORT_CASCADE: &str = "output_port.removed.cascade";
const KIND_ASSET_CASCADE: &str = "technical_asset.removed.cascade";
const KIND_ACCESS_CASCADE: &str = "access.removed.cascade";

fn derived_record(
    name: &str,
    kind: &str,
    entity: &str,
    commit_lsn: u64,
    subject: (&str, Option<&str>),
    target: (&str, Option<&str>),
) -> AuditRecord {
    AuditRecord {
        id: relay_contracts::derived_event_id(kind, &id_key(entity), commit_lsn),
        name: name.into(),
        subject_type: subject.0.into(),
        subject_id: subject.1.map(id_key),
        target_type: Some(target.0.into()),
        target_id: target.1.map(id_key),
        // Access and asset-link events derived from a row name that row's link.
        link_id: matches!(
            name,
            DERIVED_ACCESS_EXPIRED
                | DERIVED_ACCESS_CASCADE
                | DERIVED_ACCESS_EXPLORATION
                | DERIVED_ACCESS_ORPHAN
                | DERIVED_LINK_ORPHAN
        )
        .then(|| id_key(entity)),
        ..AuditRecord::default()
    }
}

/// The record of an access expiry (not audited by the portal: a background job sets
/// `input_ports.status = 'EXPIRED'`), from the updated `input_ports` row (text columns).
/// Its id is a UUIDv5 over (`access.expired`, input port id, commit LSN), so a replay of
/// the same WAL yields the same id. Enrich it with [`Enricher::enrich`].
pub fn access_expired_record(input_port_row: &Map<String, Value>, commit_lsn: u64) -> AuditRecord {
    let id = text(input_port_row, "id").unwrap_or_default();
    derived_record(
        DERIVED_ACCESS_EXPIRED,
        KIND_ACCESS_EXPIRED,
        id,
        commit_lsn,
        (
            "DATA_PRODUCT",
            text(input_port_row, "consuming_abstract_data_product_id"),
        ),
        ("DATASET", text(input_port_row, "dataset_id")),
    )
}

/// `portal.access.expired.v1` from the updated `input_ports` row alone, without lookups
/// (consumer and output port are named by id; `data.enrichment.status` is
/// `not_looked_up`). For the full payload, enrich [`access_expired_record`] instead.
pub fn access_expired_event(input_port_row: &Map<String, Value>, commit_lsn: u64) -> BusinessEvent {
    let rec = access_expired_record(input_port_row, commit_lsn);
    Enricher::default()
        .build_offline(
            &[rec],
            &Tombstones::new(),
            &[("input_ports", input_port_row.clone())],
        )
        .remove(0)
}

/// The records of what was deleted in cascade with data product `product_id` (the portal
/// audits one `data_product_removed` only): its output ports (`datasets.data_product_id`),
/// its technical assets (`data_outputs.owner_id`), and the access links whose consumer is
/// the product or whose output port was one of its ports, as found in `tombstones`.
/// Ids are UUIDv5 over (kind, entity id, commit LSN). Ordered: access links, technical
/// assets, output ports (a provisioner revokes grants before it drops what they grant on).
pub fn cascade_removed_records(
    product_id: &str,
    tombstones: &Tombstones,
    commit_lsn: u64,
) -> Vec<AuditRecord> {
    let ports = tombstones.find_by("datasets", "data_product_id", product_id);
    let assets = tombstones.find_by("data_outputs", "owner_id", product_id);
    let mut links: Vec<&Row> = tombstones.find_by(
        "input_ports",
        "consuming_abstract_data_product_id",
        product_id,
    );
    for port in &ports {
        if let Some(pid) = text(port, "id") {
            links.extend(tombstones.find_by("input_ports", "dataset_id", pid));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for link in links {
        let Some(id) = text(link, "id") else { continue };
        if !seen.insert(id_key(id)) {
            continue;
        }
        out.push(derived_record(
            DERIVED_ACCESS_CASCADE,
            KIND_ACCESS_CASCADE,
            id,
            commit_lsn,
            (
                "DATA_PRODUCT",
                text(link, "consuming_abstract_data_product_id"),
            ),
            ("DATASET", text(link, "dataset_id")),
        ));
    }
    for asset in assets {
        let Some(id) = text(asset, "id") else {
            continue;
        };
        out.push(derived_record(
            DERIVED_ASSET_CASCADE,
            KIND_ASSET_CASCADE,
            id,
            commit_lsn,
            ("DATA_OUTPUT", Some(id)),
            ("DATA_PRODUCT", Some(product_id)),
        ));
    }
    for port in ports {
        let Some(id) = text(port, "id") else { continue };
        out.push(derived_record(
            DERIVED_PORT_CASCADE,
            KIND_PORT_CASCADE,
            id,
            commit_lsn,
            ("DATASET", Some(id)),
            ("DATA_PRODUCT", Some(product_id)),
        ));
    }
    out
}

/// The records of an exploration's deletion: the removal of each access link it
/// consumed, found in `tombstones` (what its transaction deleted). The exploration
/// itself is not announced: the portal never audits explorations, and an exploration is
/// not a data product. Ids: UUIDv5 over (`access.removed.exploration`, link id, commit
/// LSN of the deleting transaction).
pub fn exploration_removed_records(
    exploration_id: &str,
    tombstones: &Tombstones,
    commit_lsn: u64,
) -> Vec<AuditRecord> {
    tombstones
        .find_by(
            "input_ports",
            "consuming_abstract_data_product_id",
            exploration_id,
        )
        .into_iter()
        .filter_map(|link| {
            let id = text(link, "id")?;
            Some(derived_record(
                DERIVED_ACCESS_EXPLORATION,
                "access.removed.exploration",
                id,
                commit_lsn,
                ("DATA_PRODUCT", Some(exploration_id)),
                ("DATASET", text(link, "dataset_id")),
            ))
        })
        .collect()
}

/// Whether a captured `abstract_data_products` row is an exploration.
pub fn is_exploration(row: &Row) -> bool {
    text(row, "abstract_data_product_type").is_some_and(|t| t.eq_ignore_ascii_case("explorations"))
}

/// The events of [`cascade_removed_records`], built from `tombstones` alone (no lookups:
/// everything deleted with the product is in the tombstones; a live entity they refer to,
/// e.g. the consumer of an access link to a removed port, is named by id).
pub fn cascade_removed_events(
    product_id: &str,
    tombstones: &Tombstones,
    commit_lsn: u64,
) -> Vec<BusinessEvent> {
    let records = cascade_removed_records(product_id, tombstones, commit_lsn);
    Enricher::default().build_offline(&records, tombstones, &[])
}

/// The removal record of a captured delete whose audit row did not arrive within the
/// pipeline's bounded hold (`data.derived.reason = "audit_row_missing"`), for the tables
/// whose rows are entities: `abstract_data_products`, `datasets`, `data_outputs`,
/// `input_ports`, `data_outputs_datasets`, `role_assignments_data_product`,
/// `role_assignments_dataset`. `None` for other tables (their rows are parts of those
/// entities) and rows without an id. Its id is a UUIDv5 over
/// (`<entity>.removed.orphan`, row id, `commit_lsn` of the delete). For a data product,
/// also emit [`cascade_removed_records`] for its children.
pub fn orphan_removed_record(table: &str, row: &Row, commit_lsn: u64) -> Option<AuditRecord> {
    let id = text(row, "id")?;
    let col = |c: &str| text(row, c);
    let table = crate::tombstones::table_key(table);
    let (name, kind, subject, target) = match table.as_str() {
        "abstract_data_products" => (
            DERIVED_PRODUCT_ORPHAN,
            "data_product.removed.orphan",
            ("DATA_PRODUCT", Some(id)),
            None,
        ),
        "datasets" => (
            DERIVED_PORT_ORPHAN,
            "output_port.removed.orphan",
            ("DATASET", Some(id)),
            Some(("DATA_PRODUCT", col("data_product_id"))),
        ),
        "data_outputs" => (
            DERIVED_ASSET_ORPHAN,
            "technical_asset.removed.orphan",
            ("DATA_OUTPUT", Some(id)),
            Some(("DATA_PRODUCT", col("owner_id"))),
        ),
        "input_ports" => (
            DERIVED_ACCESS_ORPHAN,
            "access.removed.orphan",
            ("DATA_PRODUCT", col("consuming_abstract_data_product_id")),
            Some(("DATASET", col("dataset_id"))),
        ),
        "data_outputs_datasets" => (
            DERIVED_LINK_ORPHAN,
            "technical_asset_link.removed.orphan",
            ("DATA_OUTPUT", col("data_output_id")),
            Some(("DATASET", col("dataset_id"))),
        ),
        "role_assignments_data_product" => (
            DERIVED_PRODUCT_MEMBERSHIP_ORPHAN,
            "data_product_membership.removed.orphan",
            ("DATA_PRODUCT", col("data_product_id")),
            Some(("USER", col("user_id"))),
        ),
        "role_assignments_dataset" => (
            DERIVED_PORT_MEMBERSHIP_ORPHAN,
            "output_port_membership.removed.orphan",
            ("DATASET", col("dataset_id")),
            Some(("USER", col("user_id"))),
        ),
        _ => return None,
    };
    let mut rec = derived_record(
        name,
        kind,
        id,
        commit_lsn,
        subject,
        target.unwrap_or(("", None)),
    );
    if target.is_none() {
        rec.target_type = None;
    }
    Some(rec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_use_the_relay_layout() {
        let row = crate::old_tuple_row([
            ("id", Some("99999999-0000-4000-8000-000000000007")),
            (
                "consuming_abstract_data_product_id",
                Some("11111111-0000-4000-8000-000000000002"),
            ),
            ("dataset_id", Some("22222222-0000-4000-8000-000000000001")),
        ]);
        let rec = access_expired_record(&row, 42);
        assert_eq!(
            rec.id,
            relay_contracts::derived_event_id(
                "access.expired",
                "99999999-0000-4000-8000-000000000007",
                42
            )
        );
        assert_eq!(rec.actor_id, "");
        assert_eq!(rec.subject_type, "DATA_PRODUCT");
        assert_eq!(rec.target_type.as_deref(), Some("DATASET"));
    }
}

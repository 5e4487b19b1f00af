//! The enricher: audit records of one transaction → business events.
//!
//! [`Enricher::enrich`] takes every audit record of one transaction, runs the catalog's
//! lookups for all of them at once (one query per entity kind, `WHERE id = ANY($1)`,
//! independent queries pipelined on the one connection), falls back on [`Tombstones`]
//! for rows that are gone, and builds one [`BusinessEvent`] per record, in order.
//!
//! Failure policy: an entity that is not found is not an error (the event says so in
//! `data.enrichment`); an unknown audit name is not an error (`portal.unknown.v1`); a
//! lookup that fails is an [`EnrichError`], retryable when the database is unreachable.

use serde_json::{json, Map, Value};
use std::time::SystemTime;

use crate::build;
use crate::catalog::{
    Catalog, EventSpec, DERIVED_ACCESS_CASCADE, DERIVED_ACCESS_EXPIRED, DERIVED_ACCESS_ORPHAN,
    DERIVED_ASSET_CASCADE, DERIVED_ASSET_ORPHAN, DERIVED_LINK_ORPHAN, DERIVED_PORT_CASCADE,
    DERIVED_PORT_MEMBERSHIP_ORPHAN, DERIVED_PORT_ORPHAN, DERIVED_PRODUCT_MEMBERSHIP_ORPHAN,
    DERIVED_PRODUCT_ORPHAN,
};
use crate::lookup;
use crate::store::{text, Store};
use crate::tombstones::{id_key, Row, Tombstones};

/// One row of the portal's audit table `events`, as captured (text values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditRecord {
    /// The audit row's primary key: the event id.
    pub id: String,
    /// Lower-case action, e.g. `data_product_created`.
    pub name: String,
    /// `DATA_PRODUCT`, `DATASET`, `DATA_OUTPUT` or `USER`.
    pub subject_type: String,
    pub subject_id: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Who did it (`users.id`); empty for derived events.
    pub actor_id: String,
    pub deleted_subject_identifier: Option<String>,
    pub deleted_target_identifier: Option<String>,
    /// `timestamp without time zone` text (UTC), e.g. `2026-11-29 08:35:06.629784`.
    pub created_on: Option<String>,
}

impl AuditRecord {
    /// Build a record from a captured `events` row (column → text value or `null`), e.g.
    /// the JSON object the `portal` capture profile puts in `data`. `None` when `id`,
    /// `name` or `subject_type` is missing.
    pub fn from_row(row: &Map<String, Value>) -> Option<AuditRecord> {
        let s = |c: &str| row.get(c).and_then(Value::as_str).map(str::to_string);
        Some(AuditRecord {
            id: s("id")?,
            name: s("name")?,
            subject_type: s("subject_type")?,
            subject_id: s("subject_id"),
            target_type: s("target_type"),
            target_id: s("target_id"),
            actor_id: s("actor_id").unwrap_or_default(),
            deleted_subject_identifier: s("deleted_subject_identifier"),
            deleted_target_identifier: s("deleted_target_identifier"),
            created_on: s("created_on"),
        })
    }
}

/// A business event: what the relay delivers (the envelope's variable parts).
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessEvent {
    /// CloudEvents `id`: the audit row id, or a UUIDv5 for derived events.
    pub id: String,
    /// CloudEvents `type`, e.g. `portal.access.approved.v1`.
    pub event_type: String,
    /// `<entity>.<action>`: broker subject suffix (NATS: `portal.events.<route>`).
    pub route: String,
    /// CloudEvents `subject`: the aggregate id, the per-entity ordering key.
    pub subject: String,
    /// The audit row's `name` (CloudEvents `auditname`); empty for derived events.
    pub audit_name: String,
    /// The business payload (CloudEvents `data`).
    pub data: Value,
    /// `false` when something the audit row names was not found (see
    /// `data.enrichment.missing`) or the audit name is unknown.
    pub enriched: bool,
}

/// The envelope attributes that come from the transaction and the relay.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeContext<'a> {
    /// CloudEvents `source`, e.g. `/data-product-portal`.
    pub source: &'a str,
    /// Commit time, RFC 3339 (e.g. from `relay_events::pg_micros_to_rfc3339`).
    pub time: &'a str,
    /// The transaction's commit LSN.
    pub commit_lsn: u64,
    /// When the lookups ran, RFC 3339 (e.g. [`now_rfc3339`]).
    pub enriched_at: &'a str,
}

impl BusinessEvent {
    /// The CloudEvents 1.0 envelope (structured mode) the JSON Schemas in `docs/schemas/`
    /// describe. `auditname` is left out for derived events.
    pub fn to_cloudevent(&self, ctx: &EnvelopeContext<'_>) -> Value {
        let mut env = json!({
            "specversion": "1.0",
            "id": self.id,
            "source": ctx.source,
            "type": self.event_type,
            "subject": self.subject,
            "time": ctx.time,
            "datacontenttype": "application/json",
            "commitlsn": relay_events::format_lsn(ctx.commit_lsn),
            "enrichedat": ctx.enriched_at,
            "data": self.data,
        });
        if !self.audit_name.is_empty() {
            env["auditname"] = json!(self.audit_name);
        }
        env
    }
}

/// The current time in RFC 3339 with microseconds (for `enrichedat`).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_micros(SystemTime::now()).to_string()
}

/// Why a batch could not be enriched. Nothing was emitted; the caller retries the whole
/// batch (the LSN does not move) when [`EnrichError::is_retryable`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrichError {
    /// The database could not be reached or the connection broke (or the server is
    /// shutting down, overloaded, or cancelled the query). Reconnect and retry.
    #[error("lookup `{query}` failed, the portal database is unavailable: {source}")]
    Unavailable {
        query: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    /// The query itself is wrong for this database: a missing table or column, no
    /// SELECT privilege, a value that does not convert. Retrying will not help: fix the
    /// schema or grants (the message names the query and the SQLSTATE).
    #[error("lookup `{query}` failed ({code}): {message}; check that the portal schema matches the catalog and that the relay's role may SELECT it")]
    Query {
        query: &'static str,
        code: String,
        message: String,
        #[source]
        source: tokio_postgres::Error,
    },
}

impl EnrichError {
    /// Whether retrying the same batch later can succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, EnrichError::Unavailable { .. })
    }

    /// The named query that failed.
    pub fn query(&self) -> &'static str {
        match self {
            EnrichError::Unavailable { query, .. } | EnrichError::Query { query, .. } => query,
        }
    }
}

/// Turns audit records into business events with the catalog's lookups.
#[derive(Debug, Clone, Default)]
pub struct Enricher {
    catalog: Catalog,
}

impl Enricher {
    pub fn new(catalog: Catalog) -> Self {
        Self { catalog }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Enrich all records of ONE transaction with batched lookups (one query per entity
    /// kind per batch, `WHERE id = ANY($1)`), not one query per event. Returns one event per
    /// record, in the records' order. Derived records ([`access_expired_record`],
    /// [`cascade_removed_records`]) are enriched the same way.
    ///
    /// `tombstones` are the deleted rows captured so far (this transaction's and those
    /// held from earlier ones); a row no lookup finds is taken from them
    /// (`"state": "last_known"`).
    ///
    /// # Errors
    /// [`EnrichError`] when a lookup fails; nothing is returned for the batch. Retry it
    /// (on a new connection) when [`EnrichError::is_retryable`].
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads. Dropping the future leaves nothing half done.
    pub async fn enrich(
        &self,
        client: &tokio_postgres::Client,
        records: &[AuditRecord],
        tombstones: &Tombstones,
    ) -> Result<Vec<BusinessEvent>, EnrichError> {
        let specs: Vec<Option<&'static EventSpec>> =
            records.iter().map(|r| self.catalog.spec(&r.name)).collect();
        let known: Vec<(&'static EventSpec, &AuditRecord)> = specs
            .iter()
            .zip(records)
            .filter_map(|(s, r)| s.map(|s| (s, r)))
            .collect();
        let mut store = Store::new(tombstones);
        if !known.is_empty() {
            lookup::load(client, &known, &mut store).await?;
        }
        Ok(specs
            .iter()
            .zip(records)
            .map(|(spec, rec)| match spec {
                Some(spec) => build::build(spec, rec, &store, true),
                None => build::unknown(rec),
            })
            .collect())
    }

    /// Build events without any lookup, from `tombstones` (and `extra` live rows) only:
    /// what a derived event can say when no database connection is at hand. Anything not
    /// covered is listed in `data.enrichment.missing` with status `not_looked_up`.
    pub fn build_offline(
        &self,
        records: &[AuditRecord],
        tombstones: &Tombstones,
        extra: &[(&str, Row)],
    ) -> Vec<BusinessEvent> {
        let mut store = Store::new(tombstones);
        for (table, row) in extra {
            store.put(table, row.clone());
        }
        records
            .iter()
            .map(|rec| match self.catalog.spec(&rec.name) {
                Some(spec) => build::build(spec, rec, &store, false),
                None => build::unknown(rec),
            })
            .collect()
    }
}

// ---- derived events ------------------------------------------------------------------

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
        id: relay_events::derived_event_id(kind, &id_key(entity), commit_lsn),
        name: name.into(),
        subject_type: subject.0.into(),
        subject_id: subject.1.map(id_key),
        target_type: Some(target.0.into()),
        target_id: target.1.map(id_key),
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
    fn records_come_from_the_portal_profiles_row_map() {
        // What the `portal` capture profile puts in `data`: every column, text or null.
        let data = json!({
            "id": "f60ab4e8-9428-4779-8702-3fe5ccf40fbb", "name": "data_product_removed",
            "subject_type": "DATA_PRODUCT", "subject_id": "55555555-5555-4555-8555-555555555555",
            "target_type": null, "target_id": null, "actor_id": "11111111-1111-4111-8111-111111111111",
            "deleted_subject_identifier": "Forecast", "deleted_target_identifier": null,
            "created_on": "2026-11-29 09:08:00.687546", "updated_on": null, "deleted_at": null
        });
        let rec = AuditRecord::from_row(data.as_object().unwrap()).unwrap();
        assert_eq!(rec.name, "data_product_removed");
        assert_eq!(rec.deleted_subject_identifier.as_deref(), Some("Forecast"));
        assert_eq!(rec.target_type, None);
        let mut no_name = data.as_object().unwrap().clone();
        no_name.insert("name".into(), Value::Null);
        assert!(AuditRecord::from_row(&no_name).is_none());
    }

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
            relay_events::derived_event_id(
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

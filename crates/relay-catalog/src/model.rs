//! The catalog's model: what comes in (an [`AuditRecord`]), what goes out (a
//! [`BusinessEvent`] and its envelope), the ids a record names ([`Refs`]) and the
//! enrichment statuses. A leaf: it imports only the catalog's vocabulary.

use serde_json::{json, Map, Value};

use crate::catalog::RefType;
use crate::tombstones::id_key;

/// Enrichment status: everything the audit row names was found.
pub const STATUS_COMPLETE: &str = "complete";
/// Enrichment status: something the audit row names was found neither by a lookup nor in
/// the tombstones; `missing` lists it.
pub const STATUS_NOT_FOUND: &str = "entity_not_found";
/// Enrichment status: built without lookups (derived events from captured rows only);
/// `missing` lists what the captured rows did not cover.
pub const STATUS_NOT_LOOKED_UP: &str = "not_looked_up";
/// Enrichment status: everything was found, but a technical asset's configuration is
/// of a type the catalog does not know, so its fields are not in the event; `missing`
/// names it (`configuration_type:<type>`).
pub const STATUS_UNKNOWN_CONFIGURATION: &str = "unknown_configuration_type";
/// Enrichment status of `portal.unknown.v1` events.
pub const STATUS_UNKNOWN_NAME: &str = "unknown_audit_name";

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
    /// For access and technical-asset-link events: the link (`input_ports` /
    /// `data_outputs_datasets` id) the pair named by the audit row had in the WAL up to
    /// the record's commit. Set by the enrich stage, never by a lookup, so a live run and
    /// a replay name the same link.
    pub link_id: Option<String>,
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
            link_id: None,
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
    /// Commit time, RFC 3339 (e.g. from `relay_contracts::pg_micros_to_rfc3339`).
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
            "commitlsn": relay_contracts::format_lsn(ctx.commit_lsn),
            "enrichedat": ctx.enriched_at,
            "data": self.data,
        });
        if !self.audit_name.is_empty() {
            env["auditname"] = json!(self.audit_name);
        }
        env
    }

    /// [`BusinessEvent::to_cloudevent`] encoded as JSON, without building the envelope
    /// as a `Value` first (no copy of `data`): the same bytes, keys in the same
    /// (sorted) order.
    pub fn encode_cloudevent(&self, ctx: &EnvelopeContext<'_>) -> Vec<u8> {
        #[derive(serde::Serialize)]
        struct Envelope<'a> {
            #[serde(skip_serializing_if = "str::is_empty")]
            auditname: &'a str,
            commitlsn: String,
            data: &'a Value,
            datacontenttype: &'static str,
            enrichedat: &'a str,
            id: &'a str,
            source: &'a str,
            specversion: &'static str,
            subject: &'a str,
            time: &'a str,
            #[serde(rename = "type")]
            event_type: &'a str,
        }
        let env = Envelope {
            auditname: &self.audit_name,
            commitlsn: relay_contracts::format_lsn(ctx.commit_lsn),
            data: &self.data,
            datacontenttype: "application/json",
            enrichedat: ctx.enriched_at,
            id: &self.id,
            source: ctx.source,
            specversion: "1.0",
            subject: &self.subject,
            time: ctx.time,
            event_type: &self.event_type,
        };
        serde_json::to_vec(&env).unwrap_or_default()
    }
}

/// The entity ids an audit record names, by type.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refs {
    pub product: Option<String>,
    pub port: Option<String>,
    pub asset: Option<String>,
    pub user: Option<String>,
    pub subject: Option<RefType>,
    pub target: Option<RefType>,
    /// The access or asset link, when the WAL named it ([`AuditRecord::link_id`]).
    pub link: Option<String>,
}

pub fn refs(rec: &AuditRecord) -> Refs {
    let mut r = Refs {
        subject: RefType::parse(&rec.subject_type),
        target: rec.target_type.as_deref().and_then(RefType::parse),
        link: rec.link_id.as_deref().map(id_key),
        ..Refs::default()
    };
    let pairs = [
        (r.subject, rec.subject_id.as_deref()),
        (r.target, rec.target_id.as_deref()),
    ];
    for (t, id) in pairs {
        let (Some(t), Some(id)) = (t, id.filter(|s| !s.trim().is_empty())) else {
            continue;
        };
        let slot = match t {
            RefType::DataProduct => &mut r.product,
            RefType::Dataset => &mut r.port,
            RefType::DataOutput => &mut r.asset,
            RefType::User => &mut r.user,
        };
        slot.get_or_insert_with(|| id_key(id));
    }
    r
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
}

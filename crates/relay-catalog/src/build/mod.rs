//! Payload builders: an audit record and the rows of its batch → a [`BusinessEvent`].
//!
//! Pure functions over a [`Store`]; the lookups that fill it are in `lookup.rs`. One
//! module per entity (`data_product`, `output_port`, `technical_asset`, `access`,
//! `membership`, `link`), the parts they share in `parts`. Every
//! payload has the same keys whatever was found (unknown values are `null`, unknown lists
//! empty), so consumers see one shape per event type.

mod access;
mod data_product;
mod link;
mod membership;
mod output_port;
mod parts;
mod technical_asset;

use serde_json::{json, Map, Value};

use crate::catalog::{Entity, EventSpec, Origin, Side, UNKNOWN_EVENT_TYPE, UNKNOWN_ROUTE};
use crate::model::{
    refs, AuditRecord, BusinessEvent, STATUS_COMPLETE, STATUS_NOT_FOUND, STATUS_NOT_LOOKED_UP,
    STATUS_UNKNOWN_CONFIGURATION, STATUS_UNKNOWN_NAME,
};
use crate::store::{rfc3339, Store};

use access::access_event;
use data_product::data_product_event;
use link::link_event;
use membership::membership_event;
use output_port::output_port_event;
use parts::{actor, state_name, Outcome};
use technical_asset::technical_asset_event;

/// Build the event of one catalogued record.
pub(crate) fn build(
    spec: &EventSpec,
    rec: &AuditRecord,
    store: &Store<'_>,
    looked_up: bool,
) -> BusinessEvent {
    let r = refs(rec);
    let mut out = Outcome::new(looked_up);
    let (entity, subject) = match spec.entity {
        Entity::DataProduct => data_product_event(spec, &r, store, &mut out),
        Entity::OutputPort => output_port_event(spec, &r, store, &mut out),
        Entity::TechnicalAsset => technical_asset_event(spec, &r, store, &mut out),
        Entity::Access => access_event(spec, &r, store, &mut out),
        Entity::DataProductMembership | Entity::OutputPortMembership => {
            membership_event(spec, &r, store, &mut out)
        }
        Entity::TechnicalAssetLink => link_event(spec, &r, store, &mut out),
    };
    let subject = subject
        .or_else(|| rec.subject_id.clone())
        .unwrap_or_else(|| rec.id.clone());
    let mut data = Map::new();
    data.insert("action".into(), json!(spec.action));
    data.insert("state".into(), json!(state_name(out.state)));
    data.insert(
        "occurred_on".into(),
        rec.created_on
            .as_deref()
            .map_or(Value::Null, |t| json!(rfc3339(t))),
    );
    data.insert("actor".into(), actor(store, &rec.actor_id, &mut out.read));
    if spec.entity == Entity::Access {
        let side = spec
            .orientation_for(r.subject, r.target)
            .and_then(|o| o.side)
            .filter(|_| spec.origin == Origin::Audit)
            .map(Side::name);
        data.insert("side".into(), json!(side));
    }
    data.insert(spec.entity.name().into(), entity);
    if let Some(reason) = spec.derived_reason() {
        data.insert("derived".into(), json!({ "reason": reason }));
    }
    let only_unknown_types = !out.missing.is_empty()
        && out
            .missing
            .iter()
            .all(|m| m.starts_with("configuration_type:"));
    let status = match (out.missing.is_empty(), looked_up) {
        (true, _) => STATUS_COMPLETE,
        _ if only_unknown_types => STATUS_UNKNOWN_CONFIGURATION,
        (false, true) => STATUS_NOT_FOUND,
        (false, false) => STATUS_NOT_LOOKED_UP,
    };
    let enriched = out.missing.is_empty();
    data.insert(
        "enrichment".into(),
        json!({
            "status": status,
            "missing": out.missing,
            "read_at_enrichment": out.read.into_value(),
        }),
    );
    BusinessEvent {
        id: rec.id.clone(),
        event_type: spec.event_type(),
        route: spec.route(),
        subject,
        audit_name: spec.audit_name().unwrap_or_default().to_string(),
        data: Value::Object(data),
        enriched,
    }
}

/// The event of an audit name the catalog does not know: the audit row and a marker.
pub(crate) fn unknown(rec: &AuditRecord) -> BusinessEvent {
    let audit = json!({
        "id": rec.id,
        "name": rec.name,
        "subject_type": rec.subject_type,
        "subject_id": rec.subject_id,
        "target_type": rec.target_type,
        "target_id": rec.target_id,
        "actor_id": rec.actor_id,
        "deleted_subject_identifier": rec.deleted_subject_identifier,
        "deleted_target_identifier": rec.deleted_target_identifier,
        "created_on": rec.created_on,
    });
    BusinessEvent {
        id: rec.id.clone(),
        event_type: UNKNOWN_EVENT_TYPE.into(),
        route: UNKNOWN_ROUTE.into(),
        subject: rec
            .subject_id
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| rec.id.clone()),
        audit_name: rec.name.clone(),
        data: json!({
            "audit": audit,
            "enrichment": { "status": STATUS_UNKNOWN_NAME, "missing": [], "read_at_enrichment": [] },
        }),
        enriched: false,
    }
}

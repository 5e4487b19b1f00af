//! Payload builders: an audit record and the rows of its batch → a [`BusinessEvent`].
//!
//! Pure functions over a [`Store`]; the lookups that fill it are in `lookup.rs`. Every
//! payload has the same keys whatever was found (unknown values are `null`, unknown lists
//! empty), so consumers see one shape per event type.

use serde_json::{json, Map, Value};

use crate::catalog::{
    Aggregate, Entity, EventSpec, Origin, RefType, Side, CONFIGURATION_TYPES, UNKNOWN_EVENT_TYPE,
    UNKNOWN_ROUTE,
};
use crate::enrich::{AuditRecord, BusinessEvent};
use crate::store::{lower_value, rfc3339, text, text_value, time_value, Source, Store};
use crate::tombstones::{id_key, Row};

/// Enrichment status: everything the audit row names was found.
pub const STATUS_COMPLETE: &str = "complete";
/// Enrichment status: something the audit row names was found neither by a lookup nor in
/// the tombstones; `missing` lists it.
pub const STATUS_NOT_FOUND: &str = "entity_not_found";
/// Enrichment status: built without lookups (derived events from captured rows only);
/// `missing` lists what the captured rows did not cover.
pub const STATUS_NOT_LOOKED_UP: &str = "not_looked_up";
/// Enrichment status of `portal.unknown.v1` events.
pub const STATUS_UNKNOWN_NAME: &str = "unknown_audit_name";

/// Role prototype of data product owners (`roles.prototype`).
const OWNER_PROTOTYPE: &str = "2";

/// The entity ids an audit record names, by type.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Refs {
    pub product: Option<String>,
    pub port: Option<String>,
    pub asset: Option<String>,
    pub user: Option<String>,
    pub subject: Option<RefType>,
    pub target: Option<RefType>,
}

pub(crate) fn refs(rec: &AuditRecord) -> Refs {
    let mut r = Refs {
        subject: RefType::parse(&rec.subject_type),
        target: rec.target_type.as_deref().and_then(RefType::parse),
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

/// What a builder learned besides the payload.
struct Outcome {
    state: Option<Source>,
    missing: Vec<String>,
}

impl Outcome {
    fn new() -> Self {
        Self {
            state: None,
            missing: Vec::new(),
        }
    }

    fn need(&mut self, found: bool, what: &str, id: Option<&str>) {
        if !found {
            self.missing.push(format!("{what}:{}", id.unwrap_or("?")));
        }
    }
}

fn state_name(s: Option<Source>) -> &'static str {
    match s {
        Some(Source::Live) => "current",
        Some(Source::Tombstone) => "last_known",
        None => "unknown",
    }
}

/// Build the event of one catalogued record.
pub(crate) fn build(
    spec: &EventSpec,
    rec: &AuditRecord,
    store: &Store<'_>,
    looked_up: bool,
) -> BusinessEvent {
    let r = refs(rec);
    let mut out = Outcome::new();
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
    data.insert("actor".into(), actor(store, &rec.actor_id));
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
    let status = match (out.missing.is_empty(), looked_up) {
        (true, _) => STATUS_COMPLETE,
        (false, true) => STATUS_NOT_FOUND,
        (false, false) => STATUS_NOT_LOOKED_UP,
    };
    data.insert(
        "enrichment".into(),
        json!({ "status": status, "missing": out.missing }),
    );
    BusinessEvent {
        id: rec.id.clone(),
        event_type: spec.event_type(),
        route: spec.route(),
        subject,
        audit_name: spec.audit_name().unwrap_or_default().to_string(),
        data: Value::Object(data),
        enriched: out.missing.is_empty(),
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
            "enrichment": { "status": STATUS_UNKNOWN_NAME, "missing": [] },
        }),
        enriched: false,
    }
}

fn actor(store: &Store<'_>, id: &str) -> Value {
    if id.trim().is_empty() {
        return Value::Null;
    }
    let row = store.get("users", id).map(|(r, _)| r);
    json!({
        "id": id_key(id),
        "email": text_value(row, "email"),
        "external_id": text_value(row, "external_id"),
    })
}

// ---- entities ------------------------------------------------------------------------

/// A data product row merged from `abstract_data_products`, `data_products` and
/// `explorations` (a lookup joins them; tombstones are merged here).
fn product_row(store: &Store<'_>, id: &str) -> Option<(Row, Source)> {
    let (base, src) = store.get("abstract_data_products", id)?;
    let mut row = base.clone();
    if src == Source::Tombstone {
        for extra in ["data_products", "explorations"] {
            if let Some((r, _)) = store.get(extra, id) {
                for (k, v) in r {
                    row.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    Some((row, src))
}

fn product_kind(row: Option<&Row>) -> Value {
    match row.and_then(|r| text(r, "abstract_data_product_type")) {
        Some(t) if t.eq_ignore_ascii_case("explorations") => json!("exploration"),
        Some(t) if t.eq_ignore_ascii_case("data_products") => json!("data_product"),
        Some(t) => json!(t.to_ascii_lowercase()),
        None => Value::Null,
    }
}

fn product_summary(store: &Store<'_>, id: Option<&str>) -> (Value, Option<Source>) {
    let Some(id) = id else {
        return (Value::Null, None);
    };
    let found = product_row(store, id);
    let row = found.as_ref().map(|(r, _)| r);
    (
        json!({
            "id": id_key(id),
            "name": text_value(row, "name"),
            "namespace": text_value(row, "namespace"),
            "kind": product_kind(row),
            "status": lower_value(row, "status"),
        }),
        found.map(|(_, s)| s),
    )
}

fn named(store: &Store<'_>, table: &str, id: Option<&str>) -> Value {
    match id {
        None => Value::Null,
        Some(id) => {
            let row = store.get(table, id).map(|(r, _)| r);
            json!({ "id": id_key(id), "name": text_value(row, "name") })
        }
    }
}

fn user_obj(store: &Store<'_>, id: &str) -> (Value, bool) {
    let row = store.get("users", id).map(|(r, _)| r);
    (
        json!({
            "id": id_key(id),
            "email": text_value(row, "email"),
            "external_id": text_value(row, "external_id"),
            "first_name": text_value(row, "first_name"),
            "last_name": text_value(row, "last_name"),
        }),
        row.is_some(),
    )
}

fn role_obj(store: &Store<'_>, id: Option<&str>) -> Value {
    let Some(id) = id else {
        return Value::Null;
    };
    let row = store.get("roles", id).map(|(r, _)| r);
    let prototype = row
        .and_then(|r| text(r, "prototype"))
        .and_then(|p| p.parse::<i64>().ok());
    json!({
        "id": id_key(id),
        "name": text_value(row, "name"),
        "scope": lower_value(row, "scope"),
        "prototype": prototype,
    })
}

fn member(store: &Store<'_>, row: &Row) -> Value {
    let user = text(row, "user_id").map_or(Value::Null, |u| user_obj(store, u).0);
    json!({
        "id": text_value(Some(row), "id"),
        "user": user,
        "role": role_obj(store, text(row, "role_id")),
        "decision": lower_value(Some(row), "decision"),
    })
}

fn data_product_event(
    spec: &EventSpec,
    r: &Refs,
    store: &Store<'_>,
    out: &mut Outcome,
) -> (Value, Option<String>) {
    let id = r.product.clone();
    let found = id.as_deref().and_then(|id| product_row(store, id));
    out.state = found.as_ref().map(|(_, s)| *s);
    out.need(found.is_some(), "data_product", id.as_deref());
    let row = found.as_ref().map(|(r, _)| r);
    let rows_of_deleted = out.state == Some(Source::Tombstone);
    let members: Vec<(Value, bool)> = id
        .as_deref()
        .map(|id| {
            store
                .find(
                    "role_assignments_data_product",
                    &[("data_product_id", id)],
                    rows_of_deleted,
                )
                .into_iter()
                .map(|(m, _)| {
                    let role = text(m, "role_id").and_then(|rid| store.get("roles", rid));
                    let owner = role
                        .and_then(|(role, _)| text(role, "prototype"))
                        .is_some_and(|p| p == OWNER_PROTOTYPE)
                        && text(m, "decision").is_some_and(|d| d.eq_ignore_ascii_case("approved"));
                    (member(store, m), owner)
                })
                .collect()
        })
        .unwrap_or_default();
    let owners: Vec<Value> = members
        .iter()
        .filter(|(_, owner)| *owner)
        .map(|(m, _)| m.clone())
        .collect();
    let lifecycle = row.and_then(|r| text(r, "lifecycle_id")).map(|lid| {
        let l = store.get("data_product_lifecycles", lid).map(|(r, _)| r);
        let value = l
            .and_then(|l| text(l, "value"))
            .and_then(|v| v.parse::<i64>().ok());
        json!({ "id": id_key(lid), "name": text_value(l, "name"), "value": value })
    });
    let status = spec
        .implied_status
        .map_or_else(|| lower_value(row, "status"), |s| json!(s));
    let entity = json!({
        "id": id.clone(),
        "name": text_value(row, "name"),
        "namespace": text_value(row, "namespace"),
        "kind": product_kind(row),
        "status": status,
        "description": text_value(row, "description"),
        "about": text_value(row, "about"),
        "usage": text_value(row, "usage"),
        "domain": named(store, "domains", row.and_then(|r| text(r, "domain_id"))),
        "type": named(store, "data_product_types", row.and_then(|r| text(r, "type_id"))),
        "lifecycle": lifecycle,
        "exploration_owner_id": text_value(row, "owner_id"),
        "owners": owners,
        "members": members.into_iter().map(|(m, _)| m).collect::<Vec<_>>(),
    });
    (entity, id)
}

/// An output port summary: identity, access type, status and owning product.
fn port_summary(
    store: &Store<'_>,
    id: Option<&str>,
    owner_hint: Option<&str>,
) -> (Value, Option<Source>, Option<Row>) {
    let Some(id) = id else {
        return (Value::Null, None, None);
    };
    let found = store.get("datasets", id).map(|(r, s)| (r.clone(), s));
    let row = found.as_ref().map(|(r, _)| r);
    let owner = row.and_then(|r| text(r, "data_product_id")).or(owner_hint);
    let value = json!({
        "id": id_key(id),
        "name": text_value(row, "name"),
        "namespace": text_value(row, "namespace"),
        "access_type": lower_value(row, "access_type"),
        "status": lower_value(row, "status"),
        "data_product": product_summary(store, owner).0,
    });
    let src = found.as_ref().map(|(_, s)| *s);
    (value, src, found.map(|(r, _)| r))
}

fn configuration(store: &Store<'_>, id: Option<&str>) -> Value {
    let Some(id) = id else {
        return Value::Null;
    };
    let Some((base, _)) = store.get("data_output_configurations", id) else {
        return Value::Null;
    };
    let ctype = text(base, "configuration_type");
    let mut obj = Map::new();
    obj.insert("type".into(), json!(ctype));
    let table = CONFIGURATION_TYPES
        .iter()
        .find(|c| Some(c.configuration_type) == ctype)
        .map(|c| c.table);
    if let Some((row, _)) = table.and_then(|t| store.get(t, id)) {
        for (k, v) in row {
            if !matches!(
                k.as_str(),
                "id" | "type" | "created_on" | "updated_on" | "deleted_at"
            ) {
                obj.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(obj)
}

/// A technical asset: identity, platform, service, configuration, owning product.
fn asset_obj(store: &Store<'_>, id: &str, owner_hint: Option<&str>) -> (Value, Option<Source>) {
    let found = store.get("data_outputs", id);
    let row = found.map(|(r, _)| r);
    let owner = row.and_then(|r| text(r, "owner_id")).or(owner_hint);
    (
        json!({
            "id": id_key(id),
            "name": text_value(row, "name"),
            "namespace": text_value(row, "namespace"),
            "status": lower_value(row, "status"),
            "platform": named(store, "platforms", row.and_then(|r| text(r, "platform_id"))),
            "service": named(store, "platform_services", row.and_then(|r| text(r, "service_id"))),
            "configuration": configuration(store, row.and_then(|r| text(r, "configuration_id"))),
            "data_product": product_summary(store, owner).0,
        }),
        found.map(|(_, s)| s),
    )
}

/// The technical assets linked to an output port, with each link's status.
fn linked_assets(store: &Store<'_>, port: &str, with_tombstones: bool) -> Vec<Value> {
    store
        .find(
            "data_outputs_datasets",
            &[("dataset_id", port)],
            with_tombstones,
        )
        .into_iter()
        .filter_map(|(link, _)| {
            let asset = text(link, "data_output_id")?;
            Some(json!({
                "link_id": text_value(Some(link), "id"),
                "link_status": lower_value(Some(link), "status"),
                "technical_asset": asset_obj(store, asset, None).0,
            }))
        })
        .collect()
}

fn output_port_event(
    spec: &EventSpec,
    r: &Refs,
    store: &Store<'_>,
    out: &mut Outcome,
) -> (Value, Option<String>) {
    let id = r.port.clone();
    let (mut port, src, row) = port_summary(store, id.as_deref(), r.product.as_deref());
    out.state = src;
    out.need(src.is_some(), "output_port", id.as_deref());
    if let Value::Object(obj) = &mut port {
        if let Some(s) = spec.implied_status {
            obj.insert("status".into(), json!(s));
        }
        obj.insert(
            "description".into(),
            text_value(row.as_ref(), "description"),
        );
        let assets = id.as_deref().map_or_else(Vec::new, |p| {
            linked_assets(store, p, src == Some(Source::Tombstone))
        });
        obj.insert("technical_assets".into(), Value::Array(assets));
    }
    if port.is_null() {
        port = empty_port();
    }
    (port, id)
}

fn empty_port() -> Value {
    json!({
        "id": null, "name": null, "namespace": null, "access_type": null, "status": null,
        "data_product": null, "description": null, "technical_assets": [],
    })
}

fn technical_asset_event(
    spec: &EventSpec,
    r: &Refs,
    store: &Store<'_>,
    out: &mut Outcome,
) -> (Value, Option<String>) {
    let id = r.asset.clone();
    let (mut asset, src) = match id.as_deref() {
        Some(a) => asset_obj(store, a, r.product.as_deref()),
        None => (
            json!({
                "id": null, "name": null, "namespace": null, "status": null, "platform": null,
                "service": null, "configuration": null, "data_product": null,
            }),
            None,
        ),
    };
    out.state = src;
    out.need(src.is_some(), "technical_asset", id.as_deref());
    if let (Some(s), Value::Object(obj)) = (spec.implied_status, &mut asset) {
        obj.insert("status".into(), json!(s));
    }
    (asset, id)
}

/// Prefer a live row over a tombstone.
fn pick(rows: Vec<(&Row, Source)>) -> Option<(&Row, Source)> {
    let live = rows.iter().find(|(_, s)| *s == Source::Live).copied();
    live.or_else(|| rows.into_iter().next())
}

fn access_event(
    spec: &EventSpec,
    r: &Refs,
    store: &Store<'_>,
    out: &mut Outcome,
) -> (Value, Option<String>) {
    let (consumer, port) = (r.product.as_deref(), r.port.as_deref());
    let link = match (consumer, port) {
        (Some(c), Some(p)) => pick(store.find(
            "input_ports",
            &[("consuming_abstract_data_product_id", c), ("dataset_id", p)],
            true,
        )),
        _ => None,
    };
    out.state = link.map(|(_, s)| s);
    let link_key = format!("{}/{}", consumer.unwrap_or("?"), port.unwrap_or("?"));
    out.need(link.is_some(), "access", Some(&link_key));
    let (consumer_v, consumer_src) = product_summary(store, consumer);
    out.need(consumer_src.is_some(), "data_product", consumer);
    let (port_v, port_src, _) = port_summary(store, port, None);
    out.need(port_src.is_some(), "output_port", port);
    let link_id = link.and_then(|(row, _)| text(row, "id")).map(id_key);
    let request = link_id.as_deref().and_then(|lid| {
        store
            .find(
                "input_port_requests",
                &[("input_port_id", lid)],
                link.is_some_and(|(_, s)| s == Source::Tombstone),
            )
            .into_iter()
            .max_by(|(a, _), (b, _)| {
                text(a, "created_on")
                    .unwrap_or("")
                    .cmp(text(b, "created_on").unwrap_or(""))
            })
            .map(|(row, _)| row)
    });
    let validity = request.map(|req| {
        json!({
            "access_duration_type": lower_value(Some(req), "access_duration_type"),
            "valid_from": time_value(Some(req), "valid_from"),
            "valid_until": time_value(Some(req), "valid_until"),
            "revoked_at": time_value(Some(req), "revoked_at"),
        })
    });
    let assets = port.map_or_else(Vec::new, |p| {
        linked_assets(store, p, port_src == Some(Source::Tombstone))
    });
    let status = spec
        .implied_status
        .map_or_else(|| lower_value(link.map(|(r, _)| r), "status"), |s| json!(s));
    let entity = json!({
        "id": link_id,
        "status": status,
        "consumer": consumer_v,
        "output_port": port_v,
        "technical_assets": assets,
        "justification": text_value(request, "justification"),
        "validity": validity,
    });
    let subject = link_id.or_else(|| {
        (consumer.is_some() || port.is_some())
            .then(|| format!("access:{}", link_key.replace('/', ":")))
    });
    debug_assert_eq!(spec.aggregate, Aggregate::AccessLink);
    (entity, subject)
}

fn membership_event(
    spec: &EventSpec,
    r: &Refs,
    store: &Store<'_>,
    out: &mut Outcome,
) -> (Value, Option<String>) {
    let on_product = spec.entity == Entity::DataProductMembership;
    let (table, column, owner) = if on_product {
        (
            "role_assignments_data_product",
            "data_product_id",
            r.product.as_deref(),
        )
    } else {
        ("role_assignments_dataset", "dataset_id", r.port.as_deref())
    };
    let user = r.user.as_deref();
    let row = match (owner, user) {
        (Some(o), Some(u)) => pick(store.find(table, &[(column, o), ("user_id", u)], true)),
        _ => None,
    };
    out.state = row.map(|(_, s)| s);
    let key = format!("{}/{}", owner.unwrap_or("?"), user.unwrap_or("?"));
    out.need(row.is_some(), spec.entity.name(), Some(&key));
    let (user_v, user_found) = match user {
        Some(u) => user_obj(store, u),
        None => (Value::Null, false),
    };
    out.need(user_found, "user", user);
    let mut entity = json!({
        "id": row.and_then(|(m, _)| text(m, "id")).map(id_key),
        "status": spec.implied_status,
        "user": user_v,
        "role": role_obj(store, row.and_then(|(m, _)| text(m, "role_id"))),
    });
    if on_product {
        let (p, src) = product_summary(store, owner);
        out.need(src.is_some(), "data_product", owner);
        entity["data_product"] = p;
    } else {
        let (p, src, _) = port_summary(store, owner, None);
        out.need(src.is_some(), "output_port", owner);
        entity["output_port"] = p;
    }
    (entity, owner.map(str::to_string))
}

fn link_event(
    spec: &EventSpec,
    r: &Refs,
    store: &Store<'_>,
    out: &mut Outcome,
) -> (Value, Option<String>) {
    let (asset, port) = (r.asset.as_deref(), r.port.as_deref());
    let link = match (asset, port) {
        (Some(a), Some(p)) => pick(store.find(
            "data_outputs_datasets",
            &[("data_output_id", a), ("dataset_id", p)],
            true,
        )),
        _ => None,
    };
    out.state = link.map(|(_, s)| s);
    let key = format!("{}/{}", asset.unwrap_or("?"), port.unwrap_or("?"));
    out.need(link.is_some(), "technical_asset_link", Some(&key));
    let (asset_v, asset_src) = match asset {
        Some(a) => asset_obj(store, a, None),
        None => (Value::Null, None),
    };
    out.need(asset_src.is_some(), "technical_asset", asset);
    let (port_v, port_src, _) = port_summary(store, port, None);
    out.need(port_src.is_some(), "output_port", port);
    let link_id = link.and_then(|(row, _)| text(row, "id")).map(id_key);
    let entity = json!({
        "id": link_id,
        "status": spec.implied_status,
        "technical_asset": asset_v,
        "output_port": port_v,
    });
    let subject = link_id.or_else(|| {
        (asset.is_some() || port.is_some())
            .then(|| format!("technical_asset_link:{}", key.replace('/', ":")))
    });
    (entity, subject)
}

//! What several builders share: the outcome of a build, and the summaries of products,
//! users, roles, members, ports and technical assets.

use serde_json::{json, Map, Value};

use crate::catalog::CONFIGURATION_TYPES;
use crate::store::{lower_value, text, text_value, Source, Store};
use crate::tombstones::{id_key, Row};

/// Role prototype of data product owners (`roles.prototype`).
pub(super) const OWNER_PROTOTYPE: &str = "2";

/// What a builder learned besides the payload.
pub(super) struct Outcome {
    pub(super) state: Option<Source>,
    pub(super) missing: Vec<String>,
}

impl Outcome {
    pub(super) fn new() -> Self {
        Self {
            state: None,
            missing: Vec::new(),
        }
    }

    pub(super) fn need(&mut self, found: bool, what: &str, id: Option<&str>) {
        if !found {
            self.missing.push(format!("{what}:{}", id.unwrap_or("?")));
        }
    }
}

pub(super) fn state_name(s: Option<Source>) -> &'static str {
    match s {
        Some(Source::Live) => "current",
        Some(Source::Tombstone) => "last_known",
        None => "unknown",
    }
}

pub(super) fn actor(store: &Store<'_>, id: &str) -> Value {
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
pub(super) fn product_row(store: &Store<'_>, id: &str) -> Option<(Row, Source)> {
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

pub(super) fn product_kind(row: Option<&Row>) -> Value {
    match row.and_then(|r| text(r, "abstract_data_product_type")) {
        Some(t) if t.eq_ignore_ascii_case("explorations") => json!("exploration"),
        Some(t) if t.eq_ignore_ascii_case("data_products") => json!("data_product"),
        Some(t) => json!(t.to_ascii_lowercase()),
        None => Value::Null,
    }
}

pub(super) fn product_summary(store: &Store<'_>, id: Option<&str>) -> (Value, Option<Source>) {
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

pub(super) fn named(store: &Store<'_>, table: &str, id: Option<&str>) -> Value {
    match id {
        None => Value::Null,
        Some(id) => {
            let row = store.get(table, id).map(|(r, _)| r);
            json!({ "id": id_key(id), "name": text_value(row, "name") })
        }
    }
}

pub(super) fn user_obj(store: &Store<'_>, id: &str) -> (Value, bool) {
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

pub(super) fn role_obj(store: &Store<'_>, id: Option<&str>) -> Value {
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

pub(super) fn member(store: &Store<'_>, row: &Row) -> Value {
    let user = text(row, "user_id").map_or(Value::Null, |u| user_obj(store, u).0);
    json!({
        "id": text_value(Some(row), "id"),
        "user": user,
        "role": role_obj(store, text(row, "role_id")),
        "decision": lower_value(Some(row), "decision"),
    })
}

/// An output port summary: identity, access type, status and owning product.
pub(super) fn port_summary(
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

pub(super) fn configuration(store: &Store<'_>, id: Option<&str>) -> Value {
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

/// What a technical asset's configuration lacks: the configuration row, its per-type
/// row, or — `configuration_type:<type>` — a type the catalog does not know (its
/// fields cannot be read, so the event must not claim to be complete).
pub(super) fn configuration_gaps(store: &Store<'_>, asset: &str) -> Vec<String> {
    let Some(cfg) = store
        .get("data_outputs", asset)
        .and_then(|(r, _)| text(r, "configuration_id"))
    else {
        return Vec::new();
    };
    let Some((base, _)) = store.get("data_output_configurations", cfg) else {
        return vec![format!("configuration:{}", id_key(cfg))];
    };
    let ctype = text(base, "configuration_type").unwrap_or("");
    match CONFIGURATION_TYPES
        .iter()
        .find(|c| c.configuration_type == ctype)
    {
        None => vec![format!("configuration_type:{ctype}")],
        Some(c) if store.get(c.table, cfg).is_none() => {
            vec![format!("configuration:{}:{}", c.table, id_key(cfg))]
        }
        Some(_) => Vec::new(),
    }
}

/// A technical asset: identity, platform, service, configuration, owning product.
pub(super) fn asset_obj(
    store: &Store<'_>,
    id: &str,
    owner_hint: Option<&str>,
) -> (Value, Option<Source>) {
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
pub(super) fn linked_assets(store: &Store<'_>, port: &str, with_tombstones: bool) -> Vec<Value> {
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

pub(super) fn empty_port() -> Value {
    json!({
        "id": null, "name": null, "namespace": null, "access_type": null, "status": null,
        "data_product": null, "description": null, "technical_assets": [],
    })
}

/// Prefer a live row over a tombstone.
pub(super) fn pick(rows: Vec<(&Row, Source)>) -> Option<(&Row, Source)> {
    let live = rows.iter().find(|(_, s)| *s == Source::Live).copied();
    live.or_else(|| rows.into_iter().next())
}

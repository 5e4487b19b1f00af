//! Data product events.

use serde_json::{json, Value};

use crate::catalog::EventSpec;
use crate::model::Refs;
use crate::store::{lower_value, text, text_value, Source, Store};
use crate::tombstones::id_key;

use super::parts::*;

pub(super) fn data_product_event(
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

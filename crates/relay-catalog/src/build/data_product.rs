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
    let row = found.as_ref().map(|(r, _)| r.as_ref());
    let at = format!("/{}", spec.entity.name());
    let src = out.state;
    out.read.fields(
        &at,
        src,
        &[
            "name",
            "namespace",
            "kind",
            "status",
            "description",
            "about",
            "usage",
            "exploration_owner_id",
        ],
    );
    // Members and owners are lists found by lookups (or among captured deletes).
    out.read.whole(&format!("{at}/owners"));
    out.read.whole(&format!("{at}/members"));
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
    let lifecycle_at = format!("{at}/lifecycle");
    if src != Some(Source::Tombstone) {
        out.read.whole(&lifecycle_at);
    }
    let lifecycle = row.and_then(|r| text(r, "lifecycle_id")).map(|lid| {
        let l = store.get("data_product_lifecycles", lid);
        if src == Some(Source::Tombstone) {
            out.read
                .fields(&lifecycle_at, l.map(|(_, s)| s), &["name", "value"]);
        }
        let l = l.map(|(r, _)| r);
        let value = l
            .and_then(|l| text(l, "value"))
            .and_then(|v| v.parse::<i64>().ok());
        json!({ "id": id_key(lid), "name": text_value(l, "name"), "value": value })
    });
    let status = match spec.implied_status {
        Some(s) => {
            out.read.unmark(&format!("{at}/status"));
            json!(s)
        }
        None => lower_value(row, "status"),
    };
    let domain = row.and_then(|r| text(r, "domain_id"));
    let domain = named(
        store,
        "domains",
        domain,
        &mut out.read,
        &format!("{at}/domain"),
        src,
    );
    let kind = row.and_then(|r| text(r, "type_id"));
    let kind = named(
        store,
        "data_product_types",
        kind,
        &mut out.read,
        &format!("{at}/type"),
        src,
    );
    let entity = json!({
        "id": id.clone(),
        "name": text_value(row, "name"),
        "namespace": text_value(row, "namespace"),
        "kind": product_kind(row),
        "status": status,
        "description": text_value(row, "description"),
        "about": text_value(row, "about"),
        "usage": text_value(row, "usage"),
        "domain": domain,
        "type": kind,
        "lifecycle": lifecycle,
        "exploration_owner_id": text_value(row, "owner_id"),
        "owners": owners,
        "members": members.into_iter().map(|(m, _)| m).collect::<Vec<_>>(),
    });
    (entity, id)
}

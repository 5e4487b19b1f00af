//! Data product and output port membership (role assignment) events.

use serde_json::{json, Value};

use crate::catalog::{Entity, EventSpec};
use crate::model::Refs;
use crate::store::{text, Store};
use crate::tombstones::id_key;

use super::parts::*;

pub(super) fn membership_event(
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
    let at = format!("/{}", spec.entity.name());
    let (user_v, user_found) = match user {
        Some(u) => user_obj(store, u, &mut out.read, &format!("{at}/user")),
        None => (Value::Null, false),
    };
    out.need(user_found, "user", user);
    let mut entity = json!({
        "id": row.and_then(|(m, _)| text(m, "id")).map(id_key),
        "status": spec.implied_status,
        "user": user_v,
        "role": role_obj(
            store,
            row.and_then(|(m, _)| text(m, "role_id")),
            &mut out.read,
            &format!("{at}/role"),
            out.state,
        ),
    });
    if on_product {
        let (p, src) = product_summary(
            store,
            owner,
            &mut out.read,
            &format!("{at}/data_product"),
            true,
        );
        out.need(src.is_some(), "data_product", owner);
        entity["data_product"] = p;
    } else {
        let (p, src, _) = port_summary(
            store,
            owner,
            None,
            &mut out.read,
            &format!("{at}/output_port"),
        );
        out.need(src.is_some(), "output_port", owner);
        entity["output_port"] = p;
    }
    (entity, owner.map(str::to_string))
}

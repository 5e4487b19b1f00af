//! Access (legacy: data_product_dataset_link, `input_ports`) events.

use serde_json::{json, Value};

use crate::catalog::{Aggregate, EventSpec};
use crate::model::Refs;
use crate::store::{lower_value, text, text_value, time_value, Source, Store};
use crate::tombstones::id_key;

use super::parts::*;

pub(super) fn access_event(
    spec: &EventSpec,
    r: &Refs,
    store: &Store<'_>,
    out: &mut Outcome,
) -> (Value, Option<String>) {
    let (consumer, port) = (r.product.as_deref(), r.port.as_deref());
    let link = match (r.link.as_deref(), consumer, port) {
        // The WAL named the link: that row (live or last known), never another one.
        (Some(id), _, _) => store.get("input_ports", id),
        (None, Some(c), Some(p)) => pick(store.find(
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
    let link_id = r
        .link
        .clone()
        .or_else(|| link.and_then(|(row, _)| text(row, "id")).map(id_key));
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

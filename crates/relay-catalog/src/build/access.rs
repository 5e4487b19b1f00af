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
    let at = format!("/{}", spec.entity.name());
    let (consumer_v, consumer_src) = product_summary(
        store,
        consumer,
        &mut out.read,
        &format!("{at}/consumer"),
        true,
    );
    out.need(consumer_src.is_some(), "data_product", consumer);
    let (port_v, port_src, _) = port_summary(
        store,
        port,
        None,
        &mut out.read,
        &format!("{at}/output_port"),
    );
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
    });
    let request_src = request.map(|(_, s)| s);
    out.read
        .fields(&at, request_src, &["justification", "validity"]);
    let request = request.map(|(row, _)| row);
    let validity = request.map(|req| {
        json!({
            "access_duration_type": lower_value(Some(req), "access_duration_type"),
            "valid_from": time_value(Some(req), "valid_from"),
            "valid_until": time_value(Some(req), "valid_until"),
            "revoked_at": time_value(Some(req), "revoked_at"),
        })
    });
    out.read.whole(&format!("{at}/technical_assets"));
    let assets = port.map_or_else(Vec::new, |p| {
        linked_assets(store, p, port_src == Some(Source::Tombstone))
    });
    let status = match spec.implied_status {
        Some(s) => json!(s),
        None => {
            out.read.fields(&at, out.state, &["status"]);
            lower_value(link.map(|(r, _)| r), "status")
        }
    };
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

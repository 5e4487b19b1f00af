//! Technical asset ↔ output port link events.

use serde_json::{json, Value};

use crate::catalog::EventSpec;
use crate::model::Refs;
use crate::store::{text, Store};
use crate::tombstones::id_key;

use super::parts::*;

pub(super) fn link_event(
    spec: &EventSpec,
    r: &Refs,
    store: &Store<'_>,
    out: &mut Outcome,
) -> (Value, Option<String>) {
    let (asset, port) = (r.asset.as_deref(), r.port.as_deref());
    let link = match (r.link.as_deref(), asset, port) {
        // The WAL named the link: that row (live or last known), never another one.
        (Some(id), _, _) => store.get("data_outputs_datasets", id),
        (None, Some(a), Some(p)) => pick(store.find(
            "data_outputs_datasets",
            &[("data_output_id", a), ("dataset_id", p)],
            true,
        )),
        _ => None,
    };
    out.state = link.map(|(_, s)| s);
    let key = format!("{}/{}", asset.unwrap_or("?"), port.unwrap_or("?"));
    out.need(link.is_some(), "technical_asset_link", Some(&key));
    let at = format!("/{}", spec.entity.name());
    let (asset_v, asset_src) = match asset {
        Some(a) => asset_obj(
            store,
            a,
            None,
            &mut out.read,
            &format!("{at}/technical_asset"),
        ),
        None => (Value::Null, None),
    };
    out.need(asset_src.is_some(), "technical_asset", asset);
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

//! Technical asset (legacy: data_output) events, with their configuration.

use serde_json::{json, Value};

use crate::catalog::EventSpec;
use crate::model::Refs;
use crate::store::Store;

use super::parts::*;

pub(super) fn technical_asset_event(
    spec: &EventSpec,
    r: &Refs,
    store: &Store<'_>,
    out: &mut Outcome,
) -> (Value, Option<String>) {
    let id = r.asset.clone();
    let at = format!("/{}", spec.entity.name());
    let (mut asset, src) = match id.as_deref() {
        Some(a) => asset_obj(store, a, r.product.as_deref(), &mut out.read, &at),
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
    if let Some(a) = id.as_deref() {
        out.missing.extend(configuration_gaps(store, a));
    }
    if let (Some(s), Value::Object(obj)) = (spec.implied_status, &mut asset) {
        obj.insert("status".into(), json!(s));
        out.read.unmark(&format!("{at}/status"));
    }
    (asset, id)
}

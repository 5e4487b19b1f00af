//! Output port (legacy: dataset) events.

use serde_json::{json, Value};

use crate::catalog::EventSpec;
use crate::model::Refs;
use crate::store::{text_value, Source, Store};

use super::parts::*;

pub(super) fn output_port_event(
    spec: &EventSpec,
    r: &Refs,
    store: &Store<'_>,
    out: &mut Outcome,
) -> (Value, Option<String>) {
    let id = r.port.clone();
    let at = format!("/{}", spec.entity.name());
    let (mut port, src, row) = port_summary(
        store,
        id.as_deref(),
        r.product.as_deref(),
        &mut out.read,
        &at,
    );
    out.state = src;
    out.need(src.is_some(), "output_port", id.as_deref());
    if let Value::Object(obj) = &mut port {
        if let Some(s) = spec.implied_status {
            obj.insert("status".into(), json!(s));
            out.read.unmark(&format!("{at}/status"));
        }
        out.read.fields(&at, src, &["description"]);
        out.read.whole(&format!("{at}/technical_assets"));
        obj.insert("description".into(), text_value(row, "description"));
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

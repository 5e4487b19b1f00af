//! The AsyncAPI 3.0 document: a channel per route, a message per event type.

use relay_catalog::Catalog;
use serde_json::{json, Map, Value};

use crate::defs::defs;
use crate::envelope::envelope;
use crate::{examples, CATALOG_VERSION, DEFS, SUBJECT_PREFIX};

/// Replace `#/$defs/` references with `#/components/schemas/` (AsyncAPI layout).
fn to_components(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if k == "$ref" {
                    if let Value::String(s) = val {
                        if let Some(rest) = s.strip_prefix(DEFS) {
                            *s = format!("#/components/schemas/{rest}");
                        }
                    }
                } else {
                    to_components(val);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(to_components),
        _ => {}
    }
}

pub(crate) fn route_of(event_type: &str) -> String {
    event_type
        .strip_prefix("portal.")
        .and_then(|t| t.strip_suffix(".v1"))
        .unwrap_or(event_type)
        .to_string()
}

/// The AsyncAPI 3.0 document: a channel per route (`portal.events.<route>`), a message
/// per event type (`application/cloudevents+json`) whose payload is the envelope schema.
pub fn asyncapi() -> Value {
    let catalog = Catalog::portal();
    let mut schemas = Map::new();
    for (k, mut v) in defs() {
        to_components(&mut v);
        schemas.insert(k, v);
    }
    let mut channels = Map::new();
    let mut operations = Map::new();
    let mut messages = Map::new();
    let examples = examples::envelopes();
    for t in catalog.event_types() {
        let route = route_of(&t);
        let mut env = envelope(&t, &catalog);
        to_components(&mut env);
        schemas.insert(t.clone(), env);
        let example = examples
            .iter()
            .find(|(et, _)| *et == t)
            .map(|(_, e)| e.clone());
        let mut message = json!({
            "name": t,
            "title": t,
            "summary": envelope(&t, &catalog)["description"],
            "contentType": "application/cloudevents+json",
            "payload": { "$ref": format!("#/components/schemas/{t}") },
        });
        if let Some(e) = example {
            message["examples"] = json!([{ "name": "example", "payload": e }]);
        }
        messages.insert(t.clone(), message);
        channels.insert(
            route.clone(),
            json!({
                "address": format!("{SUBJECT_PREFIX}{route}"),
                "description": format!("`{t}` events (NATS subject `{SUBJECT_PREFIX}{route}`; other brokers carry the route as an attribute)."),
                "messages": { t.clone(): { "$ref": format!("#/components/messages/{t}") } },
            }),
        );
        operations.insert(
            format!("receive.{route}"),
            json!({
                "action": "receive",
                "channel": { "$ref": format!("#/channels/{route}") },
                "messages": [ { "$ref": format!("#/channels/{route}/messages/{t}") } ],
            }),
        );
    }
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "Outbox Relay: Data Product Portal business events",
            "version": CATALOG_VERSION,
            "description": "Business events derived from the Data Product Portal's audit table and enriched with SQL lookups. CloudEvents 1.0 in structured mode; at least once: deduplicate by `id`; events of one `subject` arrive in commit order. Generated from crates/relay-catalog.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": { "schemas": schemas, "messages": messages },
    })
}

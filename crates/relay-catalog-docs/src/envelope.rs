//! The envelope schema of one event type: the CloudEvents attributes and `data`, built
//! from every catalog entry that produces the type.

use relay_catalog::{Catalog, Entity, EventSpec, Origin};
use serde_json::{json, Map, Value};

use crate::defs::*;
use crate::DEFS;

fn entity_def(e: Entity) -> &'static str {
    match e {
        Entity::DataProduct => "data_product",
        Entity::OutputPort => "output_port",
        Entity::TechnicalAsset => "technical_asset",
        Entity::Access => "access",
        Entity::DataProductMembership => "data_product_membership",
        Entity::OutputPortMembership => "output_port_membership",
        Entity::TechnicalAssetLink => "technical_asset_link",
    }
}

/// The `data` schema of the events of these specs (all of one type).
fn data_schema(specs: &[&EventSpec]) -> Value {
    let first = specs[0];
    let entity = first.entity;
    let implied: Option<&str> = first
        .implied_status
        .filter(|s| specs.iter().all(|x| x.implied_status == Some(s)));
    let entity_schema = match implied {
        Some(s) => {
            json!({ "allOf": [r(entity_def(entity)), { "properties": { "status": { "const": s } } }] })
        }
        None => r(entity_def(entity)),
    };
    let mut props: Vec<(&str, Value)> = vec![
        ("action", json!({ "const": first.action })),
        (
            "state",
            json!({
                "enum": ["current", "last_known", "unknown"],
                "description": "current: looked up at enrichment time; last_known: the entity was deleted, this is its state captured from the WAL delete; unknown: not found",
            }),
        ),
        (
            "occurred_on",
            json!({ "type": ["string", "null"], "format": "date-time", "description": "the audit row's created_on (transaction start), RFC 3339" }),
        ),
        ("actor", nullable_ref("actor")),
    ];
    if entity == Entity::Access {
        props.push((
            "side",
            json!({ "enum": ["consumer", "producer", null], "description": "which side acted (null for derived events)" }),
        ));
    }
    props.push((entity.name(), entity_schema));
    props.push(("enrichment", r("enrichment")));
    let any_derived = specs.iter().any(|s| s.origin == Origin::Derived);
    let all_derived = specs.iter().all(|s| s.origin == Origin::Derived);
    if any_derived {
        props.push(("derived", r("derived")));
    }
    let mut schema = object("The business payload.", props);
    if any_derived && !all_derived {
        let req = schema["required"]
            .as_array_mut()
            .unwrap_or_else(|| unreachable!());
        req.retain(|v| v != "derived");
    }
    schema
}

fn unknown_data_schema() -> Value {
    object(
        "An audit row whose name the catalog does not know, as captured.",
        vec![
            ("audit", r("audit_record")),
            ("enrichment", r("enrichment")),
        ],
    )
}

/// The envelope schema of one event type, without `$schema`/`$id`/`$defs`.
pub(crate) fn envelope(event_type: &str, catalog: &Catalog) -> Value {
    let specs = catalog.specs_for_type(event_type);
    let (data, auditname, audited, description) = if specs.is_empty() {
        (
            unknown_data_schema(),
            json!({ "type": "string", "pattern": "^[a-z0-9_]+$" }),
            true,
            "An audit row whose name is not in the catalog (delivered, never dropped).".to_string(),
        )
    } else {
        let names: Vec<&str> = specs.iter().filter_map(|s| s.audit_name()).collect();
        let summary: Vec<&str> = specs.iter().map(|s| s.summary).collect();
        (
            data_schema(&specs),
            json!({ "enum": names }),
            !names.is_empty() && specs.iter().all(|s| s.origin == Origin::Audit),
            summary.join(" "),
        )
    };
    let mut props = vec![
        ("specversion", json!({ "const": "1.0" })),
        (
            "id",
            json!({ "type": "string", "minLength": 1, "description": "the audit row id (UUIDv5 for derived events): deduplicate by it" }),
        ),
        ("source", json!({ "type": "string", "minLength": 1 })),
        ("type", json!({ "const": event_type })),
        (
            "subject",
            json!({ "type": "string", "minLength": 1, "description": "the aggregate: events of one subject arrive in commit order" }),
        ),
        (
            "time",
            json!({ "type": "string", "format": "date-time", "description": "commit time" }),
        ),
        ("datacontenttype", json!({ "const": "application/json" })),
        (
            "commitlsn",
            json!({ "type": "string", "pattern": "^[0-9A-F]{1,8}/[0-9A-F]{1,8}$" }),
        ),
        (
            "enrichedat",
            json!({ "type": "string", "format": "date-time", "description": "when the lookups ran: data is the state at that time" }),
        ),
    ];
    if !specs.is_empty() && specs.iter().all(|s| s.origin == Origin::Derived) {
        // Derived events carry no auditname.
    } else {
        props.push(("auditname", auditname));
    }
    props.push(("data", data));
    let mut required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    if !audited {
        required.retain(|k| *k != "auditname");
    }
    let properties: Map<String, Value> =
        props.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    json!({
        "title": event_type,
        "description": description,
        "type": "object",
        "required": required,
        "properties": properties,
    })
}

/// The `$ref` targets in `v` under `#/$defs/`.
pub(crate) fn refs_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                match (k.as_str(), val) {
                    ("$ref", Value::String(s)) => {
                        if let Some(name) = s.strip_prefix(DEFS) {
                            out.push(name.to_string());
                        }
                    }
                    _ => refs_in(val, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs_in(i, out)),
        _ => {}
    }
}

/// The definitions `schema` reaches, transitively.
pub(crate) fn used_defs(schema: &Value, defs: &Value) -> Map<String, Value> {
    let mut used = Map::new();
    let mut todo = Vec::new();
    refs_in(schema, &mut todo);
    while let Some(name) = todo.pop() {
        if used.contains_key(&name) {
            continue;
        }
        if let Some(def) = defs.get(&name) {
            refs_in(def, &mut todo);
            used.insert(name, def.clone());
        }
    }
    used
}

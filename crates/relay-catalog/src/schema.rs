//! The contract for consumers, generated from the catalog: a JSON Schema (draft 2020-12)
//! per event type describing the whole CloudEvents envelope, an AsyncAPI 3.0 document,
//! and the markdown catalog page. Checked into `docs/` (a test fails when they drift:
//! regenerate with `OUTBOX_REGENERATE_DOCS=1 cargo test -p relay-catalog`).

use serde_json::{json, Map, Value};

use crate::build::{STATUS_COMPLETE, STATUS_NOT_FOUND, STATUS_NOT_LOOKED_UP, STATUS_UNKNOWN_NAME};
use crate::catalog::{Catalog, Entity, EventSpec, Origin, RefType};
use crate::examples;

/// Where the docs are published relative to the repository (used in `$id`s and links).
const SCHEMA_ID_BASE: &str = "urn:outbox-relay:schema:";
/// NATS subject prefix of every route.
pub const SUBJECT_PREFIX: &str = "portal.events.";
/// The version of the catalog contract (AsyncAPI `info.version`).
pub const CATALOG_VERSION: &str = "1.0.0";

const DEFS: &str = "#/$defs/";

fn r(name: &str) -> Value {
    json!({ "$ref": format!("{DEFS}{name}") })
}

fn nullable_ref(name: &str) -> Value {
    json!({ "anyOf": [r(name), { "type": "null" }] })
}

fn ns() -> Value {
    json!({ "type": ["string", "null"] })
}

fn ns_doc(doc: &str) -> Value {
    json!({ "type": ["string", "null"], "description": doc })
}

fn id() -> Value {
    json!({ "type": "string", "minLength": 1 })
}

fn nid() -> Value {
    json!({ "type": ["string", "null"], "minLength": 1 })
}

fn array_of(name: &str) -> Value {
    json!({ "type": "array", "items": r(name) })
}

/// A closed object: every listed property required, nothing else allowed.
fn object(doc: &str, props: Vec<(&str, Value)>) -> Value {
    let required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    let properties: Map<String, Value> =
        props.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    json!({
        "type": "object",
        "description": doc,
        "required": required,
        "properties": properties,
        "additionalProperties": false,
    })
}

fn product_summary_props() -> Vec<(&'static str, Value)> {
    vec![
        ("id", id()),
        ("name", ns()),
        ("namespace", ns()),
        (
            "kind",
            json!({ "type": ["string", "null"], "description": "`data_product` or `exploration`" }),
        ),
        (
            "status",
            ns_doc("pending, active, archived or deleting (lower case)"),
        ),
    ]
}

fn port_summary_props() -> Vec<(&'static str, Value)> {
    vec![
        ("id", id()),
        ("name", ns()),
        ("namespace", ns()),
        (
            "access_type",
            ns_doc("restricted, unrestricted, private or public (lower case)"),
        ),
        ("status", ns_doc("pending, active or archived (lower case)")),
        ("data_product", nullable_ref("product_summary")),
    ]
}

fn technical_asset_props() -> Vec<(&'static str, Value)> {
    vec![
        ("id", nid()),
        ("name", ns()),
        ("namespace", ns()),
        ("status", ns_doc("lower case")),
        ("platform", nullable_ref("named_ref")),
        ("service", nullable_ref("named_ref")),
        ("configuration", nullable_ref("configuration")),
        ("data_product", nullable_ref("product_summary")),
    ]
}

/// The shared definitions every schema carries.
fn defs() -> Map<String, Value> {
    let mut d = Map::new();
    let mut add = |k: &str, v: Value| {
        d.insert(k.to_string(), v);
    };
    add(
        "named_ref",
        object(
            "A referenced row and its name.",
            vec![("id", id()), ("name", ns())],
        ),
    );
    add(
        "product_summary",
        object(
            "A data product or exploration, in short.",
            product_summary_props(),
        ),
    );
    add(
        "lifecycle",
        object(
            "The data product's lifecycle.",
            vec![
                ("id", id()),
                ("name", ns()),
                ("value", json!({ "type": ["integer", "null"] })),
            ],
        ),
    );
    add(
        "user",
        object(
            "A portal user.",
            vec![
                ("id", id()),
                ("email", ns()),
                ("external_id", ns_doc("the identity provider's id")),
                ("first_name", ns()),
                ("last_name", ns()),
            ],
        ),
    );
    add(
        "role",
        object(
            "A role.",
            vec![
                ("id", id()),
                ("name", ns()),
                (
                    "scope",
                    ns_doc("global, data_product or dataset (lower case)"),
                ),
                (
                    "prototype",
                    json!({ "type": ["integer", "null"], "description": "0 custom, 1 everyone, 2 owner, 3 admin" }),
                ),
            ],
        ),
    );
    add(
        "member",
        object(
            "A role assignment in a team.",
            vec![
                ("id", nid()),
                ("user", nullable_ref("user")),
                ("role", nullable_ref("role")),
                (
                    "decision",
                    ns_doc("approved, pending or denied (lower case)"),
                ),
            ],
        ),
    );
    let mut product = product_summary_props();
    product[0] = ("id", nid());
    product.extend([
        ("description", ns()),
        ("about", ns()),
        ("usage", ns()),
        ("domain", nullable_ref("named_ref")),
        ("type", nullable_ref("named_ref")),
        ("lifecycle", nullable_ref("lifecycle")),
        ("exploration_owner_id", ns_doc("for explorations: the owner")),
        (
            "owners",
            json!({ "type": "array", "items": r("member"), "description": "approved members whose role is an owner role" }),
        ),
        ("members", array_of("member")),
    ]);
    add(
        "data_product",
        object("A data product with its team.", product),
    );
    add(
        "configuration",
        json!({
            "type": "object",
            "description": "The technical asset's configuration: `type` (e.g. S3TechnicalAssetConfiguration) and the columns of its per-type table (e.g. bucket, suffix, path) as text.",
            "required": ["type"],
            "properties": { "type": ns() },
            "additionalProperties": { "type": ["string", "null"] },
        }),
    );
    add(
        "technical_asset",
        object(
            "A technical asset (legacy: data output).",
            technical_asset_props(),
        ),
    );
    add(
        "linked_technical_asset",
        object(
            "A technical asset linked to an output port.",
            vec![
                ("link_id", nid()),
                (
                    "link_status",
                    ns_doc("approved, pending or denied (lower case)"),
                ),
                ("technical_asset", r("technical_asset")),
            ],
        ),
    );
    add(
        "port_summary",
        object(
            "An output port (legacy: dataset), in short, with its owning product.",
            port_summary_props(),
        ),
    );
    let mut port = port_summary_props();
    port[0] = ("id", nid());
    port.extend([
        ("description", ns()),
        ("technical_assets", array_of("linked_technical_asset")),
    ]);
    add(
        "output_port",
        object("An output port with its technical assets.", port),
    );
    add(
        "validity",
        object(
            "The latest access request's validity.",
            vec![
                ("access_duration_type", ns_doc("permanent or time_bound")),
                ("valid_from", ns_doc("date, YYYY-MM-DD")),
                ("valid_until", ns_doc("date, YYYY-MM-DD")),
                ("revoked_at", ns_doc("RFC 3339")),
            ],
        ),
    );
    add(
        "access",
        object(
            "A consuming product's access to an output port (legacy: data product dataset link, an input port).",
            vec![
                ("id", nid()),
                ("status", ns_doc("from the audit name, never looked up")),
                ("consumer", nullable_ref("product_summary")),
                ("output_port", nullable_ref("port_summary")),
                ("technical_assets", array_of("linked_technical_asset")),
                ("justification", ns()),
                ("validity", nullable_ref("validity")),
            ],
        ),
    );
    add(
        "data_product_membership",
        object(
            "A user's role in a data product's team.",
            vec![
                ("id", nid()),
                ("status", ns_doc("from the audit name")),
                ("user", nullable_ref("user")),
                ("role", nullable_ref("role")),
                ("data_product", nullable_ref("product_summary")),
            ],
        ),
    );
    add(
        "output_port_membership",
        object(
            "A user's role in an output port's team.",
            vec![
                ("id", nid()),
                ("status", ns_doc("from the audit name")),
                ("user", nullable_ref("user")),
                ("role", nullable_ref("role")),
                ("output_port", nullable_ref("port_summary")),
            ],
        ),
    );
    add(
        "technical_asset_link",
        object(
            "A technical asset exposed through an output port.",
            vec![
                ("id", nid()),
                ("status", ns_doc("from the audit name")),
                ("technical_asset", nullable_ref("technical_asset")),
                ("output_port", nullable_ref("port_summary")),
            ],
        ),
    );
    add(
        "actor",
        object(
            "Who did it.",
            vec![("id", id()), ("email", ns()), ("external_id", ns())],
        ),
    );
    add(
        "enrichment",
        object(
            "How complete the payload is. `complete`: everything the audit row names was found; `entity_not_found`: `missing` lists what was found neither by a lookup nor among captured deletes (the rest is still delivered); `not_looked_up`: a derived event built from captured rows only; `unknown_audit_name`: see portal.unknown.v1.",
            vec![
                (
                    "status",
                    json!({ "enum": [STATUS_COMPLETE, STATUS_NOT_FOUND, STATUS_NOT_LOOKED_UP, STATUS_UNKNOWN_NAME] }),
                ),
                (
                    "missing",
                    json!({ "type": "array", "items": { "type": "string" }, "description": "`<entity>:<id>` (pairs as `<id>/<id>`)" }),
                ),
            ],
        ),
    );
    add(
        "derived",
        object(
            "Present on events the portal does not audit.",
            vec![(
                "reason",
                json!({
                    "enum": ["access_expired", "data_product_removed", "audit_row_missing"],
                    "description": "access_expired: input_ports.status became EXPIRED; data_product_removed: deleted in cascade with its data product; audit_row_missing: a captured delete whose audit row did not arrive within the relay's hold",
                }),
            )],
        ),
    );
    add(
        "audit_record",
        object(
            "The audit row as captured (text values).",
            vec![
                ("id", id()),
                ("name", json!({ "type": "string" })),
                ("subject_type", json!({ "type": "string" })),
                ("subject_id", ns()),
                ("target_type", ns()),
                ("target_id", ns()),
                ("actor_id", json!({ "type": "string" })),
                ("deleted_subject_identifier", ns()),
                ("deleted_target_identifier", ns()),
                ("created_on", ns()),
            ],
        ),
    );
    d
}

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
fn envelope(event_type: &str, catalog: &Catalog) -> Value {
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
fn refs_in(v: &Value, out: &mut Vec<String>) {
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
fn used_defs(schema: &Value, defs: &Value) -> Map<String, Value> {
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

/// A JSON Schema (draft 2020-12) per event type, sorted by type; each describes the whole
/// CloudEvents envelope and is self-contained (`$defs`).
pub fn jsonschemas() -> Vec<(String, Value)> {
    let catalog = Catalog::portal();
    let defs = Value::Object(defs());
    catalog
        .event_types()
        .into_iter()
        .map(|t| {
            let mut s = Map::new();
            s.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft/2020-12/schema"),
            );
            s.insert("$id".into(), json!(format!("{SCHEMA_ID_BASE}{t}")));
            let env = envelope(&t, &catalog);
            let used = used_defs(&env, &defs);
            if let Value::Object(env) = env {
                s.extend(env);
            }
            s.insert("$defs".into(), Value::Object(used));
            (t, Value::Object(s))
        })
        .collect()
}

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

fn route_of(event_type: &str) -> String {
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

fn ref_name(t: Option<RefType>) -> &'static str {
    t.map_or("–", RefType::audit_value)
}

/// The catalog page: every event with its rule, the lookups, the captured deletes, and
/// an example envelope per type.
pub fn markdown() -> String {
    let catalog = Catalog::portal();
    let mut md = String::new();
    md.push_str(
        "# Portal event catalog\n\n\
         <!-- Generated by crates/relay-catalog (schema::markdown). Do not edit: regenerate with\n     \
         OUTBOX_REGENERATE_DOCS=1 cargo test -p relay-catalog -->\n\n\
         Every row the Data Product Portal writes to its audit table `events` becomes one business\n\
         event: a CloudEvents 1.0 envelope (structured mode, `application/cloudevents+json`) whose\n\
         `data` carries what a provisioner needs, looked up when the relay processes the row.\n\n\
         - **`type`** `portal.<entity>.<action>.v1`, with business names: output port (legacy\n  \
           *dataset*), technical asset (*data output*), access (*data product dataset link*,\n  \
           an input port of the consumer), memberships (*role assignments*).\n\
         - **route** `<entity>.<action>`: the NATS subject is `portal.events.<route>`.\n\
         - **`subject`** is the aggregate; events of one subject arrive in commit order.\n\
         - **`id`** is the audit row id (derived events: UUIDv5 over kind, entity id and commit\n  \
           LSN, stable across replays). Delivery is at least once: deduplicate by `id`.\n\
         - **`data` is the state at enrichment time** (`enrichedat`), except the status the audit\n  \
           name implies (approved, revoked, removed…), which always comes from the name: a relay\n  \
           that is behind never sends a grant that reads \"revoked\".\n\
         - `data.state`: `current` (looked up), `last_known` (the entity was deleted: its state\n  \
           as captured from the WAL delete), `unknown` (found nowhere).\n\
         - `data.enrichment`: `{\"status\": \"complete\"}`, or `entity_not_found` with `missing`\n  \
           listing what was found neither by a lookup nor among captured deletes. Such events\n  \
           are delivered, never dropped.\n\
         - An audit name the catalog does not know becomes **`portal.unknown.v1`** carrying the\n  \
           audit row and `\"enrichment\": {\"status\": \"unknown_audit_name\"}`.\n\
         - Enum values (statuses, decisions, access types, scopes) are lower case, whatever\n  \
           casing the portal stores.\n\n\
         Machine-readable: [`asyncapi.json`](asyncapi.json) (AsyncAPI 3.0) and one JSON Schema\n\
         (draft 2020-12) per type in [`schemas/`](schemas/).\n\n",
    );
    md.push_str("## Audit names\n\n");
    md.push_str("| audit name | type | subject → target (audit columns) | CloudEvents `subject` | status from the name |\n|---|---|---|---|---|\n");
    for s in catalog.audit_specs() {
        md.push_str(&format!(
            "| `{}` | `{}` | {} | {} | {} |\n",
            s.key,
            s.event_type(),
            orientations(s),
            s.aggregate.describe(),
            s.implied_status.map_or("–".into(), |v| format!("`{v}`")),
        ));
    }
    md.push_str("\n## Derived events (not audited by the portal)\n\n");
    md.push_str("| derived from | type | CloudEvents `subject` | id |\n|---|---|---|---|\n");
    for s in catalog
        .specs()
        .iter()
        .filter(|s| s.origin == Origin::Derived)
    {
        let from = match s.key {
            crate::catalog::DERIVED_ACCESS_EXPIRED => "`input_ports.status` set to `EXPIRED`",
            crate::catalog::DERIVED_PORT_CASCADE => {
                "a `datasets` delete in cascade with `data_product_removed`"
            }
            crate::catalog::DERIVED_ASSET_CASCADE => {
                "a `data_outputs` delete in cascade with `data_product_removed`"
            }
            crate::catalog::DERIVED_ACCESS_CASCADE => {
                "an `input_ports` delete in cascade with `data_product_removed`"
            }
            crate::catalog::DERIVED_PRODUCT_ORPHAN => {
                "an `abstract_data_products` delete whose audit row never came"
            }
            crate::catalog::DERIVED_PORT_ORPHAN => "a `datasets` delete whose audit row never came",
            crate::catalog::DERIVED_ASSET_ORPHAN => {
                "a `data_outputs` delete whose audit row never came"
            }
            crate::catalog::DERIVED_ACCESS_ORPHAN => {
                "an `input_ports` delete whose audit row never came"
            }
            crate::catalog::DERIVED_LINK_ORPHAN => {
                "a `data_outputs_datasets` delete whose audit row never came"
            }
            crate::catalog::DERIVED_PRODUCT_MEMBERSHIP_ORPHAN => {
                "a `role_assignments_data_product` delete whose audit row never came"
            }
            _ => "a `role_assignments_dataset` delete whose audit row never came",
        };
        md.push_str(&format!(
            "| {from} | `{}` | {} | UUIDv5 (kind, entity id, commit LSN) |\n",
            s.event_type(),
            s.aggregate.describe()
        ));
    }
    md.push_str(
        "\nDerived events carry `data.derived.reason` (`access_expired`, `data_product_removed`,\n\
         `audit_row_missing`) and no `auditname`. Derived removals share the type of the audited\n\
         removal of the same entity. A delete is held until the audit row that accounts for it\n\
         arrives; if none comes within the relay's bounded hold, the removal is emitted from the\n\
         captured row (`audit_row_missing`), so a lost audit row cannot pin WAL.\n",
    );
    md.push_str("\n## Deletes the relay must capture\n\n");
    md.push_str(
        "`*_removed` events commit after the entity row is gone, and a data product's children\n\
         are deleted with it unaudited. The relay captures deletes of these tables\n\
         (`REPLICA IDENTITY FULL`, a publication that publishes `delete`) and keeps each deleted\n\
         row as a tombstone until the audit row that resolves it arrives; the enricher falls back\n\
         on tombstones when a lookup finds nothing (`\"state\": \"last_known\"`). Per-type\n\
         configuration tables the portal has not created can be left out.\n\n\
         | table | why | resolved by |\n|---|---|---|\n",
    );
    for t in catalog.captured_tables() {
        let by: Vec<String> = t.resolved_by.iter().map(|n| format!("`{n}`")).collect();
        md.push_str(&format!(
            "| `{}` | {} | {} |\n",
            t.table,
            t.why,
            by.join(", ")
        ));
    }
    md.push_str("\n## Lookups\n\nOne query per entity kind per transaction, for all its events (`= ANY($1)`); every column as text.\n\n");
    for q in catalog.queries() {
        md.push_str(&format!(
            "- **`{}`** ({}):\n  ```sql\n  {}\n  ```\n",
            q.name, q.keys, q.sql
        ));
    }
    md.push_str("\n## Event types\n");
    let examples = examples::envelopes();
    for t in catalog.event_types() {
        md.push_str(&format!("\n### `{t}`\n\n"));
        let specs = catalog.specs_for_type(&t);
        if specs.is_empty() {
            md.push_str("An audit row whose `name` is not in the catalog.\n");
        }
        for s in &specs {
            let origin = match s.audit_name() {
                Some(n) => format!("audit name `{n}`"),
                None => "derived".to_string(),
            };
            md.push_str(&format!(
                "- {origin}: {} Lookups: {}.\n",
                s.summary,
                s.lookups
                    .iter()
                    .map(|l| format!("`{l}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        md.push_str(&format!(
            "\nRoute `{}` · schema [`schemas/{t}.json`](schemas/{t}.json)\n",
            route_of(&t)
        ));
        if let Some((_, e)) = examples.iter().find(|(et, _)| *et == t) {
            let pretty = serde_json::to_string_pretty(e).unwrap_or_default();
            md.push_str(&format!("\n```json\n{pretty}\n```\n"));
        }
    }
    md
}

fn orientations(s: &EventSpec) -> String {
    s.orientations
        .iter()
        .map(|o| {
            let side = o
                .side
                .map_or(String::new(), |x| format!(" ({} side)", x.name()));
            format!(
                "`{} → {}`{side}",
                ref_name(Some(o.subject)),
                ref_name(o.target)
            )
        })
        .collect::<Vec<_>>()
        .join("<br>")
}

/// One example envelope per event type (sorted by type), built by the real payload
/// builders from a fixed example portal; the catalog page and the AsyncAPI document show
/// them.
pub fn examples() -> Vec<(String, Value)> {
    examples::envelopes()
}

/// The files `docs/` holds, relative to it: `catalog.md`, `asyncapi.json`,
/// `schemas/<type>.json`. JSON is pretty-printed with a trailing newline.
pub fn doc_files() -> Vec<(String, String)> {
    let pretty = |v: &Value| format!("{}\n", serde_json::to_string_pretty(v).unwrap_or_default());
    let mut files = vec![
        ("catalog.md".to_string(), markdown()),
        ("asyncapi.json".to_string(), pretty(&asyncapi())),
    ];
    for (t, s) in jsonschemas() {
        files.push((format!("schemas/{t}.json"), pretty(&s)));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::UNKNOWN_EVENT_TYPE;

    #[test]
    fn one_schema_per_type_with_the_unknown_type() {
        let schemas = jsonschemas();
        let types: Vec<&str> = schemas.iter().map(|(t, _)| t.as_str()).collect();
        assert!(types.contains(&UNKNOWN_EVENT_TYPE));
        assert!(types.contains(&"portal.access.expired.v1"));
        assert_eq!(types.len(), Catalog::portal().event_types().len());
        for (t, s) in &schemas {
            assert_eq!(s["properties"]["type"]["const"], json!(t));
        }
    }

    #[test]
    fn asyncapi_refs_point_into_components() {
        let doc = serde_json::to_string(&asyncapi()).unwrap();
        assert!(!doc.contains("#/$defs/"));
        assert!(doc.contains("portal.events.access.approved"));
    }
}

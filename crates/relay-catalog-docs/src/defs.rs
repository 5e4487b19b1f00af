//! The shared definitions (`$defs`) of every schema: the portal's entities as consumers
//! see them in `data`.

use serde_json::{json, Map, Value};

use relay_catalog::{
    STATUS_COMPLETE, STATUS_NOT_FOUND, STATUS_NOT_LOOKED_UP, STATUS_UNKNOWN_CONFIGURATION,
    STATUS_UNKNOWN_NAME,
};

use crate::DEFS;

pub(crate) fn r(name: &str) -> Value {
    json!({ "$ref": format!("{DEFS}{name}") })
}

pub(crate) fn nullable_ref(name: &str) -> Value {
    json!({ "anyOf": [r(name), { "type": "null" }] })
}

pub(crate) fn ns() -> Value {
    json!({ "type": ["string", "null"] })
}

pub(crate) fn ns_doc(doc: &str) -> Value {
    json!({ "type": ["string", "null"], "description": doc })
}

pub(crate) fn id() -> Value {
    json!({ "type": "string", "minLength": 1 })
}

pub(crate) fn nid() -> Value {
    json!({ "type": ["string", "null"], "minLength": 1 })
}

pub(crate) fn array_of(name: &str) -> Value {
    json!({ "type": "array", "items": r(name) })
}

/// A closed object: every listed property required, nothing else allowed.
pub(crate) fn object(doc: &str, props: Vec<(&str, Value)>) -> Value {
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
pub(crate) fn defs() -> Map<String, Value> {
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
    let mut enrichment = object(
        "How complete the payload is. `complete`: everything the audit row names was found; `entity_not_found`: `missing` lists what was found neither by a lookup nor among captured deletes (the rest is still delivered); `not_looked_up`: a derived event built from captured rows only; `unknown_configuration_type`: everything was found, but a technical asset's configuration is of a type this relay does not know, so its fields are missing (`missing` has `configuration_type:<type>`); `unknown_audit_name`: see portal.unknown.v1.",
        vec![
            (
                "status",
                json!({ "enum": [STATUS_COMPLETE, STATUS_NOT_FOUND, STATUS_NOT_LOOKED_UP, STATUS_UNKNOWN_CONFIGURATION, STATUS_UNKNOWN_NAME] }),
            ),
            (
                "missing",
                json!({ "type": "array", "items": { "type": "string" }, "description": "`<entity>:<id>` (pairs as `<id>/<id>`)" }),
            ),
            (
                "read_at_enrichment",
                json!({
                    "type": "array",
                    "items": { "type": "string", "pattern": "^(/[^/]*)+$" },
                    "description": "JSON Pointers (RFC 6901), relative to `data`, of the values a lookup read when the relay enriched the event (the state at enrichment time, which a relay catching up after downtime may see otherwise than one that kept up). A pointer covers everything below it; a null a lookup did not find is listed. Values from the audit row, the audit name or rows captured from the WAL are not listed, nor are the ids the audit row names.",
                }),
            ),
        ],
    );
    // Optional, so not in `required`: only a sink with `oversize = "trim"` adds it.
    enrichment["properties"]["trimmed"] = json!({
        "type": "array",
        "items": { "type": "string" },
        "description": "Present only when a sink had to drop parts of `data` to fit its size limit (`oversize = \"trim\"`): the dotted paths under `data` that were left out, e.g. `data_product.about`. Such an event lacks exactly those parts; look them up if needed.",
    });
    add("enrichment", enrichment);
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

//! Example events for the docs, built by the real builders from a fixed set of rows.

use serde_json::{json, Value};

use relay_catalog::{
    AuditRecord, Catalog, Enricher, Entity, EnvelopeContext, EventSpec, Origin, RefType, Row,
    Tombstones,
};

const PRODUCER: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a01";
const CONSUMER: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a02";
const PORT: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a03";
const ASSET: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a04";
const CONFIG: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a05";
const LINK: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a06";
const ACCESS: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a07";
const REQUEST: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a08";
const OWNER: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a09";
const MEMBER: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a0a";
const OWNER_ROLE: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a0b";
const MEMBER_ROLE: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a0c";
const PORT_ROLE: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a0d";
const DOMAIN: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a0e";
const TYPE: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a0f";
const LIFECYCLE: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a10";
const PLATFORM: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a11";
const SERVICE: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a12";
const RA_PRODUCT_OWNER: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a13";
const RA_PRODUCT_MEMBER: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a14";
const RA_PORT_MEMBER: &str = "0b6f1c2e-6a55-4d0e-9d59-0a3c5b7f2a15";

fn row(v: Value) -> Row {
    match v {
        Value::Object(m) => m,
        _ => Row::new(),
    }
}

/// The example portal: a producer product with an output port and an S3 technical
/// asset, a consumer product with approved, time-bound access, and their teams.
fn fixture() -> Vec<(&'static str, Row)> {
    vec![
        (
            "users",
            row(
                json!({"id": OWNER, "email": "ada@example.com", "external_id": "ada", "first_name": "Ada", "last_name": "Lovelace"}),
            ),
        ),
        (
            "users",
            row(
                json!({"id": MEMBER, "email": "grace@example.com", "external_id": "grace", "first_name": "Grace", "last_name": "Hopper"}),
            ),
        ),
        (
            "roles",
            row(
                json!({"id": OWNER_ROLE, "name": "Owner", "scope": "data_product", "prototype": "2"}),
            ),
        ),
        (
            "roles",
            row(
                json!({"id": MEMBER_ROLE, "name": "Member", "scope": "data_product", "prototype": "0"}),
            ),
        ),
        (
            "roles",
            row(json!({"id": PORT_ROLE, "name": "Reader", "scope": "dataset", "prototype": "0"})),
        ),
        ("domains", row(json!({"id": DOMAIN, "name": "Finance"}))),
        (
            "data_product_types",
            row(json!({"id": TYPE, "name": "Source aligned"})),
        ),
        (
            "data_product_lifecycles",
            row(json!({"id": LIFECYCLE, "name": "Production", "value": "3"})),
        ),
        ("platforms", row(json!({"id": PLATFORM, "name": "AWS"}))),
        (
            "platform_services",
            row(json!({"id": SERVICE, "name": "S3", "platform_id": PLATFORM})),
        ),
        (
            "abstract_data_products",
            row(json!({
            "id": PRODUCER, "name": "Revenue", "namespace": "revenue", "abstract_data_product_type": "data_products",
            "status": "active", "description": "Booked revenue per day", "domain_id": DOMAIN, "about": null,
            "usage": null, "type_id": TYPE, "lifecycle_id": LIFECYCLE, "owner_id": null})),
        ),
        (
            "abstract_data_products",
            row(json!({
            "id": CONSUMER, "name": "Forecast", "namespace": "forecast", "abstract_data_product_type": "data_products",
            "status": "active", "description": null, "domain_id": DOMAIN, "about": null, "usage": null,
            "type_id": TYPE, "lifecycle_id": LIFECYCLE, "owner_id": null})),
        ),
        (
            "role_assignments_data_product",
            row(
                json!({"id": RA_PRODUCT_OWNER, "data_product_id": PRODUCER, "user_id": OWNER, "role_id": OWNER_ROLE, "decision": "APPROVED"}),
            ),
        ),
        (
            "role_assignments_data_product",
            row(
                json!({"id": RA_PRODUCT_MEMBER, "data_product_id": PRODUCER, "user_id": MEMBER, "role_id": MEMBER_ROLE, "decision": "APPROVED"}),
            ),
        ),
        (
            "datasets",
            row(
                json!({"id": PORT, "namespace": "revenue-daily", "name": "Revenue daily", "description": "One row per day",
            "status": "ACTIVE", "access_type": "RESTRICTED", "data_product_id": PRODUCER}),
            ),
        ),
        (
            "role_assignments_dataset",
            row(
                json!({"id": RA_PORT_MEMBER, "dataset_id": PORT, "user_id": MEMBER, "role_id": PORT_ROLE, "decision": "APPROVED"}),
            ),
        ),
        (
            "data_output_configurations",
            row(json!({"id": CONFIG, "configuration_type": "S3TechnicalAssetConfiguration"})),
        ),
        (
            "s3_technical_asset_configurations",
            row(json!({"id": CONFIG, "bucket": "datalake", "suffix": "revenue", "path": "daily"})),
        ),
        (
            "data_outputs",
            row(
                json!({"id": ASSET, "namespace": "revenue-s3", "name": "Revenue on S3", "status": "ACTIVE",
            "platform_id": PLATFORM, "service_id": SERVICE, "owner_id": PRODUCER, "configuration_id": CONFIG}),
            ),
        ),
        (
            "data_outputs_datasets",
            row(
                json!({"id": LINK, "data_output_id": ASSET, "dataset_id": PORT, "status": "APPROVED"}),
            ),
        ),
        (
            "input_ports",
            row(
                json!({"id": ACCESS, "consuming_abstract_data_product_id": CONSUMER, "dataset_id": PORT, "status": "APPROVED"}),
            ),
        ),
        (
            "input_port_requests",
            row(
                json!({"id": REQUEST, "input_port_id": ACCESS, "decision": "APPROVED",
            "justification": "Monthly forecast", "access_duration_type": "TIME_BOUND", "valid_from": "2026-12-01",
            "valid_until": "2027-05-31", "revoked_at": null, "created_on": "2026-11-29 08:30:00"}),
            ),
        ),
    ]
}

/// The id a reference of this type has in an example of this entity.
fn fixture_id(entity: Entity, t: RefType) -> &'static str {
    match t {
        RefType::DataProduct if entity == Entity::Access => CONSUMER,
        RefType::DataProduct => PRODUCER,
        RefType::Dataset => PORT,
        RefType::DataOutput => ASSET,
        RefType::User => MEMBER,
    }
}

/// The tables whose rows are gone when this event is built.
fn deleted_tables(spec: &EventSpec) -> &'static [&'static str] {
    if spec.implied_status != Some("removed") && spec.implied_status != Some("cancelled") {
        return &[];
    }
    match spec.entity {
        Entity::DataProduct => &["abstract_data_products", "role_assignments_data_product"],
        Entity::OutputPort => &["datasets", "data_outputs_datasets", "input_ports"],
        Entity::TechnicalAsset => &["data_outputs", "data_outputs_datasets"],
        Entity::Access => &["input_ports", "input_port_requests"],
        Entity::DataProductMembership => &["role_assignments_data_product"],
        Entity::OutputPortMembership => &["role_assignments_dataset"],
        Entity::TechnicalAssetLink => &["data_outputs_datasets"],
    }
}

fn example_record(spec: &EventSpec, n: usize) -> AuditRecord {
    let o = spec.orientations[0];
    let derived = spec.origin == Origin::Derived;
    AuditRecord {
        id: if derived {
            relay_contracts::derived_event_id("example", spec.key, 0x1962F70)
        } else {
            format!("5a1e0000-0000-4000-8000-{n:012x}")
        },
        name: spec.key.to_string(),
        subject_type: o.subject.audit_value().to_string(),
        subject_id: Some(fixture_id(spec.entity, o.subject).to_string()),
        target_type: o.target.map(|t| t.audit_value().to_string()),
        target_id: o.target.map(|t| fixture_id(spec.entity, t).to_string()),
        actor_id: if derived { String::new() } else { OWNER.into() },
        deleted_subject_identifier: None,
        deleted_target_identifier: None,
        created_on: (!derived).then(|| "2026-11-29 08:35:06.629784".to_string()),
        link_id: None,
    }
}

/// One example envelope per event type (the first catalog entry of each type).
pub(crate) fn envelopes() -> Vec<(String, Value)> {
    let catalog = Catalog::portal();
    let mut tombstones = Tombstones::new();
    for (table, r) in fixture() {
        tombstones.insert(table, r);
    }
    let ctx = EnvelopeContext {
        source: "/data-product-portal",
        time: "2026-11-29T08:35:06.702113Z",
        commit_lsn: 0x1962F70,
        enriched_at: "2026-11-29T08:35:06.815342Z",
    };
    let mut out: Vec<(String, Value)> = Vec::new();
    for (n, spec) in catalog.specs().iter().enumerate() {
        let t = spec.event_type();
        if out.iter().any(|(et, _)| *et == t) {
            continue;
        }
        let gone = deleted_tables(spec);
        let live: Vec<(&str, Row)> = fixture()
            .into_iter()
            .filter(|(table, _)| !gone.contains(table))
            .collect();
        let ev = Enricher::default()
            .build_as_found(&[example_record(spec, n + 1)], &tombstones, &live)
            .remove(0);
        out.push((t, ev.to_cloudevent(&ctx)));
    }
    let unknown = AuditRecord {
        id: "5a1e0000-0000-4000-8000-0000000000ff".into(),
        name: "data_product_archived".into(),
        subject_type: "DATA_PRODUCT".into(),
        subject_id: Some(PRODUCER.into()),
        actor_id: OWNER.into(),
        created_on: Some("2026-11-29 08:35:06.629784".into()),
        ..AuditRecord::default()
    };
    let ev = Enricher::default()
        .build_as_found(&[unknown], &tombstones, &[])
        .remove(0);
    out.push((
        relay_catalog::UNKNOWN_EVENT_TYPE.to_string(),
        ev.to_cloudevent(&ctx),
    ));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

//! The portal-v2 profile on hand-built decoded changes: which objects each change
//! announces, with which `data`, which ids, and what it does when a fact is unknown.

use bytes::Bytes;
use pgoutput::{
    ColumnValue, Delete, Insert, LogicalMessage, Relation, RelationColumn, TupleData, Update,
};
use relay_capture::portal_v2::{self, Fact};
use relay_capture::{Capture, CaptureConfig, Captured, Profile};
use relay_contracts::{derived_event_id_at, TxContext};
use serde_json::{json, Value};

const TX: TxContext = TxContext {
    xid: 9,
    commit_lsn: 0x2_0000,
    commit_time_micros: 1_500_000,
};

fn capture() -> Capture {
    Capture::new(CaptureConfig {
        profile: Profile::PortalV2,
        schema: "public".into(),
        table: "events".into(),
        message_prefix: "outbox".into(),
        source: "/portal".into(),
        enrich: false,
    })
}

fn relation(name: &str, cols: &[&str]) -> Relation {
    Relation {
        id: 1,
        namespace: "public".into(),
        name: name.into(),
        replica_identity: b'f',
        columns: cols
            .iter()
            .map(|n| RelationColumn {
                flags: 0,
                name: (*n).into(),
                type_oid: 25,
                type_modifier: -1,
            })
            .collect(),
    }
}

fn row(values: &[Option<&str>]) -> TupleData {
    TupleData(
        values
            .iter()
            .map(|v| match v {
                Some(s) => ColumnValue::Text(Bytes::copy_from_slice(s.as_bytes())),
                None => ColumnValue::Null,
            })
            .collect(),
    )
}

fn insert(values: &[Option<&str>]) -> LogicalMessage {
    LogicalMessage::Insert(Insert {
        relation_id: 1,
        new: row(values),
    })
}

fn update(new: &[Option<&str>], old: Option<&[Option<&str>]>) -> LogicalMessage {
    LogicalMessage::Update(Update {
        relation_id: 1,
        key: None,
        old: old.map(row),
        new: row(new),
    })
}

fn delete(old: &[Option<&str>], full: bool) -> LogicalMessage {
    let tuple = row(old);
    LogicalMessage::Delete(if full {
        Delete {
            relation_id: 1,
            key: None,
            old: Some(tuple),
        }
    } else {
        Delete {
            relation_id: 1,
            key: Some(tuple),
            old: None,
        }
    })
}

/// (type, data) of each event, in order; also checks the envelope and the ids.
fn events(
    c: &Capture,
    rel: &Relation,
    change: &LogicalMessage,
    position: u64,
) -> Vec<(String, Value)> {
    c.row_change(&TX, rel, change, position)
        .into_iter()
        .map(|captured| match captured {
            Captured::Event(e) => {
                let v: Value = serde_json::from_slice(&e.body).unwrap();
                assert_eq!(v["id"], json!(e.id));
                assert_eq!(v["type"], json!(e.kind));
                assert_eq!(v["source"], "/portal");
                assert_eq!(v["time"], "2000-01-01T00:00:01.500000Z");
                assert_eq!(v["commitlsn"], "0/20000");
                assert_eq!(v["subject"], v["data"]["id"]);
                assert_eq!(e.aggregate, portal_v2::ORDERING_KEY);
                assert!(e.route.starts_with("portal_v2.") && !e.route[10..].contains('.'));
                (e.kind.clone(), v["data"].clone())
            }
            other => panic!("expected an event, got {other:?}"),
        })
        .collect()
}

const P: &str = "00000000-0000-4000-8000-000000000001";
const E: &str = "00000000-0000-4000-8000-000000000002";
const D: &str = "00000000-0000-4000-8000-000000000003";
const A: &str = "00000000-0000-4000-8000-000000000004";

#[test]
fn products_explorations_and_their_abstract_rows() {
    let c = capture();
    let adp = relation(
        "abstract_data_products",
        &["id", "abstract_data_product_type", "name"],
    );
    assert_eq!(
        events(
            &c,
            &adp,
            &insert(&[Some(E), Some("explorations"), Some("x")]),
            0
        ),
        [("exploration.event".to_string(), json!({ "id": E }))]
    );
    // Only the abstract row changes: the product is announced by its remembered type.
    let dp = relation("data_products", &["id", "about"]);
    assert_eq!(
        events(&c, &dp, &insert(&[Some(P), None]), 1)[0].0,
        "data_product.event"
    );
    assert_eq!(
        events(
            &c,
            &adp,
            &update(&[Some(P), Some("data_products"), Some("y")], None),
            2
        ),
        [("data_product.event".to_string(), json!({ "id": P }))]
    );
    let ex = relation("explorations", &["id", "owner_id"]);
    assert_eq!(
        events(&c, &ex, &delete(&[Some(E), None], false), 3),
        [("exploration.event".to_string(), json!({ "id": E }))]
    );
    // A product whose type nobody knows is announced as both.
    let unknown = "00000000-0000-4000-8000-0000000000ff";
    let kinds: Vec<String> = events(&c, &adp, &delete(&[Some(unknown), None, None], false), 4)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(kinds, ["data_product.event", "exploration.event"]);
}

#[test]
fn access_links_carry_the_consumers_stored_type_and_announce_the_consumer() {
    let c = capture();
    c.facts().learn(Fact::ProductType, E, "explorations");
    let ip = relation(
        "input_ports",
        &[
            "id",
            "consuming_abstract_data_product_id",
            "dataset_id",
            "status",
        ],
    );
    let got = events(
        &c,
        &ip,
        &insert(&[Some("ip1"), Some(E), Some(D), Some("PENDING")]),
        0,
    );
    assert_eq!(
        got,
        [
            (
                "input_port.event".to_string(),
                json!({ "id": "ip1", "consuming_abstract_data_product_id": E,
                        "consuming_abstract_data_product_type": "explorations" })
            ),
            ("exploration.event".to_string(), json!({ "id": E })),
        ]
    );
    // An update (status) announces the link only.
    let got = events(
        &c,
        &ip,
        &update(&[Some("ip1"), Some(E), Some(D), Some("APPROVED")], None),
        1,
    );
    assert_eq!(got.len(), 1);
    // A change of its request row alone announces the link, consumer from memory.
    let req = relation("input_port_requests", &["id", "input_port_id", "decision"]);
    let got = events(
        &c,
        &req,
        &update(&[Some("r1"), Some("ip1"), Some("APPROVED")], None),
        2,
    );
    assert_eq!(got[0].1["consuming_abstract_data_product_id"], E);
    assert_eq!(
        got[0].1["consuming_abstract_data_product_type"],
        "explorations"
    );
    // The consumer's type unknown: one event per possible type, distinct ids.
    let out = c.row_change(&TX, &ip, &insert(&[Some("ip2"), Some(P), Some(D), None]), 3);
    let types: Vec<Value> = out
        .iter()
        .filter_map(|x| match x {
            Captured::Event(e) if e.kind == "input_port.event" => Some(
                serde_json::from_slice::<Value>(&e.body).unwrap()["data"]
                    ["consuming_abstract_data_product_type"]
                    .clone(),
            ),
            _ => None,
        })
        .collect();
    assert_eq!(types, [json!("data_products"), json!("explorations")]);
    // A request whose link nobody knows: left out (warned), nothing invented.
    assert!(events(
        &c,
        &req,
        &insert(&[Some("r9"), Some("ip-unknown"), Some("PENDING")]),
        4
    )
    .is_empty());
}

#[test]
fn links_announce_the_asset_and_use_its_owner() {
    let c = capture();
    let ds = relation("datasets", &["id", "data_product_id", "search_vector"]);
    let dout = relation("data_outputs", &["id", "owner_id", "name"]);
    let link = relation(
        "data_outputs_datasets",
        &["id", "data_output_id", "dataset_id", "status"],
    );
    assert_eq!(
        events(&c, &ds, &insert(&[Some(D), Some(P), None]), 0),
        [(
            "output_port.event".to_string(),
            json!({ "id": D, "data_product_id": P })
        )]
    );
    assert_eq!(
        events(&c, &dout, &insert(&[Some(A), Some(P), Some("bucket")]), 1),
        [(
            "technical_asset.event".to_string(),
            json!({ "id": A, "data_product_id": P })
        )]
    );
    let expected = vec![
        (
            "output_port_technical_asset_link.event".to_string(),
            json!({ "id": "l1", "data_product_id": P, "output_port_id": D, "technical_asset_id": A }),
        ),
        (
            "technical_asset.event".to_string(),
            json!({ "id": A, "data_product_id": P }),
        ),
    ];
    assert_eq!(
        events(
            &c,
            &link,
            &insert(&[Some("l1"), Some(A), Some(D), Some("PENDING")]),
            2
        ),
        expected
    );
    assert_eq!(
        events(
            &c,
            &link,
            &delete(&[Some("l1"), Some(A), Some(D), Some("APPROVED")], true),
            3
        ),
        expected
    );
    // Moved to another asset: the old one is announced too (from the FULL old row).
    let a2 = "00000000-0000-4000-8000-000000000005";
    c.facts().learn(Fact::AssetOwner, a2, P);
    let got = events(
        &c,
        &link,
        &update(
            &[Some("l1"), Some(a2), Some(D), Some("APPROVED")],
            Some(&[Some("l1"), Some(A), Some(D), Some("APPROVED")]),
        ),
        4,
    );
    let assets: Vec<&Value> = got
        .iter()
        .filter(|(k, _)| k == "technical_asset.event")
        .map(|(_, d)| &d["id"])
        .collect();
    assert_eq!(assets, [&json!(a2), &json!(A)]);
    // A deleted output port without FULL identity: the product comes from memory.
    assert_eq!(
        events(&c, &ds, &delete(&[Some(D), None, None], false), 5)[0].1["data_product_id"],
        P
    );
}

#[test]
fn memberships_and_settings() {
    let c = capture();
    let radp = relation(
        "role_assignments_data_product",
        &["id", "data_product_id", "user_id", "decision"],
    );
    assert_eq!(
        events(
            &c,
            &radp,
            &delete(&[Some("m1"), Some(P), Some("u1"), Some("APPROVED")], true),
            0
        ),
        [(
            "data_product_role_assignment.event".to_string(),
            json!({ "id": "m1", "data_product_id": P, "user_id": "u1" })
        )]
    );
    // Without FULL identity a deleted membership cannot name its product: left out.
    assert!(events(
        &c,
        &radp,
        &delete(&[Some("m1"), None, None, None], false),
        1
    )
    .is_empty());
    let rads = relation(
        "role_assignments_dataset",
        &["id", "dataset_id", "user_id", "data_product_id"],
    );
    assert_eq!(
        events(
            &c,
            &rads,
            &insert(&[Some("m2"), Some(D), Some("u1"), Some(P)]),
            2
        )[0]
        .1,
        json!({ "id": "m2", "output_port_id": D, "data_product_id": P, "user_id": "u1" })
    );
    let sv = relation(
        "data_products_settings_values",
        &["id", "data_product_id", "dataset_id", "value"],
    );
    assert_eq!(
        events(
            &c,
            &sv,
            &insert(&[Some("s1"), Some(P), None, Some("true")]),
            3
        ),
        [(
            "data_product_setting_value.event".to_string(),
            json!({ "id": "s1", "data_product_id": P })
        )]
    );
}

#[test]
fn ids_are_stable_per_change_position_and_other_tables_are_ignored() {
    let c = capture();
    let dp = relation("data_products", &["id"]);
    let first = c.row_change(&TX, &dp, &insert(&[Some(P)]), 7);
    let again = c.row_change(&TX, &dp, &insert(&[Some(P)]), 7);
    let id = |v: &[Captured]| match &v[0] {
        Captured::Event(e) => e.id.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(id(&first), id(&again));
    assert_eq!(
        id(&first),
        derived_event_id_at("data_product.event", P, TX.commit_lsn, 7)
    );
    assert_ne!(
        id(&first),
        id(&c.row_change(&TX, &dp, &insert(&[Some(P)]), 8))
    );
    assert!(c
        .row_change(&TX, &relation("users", &["id"]), &insert(&[Some("u")]), 0)
        .is_empty());
    let mut other_schema = relation("data_products", &["id"]);
    other_schema.namespace = "other".into();
    assert!(c
        .row_change(&TX, &other_schema, &insert(&[Some(P)]), 0)
        .is_empty());
    assert!(matches!(
        c.row_change(&TX, &dp, &insert(&[Some(P), Some("extra")]), 0)
            .as_slice(),
        [Captured::Malformed(_)]
    ));
    assert!(c.captures_row_changes());
}

#[test]
fn the_dba_script_lists_the_same_tables() {
    let sql = include_str!("../../../sql/05_portal_v2.sql");
    let list = |name: &str| -> Vec<String> {
        let start = sql.find(&format!("{name} text[] := ARRAY[")).unwrap();
        let rest = &sql[start + sql[start..].find("ARRAY[").unwrap() + 6..];
        let body = &rest[..rest.find(']').unwrap()];
        body.split(',')
            .map(|s| s.trim().trim_matches('\'').to_string())
            .collect()
    };
    assert_eq!(list("published"), portal_v2::TABLES);
    assert_eq!(list("full_identity"), portal_v2::REPLICA_IDENTITY_FULL);
    assert_eq!(list("read_at_start"), portal_v2::SEED_TABLES);
}

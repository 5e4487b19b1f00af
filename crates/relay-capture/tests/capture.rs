//! Capture profiles on hand-built decoded rows: what becomes an event, what is malformed.

use bytes::Bytes;
use pgoutput::{ColumnValue, LogicalDecodingMessage, Relation, RelationColumn, TupleData};
use relay_capture::{Capture, CaptureConfig, Captured, Profile};
use relay_contracts::TxContext;
use serde_json::Value;

const TX: TxContext = TxContext {
    xid: 7,
    commit_lsn: 0x16B_3748,
    commit_time_micros: 1_500_000,
};

fn capture(profile: Profile, table: &str) -> Capture {
    Capture::new(CaptureConfig {
        profile,
        schema: "public".into(),
        table: table.into(),
        message_prefix: "outbox".into(),
        source: "/test".into(),
        enrich: false,
    })
}

fn relation(name: &str, cols: &[(&str, u32)]) -> Relation {
    Relation {
        id: 1,
        namespace: "public".into(),
        name: name.into(),
        replica_identity: b'd',
        columns: cols
            .iter()
            .map(|(n, oid)| RelationColumn {
                flags: 0,
                name: (*n).into(),
                type_oid: *oid,
                type_modifier: -1,
            })
            .collect(),
    }
}

fn text(s: &str) -> ColumnValue {
    ColumnValue::Text(Bytes::copy_from_slice(s.as_bytes()))
}

fn portal_relation() -> Relation {
    relation(
        "events",
        &[
            ("id", 2950),
            ("name", 1043),
            ("subject_type", 1043),
            ("subject_id", 2950),
            ("actor_id", 2950),
        ],
    )
}

fn event(c: Option<Captured>) -> Value {
    match c {
        Some(Captured::Event(e)) => {
            let mut v: Value = serde_json::from_slice(&e.body).unwrap();
            v["_route"] = Value::from(e.route.clone());
            v
        }
        other => panic!("expected an event, got {other:?}"),
    }
}

fn malformed_reason(c: Option<Captured>) -> String {
    match c {
        Some(Captured::Malformed(m)) => m.reason,
        other => panic!("expected malformed, got {other:?}"),
    }
}

#[test]
fn portal_row_becomes_a_cloudevent() {
    let c = capture(Profile::Portal, "events");
    let row = TupleData(vec![
        text("456a352e-12f6-4eb2-9859-e0a3ff7ceb88"),
        text("data_product_created"),
        text("DATA_PRODUCT"),
        text("33333333-3333-4333-8333-333333333333"),
        text("11111111-1111-4111-8111-111111111111"),
    ]);
    let v = event(c.insert(&TX, &portal_relation(), &row, 0));
    assert_eq!(v["specversion"], "1.0");
    assert_eq!(v["id"], "456a352e-12f6-4eb2-9859-e0a3ff7ceb88");
    assert_eq!(v["type"], "portal.audit.data_product_created.v1");
    assert_eq!(v["subject"], "33333333-3333-4333-8333-333333333333");
    assert_eq!(v["time"], "2000-01-01T00:00:01.500000Z");
    assert_eq!(v["commitlsn"], "0/16B3748");
    assert_eq!(v["auditname"], "data_product_created");
    assert_eq!(v["source"], "/test");
    assert_eq!(
        v["data"]["actor_id"],
        "11111111-1111-4111-8111-111111111111"
    );
}

/// The envelope is written in one pass (no JSON map built per row): `data` is still the
/// row as an object with its keys in name order, strings escaped, NULL as null, and the
/// envelope's own keys in their documented order, byte for byte.
#[test]
fn portal_envelope_bytes() {
    let c = capture(Profile::Portal, "events");
    let rel = relation(
        "events",
        &[
            ("name", 1043),
            ("id", 2950),
            ("subject_type", 1043),
            ("subject_id", 2950),
            ("actor_id", 2950),
            ("note", 25),
            ("deleted_at", 1184),
        ],
    );
    let row = TupleData(vec![
        text("data_product_created"),
        text("456a352e-12f6-4eb2-9859-e0a3ff7ceb88"),
        text("DATA_PRODUCT"),
        text("33333333-3333-4333-8333-333333333333"),
        text("11111111-1111-4111-8111-111111111111"),
        text("a \"quoted\"\nline é"),
        ColumnValue::Null,
    ]);
    let Some(Captured::Event(e)) = c.insert(&TX, &rel, &row, 0) else {
        panic!("expected an event");
    };
    let body = std::str::from_utf8(&e.body).unwrap();
    assert_eq!(
        body,
        concat!(
            r#"{"specversion":"1.0","id":"456a352e-12f6-4eb2-9859-e0a3ff7ceb88","source":"/test","#,
            r#""type":"portal.audit.data_product_created.v1","subject":"33333333-3333-4333-8333-333333333333","#,
            r#""time":"2000-01-01T00:00:01.500000Z","datacontenttype":"application/json","#,
            r#""commitlsn":"0/16B3748","auditname":"data_product_created","#,
            r#""data":{"actor_id":"11111111-1111-4111-8111-111111111111","deleted_at":null,"#,
            r#""id":"456a352e-12f6-4eb2-9859-e0a3ff7ceb88","#,
            r#""name":"data_product_created","note":"a \"quoted\"\nline é","#,
            r#""subject_id":"33333333-3333-4333-8333-333333333333","subject_type":"DATA_PRODUCT"}}"#
        )
    );
}

#[test]
fn other_tables_are_not_captured() {
    let c = capture(Profile::Portal, "events");
    let rel = relation("datasets", &[("id", 2950)]);
    assert!(c
        .insert(&TX, &rel, &TupleData(vec![text("x")]), 0)
        .is_none());
}

#[test]
fn portal_rows_that_do_not_fit_are_malformed_not_dropped() {
    let c = capture(Profile::Portal, "events");
    let rel = portal_relation();
    let null_name = TupleData(vec![
        text("456a352e-12f6-4eb2-9859-e0a3ff7ceb88"),
        ColumnValue::Null,
        text("DATA_PRODUCT"),
        ColumnValue::Null,
        text("11111111-1111-4111-8111-111111111111"),
    ]);
    assert!(malformed_reason(c.insert(&TX, &rel, &null_name, 0)).contains("`name` is NULL"));
    let bad_utf8 = TupleData(vec![
        text("456a352e-12f6-4eb2-9859-e0a3ff7ceb88"),
        text("data_product_created"),
        ColumnValue::Text(Bytes::from_static(b"DATA\xffPRODUCT")),
        ColumnValue::Null,
        text("11111111-1111-4111-8111-111111111111"),
    ]);
    assert!(malformed_reason(c.insert(&TX, &rel, &bad_utf8, 0)).contains("not valid UTF-8"));
    let short = TupleData(vec![text("x")]);
    assert!(malformed_reason(c.insert(&TX, &rel, &short, 3)).contains("1 values"));
    let missing = relation("events", &[("id", 2950), ("title", 25)]);
    let r = malformed_reason(c.insert(&TX, &missing, &TupleData(vec![text("a"), text("b")]), 0));
    assert!(r.contains("no column `name`"), "{r}");
}

#[test]
fn malformed_rows_without_an_id_get_a_stable_derived_id() {
    let c = capture(Profile::Portal, "events");
    let row = TupleData(vec![
        ColumnValue::Null,
        ColumnValue::Null,
        ColumnValue::Null,
        ColumnValue::Null,
        ColumnValue::Null,
    ]);
    let id = |pos| match c.insert(&TX, &portal_relation(), &row, pos) {
        Some(Captured::Malformed(m)) => m.id,
        other => panic!("{other:?}"),
    };
    assert_eq!(id(4), id(4));
    assert_ne!(id(4), id(5));
}

#[test]
fn debezium_outbox_payloads() {
    let c = capture(Profile::DebeziumOutbox, "outbox");
    let rel = relation(
        "outbox",
        &[
            ("id", 2950),
            ("aggregatetype", 25),
            ("aggregateid", 25),
            ("type", 25),
            ("payload", 3802),
        ],
    );
    let row = |payload: ColumnValue| {
        TupleData(vec![
            text("e1"),
            text("order"),
            text("o-1"),
            text("OrderCreated"),
            payload,
        ])
    };
    let v = event(c.insert(&TX, &rel, &row(text("{\"total\": 12.5}")), 0));
    assert_eq!(v["type"], "OrderCreated");
    assert_eq!(v["subject"], "o-1");
    assert_eq!(v["aggregatetype"], "order");
    assert_eq!(v["data"]["total"], 12.5);
    assert_eq!(v["_route"], "order.OrderCreated");
    let v = event(c.insert(&TX, &rel, &row(text("not json")), 0));
    assert_eq!(v["data"], "not json");
    // bytea payloads are decoded from hex
    let bytea = relation(
        "outbox",
        &[
            ("id", 2950),
            ("aggregatetype", 25),
            ("aggregateid", 25),
            ("type", 25),
            ("payload", 17),
        ],
    );
    let v = event(c.insert(&TX, &bytea, &row(text("\\x7b2261223a317d")), 0));
    assert_eq!(v["data"]["a"], 1);
    let r = malformed_reason(c.insert(&TX, &bytea, &row(text("\\xff00")), 0));
    assert!(r.contains("not valid UTF-8"), "{r}");
}

#[test]
fn logical_messages() {
    let c = capture(Profile::LogicalMessage, "unused");
    let msg = |transactional, prefix: &str, content: &[u8], lsn| LogicalDecodingMessage {
        transactional,
        lsn,
        prefix: prefix.into(),
        content: Bytes::copy_from_slice(content),
    };
    let v = event(c.message(
        Some(&TX),
        &msg(
            true,
            "outbox",
            br#"{"type":"t","subject":"s","data":{"n":1}}"#,
            10,
        ),
    ));
    assert_eq!(
        (v["type"].as_str(), v["subject"].as_str(), &v["data"]["n"]),
        (Some("t"), Some("s"), &Value::from(1))
    );
    let again = event(c.message(
        Some(&TX),
        &msg(
            true,
            "outbox",
            br#"{"type":"t","subject":"s","data":{"n":1}}"#,
            10,
        ),
    ));
    assert_eq!(v["id"], again["id"], "same WAL position, same id");
    let other = event(c.message(Some(&TX), &msg(true, "outbox", b"x", 11)));
    assert_ne!(v["id"], other["id"]);
    assert!(c
        .message(Some(&TX), &msg(true, "elsewhere", b"x", 12))
        .is_none());
    assert!(
        malformed_reason(c.message(None, &msg(false, "outbox", b"x", 13)))
            .contains("non-transactional")
    );
    assert!(
        malformed_reason(c.message(Some(&TX), &msg(true, "outbox", b"\xff", 14))).contains("UTF-8")
    );
}

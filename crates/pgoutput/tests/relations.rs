//! RelationCache and Row: naming tuple columns, and a table whose shape changes mid-stream.

mod support;

use bytes::Bytes;
use pgoutput::{
    decode, ColumnValue, LogicalMessage, Relation, RelationCache, RelationColumn, ShapeError,
    TupleData,
};
use support::Wire;

fn column(name: &str, key: bool) -> RelationColumn {
    RelationColumn {
        flags: u8::from(key),
        name: name.into(),
        type_oid: 25,
        type_modifier: -1,
    }
}

fn relation(id: u32, columns: &[&str]) -> Relation {
    Relation {
        id,
        namespace: "public".into(),
        name: "audit_logs".into(),
        replica_identity: Relation::REPLICA_IDENTITY_DEFAULT,
        columns: columns
            .iter()
            .enumerate()
            .map(|(i, name)| column(name, i == 0))
            .collect(),
    }
}

fn text(s: &str) -> ColumnValue {
    ColumnValue::Text(Bytes::copy_from_slice(s.as_bytes()))
}

#[test]
fn cache_insert_get_remove_len() {
    let mut cache = RelationCache::new();
    assert!(cache.is_empty());
    assert_eq!(cache.insert(relation(1, &["id"])), None);
    assert_eq!(cache.insert(relation(2, &["id", "name"])), None);
    assert_eq!(cache.len(), 2);
    assert_eq!(cache.get(2).map(|r| r.columns.len()), Some(2));
    assert!(cache.get(3).is_none());
    assert_eq!(cache.remove(1).map(|r| r.id), Some(1));
    assert_eq!(cache.remove(1), None);
    assert_eq!(cache.len(), 1);
}

#[test]
fn newer_relation_replaces_older_one() {
    let mut cache = RelationCache::new();
    cache.insert(relation(1, &["id", "name"]));
    let replaced = cache.insert(relation(1, &["id", "name", "actor"]));
    assert_eq!(replaced.map(|r| r.columns.len()), Some(2));
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.get(1).map(|r| r.columns.len()), Some(3));
}

#[test]
fn row_gets_by_name_and_iterates_in_column_order() {
    let rel = relation(1, &["id", "name", "actor"]);
    let tuple = TupleData(vec![text("7"), text("created"), ColumnValue::Null]);
    let row = rel.row(&tuple).expect("same shape");
    assert_eq!(row.get("name"), Some(&text("created")));
    assert_eq!(row.get("actor"), Some(&ColumnValue::Null));
    assert_eq!(row.get("nope"), None);
    assert_eq!(row.relation().id, 1);
    let pairs: Vec<_> = row.iter().collect();
    assert_eq!(
        pairs,
        vec![
            ("id", &text("7")),
            ("name", &text("created")),
            ("actor", &ColumnValue::Null),
        ]
    );
}

#[test]
fn row_rejects_a_tuple_of_another_shape() {
    let rel = relation(42, &["id", "name"]);
    let tuple = TupleData(vec![text("7")]);
    let e = rel.row(&tuple).expect_err("shape differs");
    assert_eq!(
        e,
        ShapeError {
            relation_id: 42,
            namespace: "public".into(),
            name: "audit_logs".into(),
            relation_columns: 2,
            tuple_columns: 1,
        }
    );
    assert_eq!(
        e.to_string(),
        "tuple has 1 columns but relation 42 (public.audit_logs) has 2"
    );
}

/// A Relation message for `public.audit_logs` (id 16390) with these (name, type OID) columns,
/// the first one the key.
fn relation_wire(columns: &[(&str, u32)]) -> Wire {
    let count = i16::try_from(columns.len()).expect("few columns");
    let head = Wire::new(b'R')
        .u32(16_390)
        .cstr("public")
        .cstr("audit_logs")
        .u8(b'd')
        .i16(count);
    columns
        .iter()
        .enumerate()
        .fold(head, |w, (i, (name, oid))| {
            w.u8(u8::from(i == 0)).cstr(name).u32(*oid).i32(-1)
        })
}

/// The stream a session sees around `ALTER TABLE audit_logs ADD COLUMN actor text`: the
/// Relation is sent again before the first row written with the new shape.
#[test]
fn alter_table_mid_stream() {
    let relation_v1 = relation_wire(&[("id", 20), ("name", 25)]);
    let insert_v1 = Wire::new(b'I')
        .u32(16_390)
        .u8(b'N')
        .columns(2)
        .text(b"1")
        .text(b"a");
    let relation_v2 = relation_wire(&[("id", 20), ("name", 25), ("actor", 25)]);
    let insert_v2 = Wire::new(b'I')
        .u32(16_390)
        .u8(b'N')
        .columns(3)
        .text(b"2")
        .text(b"b")
        .text(b"alice");

    let mut cache = RelationCache::new();
    let mut rows = Vec::new();
    for buf in [relation_v1, insert_v1.clone(), relation_v2, insert_v2] {
        match decode(&buf.bytes()).expect("valid stream") {
            LogicalMessage::Relation(r) => {
                cache.insert(r);
            }
            LogicalMessage::Insert(i) => {
                let rel = cache.get(i.relation_id).expect("relation sent first");
                let row = rel.row(&i.new).expect("shape matches");
                rows.push(
                    row.iter()
                        .map(|(name, v)| (name.to_owned(), v.clone()))
                        .collect::<Vec<_>>(),
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].len(), 2);
    assert_eq!(rows[1][2], ("actor".to_owned(), text("alice")));

    // An old-shaped tuple no longer fits the cached relation.
    let LogicalMessage::Insert(old) = decode(&insert_v1.bytes()).expect("valid") else {
        panic!("expected an Insert");
    };
    let rel = cache.get(16_390).expect("cached");
    assert!(rel.row(&old.new).is_err());
}

//! One hand-built message per kind, decoded and checked field by field.

mod support;

use bytes::Bytes;
use pgoutput::{
    decode, Begin, ColumnValue, Commit, Delete, Insert, LogicalDecodingMessage, LogicalMessage,
    Origin, Relation, RelationColumn, Truncate, TupleData, TypeInfo, Update,
};
use support::Wire;

fn text(s: &str) -> ColumnValue {
    ColumnValue::Text(Bytes::copy_from_slice(s.as_bytes()))
}

fn ok(w: Wire) -> LogicalMessage {
    decode(&w.bytes()).expect("valid message decodes")
}

#[test]
fn begin() {
    let msg = ok(Wire::new(b'B')
        .u64(0x0000_0016_B374_D848)
        .i64(786_345_600_123_456)
        .u32(731));
    assert_eq!(
        msg,
        LogicalMessage::Begin(Begin {
            final_lsn: 0x0000_0016_B374_D848,
            commit_time: 786_345_600_123_456,
            xid: 731,
        })
    );
    assert_eq!(msg.tag(), b'B');
}

#[test]
fn begin_with_pre_epoch_time_and_max_xid() {
    let msg = ok(Wire::new(b'B').u64(u64::MAX).i64(-1).u32(u32::MAX));
    assert_eq!(
        msg,
        LogicalMessage::Begin(Begin {
            final_lsn: u64::MAX,
            commit_time: -1,
            xid: u32::MAX,
        })
    );
}

#[test]
fn commit() {
    let msg = ok(Wire::new(b'C').u8(0).u64(0x100).u64(0x128).i64(42));
    assert_eq!(
        msg,
        LogicalMessage::Commit(Commit {
            flags: 0,
            commit_lsn: 0x100,
            end_lsn: 0x128,
            commit_time: 42,
        })
    );
}

#[test]
fn origin() {
    let msg = ok(Wire::new(b'O').u64(77).cstr("pg_16385"));
    assert_eq!(
        msg,
        LogicalMessage::Origin(Origin {
            commit_lsn: 77,
            name: "pg_16385".into(),
        })
    );
}

#[test]
fn relation_with_key_column_and_empty_namespace() {
    let msg = ok(Wire::new(b'R')
        .u32(16_390)
        .cstr("")
        .cstr("audit_logs")
        .u8(b'd')
        .i16(3)
        .u8(1)
        .cstr("id")
        .u32(2950)
        .i32(-1)
        .u8(0)
        .cstr("name")
        .u32(1043)
        .i32(259)
        .u8(0)
        .cstr("données")
        .u32(3802)
        .i32(-1));
    let LogicalMessage::Relation(rel) = msg else {
        panic!("expected a Relation, got {msg:?}");
    };
    assert_eq!(
        rel,
        Relation {
            id: 16_390,
            namespace: String::new(),
            name: "audit_logs".into(),
            replica_identity: Relation::REPLICA_IDENTITY_DEFAULT,
            columns: vec![
                RelationColumn {
                    flags: 1,
                    name: "id".into(),
                    type_oid: 2950,
                    type_modifier: -1,
                },
                RelationColumn {
                    flags: 0,
                    name: "name".into(),
                    type_oid: 1043,
                    type_modifier: 259,
                },
                RelationColumn {
                    flags: 0,
                    name: "données".into(),
                    type_oid: 3802,
                    type_modifier: -1,
                },
            ],
        }
    );
    assert!(rel.columns[0].is_key());
    assert!(!rel.columns[1].is_key());
    assert_eq!(rel.column_index("name"), Some(1));
    assert_eq!(rel.column_index("données"), Some(2));
    assert_eq!(rel.column_index("missing"), None);
}

#[test]
fn relation_with_no_columns() {
    let msg = ok(Wire::new(b'R')
        .u32(1)
        .cstr("public")
        .cstr("empty")
        .u8(b'n')
        .i16(0));
    let LogicalMessage::Relation(rel) = msg else {
        panic!("expected a Relation, got {msg:?}");
    };
    assert!(rel.columns.is_empty());
    assert_eq!(rel.replica_identity, Relation::REPLICA_IDENTITY_NOTHING);
}

#[test]
fn type_message() {
    let msg = ok(Wire::new(b'Y').u32(16_400).cstr("public").cstr("status"));
    assert_eq!(
        msg,
        LogicalMessage::Type(TypeInfo {
            id: 16_400,
            namespace: "public".into(),
            name: "status".into(),
        })
    );
}

#[test]
fn insert_with_every_column_kind() {
    let msg = ok(Wire::new(b'I')
        .u32(16_390)
        .u8(b'N')
        .columns(5)
        .text(b"42")
        .null()
        .toast()
        .binary(&[0, 0, 0, 42])
        .text(b""));
    assert_eq!(
        msg,
        LogicalMessage::Insert(Insert {
            relation_id: 16_390,
            new: TupleData(vec![
                text("42"),
                ColumnValue::Null,
                ColumnValue::UnchangedToast,
                ColumnValue::Binary(Bytes::from_static(&[0, 0, 0, 42])),
                text(""),
            ]),
        })
    );
}

#[test]
fn insert_values_are_zero_copy_slices_of_the_input() {
    let buf = Wire::new(b'I')
        .u32(1)
        .u8(b'N')
        .columns(1)
        .text(b"hello")
        .bytes();
    let LogicalMessage::Insert(ins) = decode(&buf).expect("decodes") else {
        panic!("expected an Insert");
    };
    let ColumnValue::Text(value) = &ins.new.0[0] else {
        panic!("expected a text value");
    };
    let input = buf.as_ptr_range();
    assert!(input.contains(&value.as_ptr()), "value was copied");
    assert_eq!(&value[..], b"hello");
}

#[test]
fn update_with_only_new_tuple() {
    let msg = ok(Wire::new(b'U')
        .u32(7)
        .u8(b'N')
        .columns(2)
        .text(b"1")
        .toast());
    assert_eq!(
        msg,
        LogicalMessage::Update(Update {
            relation_id: 7,
            key: None,
            old: None,
            new: TupleData(vec![text("1"), ColumnValue::UnchangedToast]),
        })
    );
}

#[test]
fn update_with_key_tuple() {
    let msg = ok(Wire::new(b'U')
        .u32(7)
        .u8(b'K')
        .columns(2)
        .text(b"1")
        .null()
        .u8(b'N')
        .columns(2)
        .text(b"2")
        .text(b"renamed"));
    assert_eq!(
        msg,
        LogicalMessage::Update(Update {
            relation_id: 7,
            key: Some(TupleData(vec![text("1"), ColumnValue::Null])),
            old: None,
            new: TupleData(vec![text("2"), text("renamed")]),
        })
    );
}

#[test]
fn update_with_old_tuple() {
    let msg = ok(Wire::new(b'U')
        .u32(7)
        .u8(b'O')
        .columns(2)
        .text(b"1")
        .text(b"before")
        .u8(b'N')
        .columns(2)
        .text(b"1")
        .text(b"after"));
    assert_eq!(
        msg,
        LogicalMessage::Update(Update {
            relation_id: 7,
            key: None,
            old: Some(TupleData(vec![text("1"), text("before")])),
            new: TupleData(vec![text("1"), text("after")]),
        })
    );
}

#[test]
fn delete_with_key_tuple() {
    let msg = ok(Wire::new(b'D').u32(9).u8(b'K').columns(2).text(b"5").null());
    assert_eq!(
        msg,
        LogicalMessage::Delete(Delete {
            relation_id: 9,
            key: Some(TupleData(vec![text("5"), ColumnValue::Null])),
            old: None,
        })
    );
}

#[test]
fn delete_with_old_tuple() {
    let msg = ok(Wire::new(b'D')
        .u32(9)
        .u8(b'O')
        .columns(2)
        .text(b"5")
        .binary(b"\x01"));
    assert_eq!(
        msg,
        LogicalMessage::Delete(Delete {
            relation_id: 9,
            key: None,
            old: Some(TupleData(vec![
                text("5"),
                ColumnValue::Binary(Bytes::from_static(b"\x01")),
            ])),
        })
    );
}

#[test]
fn truncate_several_relations_with_options() {
    let msg = ok(Wire::new(b'T')
        .i32(3)
        .u8(3)
        .u32(16_390)
        .u32(16_391)
        .u32(16_392));
    let LogicalMessage::Truncate(t) = msg else {
        panic!("expected a Truncate, got {msg:?}");
    };
    assert_eq!(
        t,
        Truncate {
            options: 3,
            relation_ids: vec![16_390, 16_391, 16_392],
        }
    );
    assert!(t.is_cascade());
    assert!(t.is_restart_identity());
}

#[test]
fn truncate_option_bits_are_independent() {
    let cascade = Truncate {
        options: 1,
        relation_ids: vec![],
    };
    assert!(cascade.is_cascade() && !cascade.is_restart_identity());
    let restart = Truncate {
        options: 2,
        relation_ids: vec![],
    };
    assert!(!restart.is_cascade() && restart.is_restart_identity());
}

#[test]
fn transactional_message() {
    let msg = ok(Wire::new(b'M')
        .u8(1)
        .u64(0x500)
        .cstr("outbox")
        .len_bytes(br#"{"k":1}"#));
    assert_eq!(
        msg,
        LogicalMessage::Message(LogicalDecodingMessage {
            transactional: true,
            lsn: 0x500,
            prefix: "outbox".into(),
            content: Bytes::from_static(br#"{"k":1}"#),
        })
    );
}

#[test]
fn non_transactional_message_with_empty_and_binary_content() {
    let msg = ok(Wire::new(b'M').u8(0).u64(1).cstr("p").len_bytes(b""));
    assert_eq!(
        msg,
        LogicalMessage::Message(LogicalDecodingMessage {
            transactional: false,
            lsn: 1,
            prefix: "p".into(),
            content: Bytes::new(),
        })
    );
    let msg = ok(Wire::new(b'M').u8(0).u64(1).cstr("p").len_bytes(&[0, 0xff]));
    let LogicalMessage::Message(m) = msg else {
        panic!("expected a Message");
    };
    assert!(!m.transactional);
    assert_eq!(&m.content[..], &[0, 0xff]);
}

//! Properties: valid messages round-trip; any other input is an error, never a panic.

mod support;

use bytes::Bytes;
use pgoutput::{
    decode, Begin, ColumnValue, Commit, DecodeError, Delete, Insert, LogicalDecodingMessage,
    LogicalMessage, Origin, Relation, RelationColumn, Truncate, TupleData, TypeInfo, Update,
};
use proptest::collection::vec;
use proptest::prelude::*;
use support::encode;

/// A string as PostgreSQL could send it: any UTF-8 without NUL.
fn name() -> impl Strategy<Value = String> {
    vec(any::<char>().prop_filter("no NUL", |c| *c != '\0'), 0..12)
        .prop_map(|chars| chars.into_iter().collect())
}

fn payload() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

fn column_value() -> impl Strategy<Value = ColumnValue> {
    prop_oneof![
        Just(ColumnValue::Null),
        Just(ColumnValue::UnchangedToast),
        payload().prop_map(ColumnValue::Text),
        payload().prop_map(ColumnValue::Binary),
    ]
}

fn tuple() -> impl Strategy<Value = TupleData> {
    vec(column_value(), 0..6).prop_map(TupleData)
}

fn relation_column() -> impl Strategy<Value = RelationColumn> {
    (any::<u8>(), name(), any::<u32>(), any::<i32>()).prop_map(
        |(flags, name, type_oid, type_modifier)| RelationColumn {
            flags,
            name,
            type_oid,
            type_modifier,
        },
    )
}

fn message() -> impl Strategy<Value = LogicalMessage> {
    prop_oneof![
        (any::<u64>(), any::<i64>(), any::<u32>()).prop_map(|(final_lsn, commit_time, xid)| {
            LogicalMessage::Begin(Begin {
                final_lsn,
                commit_time,
                xid,
            })
        }),
        (any::<u8>(), any::<u64>(), any::<u64>(), any::<i64>()).prop_map(
            |(flags, commit_lsn, end_lsn, commit_time)| LogicalMessage::Commit(Commit {
                flags,
                commit_lsn,
                end_lsn,
                commit_time,
            })
        ),
        (any::<u64>(), name())
            .prop_map(|(commit_lsn, name)| LogicalMessage::Origin(Origin { commit_lsn, name })),
        (
            any::<u32>(),
            name(),
            name(),
            any::<u8>(),
            vec(relation_column(), 0..6)
        )
            .prop_map(|(id, namespace, name, replica_identity, columns)| {
                LogicalMessage::Relation(Relation {
                    id,
                    namespace,
                    name,
                    replica_identity,
                    columns,
                })
            }),
        (any::<u32>(), name(), name()).prop_map(|(id, namespace, name)| {
            LogicalMessage::Type(TypeInfo {
                id,
                namespace,
                name,
            })
        }),
        (any::<u32>(), tuple())
            .prop_map(|(relation_id, new)| LogicalMessage::Insert(Insert { relation_id, new })),
        (any::<u32>(), 0..3_u8, tuple(), tuple()).prop_map(|(relation_id, which, before, new)| {
            let (key, old) = match which {
                0 => (None, None),
                1 => (Some(before), None),
                _ => (None, Some(before)),
            };
            LogicalMessage::Update(Update {
                relation_id,
                key,
                old,
                new,
            })
        }),
        (any::<u32>(), any::<bool>(), tuple()).prop_map(|(relation_id, is_key, before)| {
            let (key, old) = if is_key {
                (Some(before), None)
            } else {
                (None, Some(before))
            };
            LogicalMessage::Delete(Delete {
                relation_id,
                key,
                old,
            })
        }),
        (any::<u8>(), vec(any::<u32>(), 0..8)).prop_map(|(options, relation_ids)| {
            LogicalMessage::Truncate(Truncate {
                options,
                relation_ids,
            })
        }),
        (any::<bool>(), any::<u64>(), name(), payload()).prop_map(
            |(transactional, lsn, prefix, content)| {
                LogicalMessage::Message(LogicalDecodingMessage {
                    transactional,
                    lsn,
                    prefix,
                    content,
                })
            }
        ),
    ]
}

/// Whatever `decode` says about `buf`, it says it without panicking, and anything it accepts
/// re-encodes to something it decodes the same way.
fn decodes_consistently(buf: &Bytes) -> Result<(), TestCaseError> {
    match decode(buf) {
        Ok(msg) => prop_assert_eq!(decode(&encode(&msg)), Ok(msg)),
        Err(DecodeError::Truncated {
            needed, remaining, ..
        }) => prop_assert!(needed > remaining),
        Err(_) => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_messages_round_trip(msg in message()) {
        prop_assert_eq!(decode(&encode(&msg)), Ok(msg));
    }

    /// Every field's size is fixed or given by a length/count, so a strict prefix of a valid
    /// message is never a complete one.
    #[test]
    fn every_strict_prefix_is_an_error(msg in message()) {
        let buf = encode(&msg);
        for end in 0..buf.len() {
            let prefix = buf.slice(..end);
            prop_assert!(decode(&prefix).is_err(), "prefix of {} bytes decoded", end);
        }
    }

    #[test]
    fn appended_bytes_are_trailing(msg in message(), extra in vec(any::<u8>(), 1..8)) {
        let mut buf = encode(&msg).to_vec();
        buf.extend_from_slice(&extra);
        prop_assert_eq!(
            decode(&Bytes::from(buf)),
            Err(DecodeError::TrailingBytes { count: extra.len(), tag: msg.tag() })
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic(raw in vec(any::<u8>(), 0..64)) {
        decodes_consistently(&Bytes::from(raw))?;
    }

    /// Arbitrary bytes rarely get past the tag; these start with a known tag.
    #[test]
    fn arbitrary_bodies_after_a_known_tag_never_panic(
        tag in prop::sample::select(b"BCORYIUDTM".to_vec()),
        body in vec(any::<u8>(), 0..64),
    ) {
        let mut raw = vec![tag];
        raw.extend_from_slice(&body);
        decodes_consistently(&Bytes::from(raw))?;
    }

    #[test]
    fn flipped_bytes_never_panic(
        msg in message(),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut buf = encode(&msg).to_vec();
        for (at, xor) in flips {
            if !buf.is_empty() {
                let i = at.index(buf.len());
                buf[i] ^= xor;
            }
        }
        if truncate {
            buf.truncate(cut.index(buf.len() + 1));
        }
        decodes_consistently(&Bytes::from(buf))?;
    }
}

//! `decode`: bytes of one pgoutput message → [`LogicalMessage`].

use bytes::Bytes;

use crate::reader::Reader;
use crate::{
    tag, Begin, ColumnValue, Commit, DecodeError, Delete, Insert, LogicalDecodingMessage,
    LogicalMessage, Origin, Relation, RelationColumn, Truncate, TupleData, TypeInfo, Update,
};

/// Smallest wire size of one relation column: flags, empty name + NUL, type OID, modifier.
const MIN_RELATION_COLUMN: usize = 1 + 1 + 4 + 4;
/// Smallest wire size of one TupleData column: its kind byte.
const MIN_TUPLE_COLUMN: usize = 1;
/// Wire size of one relation id in a Truncate.
const TRUNCATE_ID: usize = 4;

/// Decodes one pgoutput (protocol v1) message: the payload of one XLogData.
///
/// The whole buffer must be exactly one message; bytes left over are an error. Column values
/// and Message content are zero-copy slices of `buf`. Never panics, whatever `buf` holds.
pub fn decode(buf: &Bytes) -> Result<LogicalMessage, DecodeError> {
    let mut r = Reader::new(buf);
    let tag = match r.u8("tag") {
        Ok(tag) => tag,
        Err(_) => return Err(DecodeError::Empty),
    };
    let message = match tag {
        tag::BEGIN => LogicalMessage::Begin(Begin {
            final_lsn: r.u64("Begin final LSN")?,
            commit_time: r.i64("Begin commit time")?,
            xid: r.u32("Begin xid")?,
        }),
        tag::COMMIT => LogicalMessage::Commit(Commit {
            flags: r.u8("Commit flags")?,
            commit_lsn: r.u64("Commit LSN")?,
            end_lsn: r.u64("Commit end LSN")?,
            commit_time: r.i64("Commit time")?,
        }),
        tag::ORIGIN => LogicalMessage::Origin(Origin {
            commit_lsn: r.u64("Origin commit LSN")?,
            name: r.cstr("Origin name")?,
        }),
        tag::RELATION => LogicalMessage::Relation(relation(&mut r)?),
        tag::TYPE => LogicalMessage::Type(TypeInfo {
            id: r.u32("Type id")?,
            namespace: r.cstr("Type namespace")?,
            name: r.cstr("Type name")?,
        }),
        tag::INSERT => {
            let relation_id = r.u32("Insert relation id")?;
            match r.u8("Insert tuple marker")? {
                tag::TUPLE_NEW => LogicalMessage::Insert(Insert {
                    relation_id,
                    new: tuple(&mut r)?,
                }),
                other => return Err(DecodeError::UnknownTupleKind(other)),
            }
        }
        tag::UPDATE => LogicalMessage::Update(update(&mut r)?),
        tag::DELETE => {
            let relation_id = r.u32("Delete relation id")?;
            let (key, old) = match r.u8("Delete tuple marker")? {
                tag::TUPLE_KEY => (Some(tuple(&mut r)?), None),
                tag::TUPLE_OLD => (None, Some(tuple(&mut r)?)),
                other => return Err(DecodeError::UnknownTupleKind(other)),
            };
            LogicalMessage::Delete(Delete {
                relation_id,
                key,
                old,
            })
        }
        tag::TRUNCATE => LogicalMessage::Truncate(truncate(&mut r)?),
        tag::MESSAGE => {
            let flags = r.u8("Message flags")?;
            let lsn = r.u64("Message LSN")?;
            let prefix = r.cstr("Message prefix")?;
            let len = r.count32("Message content length")?;
            LogicalMessage::Message(LogicalDecodingMessage {
                transactional: flags & 1 != 0,
                lsn,
                prefix,
                content: r.bytes("Message content", len)?,
            })
        }
        other => return Err(DecodeError::UnknownTag(other)),
    };
    match r.remaining() {
        0 => Ok(message),
        count => Err(DecodeError::TrailingBytes { count, tag }),
    }
}

fn relation(r: &mut Reader<'_>) -> Result<Relation, DecodeError> {
    let id = r.u32("Relation id")?;
    let namespace = r.cstr("Relation namespace")?;
    let name = r.cstr("Relation name")?;
    let replica_identity = r.u8("Relation replica identity")?;
    let count = r.count16("Relation column count")?;
    let mut columns = Vec::with_capacity(count.min(r.remaining() / MIN_RELATION_COLUMN));
    for _ in 0..count {
        columns.push(RelationColumn {
            flags: r.u8("Relation column flags")?,
            name: r.cstr("Relation column name")?,
            type_oid: r.u32("Relation column type OID")?,
            type_modifier: r.i32("Relation column type modifier")?,
        });
    }
    Ok(Relation {
        id,
        namespace,
        name,
        replica_identity,
        columns,
    })
}

fn update(r: &mut Reader<'_>) -> Result<Update, DecodeError> {
    let relation_id = r.u32("Update relation id")?;
    let mut key = None;
    let mut old = None;
    let mut marker = r.u8("Update tuple marker")?;
    match marker {
        tag::TUPLE_KEY => key = Some(tuple(r)?),
        tag::TUPLE_OLD => old = Some(tuple(r)?),
        _ => {}
    }
    if key.is_some() || old.is_some() {
        marker = r.u8("Update new tuple marker")?;
    }
    if marker != tag::TUPLE_NEW {
        return Err(DecodeError::UnknownTupleKind(marker));
    }
    Ok(Update {
        relation_id,
        key,
        old,
        new: tuple(r)?,
    })
}

fn truncate(r: &mut Reader<'_>) -> Result<Truncate, DecodeError> {
    let count = r.count32("Truncate relation count")?;
    let options = r.u8("Truncate options")?;
    let mut relation_ids = Vec::with_capacity(count.min(r.remaining() / TRUNCATE_ID));
    for _ in 0..count {
        relation_ids.push(r.u32("Truncate relation id")?);
    }
    Ok(Truncate {
        options,
        relation_ids,
    })
}

fn tuple(r: &mut Reader<'_>) -> Result<TupleData, DecodeError> {
    let count = r.count16("TupleData column count")?;
    let mut columns = Vec::with_capacity(count.min(r.remaining() / MIN_TUPLE_COLUMN));
    for _ in 0..count {
        let value = match r.u8("TupleData column kind")? {
            tag::COLUMN_NULL => ColumnValue::Null,
            tag::COLUMN_UNCHANGED_TOAST => ColumnValue::UnchangedToast,
            tag::COLUMN_TEXT => {
                let len = r.count32("TupleData text value length")?;
                ColumnValue::Text(r.bytes("TupleData text value", len)?)
            }
            tag::COLUMN_BINARY => {
                let len = r.count32("TupleData binary value length")?;
                ColumnValue::Binary(r.bytes("TupleData binary value", len)?)
            }
            other => return Err(DecodeError::UnknownColumnKind(other)),
        };
        columns.push(value);
    }
    Ok(TupleData(columns))
}

//! The decoded messages, one struct per pgoutput message kind.

use bytes::Bytes;

use crate::Lsn;

/// One decoded pgoutput message (the payload of one XLogData).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum LogicalMessage {
    /// `B`: a transaction starts.
    Begin(Begin),
    /// `C`: the transaction ends.
    Commit(Commit),
    /// `O`: the transaction was replicated from another origin.
    Origin(Origin),
    /// `R`: a table's columns, sent before its first row change and after each change of shape.
    Relation(Relation),
    /// `Y`: a non-builtin data type used by a following Relation.
    Type(TypeInfo),
    /// `I`: a row was inserted.
    Insert(Insert),
    /// `U`: a row was updated.
    Update(Update),
    /// `D`: a row was deleted.
    Delete(Delete),
    /// `T`: one or more tables were truncated.
    Truncate(Truncate),
    /// `M`: a message from `pg_logical_emit_message` (needs the `messages` option).
    Message(LogicalDecodingMessage),
}

impl LogicalMessage {
    /// The wire tag of this message kind (see [`tag`](crate::tag)).
    pub fn tag(&self) -> u8 {
        use crate::tag;
        match self {
            LogicalMessage::Begin(_) => tag::BEGIN,
            LogicalMessage::Commit(_) => tag::COMMIT,
            LogicalMessage::Origin(_) => tag::ORIGIN,
            LogicalMessage::Relation(_) => tag::RELATION,
            LogicalMessage::Type(_) => tag::TYPE,
            LogicalMessage::Insert(_) => tag::INSERT,
            LogicalMessage::Update(_) => tag::UPDATE,
            LogicalMessage::Delete(_) => tag::DELETE,
            LogicalMessage::Truncate(_) => tag::TRUNCATE,
            LogicalMessage::Message(_) => tag::MESSAGE,
        }
    }
}

/// `B`: a transaction starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Begin {
    /// The LSN of the transaction's commit record.
    pub final_lsn: Lsn,
    /// Commit time, in microseconds since 2000-01-01 00:00:00 UTC (the PostgreSQL epoch).
    pub commit_time: i64,
    /// The transaction id.
    pub xid: u32,
}

/// `C`: the transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    /// Flags; currently unused by PostgreSQL (0).
    pub flags: u8,
    /// The LSN of the commit record.
    pub commit_lsn: Lsn,
    /// The LSN just past the commit record: what to confirm once the transaction is handled.
    pub end_lsn: Lsn,
    /// Commit time, in microseconds since 2000-01-01 00:00:00 UTC (the PostgreSQL epoch).
    pub commit_time: i64,
}

/// `O`: the transaction was replicated from another origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The LSN of the commit on the origin server.
    pub commit_lsn: Lsn,
    /// The origin's name.
    pub name: String,
}

/// `R`: a table's columns. A later Relation with the same id replaces the earlier one (that is
/// how `ALTER TABLE` arrives mid-stream); keep them in a [`RelationCache`](crate::RelationCache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The table's OID; Insert/Update/Delete refer to it.
    pub id: u32,
    /// The schema; empty for `pg_catalog`.
    pub namespace: String,
    /// The table name.
    pub name: String,
    /// `relreplident` of `pg_class`: see the `REPLICA_IDENTITY_*` constants.
    pub replica_identity: u8,
    /// The columns, in tuple order (generated columns are not sent).
    pub columns: Vec<RelationColumn>,
}

impl Relation {
    /// `d`: the primary key identifies old rows.
    pub const REPLICA_IDENTITY_DEFAULT: u8 = b'd';
    /// `n`: no old-row information.
    pub const REPLICA_IDENTITY_NOTHING: u8 = b'n';
    /// `f`: the whole old row is sent.
    pub const REPLICA_IDENTITY_FULL: u8 = b'f';
    /// `i`: the columns of a chosen unique index identify old rows.
    pub const REPLICA_IDENTITY_INDEX: u8 = b'i';

    /// The position of the column called `name`, which is also its position in a tuple.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
}

/// One column of a [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationColumn {
    /// Bit 0 (`1`): the column is part of the replica identity key.
    pub flags: u8,
    /// The column name.
    pub name: String,
    /// The OID of the column's data type.
    pub type_oid: u32,
    /// The type modifier (`atttypmod`), -1 when none.
    pub type_modifier: i32,
}

impl RelationColumn {
    /// Whether the column is part of the replica identity key.
    pub fn is_key(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// `Y`: a data type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    /// The type's OID.
    pub id: u32,
    /// The schema; empty for `pg_catalog`.
    pub namespace: String,
    /// The type name.
    pub name: String,
}

/// `I`: a row was inserted.
#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    /// The [`Relation`] id.
    pub relation_id: u32,
    /// The new row.
    pub new: TupleData,
}

/// `U`: a row was updated.
///
/// At most one of `key` and `old` is set: `key` when the key changed under a default or index
/// replica identity, `old` under `REPLICA IDENTITY FULL`.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// The [`Relation`] id.
    pub relation_id: u32,
    /// `K`: the old key columns (other columns are [`ColumnValue::Null`]).
    pub key: Option<TupleData>,
    /// `O`: the whole old row.
    pub old: Option<TupleData>,
    /// `N`: the new row.
    pub new: TupleData,
}

/// `D`: a row was deleted. Exactly one of `key` and `old` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Delete {
    /// The [`Relation`] id.
    pub relation_id: u32,
    /// `K`: the old key columns (other columns are [`ColumnValue::Null`]).
    pub key: Option<TupleData>,
    /// `O`: the whole old row.
    pub old: Option<TupleData>,
}

/// `T`: one or more tables were truncated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncate {
    /// Bit 0: `CASCADE`; bit 1: `RESTART IDENTITY`.
    pub options: u8,
    /// The [`Relation`] ids of the truncated tables.
    pub relation_ids: Vec<u32>,
}

impl Truncate {
    /// `TRUNCATE … CASCADE`.
    pub fn is_cascade(&self) -> bool {
        self.options & 1 != 0
    }

    /// `TRUNCATE … RESTART IDENTITY`.
    pub fn is_restart_identity(&self) -> bool {
        self.options & 2 != 0
    }
}

/// `M`: a message from `pg_logical_emit_message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalDecodingMessage {
    /// Whether it was emitted transactionally (flags bit 0); if so it arrives inside its
    /// transaction's Begin/Commit, otherwise on its own.
    pub transactional: bool,
    /// The LSN of the message.
    pub lsn: Lsn,
    /// The prefix given by the emitter.
    pub prefix: String,
    /// The content, a zero-copy slice of the input.
    pub content: Bytes,
}

/// The columns of one row, in [`Relation`] column order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TupleData(pub Vec<ColumnValue>);

impl TupleData {
    /// How many columns.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&ColumnValue> {
        self.0.get(index)
    }

    /// The values, in column order.
    pub fn iter(&self) -> std::slice::Iter<'_, ColumnValue> {
        self.0.iter()
    }
}

/// One column value of a [`TupleData`].
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnValue {
    /// `n`: SQL NULL.
    Null,
    /// `u`: a TOASTed value that did not change; its value is not sent.
    UnchangedToast,
    /// `t`: the value in PostgreSQL's text format (zero-copy slice of the input).
    Text(Bytes),
    /// `b`: the value in PostgreSQL's binary format (zero-copy slice of the input).
    Binary(Bytes),
}

impl ColumnValue {
    /// The bytes of a [`Text`](ColumnValue::Text) or [`Binary`](ColumnValue::Binary) value.
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match self {
            ColumnValue::Text(b) | ColumnValue::Binary(b) => Some(b),
            ColumnValue::Null | ColumnValue::UnchangedToast => None,
        }
    }

    /// Whether the value is SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, ColumnValue::Null)
    }
}

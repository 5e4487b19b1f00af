//! Sans-I/O decoder of PostgreSQL `pgoutput` logical replication messages (protocol v1).
//!
//! ```text
//! source    reads XLogData from the replication slot, answers keepalives
//!   │        (one XLogData payload = one pgoutput message)
//!   ▼
//! pgoutput  decode(bytes) → Begin / Relation / Insert / Update / Delete / Commit / Message …
//!   │        RelationCache + Relation::row() give tuple columns their names
//!   ▼
//! capture   turns rows of the audit/outbox table into AuditRecords
//! ```
//!
//! This crate does no I/O and keeps no connection state apart from what the caller puts in a
//! [`RelationCache`]. Every byte it reads is treated as untrusted: [`decode`] never panics,
//! whatever the input. Malformed input (truncated, trailing garbage, negative lengths, unknown
//! tags, strings without their NUL or not UTF-8) comes back as a [`DecodeError`]. A decode
//! error is permanent: reading the same WAL again yields the same bytes, so retrying is useless.
//!
//! Column values are zero-copy slices of the input [`bytes::Bytes`]; names and prefixes are
//! copied into `String`s.
//!
//! Reference: PostgreSQL documentation, "Logical Replication Message Formats".
//!
//! ```
//! use bytes::Bytes;
//! use pgoutput::{decode, LogicalMessage};
//!
//! // 'B', final LSN, commit time, xid
//! let mut raw = vec![b'B'];
//! raw.extend_from_slice(&0x0000_0001_0000_0028_u64.to_be_bytes());
//! raw.extend_from_slice(&0_i64.to_be_bytes());
//! raw.extend_from_slice(&731_u32.to_be_bytes());
//! match decode(&Bytes::from(raw))? {
//!     LogicalMessage::Begin(begin) => assert_eq!(begin.xid, 731),
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), pgoutput::DecodeError>(())
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod decode;
mod error;
mod message;
mod reader;
mod relation;

pub use decode::decode;
pub use error::{DecodeError, ShapeError};
pub use message::{
    Begin, ColumnValue, Commit, Delete, Insert, LogicalDecodingMessage, LogicalMessage, Origin,
    Relation, RelationColumn, Truncate, TupleData, TypeInfo, Update,
};
pub use relation::{RelationCache, Row};

/// A WAL position (PostgreSQL `XLogRecPtr`), as sent on the wire.
pub type Lsn = u64;

/// Wire tags: the first byte of each message, and the markers inside Insert/Update/Delete and
/// TupleData.
pub mod tag {
    /// `B`: start of a transaction.
    pub const BEGIN: u8 = b'B';
    /// `C`: end of a transaction.
    pub const COMMIT: u8 = b'C';
    /// `O`: the transaction came from another origin.
    pub const ORIGIN: u8 = b'O';
    /// `R`: description of a table's columns.
    pub const RELATION: u8 = b'R';
    /// `Y`: description of a data type.
    pub const TYPE: u8 = b'Y';
    /// `I`: an inserted row.
    pub const INSERT: u8 = b'I';
    /// `U`: an updated row.
    pub const UPDATE: u8 = b'U';
    /// `D`: a deleted row.
    pub const DELETE: u8 = b'D';
    /// `T`: one or more truncated tables.
    pub const TRUNCATE: u8 = b'T';
    /// `M`: a logical decoding message (`pg_logical_emit_message`).
    pub const MESSAGE: u8 = b'M';

    /// `N`: the TupleData that follows is the new row.
    pub const TUPLE_NEW: u8 = b'N';
    /// `K`: the TupleData that follows holds the old key columns.
    pub const TUPLE_KEY: u8 = b'K';
    /// `O`: the TupleData that follows is the whole old row (`REPLICA IDENTITY FULL`).
    pub const TUPLE_OLD: u8 = b'O';

    /// `n`: the column is NULL.
    pub const COLUMN_NULL: u8 = b'n';
    /// `u`: an unchanged TOASTed value, not sent.
    pub const COLUMN_UNCHANGED_TOAST: u8 = b'u';
    /// `t`: the value in text format.
    pub const COLUMN_TEXT: u8 = b't';
    /// `b`: the value in binary format.
    pub const COLUMN_BINARY: u8 = b'b';
}

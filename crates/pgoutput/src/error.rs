//! Errors: one enum for malformed bytes, one for a tuple that does not fit its relation.

/// Why a pgoutput message could not be decoded.
///
/// Every variant means the bytes are malformed (or of a protocol version or message kind this
/// decoder does not know). None is retriable: the same WAL gives the same bytes.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The message had no bytes at all, not even a tag.
    #[error("empty pgoutput message: no tag byte")]
    Empty,
    /// The first byte is not a protocol-v1 message tag.
    #[error("unknown pgoutput message tag {ch:?} (0x{0:02x})", ch = char::from(*.0))]
    UnknownTag(u8),
    /// The message ended before a field was complete.
    #[error("truncated pgoutput message: {what} needs {needed} bytes, {remaining} left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// How many bytes the field needs.
        needed: usize,
        /// How many bytes were left.
        remaining: usize,
    },
    /// A string field ran to the end of the message without its terminating NUL.
    #[error("pgoutput {what} is not NUL-terminated")]
    MissingNul {
        /// The string field.
        what: &'static str,
    },
    /// A string field is not valid UTF-8.
    #[error("pgoutput {what} is not valid UTF-8")]
    InvalidUtf8 {
        /// The string field.
        what: &'static str,
    },
    /// A length or count field is negative.
    #[error("pgoutput {what} is negative: {value}")]
    InvalidLength {
        /// The length or count field.
        what: &'static str,
        /// The value read.
        value: i64,
    },
    /// Insert/Update/Delete carried a tuple marker other than the allowed `N`, `K` or `O`.
    #[error("unknown or misplaced pgoutput tuple marker {ch:?} (0x{0:02x})", ch = char::from(*.0))]
    UnknownTupleKind(u8),
    /// A TupleData column kind is not `n`, `u`, `t` or `b`.
    #[error("unknown pgoutput column kind {ch:?} (0x{0:02x})", ch = char::from(*.0))]
    UnknownColumnKind(u8),
    /// Bytes were left over after a complete message.
    #[error("{count} trailing bytes after a complete pgoutput {ch:?} message", ch = char::from(*.tag))]
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
        /// The tag of the message they followed.
        tag: u8,
    },
}

/// A [`TupleData`](crate::TupleData) does not have as many columns as its
/// [`Relation`](crate::Relation): the relation in hand is not the one the tuple was written with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "tuple has {tuple_columns} columns but relation {relation_id} ({namespace}.{name}) has \
     {relation_columns}"
)]
pub struct ShapeError {
    /// The relation's id (its OID).
    pub relation_id: u32,
    /// The relation's schema.
    pub namespace: String,
    /// The relation's name.
    pub name: String,
    /// How many columns the relation has.
    pub relation_columns: usize,
    /// How many columns the tuple has.
    pub tuple_columns: usize,
}

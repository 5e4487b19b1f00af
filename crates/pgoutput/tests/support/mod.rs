//! Test-only encoding: a byte builder for hand-written messages, and `encode` (the inverse of
//! `pgoutput::decode`) for the round-trip properties.

#![allow(dead_code)] // each test binary uses a different part

use bytes::Bytes;
use pgoutput::{ColumnValue, LogicalMessage, TupleData};

/// Builds pgoutput wire bytes field by field (big-endian, C strings).
#[derive(Debug, Clone, Default)]
pub struct Wire(Vec<u8>);

impl Wire {
    /// Starts a message with its tag byte.
    pub fn new(tag: u8) -> Self {
        Wire(vec![tag])
    }

    /// No tag: for fragments.
    pub fn empty() -> Self {
        Wire(Vec::new())
    }

    pub fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }

    pub fn i16(mut self, v: i16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// A NUL-terminated string.
    pub fn cstr(mut self, s: &str) -> Self {
        self.0.extend_from_slice(s.as_bytes());
        self.0.push(0);
        self
    }

    /// Raw bytes, no length prefix.
    pub fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }

    /// An Int32 length followed by the bytes.
    pub fn len_bytes(self, b: &[u8]) -> Self {
        let len = i32::try_from(b.len()).expect("test value fits an i32 length");
        self.i32(len).raw(b)
    }

    /// TupleData column count.
    pub fn columns(self, n: i16) -> Self {
        self.i16(n)
    }

    /// A `t` column.
    pub fn text(self, b: &[u8]) -> Self {
        self.u8(b't').len_bytes(b)
    }

    /// A `b` column.
    pub fn binary(self, b: &[u8]) -> Self {
        self.u8(b'b').len_bytes(b)
    }

    /// An `n` column.
    pub fn null(self) -> Self {
        self.u8(b'n')
    }

    /// A `u` column.
    pub fn toast(self) -> Self {
        self.u8(b'u')
    }

    pub fn tuple(self, t: &TupleData) -> Self {
        let n = i16::try_from(t.0.len()).expect("test tuple fits an i16 count");
        t.0.iter().fold(self.columns(n), |w, v| match v {
            ColumnValue::Null => w.null(),
            ColumnValue::UnchangedToast => w.toast(),
            ColumnValue::Text(b) => w.text(b),
            ColumnValue::Binary(b) => w.binary(b),
        })
    }

    pub fn into_vec(self) -> Vec<u8> {
        self.0
    }

    pub fn bytes(self) -> Bytes {
        Bytes::from(self.0)
    }
}

/// Encodes a message the way pgoutput writes it.
pub fn encode(msg: &LogicalMessage) -> Bytes {
    let w = match msg {
        LogicalMessage::Begin(m) => Wire::new(b'B')
            .u64(m.final_lsn)
            .i64(m.commit_time)
            .u32(m.xid),
        LogicalMessage::Commit(m) => Wire::new(b'C')
            .u8(m.flags)
            .u64(m.commit_lsn)
            .u64(m.end_lsn)
            .i64(m.commit_time),
        LogicalMessage::Origin(m) => Wire::new(b'O').u64(m.commit_lsn).cstr(&m.name),
        LogicalMessage::Relation(m) => {
            let n = i16::try_from(m.columns.len()).expect("test relation fits an i16 count");
            let head = Wire::new(b'R')
                .u32(m.id)
                .cstr(&m.namespace)
                .cstr(&m.name)
                .u8(m.replica_identity)
                .i16(n);
            m.columns.iter().fold(head, |w, c| {
                w.u8(c.flags)
                    .cstr(&c.name)
                    .u32(c.type_oid)
                    .i32(c.type_modifier)
            })
        }
        LogicalMessage::Type(m) => Wire::new(b'Y').u32(m.id).cstr(&m.namespace).cstr(&m.name),
        LogicalMessage::Insert(m) => Wire::new(b'I').u32(m.relation_id).u8(b'N').tuple(&m.new),
        LogicalMessage::Update(m) => {
            let mut w = Wire::new(b'U').u32(m.relation_id);
            if let Some(k) = &m.key {
                w = w.u8(b'K').tuple(k);
            }
            if let Some(o) = &m.old {
                w = w.u8(b'O').tuple(o);
            }
            w.u8(b'N').tuple(&m.new)
        }
        LogicalMessage::Delete(m) => {
            let mut w = Wire::new(b'D').u32(m.relation_id);
            if let Some(k) = &m.key {
                w = w.u8(b'K').tuple(k);
            }
            if let Some(o) = &m.old {
                w = w.u8(b'O').tuple(o);
            }
            w
        }
        LogicalMessage::Truncate(m) => {
            let n = i32::try_from(m.relation_ids.len()).expect("test truncate fits an i32 count");
            let head = Wire::new(b'T').i32(n).u8(m.options);
            m.relation_ids.iter().fold(head, |w, id| w.u32(*id))
        }
        LogicalMessage::Message(m) => Wire::new(b'M')
            .u8(u8::from(m.transactional))
            .u64(m.lsn)
            .cstr(&m.prefix)
            .len_bytes(&m.content),
        other => panic!("test encoder does not know {other:?}"),
    };
    w.bytes()
}

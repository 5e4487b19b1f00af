//! Capture: the stage between the pgoutput decoder and delivery.
//!
//! ```text
//! source ─► pgoutput decode ─► **capture** ─► deliver (sinks) ─► track (confirmed LSN)
//! ```
//!
//! [`Capture`] looks at each decoded change and logical message of a transaction and
//! turns the ones that belong to the configured audit/outbox table into an
//! [`OutboundEvent`]: an event id, the aggregate it belongs to (the ordering key) and a
//! ready-to-send JSON envelope (CloudEvents 1.0, structured mode). Rows that cannot be
//! made into an event become a [`Malformed`] record carrying the raw row, so the pipeline
//! can dead-letter it instead of dropping it.
//!
//! Three profiles exist ([`Profile`]): the Data Product Portal's `events` table, the
//! Debezium outbox column convention, and table-less outboxes written with
//! `pg_logical_emit_message(true, prefix, payload)`.

mod capture;
mod envelope;
mod ids;
mod values;

pub use capture::{Capture, CaptureConfig, Captured, Malformed, Profile};
pub use envelope::{format_lsn, pg_micros_to_rfc3339};
pub use ids::derived_event_id;

/// A routing token: anything but `[A-Za-z0-9_-]` becomes `_`, so it is safe in NATS
/// subjects (no `.`, `*`, `>` or spaces) and queue attributes.
pub fn route_token(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() {
        "_".into()
    } else {
        t
    }
}

use bytes::Bytes;

/// Where a change sits in the WAL: the facts of its transaction (from `Begin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxContext {
    pub xid: u32,
    /// LSN of the transaction's commit record (`Begin.final_lsn`).
    pub commit_lsn: u64,
    /// Commit time, microseconds since 2000-01-01 UTC.
    pub commit_time_micros: i64,
}

/// An event ready for delivery: stable id, ordering key and the encoded envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboundEvent {
    /// The event id (the audit row's primary key, or a UUIDv5 for derived events).
    pub id: String,
    /// The aggregate (CloudEvents `subject`): events of one aggregate keep commit order.
    pub aggregate: String,
    /// The CloudEvents `type`.
    pub kind: String,
    /// Routing key, dot-separated tokens without wildcards, e.g. `audit.data_product_created`
    /// (portal), `<aggregatetype>.<type>` (Debezium outbox), `<prefix>.<type>` (logical
    /// messages). Broker sinks put it after their subject prefix.
    pub route: String,
    /// Commit LSN of the transaction the event came from.
    pub commit_lsn: u64,
    /// The JSON envelope, one line, without a trailing newline.
    pub body: Bytes,
}

impl OutboundEvent {
    /// Bytes this event holds in memory (what in-flight byte limits count).
    pub fn size(&self) -> usize {
        self.body.len() + self.id.len() + self.aggregate.len() + self.kind.len() + 64
    }
}

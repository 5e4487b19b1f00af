//! What travels from capture (and enrichment) to the sinks.

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

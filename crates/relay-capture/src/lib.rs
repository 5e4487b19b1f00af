//! Capture: the stage between the pgoutput decoder and enrichment or delivery.
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
//! Four profiles exist ([`Profile`]): the Data Product Portal's `events` table, the
//! Debezium outbox column convention, table-less outboxes written with
//! `pg_logical_emit_message(true, prefix, payload)`, and [`portal_v2`]: the portal's own
//! V2 webhook events from inserts, updates and deletes of its domain tables.

mod capture;
pub mod portal_v2;
mod values;

pub use capture::{Capture, CaptureConfig, Captured, Malformed, Profile};

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

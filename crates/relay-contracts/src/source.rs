//! The source side: what the replication source hands the pipeline, in WAL order.

use pgoutput::{LogicalDecodingMessage, LogicalMessage};
use std::future::Future;

use crate::Classify;

/// What the source hands the pipeline, in WAL order.
#[derive(Debug, Clone)]
pub enum SourceEvent {
    Begin {
        xid: u32,
        final_lsn: u64,
        commit_time_micros: i64,
    },
    /// Any other decoded pgoutput message (Relation, Insert, Update, …).
    Change(LogicalMessage),
    /// A logical decoding message (`pg_logical_emit_message`).
    Message(LogicalDecodingMessage),
    Commit {
        commit_lsn: u64,
        end_lsn: u64,
        commit_time_micros: i64,
    },
    /// The server's WAL end; confirmable when nothing read is unresolved.
    KeepAlive { wal_end: u64 },
}

/// A stream of [`SourceEvent`]s plus a way to confirm positions.
pub trait ChangeSource: Send {
    type Error: std::error::Error + Classify + Send + Sync + 'static;

    /// The next event; `Ok(None)` when the stream ended cleanly.
    ///
    /// # Cancel safety
    /// Must be cancel safe: the pipeline polls it inside `select!`.
    fn next(&mut self) -> impl Future<Output = Result<Option<SourceEvent>, Self::Error>> + Send;

    /// Everything up to `lsn` is durable downstream (monotonic; lower values are ignored).
    fn confirm(&mut self, lsn: u64);
}

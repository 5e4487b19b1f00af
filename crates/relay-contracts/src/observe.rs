//! What the stages report for operators: one [`Observer`] the binary implements (its
//! Prometheus endpoint) and the pipeline, the lanes and the enrich stage call. Every
//! method has a do-nothing default, so a stage that never reports costs nothing.

use std::time::Duration;

/// Receives what happens to events, for metrics. Calls are cheap and never block.
pub trait Observer: Send + Sync + 'static {
    /// An event of `kind` was read and dispatched to the sinks.
    fn event_read(&self, _kind: &str) {}

    /// `sink` acknowledged an event; `commit_to_ack` is the time since its transaction
    /// committed, when known.
    fn delivered(&self, _sink: &str, _kind: &str, _commit_to_ack: Option<Duration>) {}

    /// A transaction was read from the slot `commit_to_read` after it committed (the
    /// read lag: the server's, the network's and the reader's share of commit → ack).
    fn transaction_read(&self, _commit_to_read: Duration) {}

    /// A publish to `sink` failed and will be retried.
    fn retried(&self, _sink: &str, _kind: &str) {}

    /// An event was written to the dead-letter destination (`sink` refused it, or the
    /// row could not become an event: sink `capture`).
    fn dead_lettered(&self, _sink: &str, _kind: &str) {}

    /// A batch of enrichment lookups for `records` records took `took`.
    fn lookup(&self, _took: Duration, _records: usize) {}
}

/// Reports nowhere.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoObserver;

impl Observer for NoObserver {}

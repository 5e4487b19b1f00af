//! Delivery: where events leave the relay.
//!
//! ```text
//! capture ─► pipeline lanes ─► **Sink::publish** ─► Outcome ─► tracker (confirmed LSN)
//! ```
//!
//! A [`Sink`] takes one event at a time and returns a future of its [`Outcome`]: the call
//! itself only enqueues, so many events can be in flight at once, and the pipeline learns
//! each event's fate when the destination made it durable (acked), refused it for now
//! (retryable) or refused it for good (rejected → dead letter). Sinks never decide about
//! the LSN; they only report.
//!
//! This crate holds the trait, the local destinations (`stdout`, `file`, `null`) and the
//! dead-letter file. Broker sinks live in their own modules with the same layout.

mod dead_letter;
mod file;
mod line_writer;
pub mod nats;
mod null;
mod stdout;

pub use dead_letter::{DeadLetter, DeadLetterContent, DeadLetterRecord};
pub use file::FileSink;
pub use nats::{NatsConfig, NatsSink};

/// Install the process-wide rustls crypto provider (ring) unless one is set. Both ring
/// and aws-lc-rs are compiled in (async-nats, pgwire-replication), and rustls refuses to
/// guess between them: call this before any TLS connection is made.
pub fn install_crypto_provider() {
    nats::client::ensure_crypto_provider();
}
pub use null::NullSink;
pub use stdout::StdoutSink;

use futures::future::BoxFuture;
use relay_events::OutboundEvent;
use std::sync::Arc;

/// The fate of one publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The destination has the event durably.
    Acked,
    /// Not delivered now; the same event may succeed later (outage, timeout, throttling).
    Retryable(String),
    /// The destination refuses this event for good (too large, invalid); dead-letter it.
    Rejected(String),
}

/// A destination for events.
pub trait Sink: Send + Sync + 'static {
    /// The name given in the configuration (used in logs and dead letters).
    fn name(&self) -> &str;

    /// `true` when the sink delivers events in exactly the order `publish` was called,
    /// retries included (a single ordered writer that retries internally). The pipeline
    /// then pipelines events of one aggregate; otherwise it keeps at most one event per
    /// aggregate in flight so a retry can never land behind a newer event.
    fn preserves_order(&self) -> bool {
        false
    }

    /// Enqueue one event; the future resolves when its outcome is known.
    ///
    /// # Cancel safety
    /// Dropping the future does not withdraw the event: it may still be delivered.
    fn publish(&self, event: Arc<OutboundEvent>) -> BoxFuture<'static, Outcome>;
}

/// Errors while creating a sink.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    #[error("sink `{sink}`: cannot open {path}: {source}")]
    Open {
        sink: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A NATS JetStream sink could not start (configuration, connection, authentication,
    /// stream). The message names the fix and never contains secrets.
    #[error("sink `{sink}`: {message}")]
    Nats { sink: String, message: String },
}

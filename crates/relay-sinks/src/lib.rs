//! Delivery: where events leave the relay.
//!
//! ```text
//! pipeline lanes ─► **Sink::publish(batch)** ─► one Outcome per event ─► tracker (confirmed LSN)
//! ```
//!
//! Each sink is a directory with the same files: `config.rs` (its `[[sinks]]` section,
//! which builds the sink), `client.rs` where it talks to a server, `encode.rs` (event →
//! wire), `sink.rs` (the [`Sink`] impl), and its tests. [`SinkConfig`] is the one
//! registry: adding a sink is a new directory plus one line in [`sink_registry!`]'s
//! call below (and a cargo feature when it brings a client library). The contracts
//! ([`Sink`], [`Outcome`], [`SinkError`]) live in `relay-contracts`; this crate never
//! compiles the replication client or a database driver.
//!
//! Sinks: `file`, `stdout`, `null`, `nats` (JetStream), `webhook` (HTTP, Standard
//! Webhooks signatures), and the dead-letter file.
//!
//! Shared pieces: [`tls`] (the rustls crypto provider and CA / client-certificate
//! loading every TLS client here uses), [`oversize`] (what a sink does with an event
//! larger than its destination takes: dead-letter, or drop named parts of `data`), the
//! line writer behind `file`, `stdout` and the dead-letter file.

#[cfg(feature = "azure-queue")]
pub mod azure_queue;
pub mod dead_letter;
pub mod file;
mod line_writer;
#[cfg(feature = "nats")]
pub mod nats;
pub mod null;
pub mod oversize;
#[cfg(feature = "sqs")]
pub mod sqs;
pub mod stdout;
pub mod tls;
#[cfg(feature = "webhook")]
pub mod webhook;

#[cfg(feature = "azure-queue")]
pub use azure_queue::{AzureQueueConfig, AzureQueueSink};
pub use dead_letter::{DeadLetter, DeadLetterConfig};
pub use file::{FileConfig, FileSink};
#[cfg(feature = "nats")]
pub use nats::{NatsConfig, NatsSink};
pub use null::{NullConfig, NullSink};
#[cfg(feature = "sqs")]
pub use sqs::{SqsConfig, SqsSink};
pub use stdout::{StdoutConfig, StdoutSink};
pub use tls::install_crypto_provider;
#[cfg(feature = "webhook")]
pub use webhook::{WebhookConfig, WebhookSink};

use futures::future::BoxFuture;
use relay_contracts::{Sink, SinkError};
use serde::Deserialize;
use std::sync::Arc;

/// What every sink's configuration section can do: name the sink and build it
/// (connecting and verifying its destination where it has one).
pub trait SinkSpec {
    fn name(&self) -> &str;
    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn Sink>, SinkError>>;
}

impl<T: SinkSpec + ?Sized> SinkSpec for Box<T> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn Sink>, SinkError>> {
        (**self).build()
    }
}

/// Declares [`SinkConfig`], the `[[sinks]]` table: `type = "<kebab-case variant>"` picks
/// the section, whose own type rejects unknown keys.
macro_rules! sink_registry {
    ($( $(#[$meta:meta])* $variant:ident($ty:ty) ),* $(,)?) => {
        /// One `[[sinks]]` section; `type` says which sink.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(tag = "type", rename_all = "kebab-case")]
        #[non_exhaustive]
        pub enum SinkConfig {
            $( $(#[$meta])* $variant($ty), )*
        }

        impl SinkConfig {
            /// The section as the common [`SinkSpec`].
            pub fn spec(&self) -> &dyn SinkSpec {
                match self {
                    $( $(#[$meta])* SinkConfig::$variant(c) => c, )*
                }
            }
        }
    };
}

sink_registry! {
    File(FileConfig),
    Stdout(StdoutConfig),
    Null(NullConfig),
    #[cfg(feature = "nats")]
    Nats(Box<NatsConfig>),
    #[cfg(feature = "webhook")]
    Webhook(Box<WebhookConfig>),
    #[cfg(feature = "sqs")]
    Sqs(Box<SqsConfig>),
    #[cfg(feature = "azure-queue")]
    AzureQueue(Box<AzureQueueConfig>),
}

impl SinkConfig {
    /// The sink's name (unique across `[[sinks]]`).
    pub fn name(&self) -> &str {
        self.spec().name()
    }

    /// Build the sink: open files, connect to brokers, verify streams and queues.
    pub async fn build(&self) -> Result<Arc<dyn Sink>, SinkError> {
        self.spec().build().await
    }
}

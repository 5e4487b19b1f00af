//! `type = "azure-queue"`: Azure Queue Storage.
//!
//! ```text
//! capture ─► pipeline lane (one event per aggregate in flight, retries)
//!        ─► **AzureQueueSink::publish** ─► Put Message (≤ max_in_flight at once) ─► 201 ─► Outcome
//! ```
//!
//! Each event becomes one message whose text is the CloudEvents JSON envelope, base64 by
//! default (what the Azure Functions queue trigger decodes) or as is, with a
//! time-to-live of `message_ttl` (default: never expire). An event counts as delivered
//! when the service answered 201 Created. The service has no batch send and no
//! deduplication: a replay after a crash enqueues an event again (at least once;
//! consumers deduplicate by the CloudEvents `id`).
//!
//! Authentication: a connection string or an account key (a queue SAS with `ra` is
//! derived by our `sas` module, since the SDK cannot sign with a key, and renewed before
//! it expires), a SAS token, or Entra ID (client secret, workload identity or managed
//! identity from `azure_identity`, chosen by the configuration). Failures are sorted by
//! `error::classify`: outages, throttling and 5xx are retried; wrong credentials or a
//! missing queue are retried too, with the fix in the log line, because the LSN must
//! wait and nothing may be lost once fixed; only a message the service can never take
//! (over 64 KiB, malformed) is rejected. An event over 64 KiB of text follows the
//! `oversize` policy (crate::oversize): dead-letter, or trim named parts of `data`.
//!
//! [`AzureQueueSink::connect`] fails at start, naming the fix, when the configuration
//! cannot work, the endpoint is unreachable, the credentials are refused or the queue
//! is missing (Get Queue Metadata, which is also the probe).
//!
//! Files: `config` (the settings), `sas` (SAS derivation, connection strings, redaction),
//! `client` (auth modes, transport, the probe), `encode` (message text, size), `error`
//! (the one classification), `sink` (the [`Sink`](relay_contracts::Sink) impl).

mod client;
mod config;
mod encode;
mod error;
pub mod sas;
mod sink;

pub use config::{valid_queue_name, AzureQueueConfig, Credential, Encoding, Ttl};
pub use encode::MAX_TEXT_BYTES;
pub use error::{classify, AzureError};
pub use sink::AzureQueueSink;

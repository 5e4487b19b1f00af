//! `type = "sqs"`: Amazon SQS, standard and FIFO queues.
//!
//! ```text
//! capture ─► pipeline lane (≤ 10 events per batch, one per aggregate in flight, retries)
//!        ─► **SqsSink::publish** ─► SendMessageBatch (≤ 10 entries, ≤ 1 MiB, ≤ max_in_flight
//!           requests at once) ─► per-entry Successful / Failed ─► one Outcome per event
//! ```
//!
//! Each event becomes one message: the CloudEvents envelope as the body, the `ce-*`
//! attributes of the CloudEvents Go SDK's SQS convention (see `encode`). On a FIFO queue
//! (`.fifo`), `MessageDeduplicationId` is the event id, so a replay after a crash is
//! dropped by SQS inside its 5-minute deduplication window, and `MessageGroupId` is the
//! aggregate (or a fixed group), so one aggregate's events arrive in commit order.
//!
//! An event counts as delivered only when SQS lists its entry under `Successful`.
//! Failed entries are judged on their own by [`classify_entry`]: not the sender's fault
//! or throttled → retried alone; a message SQS can never take (invalid characters, too
//! long) → rejected (dead letter). A failed request ([`classify`]): throttling, 5xx and
//! network trouble are retried; wrong credentials or a missing queue are retried too,
//! with the fix in the log line, because the LSN must wait and nothing may be lost once
//! an operator fixes it. An event over `max_message_bytes` (capped by the queue's
//! `MaximumMessageSize`) follows the sink's `oversize` policy (crate::oversize).
//!
//! [`SqsSink::connect`] fails at start, naming the fix, when no credentials or region are
//! found, the endpoint is unreachable, the credentials are refused, or the queue is
//! missing (one `GetQueueAttributes`, which is also the probe).
//!
//! Files: `config` (the settings), `client` (credential chain, HTTP client, the queue's
//! attributes), `encode` (entries, attributes, FIFO ids, batch planning), `error` (the one
//! classification), `sink` (the [`Sink`](relay_contracts::Sink) impl).

mod client;
mod config;
mod encode;
mod error;
mod sink;

pub use client::QueueInfo;
pub use config::{MessageGroup, SqsConfig, SQS_MAX_BYTES, SQS_MAX_ENTRIES};
pub use encode::{fifo_id, CONTENT_TYPE};
pub use error::{classify, classify_entry, SqsError};
pub use sink::SqsSink;

//! `type = "nats"`: NATS JetStream.
//!
//! ```text
//! capture ─► pipeline lane (one event per aggregate in flight, retries)
//!        ─► **NatsSink::publish** ─► JetStream PUB <prefix>.<route> ─► stream ack ─► Outcome
//! ```
//!
//! Each event becomes one message on `<subject_prefix>.<event.route>`: the CloudEvents
//! envelope as the payload (structured mode, `Content-Type: application/cloudevents+json`)
//! and the event id as `Nats-Msg-Id`, so the stream drops a redelivered event inside its
//! duplicate window. An event counts as delivered only when the stream acks it (a
//! duplicate ack included); the lane then lets the confirmed LSN move past it.
//!
//! Publishes are pipelined: many await their ack at once, bounded by `max_pending_acks`.
//! The sink is not order-preserving by itself; per-aggregate order comes from the lane,
//! which never has two events of one aggregate in flight. Failures are sorted by
//! [`classify`]: outages, timeouts and a full stream are retryable (the LSN waits), a
//! message too large for the server or the stream is rejected (dead letter).
//!
//! [`NatsSink::connect`] fails at start, with one message naming the fix, when no server
//! answers, authentication fails, or the stream is missing or does not capture
//! `<subject_prefix>.>` (unless `create_stream = true`). After that the client reconnects
//! by itself; publishes meanwhile time out after `ack_timeout` and are retried.
//!
//! Files: `config` (the settings, and how they build the sink), `client` (connect,
//! auth, TLS, the stream, the probe), `encode` (subject, headers, subject matching),
//! `sink` (the [`Sink`](relay_contracts::Sink) impl), `acks` (matching the stream's acks
//! to the events of a burst, and what a failed publish means).

mod acks;
pub(crate) mod client;
mod config;
mod encode;
mod sink;

pub use acks::classify;
pub use config::{NatsConfig, MAX_PENDING_ACKS_LIMIT};
pub use encode::{covers as subject_filters_cover, CONTENT_TYPE};
pub use relay_contracts::config::{OneOrMany, Secret};
pub use sink::NatsSink;

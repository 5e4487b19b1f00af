//! `type = "webhook"`: HTTP POST to one endpoint, signed per Standard Webhooks.
//!
//! ```text
//! capture ─► pipeline lane (one event per aggregate in flight, retries with Backoff)
//!        ─► **WebhookSink::publish** ─► POST url (webhook-id/-timestamp/-signature) ─► status ─► Outcome
//! ```
//!
//! Each event becomes one POST: with `format = "cloudevents"` the CloudEvents envelope as
//! the body in the HTTP binding's structured mode (`Content-Type:
//! application/cloudevents+json`); with `format = "portal-v2"` the body the Data Product
//! Portal's own V2 webhooks post (`application/json`, `source: "data-product-portal"`).
//! Headers per Standard Webhooks: `webhook-id` (the event id: receivers deduplicate on
//! it), `webhook-timestamp` (seconds, at each attempt) and, with a secret,
//! `webhook-signature` (`v1,<base64 HMAC-SHA256>` per secret, space-separated, for
//! rotation). See [`signing`] for why the signer is ours.
//!
//! What the answer means is decided in [`classify`]: 2xx acks; 408, 429, 5xx, timeouts
//! and connection failures are retryable (the lane retries with the one backoff policy
//! and the confirmed LSN waits); any other 4xx rejects the event for good (dead letter,
//! with the status and an excerpt of the answer). A `Retry-After` on a retryable answer
//! is honoured before the outcome is reported: only that event (and so its aggregate)
//! waits, up to `max_retry_after`; other aggregates keep flowing.
//!
//! Events whose type `event_types` leaves out are acked at once without a request: they
//! are not for this endpoint. Several endpoints are several `[[sinks]]` entries; each has
//! its own lane, but all share the slot: an endpoint that is down holds the confirmed LSN
//! (and so the WAL) for all of them.
//!
//! Files: `config` (the settings and how they build the sink), `client` (reqwest, TLS,
//! the probe), `encode` (body per format, the event-type filter), `signing`,
//! `retry_after`, `sink` (the [`Sink`](relay_contracts::Sink) impl).

mod client;
mod config;
mod encode;
mod retry_after;
pub mod signing;
mod sink;

pub use config::{WebhookConfig, MAX_IN_FLIGHT_LIMIT};
pub use encode::{EventFilter, Format, CLOUDEVENTS_CONTENT_TYPE, PORTAL_V2_CONTENT_TYPE};
pub use sink::{classify, Class, WebhookSink};

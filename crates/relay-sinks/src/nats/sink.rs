//! The [`Sink`] implementation: one JetStream publish per event, pipelined, each
//! resolved by the stream's ack.

use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::{self, ErrorCode};
use async_nats::Client;
use futures::future::BoxFuture;
use relay_contracts::{Batch, OutboundEvent, Outcome, Probe, Sink, SinkError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

use super::client;
use super::config::NatsConfig;
use super::encode;

/// Most events one [`Sink::publish`] call takes.
const BURST: usize = 256;

/// Publishes each event to `<subject_prefix>.<route>` on a JetStream stream and acks it
/// when the stream has stored it.
///
/// Not order-preserving: publishes of different events run concurrently (up to
/// `max_pending_acks` awaiting their ack), so the pipeline keeps one event per aggregate in
/// flight. A duplicate ack (same `Nats-Msg-Id` inside the stream's duplicate window)
/// counts as acked: the stream already has the event.
pub struct NatsSink {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: NatsConfig,
    name: String,
    stream: String,
    subject_prefix: String,
    ack_timeout: Duration,
    client: Client,
    jetstream: jetstream::Context,
    /// Publishes awaiting their ack. Held from before the send until the ack resolves,
    /// so async-nats' own pending-ack limit is never the one that blocks.
    window: Semaphore,
}

impl NatsSink {
    /// Connect, authenticate and verify (or create) the stream. See [`NatsConfig`].
    pub async fn connect(cfg: &NatsConfig) -> Result<Self, SinkError> {
        let connection = client::connect(cfg).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                cfg: cfg.clone(),
                name: cfg.name.clone(),
                stream: cfg.stream.clone(),
                subject_prefix: cfg.subject_prefix.clone(),
                ack_timeout: cfg.ack_timeout,
                client: connection.client,
                jetstream: connection.jetstream,
                window: Semaphore::new(cfg.max_pending_acks),
            }),
        })
    }
}

impl Sink for NatsSink {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn preserves_order(&self) -> bool {
        false
    }

    /// Events ready together are handed over together and published in one burst: one
    /// lane future and one wake-up per burst instead of per event. Each event still has
    /// its own outcome (its own ack), so one refused or timed-out event never fails the
    /// rest of its burst.
    fn max_batch(&self) -> usize {
        BURST
    }

    /// Every event of the batch is published at once (pipelined) and resolved by its
    /// own ack.
    ///
    /// # Cancel safety
    /// Dropping the future may leave messages sent: they can still be stored, and a
    /// retry is then deduplicated by its `Nats-Msg-Id`.
    fn publish(&self, batch: Batch) -> BoxFuture<'static, Vec<Outcome>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            futures::future::join_all(batch.iter().map(|event| inner.publish(event))).await
        })
    }

    fn probe(&self) -> BoxFuture<'static, Result<Probe, SinkError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            client::probe(&inner.cfg, &inner.client)
                .await
                .map(|detail| Probe { detail })
        })
    }
}

impl Inner {
    async fn publish(&self, event: &OutboundEvent) -> Outcome {
        let subject = match encode::subject(&self.subject_prefix, &event.route) {
            Ok(subject) => subject,
            Err(reason) => return Outcome::Rejected(reason),
        };
        // The id becomes a header value: a line break in it would forge headers.
        if event.id.chars().any(|c| c == '\r' || c == '\n') {
            return Outcome::Rejected(
                "event id contains a line break; it cannot be a Nats-Msg-Id".into(),
            );
        }
        // The server closes the connection on a message over its max_payload; refuse it
        // here, for good: it will never fit.
        let size = event.body.len() + encode::header_len(event, &self.stream);
        let max_payload = self.client.max_payload();
        if max_payload > 0 && size > max_payload {
            return Outcome::Rejected(format!(
                "message of {size} bytes (envelope and headers) exceeds the server's \
                 max_payload of {max_payload} bytes"
            ));
        }
        let Ok(_permit) = self.window.acquire().await else {
            return Outcome::Retryable("sink is shutting down".into());
        };
        // Two bounds, one timer each only while it is pending: handing the message to
        // the client (which waits only while disconnected with its buffer full), then
        // the ack (the context's own `ack_timeout`). Wrapping both in one more timeout
        // registered a second timer per event.
        let sent = tokio::time::timeout(
            self.ack_timeout,
            self.jetstream
                .send_publish(subject, encode::message(event, &self.stream)),
        )
        .await;
        let acked = match sent {
            Ok(Ok(ack)) => ack.await,
            Ok(Err(e)) => Err(e),
            Err(_) => return self.no_ack(),
        };
        match acked {
            Ok(ack) => {
                if ack.duplicate {
                    tracing::debug!(sink = %self.name, event_id = %event.id, seq = ack.sequence, "duplicate: the stream already had this event");
                }
                Outcome::Acked
            }
            Err(e) if e.kind() == PublishErrorKind::TimedOut => self.no_ack(),
            Err(e) => match classify(&e) {
                Outcome::Retryable(reason) => Outcome::Retryable(self.context(reason)),
                other => other,
            },
        }
    }

    fn no_ack(&self) -> Outcome {
        Outcome::Retryable(self.context(format!(
            "no ack from stream {} within {}",
            self.stream,
            humantime::format_duration(self.ack_timeout)
        )))
    }

    /// Add the connection state to a retry reason: "disconnected" explains most timeouts.
    fn context(&self, reason: String) -> String {
        if client::is_connected(&self.client) {
            reason
        } else {
            format!("{reason} (not connected to NATS; reconnecting)")
        }
    }
}

/// Decide, in one place, whether a failed publish may succeed later (`Retryable`: the
/// confirmed LSN waits and the lane retries) or never will (`Rejected`: dead-letter it).
///
/// Only failures that belong to this one event are permanent: a message larger than the
/// server's `max_payload` or the stream's `max_msg_size`. Everything else (timeouts, no
/// responders, a lost connection, a full stream, storage or cluster trouble, a stream
/// mismatch) is an outage or a configuration problem that would fail every event alike,
/// so it stops the LSN instead of dead-lettering the whole feed.
pub fn classify(error: &PublishError) -> Outcome {
    let reason = error.to_string();
    match error.kind() {
        PublishErrorKind::MaxPayloadExceeded => Outcome::Rejected(reason),
        PublishErrorKind::TimedOut
        | PublishErrorKind::BrokenPipe
        | PublishErrorKind::MaxAckPending
        | PublishErrorKind::StreamNotFound
        | PublishErrorKind::WrongLastMessageId
        | PublishErrorKind::WrongLastSequence => Outcome::Retryable(reason),
        PublishErrorKind::Other => {
            let api = std::error::Error::source(error)
                .and_then(|source| source.downcast_ref::<jetstream::Error>());
            let permanent = match api {
                Some(api) => matches!(
                    api.error_code(),
                    ErrorCode::STREAM_MESSAGE_EXCEEDS_MAXIMUM
                        | ErrorCode::STREAM_HEADER_EXCEEDS_MAXIMUM
                ),
                None => {
                    let text = reason.to_ascii_lowercase();
                    text.contains("maximum payload") || text.contains("max payload")
                }
            };
            if permanent {
                Outcome::Rejected(reason)
            } else {
                Outcome::Retryable(reason)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u64, status: u64, description: &str) -> PublishError {
        let error: jetstream::Error = serde_json::from_value(serde_json::json!({
            "code": status, "err_code": code, "description": description
        }))
        .unwrap();
        PublishError::with_source(PublishErrorKind::Other, error)
    }

    fn is_retryable(o: &Outcome) -> bool {
        matches!(o, Outcome::Retryable(_))
    }

    fn is_rejected(o: &Outcome) -> bool {
        matches!(o, Outcome::Rejected(_))
    }

    #[test]
    fn transport_failures_are_retryable() {
        for kind in [
            PublishErrorKind::TimedOut,
            PublishErrorKind::BrokenPipe,
            PublishErrorKind::MaxAckPending,
            PublishErrorKind::StreamNotFound,
            PublishErrorKind::WrongLastSequence,
            PublishErrorKind::WrongLastMessageId,
        ] {
            assert!(
                is_retryable(&classify(&PublishError::new(kind))),
                "{kind:?}"
            );
        }
        assert!(is_retryable(&classify(&PublishError::new(
            PublishErrorKind::Other
        ))));
    }

    #[test]
    fn full_stream_and_storage_trouble_are_retryable() {
        for (code, status, text) in [
            (10077, 503, "maximum messages exceeded"),
            (10077, 503, "maximum bytes exceeded"),
            (10077, 503, "maximum messages per subject exceeded"),
            (10047, 503, "insufficient storage resources available"),
            (10023, 503, "insufficient resources"),
            (10002, 400, "resource limits exceeded for account"),
            (10008, 503, "JetStream system temporarily unavailable"),
            (10060, 400, "expected stream does not match"),
            (10109, 400, "invalid operation on sealed stream"),
            (10118, 500, "stream is offline"),
        ] {
            let outcome = classify(&api(code, status, text));
            assert!(is_retryable(&outcome), "{code} {text}: {outcome:?}");
        }
    }

    #[test]
    fn oversized_messages_are_rejected() {
        assert!(is_rejected(&classify(&PublishError::with_source(
            PublishErrorKind::MaxPayloadExceeded,
            "Payload size limit of 1024 exceeded by message size of 4000",
        ))));
        let outcome = classify(&api(10054, 400, "message size exceeds maximum allowed"));
        assert!(is_rejected(&outcome), "{outcome:?}");
        assert!(is_rejected(&classify(&api(
            10097,
            400,
            "header size exceeds maximum allowed of 64k"
        ))));
        assert!(is_rejected(&classify(&PublishError::with_source(
            PublishErrorKind::Other,
            "nats: maximum payload exceeded",
        ))));
    }

    #[test]
    fn reasons_carry_the_server_description() {
        match classify(&api(10077, 503, "maximum messages exceeded")) {
            Outcome::Retryable(reason) => {
                assert!(reason.contains("maximum messages exceeded"), "{reason}");
                assert!(reason.contains("10077"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
}

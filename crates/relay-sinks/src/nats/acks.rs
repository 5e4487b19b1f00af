//! Matching JetStream acks to the events of a burst: the sink's own reply subscription,
//! in place of async-nats' per-request inbox entry, oneshot, boxed future and timer.
//!
//! Each burst of events is registered under a number before anything is sent; event `i`
//! of burst `b` is published with the reply subject `<inbox>.<b>.<i>`. One task reads
//! every ack from one subscription on `<inbox>.*.*`, records the event's outcome in its
//! burst and wakes the burst once when the last ack is in. A burst has one deadline
//! (`ack_timeout`) for sending and acking all its events; what has no ack by then is
//! retryable, and an ack arriving later finds no burst and is dropped.
//!
//! [`classify`] decides what a refused publish means (retry or dead letter), for the
//! replies read here and for everything else the sink sees fail.

use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::{self, ErrorCode};
use async_nats::{Message, StatusCode, Subscriber};
use futures::StreamExt;
use relay_contracts::Outcome;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// What the stream answered for one event.
#[derive(Debug)]
pub(crate) enum Ack {
    /// Stored (`duplicate`: the stream already had a message with this `Nats-Msg-Id`).
    Stored { duplicate: bool },
    /// Refused or not stored; the outcome says whether a retry can succeed.
    Failed(Outcome),
}

/// The events of one burst, awaiting their acks.
pub(crate) struct Burst {
    state: Mutex<BurstState>,
    done: Notify,
}

struct BurstState {
    acks: Vec<Option<Ack>>,
    missing: usize,
}

/// Bursts awaiting acks, by number, shared by the sink and its ack reader.
#[derive(Default)]
pub(crate) struct Pending {
    next: AtomicU64,
    bursts: Mutex<HashMap<u64, Arc<Burst>>>,
}

/// A registered burst; dropping it (resolved, timed out or cancelled) unregisters it, so
/// later acks for it are dropped.
pub(crate) struct Registration<'a> {
    pending: &'a Pending,
    pub id: u64,
    pub burst: Arc<Burst>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        lock(&self.pending.bursts).remove(&self.id);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; a poisoned one still holds valid state.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Pending {
    /// Register a burst of `events` events; only acks of registered bursts are recorded.
    pub fn register(&self, events: usize) -> Registration<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let burst = Arc::new(Burst {
            state: Mutex::new(BurstState {
                acks: (0..events).map(|_| None).collect(),
                missing: events,
            }),
            done: Notify::new(),
        });
        lock(&self.bursts).insert(id, Arc::clone(&burst));
        Registration {
            pending: self,
            id,
            burst,
        }
    }

    /// Record the acks in `messages` (replies on `<inbox>.<burst>.<event>`).
    fn record(&self, inbox: &str, messages: Vec<Message>) {
        let bursts = lock(&self.bursts);
        for message in messages {
            let Some((burst, event)) = address(inbox, message.subject.as_str()) else {
                tracing::warn!(subject = %message.subject, "ignoring a reply on the ack subscription that is not one of ours");
                continue;
            };
            let Some(burst) = bursts.get(&burst) else {
                continue; // timed out or cancelled: its events are already retryable
            };
            burst.record(event, ack(message.status, &message.payload));
        }
    }
}

impl Burst {
    pub fn record(&self, event: usize, ack: Ack) {
        let mut state = lock(&self.state);
        let Some(slot) = state.acks.get_mut(event) else {
            return;
        };
        if slot.is_none() {
            *slot = Some(ack);
            state.missing -= 1;
            if state.missing == 0 {
                self.done.notify_one();
            }
        }
    }

    /// Resolves when every event of the burst has its ack.
    pub async fn complete(&self) {
        if lock(&self.state).missing == 0 {
            return;
        }
        self.done.notified().await;
    }

    /// The acks recorded so far, by event (`None`: no ack yet).
    pub fn take(&self) -> Vec<Option<Ack>> {
        let mut state = lock(&self.state);
        state.missing = 0;
        std::mem::take(&mut state.acks)
    }
}

/// `<inbox>.<burst>.<event>` → (burst, event).
fn address(inbox: &str, subject: &str) -> Option<(u64, usize)> {
    let rest = subject.strip_prefix(inbox)?.strip_prefix('.')?;
    let (burst, event) = rest.split_once('.')?;
    Some((burst.parse().ok()?, event.parse().ok()?))
}

/// The ack body of a JetStream publish: `{"stream":…,"seq":…[,"duplicate":true]}` or
/// `{"error":{"code":…,"err_code":…,"description":…}}`.
#[derive(Deserialize)]
struct PubAck {
    #[serde(default)]
    duplicate: bool,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    error: Option<jetstream::Error>,
}

/// What one reply says, classified like every other publish failure.
fn ack(status: Option<StatusCode>, payload: &[u8]) -> Ack {
    if status == Some(StatusCode::NO_RESPONDERS) {
        return Ack::Failed(classify(&PublishError::new(
            PublishErrorKind::StreamNotFound,
        )));
    }
    match serde_json::from_slice::<PubAck>(payload) {
        Ok(PubAck {
            error: Some(error), ..
        }) => Ack::Failed(classify(&PublishError::with_source(
            PublishErrorKind::Other,
            error,
        ))),
        Ok(PubAck {
            seq: Some(_),
            duplicate,
            ..
        }) => Ack::Stored { duplicate },
        Ok(PubAck { .. }) => Ack::Failed(Outcome::Retryable(
            "the stream's reply has neither a sequence nor an error".into(),
        )),
        Err(e) => Ack::Failed(Outcome::Retryable(format!(
            "unreadable reply from the stream ({} bytes): {e}",
            payload.len()
        ))),
    }
}

/// Read acks until the subscription ends (the client closed), recording them in
/// `pending` a ready chunk at a time (one lock per chunk, not per ack).
pub(crate) async fn read(inbox: String, subscriber: Subscriber, pending: Arc<Pending>) {
    let mut chunks = subscriber.ready_chunks(256);
    while let Some(messages) = chunks.next().await {
        pending.record(&inbox, messages);
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

    #[test]
    fn addresses() {
        assert_eq!(address("_INBOX.x", "_INBOX.x.3.17"), Some((3, 17)));
        assert_eq!(address("_INBOX.x", "_INBOX.x.3"), None);
        assert_eq!(address("_INBOX.x", "_INBOX.y.3.1"), None);
        assert_eq!(address("_INBOX.x", "_INBOX.x.a.1"), None);
    }

    #[test]
    fn replies() {
        assert!(matches!(
            ack(None, br#"{"stream":"S","seq":4}"#),
            Ack::Stored { duplicate: false }
        ));
        assert!(matches!(
            ack(None, br#"{"stream":"S","seq":4,"duplicate":true}"#),
            Ack::Stored { duplicate: true }
        ));
        let full =
            br#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}"#;
        match ack(None, full) {
            Ack::Failed(Outcome::Retryable(reason)) => {
                assert!(reason.contains("maximum messages exceeded"), "{reason}")
            }
            other => panic!("{other:?}"),
        }
        let big = br#"{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}}"#;
        assert!(matches!(ack(None, big), Ack::Failed(Outcome::Rejected(_))));
        assert!(matches!(
            ack(Some(StatusCode::NO_RESPONDERS), b""),
            Ack::Failed(Outcome::Retryable(_))
        ));
        assert!(matches!(
            ack(None, b"{}"),
            Ack::Failed(Outcome::Retryable(_))
        ));
        assert!(matches!(
            ack(None, b"nope"),
            Ack::Failed(Outcome::Retryable(_))
        ));
    }

    #[test]
    fn a_burst_completes_once_every_event_has_an_ack() {
        let pending = Pending::default();
        let registration = pending.register(2);
        registration
            .burst
            .record(1, Ack::Stored { duplicate: false });
        registration
            .burst
            .record(1, Ack::Stored { duplicate: true });
        registration
            .burst
            .record(7, Ack::Stored { duplicate: false });
        assert_eq!(lock(&registration.burst.state).missing, 1);
        registration
            .burst
            .record(0, Ack::Stored { duplicate: true });
        let acks = registration.burst.take();
        assert!(matches!(acks[0], Some(Ack::Stored { duplicate: true })));
        assert!(matches!(acks[1], Some(Ack::Stored { duplicate: false })));
        let id = registration.id;
        drop(registration);
        assert!(!lock(&pending.bursts).contains_key(&id));
    }

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

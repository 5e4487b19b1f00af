//! The [`Sink`] implementation: a burst of events published at once (pipelined), each
//! resolved by the stream's ack, matched to it by the reply subject (see `acks`).

use async_nats::{Client, HeaderMap};
use futures::future::BoxFuture;
use relay_contracts::{Batch, OutboundEvent, Outcome, Probe, Sink, SinkError, SinkErrorKind};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::AbortHandle;

use super::acks::{Ack, Pending};
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
    /// The headers every message carries (the event id is added per event).
    headers: HeaderMap,
    /// Acks come back on `<inbox>.<burst>.<event>`.
    inbox: String,
    pending: Arc<Pending>,
    /// The task reading the ack subscription; stopped with the sink.
    reader: AbortHandle,
    /// Publishes awaiting their ack. A burst takes its permits before anything is sent
    /// and holds them until it is resolved.
    window: Semaphore,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl NatsSink {
    /// Connect, authenticate and verify (or create) the stream. See [`NatsConfig`].
    pub async fn connect(cfg: &NatsConfig) -> Result<Self, SinkError> {
        let connection = client::connect(cfg).await?;
        let client = connection.client;
        let inbox = client.new_inbox();
        let subscriber = client
            .subscribe(format!("{inbox}.*.*"))
            .await
            .map_err(|e| {
                SinkError::new(
                    &cfg.name,
                    SinkErrorKind::Unreachable,
                    format!("cannot subscribe to the ack subject {inbox}.*.*: {e}"),
                )
            })?;
        let pending = Arc::new(Pending::default());
        let reader = tokio::spawn(super::acks::read(
            inbox.clone(),
            subscriber,
            Arc::clone(&pending),
        ))
        .abort_handle();
        Ok(Self {
            inner: Arc::new(Inner {
                cfg: cfg.clone(),
                name: cfg.name.clone(),
                stream: cfg.stream.clone(),
                subject_prefix: cfg.subject_prefix.clone(),
                ack_timeout: cfg.ack_timeout,
                headers: encode::fixed_headers(&cfg.stream),
                client,
                inbox,
                pending,
                reader,
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
    /// lane future, one wake-up and one timer per burst instead of per event. Each event
    /// still has its own outcome (its own ack), so one refused or timed-out event never
    /// fails the rest of its burst. Never more than the window, so a burst's permits are
    /// always available.
    fn max_batch(&self) -> usize {
        BURST.min(self.inner.cfg.max_pending_acks).max(1)
    }

    /// Every event of the batch is published at once (pipelined) and resolved by its
    /// own ack; `ack_timeout` bounds the whole burst, sending included.
    ///
    /// # Cancel safety
    /// Dropping the future may leave messages sent: they can still be stored, and a
    /// retry is then deduplicated by its `Nats-Msg-Id`.
    fn publish(&self, batch: Batch) -> BoxFuture<'static, Vec<Outcome>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { inner.publish(&batch).await })
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
    async fn publish(&self, events: &[Arc<OutboundEvent>]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = (0..events.len()).map(|_| None).collect();
        // Events that can be sent, with their subjects; the others are refused for good.
        let mut ready = Vec::with_capacity(events.len());
        for (i, event) in events.iter().enumerate() {
            match self.check(event) {
                Ok(subject) => ready.push((i, subject)),
                Err(reason) => outcomes[i] = Some(Outcome::Rejected(reason)),
            }
        }
        if !ready.is_empty() {
            let indices: Vec<usize> = ready.iter().map(|(i, _)| *i).collect();
            let acks = self.send(events, ready).await;
            for (i, ack) in indices.into_iter().zip(acks) {
                outcomes[i] = Some(self.outcome(&events[i], ack));
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| self.no_ack()))
            .collect()
    }

    /// The subject of `event`, or why it can never be published.
    fn check(&self, event: &OutboundEvent) -> Result<String, String> {
        let subject = encode::subject(&self.subject_prefix, &event.route)?;
        // The id becomes a header value: a line break in it would forge headers.
        if event.id.chars().any(|c| c == '\r' || c == '\n') {
            return Err("event id contains a line break; it cannot be a Nats-Msg-Id".into());
        }
        // The server closes the connection on a message over its max_payload; refuse it
        // here, for good: it will never fit.
        let size = event.body.len() + encode::header_len(event, &self.stream);
        let max_payload = self.client.max_payload();
        if max_payload > 0 && size > max_payload {
            return Err(format!(
                "message of {size} bytes (envelope and headers) exceeds the server's \
                 max_payload of {max_payload} bytes"
            ));
        }
        Ok(subject)
    }

    /// Send the `ready` events of `events` (index, subject) as one burst and wait for
    /// their acks, all within `ack_timeout`; the acks in `ready`'s order, `None` where no
    /// ack came in time. The subjects move into the messages.
    async fn send(
        &self,
        events: &[Arc<OutboundEvent>],
        ready: Vec<(usize, String)>,
    ) -> Vec<Option<Ack>> {
        let count = ready.len();
        let Ok(_permits) = self.window.acquire_many(count as u32).await else {
            let closed = || {
                Some(Ack::Failed(Outcome::Retryable(
                    "sink is shutting down".into(),
                )))
            };
            return (0..count).map(|_| closed()).collect();
        };
        let registration = self.pending.register(count);
        let burst = &registration.burst;
        let deadline = tokio::time::Instant::now() + self.ack_timeout;
        let _ = tokio::time::timeout_at(deadline, async {
            for (j, (i, subject)) in ready.into_iter().enumerate() {
                let event = &events[i];
                let reply = format!("{}.{}.{j}", self.inbox, registration.id);
                let sent = self
                    .client
                    .publish_with_reply_and_headers(
                        subject,
                        reply,
                        encode::headers(&self.headers, event),
                        event.body.clone(),
                    )
                    .await;
                if let Err(e) = sent {
                    // The client is closed or refused the message: nothing after it goes.
                    let reason = format!("cannot hand the message to the NATS client: {e}");
                    for k in j..count {
                        burst.record(k, Ack::Failed(Outcome::Retryable(reason.clone())));
                    }
                    break;
                }
            }
            burst.complete().await;
        })
        .await;
        burst.take()
    }

    fn outcome(&self, event: &OutboundEvent, ack: Option<Ack>) -> Outcome {
        match ack {
            Some(Ack::Stored { duplicate }) => {
                if duplicate {
                    tracing::debug!(sink = %self.name, event_id = %event.id, "duplicate: the stream already had this event");
                }
                Outcome::Acked
            }
            Some(Ack::Failed(Outcome::Retryable(reason))) => {
                Outcome::Retryable(self.context(reason))
            }
            Some(Ack::Failed(other)) => other,
            None => self.no_ack(),
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

//! The [`Sink`] implementation: one Put Message per event (the service has no batch
//! send), up to `max_in_flight` at once, each resolved by the service's 201.

use azure_storage_queue::models::{QueueClientSendMessageOptions, QueueMessage};
use futures::future::BoxFuture;
use relay_contracts::{Batch, OutboundEvent, Outcome, Probe, Sink, SinkError};
use std::sync::Arc;
use tokio::sync::Semaphore;

use super::client::Queue;
use super::config::AzureQueueConfig;
use super::encode::{self, MAX_TEXT_BYTES};
use super::error::classify;
use crate::oversize::{self, Oversize};

/// Sends events to one Azure Storage queue.
///
/// Not order-preserving by itself: sends run concurrently, and the pipeline keeps one
/// event per aggregate in flight, so each aggregate's events are enqueued in commit
/// order, retries included. (Storage queues themselves promise no order to readers.)
pub struct AzureQueueSink {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: AzureQueueConfig,
    queue: Queue,
    window: Semaphore,
}

impl AzureQueueSink {
    /// Build the client and verify the queue (see [`AzureQueueConfig`]). Credentials that
    /// may send but not read metadata (a SAS with only `a`, the Message Sender role)
    /// start with a warning that the queue could not be verified.
    pub async fn connect(cfg: &AzureQueueConfig) -> Result<Self, SinkError> {
        let queue = Queue::new(cfg)?;
        match queue.probe().await {
            Ok(detail) => tracing::info!(sink = %cfg.name, %detail, "Azure queue verified"),
            Err(e) if e.code.as_deref() == Some("AuthorizationPermissionMismatch") => {
                tracing::warn!(
                    sink = %cfg.name,
                    queue = %queue.url(),
                    auth = %queue.describe_auth(),
                    "these credentials may not read the queue's metadata (send-only SAS or role): the queue and the credentials are not verified until the first send"
                )
            }
            Err(e) => {
                return Err(SinkError::new(
                    &cfg.name,
                    e.kind,
                    format!("queue {}: {}", queue.url(), e.message),
                ))
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                cfg: cfg.clone(),
                queue,
                window: Semaphore::new(cfg.max_in_flight),
            }),
        })
    }
}

impl Sink for AzureQueueSink {
    fn name(&self) -> &str {
        &self.inner.cfg.name
    }

    /// # Cancel safety
    /// Dropping the future may leave a message sent; the retry then enqueues it again
    /// (at least once: consumers deduplicate by the CloudEvents `id`).
    fn publish(&self, batch: Batch) -> BoxFuture<'static, Vec<Outcome>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            futures::future::join_all(batch.iter().map(|event| inner.publish(event))).await
        })
    }

    fn probe(&self) -> BoxFuture<'static, Result<Probe, SinkError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            inner
                .queue
                .probe()
                .await
                .map(|detail| Probe { detail })
                .map_err(|e| {
                    SinkError::new(
                        &inner.cfg.name,
                        e.kind,
                        format!("queue {}: {}", inner.queue.url(), e.message),
                    )
                })
        })
    }
}

impl Inner {
    async fn publish(&self, event: &OutboundEvent) -> Outcome {
        let text = match self.text(event) {
            Ok(text) => text,
            Err(outcome) => return outcome,
        };
        let Ok(_permit) = self.window.acquire().await else {
            return Outcome::Retryable("the sink is closing".into());
        };
        let client = match self.queue.client() {
            Ok(c) => c,
            Err(e) => return Outcome::Retryable(e.message),
        };
        let content = match (QueueMessage {
            message_text: Some(text),
        })
        .try_into()
        {
            Ok(c) => c,
            Err(e) => return Outcome::Rejected(format!("cannot encode the message as XML: {e}")),
        };
        let options = QueueClientSendMessageOptions {
            message_time_to_live: Some(self.cfg.message_ttl.0),
            ..Default::default()
        };
        match client.send_message(content, Some(options)).await {
            Ok(_) => Outcome::Acked,
            Err(e) => classify("Put Message", &e).outcome(),
        }
    }

    /// The message text for `event`, within 64 KiB; or its final outcome.
    fn text(&self, event: &OutboundEvent) -> Result<String, Outcome> {
        let encoding = self.cfg.encoding;
        let len = encode::text_len(encoding, event.body.len());
        if len <= MAX_TEXT_BYTES {
            return encode::text(encoding, &event.body).map_err(Outcome::Rejected);
        }
        let over = format!(
            "message of {len} bytes ({} bytes of envelope, encoding {encoding:?}) is over Azure Queue Storage's limit of {MAX_TEXT_BYTES} bytes",
            event.body.len()
        );
        if self.cfg.oversize == Oversize::DeadLetter {
            return Err(Outcome::Rejected(over));
        }
        let fits = |body: &[u8]| encode::text_len(encoding, body.len()) <= MAX_TEXT_BYTES;
        match oversize::trim(&event.body, &self.cfg.trim, fits) {
            Ok(trimmed) => {
                tracing::warn!(
                    sink = %self.cfg.name,
                    event_id = %event.id,
                    size = len,
                    limit = MAX_TEXT_BYTES,
                    dropped = ?trimmed.dropped,
                    "event over the size limit: sending it without the parts listed in data.enrichment.trimmed"
                );
                encode::text(encoding, &trimmed.body).map_err(Outcome::Rejected)
            }
            Err(reason) => Err(Outcome::Rejected(format!(
                "{over}; trimming failed: {reason}"
            ))),
        }
    }
}

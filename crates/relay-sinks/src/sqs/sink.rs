//! The [`Sink`] implementation: a batch of up to 10 events becomes one or more
//! `SendMessageBatch` requests, each entry resolved on its own.

use aws_sdk_sqs::Client;
use futures::future::BoxFuture;
use relay_contracts::{Batch, ErrorClass, OutboundEvent, Outcome, Probe, Sink, SinkError};
use std::sync::Arc;
use tokio::sync::Semaphore;

use super::client;
use super::config::{MessageGroup, SqsConfig, SQS_MAX_BYTES, SQS_MAX_ENTRIES};
use super::encode::{self, Message};
use super::error::{classify, classify_entry};
use crate::oversize::{self, Oversize};

/// Sends events to one SQS queue (standard or FIFO) with `SendMessageBatch`.
///
/// An event is acked only when SQS lists its entry as successful; an entry in neither
/// list is sent again. Not order-preserving by itself: the pipeline keeps one event per
/// aggregate in flight, so with `MessageGroupId` = subject each aggregate's events
/// enter their FIFO group in commit order, retries included.
pub struct SqsSink {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: SqsConfig,
    client: Client,
    /// FIFO queues: how the group id is chosen.
    fifo: Option<MessageGroup>,
    /// `max_message_bytes`, capped by the queue's `MaximumMessageSize`.
    max_message: usize,
    max_batch_bytes: usize,
    /// Requests awaiting their answer.
    window: Semaphore,
}

impl SqsSink {
    /// Resolve credentials and region, verify the queue (see [`SqsConfig`]).
    pub async fn connect(cfg: &SqsConfig) -> Result<Self, SinkError> {
        let (client, info) = client::connect(cfg).await?;
        let max_message = cfg.max_message_bytes.min(info.max_message_size);
        Ok(Self {
            inner: Arc::new(Inner {
                cfg: cfg.clone(),
                client,
                fifo: cfg.is_fifo().then(|| cfg.message_group.clone()),
                max_message,
                max_batch_bytes: cfg.max_batch_bytes.min(SQS_MAX_BYTES).max(max_message),
                window: Semaphore::new(cfg.max_in_flight),
            }),
        })
    }

    /// The largest message this sink sends (body and attributes).
    pub fn max_message_bytes(&self) -> usize {
        self.inner.max_message
    }
}

impl Sink for SqsSink {
    fn name(&self) -> &str {
        &self.inner.cfg.name
    }

    fn max_batch(&self) -> usize {
        SQS_MAX_ENTRIES
    }

    /// # Cancel safety
    /// Dropping the future may leave a request sent: SQS may still store its entries.
    /// FIFO queues drop the resend inside their 5-minute deduplication window.
    fn publish(&self, batch: Batch) -> BoxFuture<'static, Vec<Outcome>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { inner.publish(&batch).await })
    }

    fn probe(&self) -> BoxFuture<'static, Result<Probe, SinkError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            client::queue_info(&inner.client, &inner.cfg.queue_url)
                .await
                .map(|info| Probe {
                    detail: info.describe(),
                })
                .map_err(|e| client::sink_error(&inner.cfg, e))
        })
    }
}

impl Inner {
    async fn publish(&self, batch: &[Arc<OutboundEvent>]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
        let mut ready: Vec<(usize, Message)> = Vec::with_capacity(batch.len());
        for (i, event) in batch.iter().enumerate() {
            match self.prepare(event) {
                Ok(m) => ready.push((i, m)),
                Err(outcome) => outcomes[i] = Some(outcome),
            }
        }
        let sizes: Vec<usize> = ready.iter().map(|(_, m)| m.size()).collect();
        let runs = encode::plan(&sizes, self.max_batch_bytes);
        let sent = futures::future::join_all(runs.into_iter().map(|r| self.send(&ready[r]))).await;
        for (i, outcome) in sent.into_iter().flatten() {
            outcomes[i] = Some(outcome);
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::Retryable("no outcome for this event".into())))
            .collect()
    }

    /// The message for `event`, within the size limit; or its final outcome.
    fn prepare(&self, event: &OutboundEvent) -> Result<Message, Outcome> {
        let fifo = self.fifo.as_ref();
        let message = encode::message(event, &event.body, fifo).map_err(Outcome::Rejected)?;
        let size = message.size();
        if size <= self.max_message {
            return Ok(message);
        }
        let over = format!(
            "message of {size} bytes (envelope and attributes) is over this queue's limit of {} bytes (max_message_bytes, the queue's MaximumMessageSize)",
            self.max_message
        );
        if self.cfg.oversize == Oversize::DeadLetter {
            return Err(Outcome::Rejected(over));
        }
        let fits = |body: &[u8]| {
            encode::message(event, body, fifo).is_ok_and(|m| m.size() <= self.max_message)
        };
        match oversize::trim(&event.body, &self.cfg.trim, fits) {
            Ok(trimmed) => {
                tracing::warn!(
                    sink = %self.cfg.name,
                    event_id = %event.id,
                    size,
                    limit = self.max_message,
                    dropped = ?trimmed.dropped,
                    "event over the size limit: sending it without the parts listed in data.enrichment.trimmed"
                );
                encode::message(event, &trimmed.body, fifo).map_err(Outcome::Rejected)
            }
            Err(reason) => Err(Outcome::Rejected(format!(
                "{over}; trimming failed: {reason}"
            ))),
        }
    }

    /// One `SendMessageBatch` for `entries` (indexes into the caller's batch); a
    /// request SQS refuses for its shape is split in halves.
    fn send<'a>(&'a self, entries: &'a [(usize, Message)]) -> BoxFuture<'a, Vec<(usize, Outcome)>> {
        Box::pin(async move {
            let permit = match self.window.acquire().await {
                Ok(p) => p,
                Err(_) => return all(entries, Outcome::Retryable("the sink is closing".into())),
            };
            let request = self
                .client
                .send_message_batch()
                .queue_url(&self.cfg.queue_url)
                .set_entries(Some(
                    entries
                        .iter()
                        .enumerate()
                        .map(|(j, (_, m))| m.entry(j))
                        .collect(),
                ))
                .send()
                .await;
            drop(permit);
            let out = match request {
                Ok(out) => out,
                Err(e) => {
                    let error = classify("SendMessageBatch", &e);
                    if error.class == ErrorClass::DeadLetter && entries.len() > 1 {
                        // Whose fault is unknown (e.g. the batch is too long as SQS counts
                        // it): halves, down to single entries.
                        let (a, b) = entries.split_at(entries.len() / 2);
                        let (a, b) = futures::future::join(self.send(a), self.send(b)).await;
                        return a.into_iter().chain(b).collect();
                    }
                    return all(entries, error.outcome());
                }
            };
            let mut result: Vec<Option<Outcome>> = vec![None; entries.len()];
            let index = |id: &str| id.parse::<usize>().ok().filter(|j| *j < entries.len());
            for ok in out.successful() {
                if let Some(j) = index(ok.id()) {
                    result[j] = Some(Outcome::Acked);
                }
            }
            for failed in out.failed() {
                if let Some(j) = index(failed.id()) {
                    let error =
                        classify_entry(failed.code(), failed.sender_fault(), failed.message());
                    result[j] = Some(error.outcome());
                }
            }
            entries
                .iter()
                .zip(result)
                .map(|((i, _), o)| {
                    let o = o.unwrap_or_else(|| {
                        Outcome::Retryable(
                            "SQS listed this entry neither as sent nor as failed; sending it again"
                                .into(),
                        )
                    });
                    (*i, o)
                })
                .collect()
        })
    }
}

fn all(entries: &[(usize, Message)], outcome: Outcome) -> Vec<(usize, Outcome)> {
    entries.iter().map(|(i, _)| (*i, outcome.clone())).collect()
}

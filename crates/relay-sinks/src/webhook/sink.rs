//! The [`Sink`] implementation: one signed POST per event, many events at once (up to
//! `max_in_flight`), each resolved by the receiver's answer.

use futures::future::BoxFuture;
use relay_contracts::{Batch, OutboundEvent, Outcome, Probe, Sink, SinkError, SinkErrorKind};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::client::{Answer, Client, SendError};
use super::config::WebhookConfig;
use super::encode::{self, EventFilter, Format};
use super::retry_after;
use super::signing::{Signer, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};

/// Characters of the receiver's answer kept in a rejection reason.
const EXCERPT_CHARS: usize = 300;

/// POSTs each event to one endpoint and acks it on a 2xx answer.
///
/// Not order-preserving: requests for different events run concurrently, so the pipeline
/// keeps one event per aggregate in flight and a retry never overtakes a newer event.
pub struct WebhookSink {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    /// The URL without credentials or query, for messages.
    endpoint: String,
    format: Format,
    filter: EventFilter,
    signer: Option<Signer>,
    max_retry_after: Duration,
    client: Client,
}

impl WebhookSink {
    /// Validate the settings and build the HTTP client. Nothing is sent: an endpoint that
    /// is down at start is only logged (events wait for it like for any outage); a
    /// setting that cannot work (URL, secret, CA file) fails here.
    pub async fn new(cfg: &WebhookConfig) -> Result<Self, SinkError> {
        cfg.validate()
            .map_err(|m| cfg.error(SinkErrorKind::Config, m))?;
        let signer = cfg
            .signer()
            .map_err(|m| cfg.error(SinkErrorKind::Config, m))?;
        let filter = cfg
            .filter()
            .map_err(|m| cfg.error(SinkErrorKind::Config, m))?;
        let client = Client::new(cfg).map_err(|(kind, m)| cfg.error(kind, m))?;
        let sink = Self {
            inner: Arc::new(Inner {
                name: cfg.name.clone(),
                endpoint: cfg.redacted_url(),
                format: cfg.format,
                filter,
                signer,
                max_retry_after: cfg.max_retry_after,
                client,
            }),
        };
        match sink.inner.client.probe().await {
            Ok(detail) => {
                tracing::info!(sink = %cfg.name, endpoint = %sink.inner.endpoint, %detail, "webhook endpoint reachable")
            }
            Err((_, message)) => tracing::warn!(
                sink = %cfg.name,
                endpoint = %sink.inner.endpoint,
                %message,
                "webhook endpoint not reachable now; events wait for it and are retried"
            ),
        }
        Ok(sink)
    }
}

impl Sink for WebhookSink {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn preserves_order(&self) -> bool {
        false
    }

    /// Every event of the batch is posted at once (bounded by `max_in_flight`).
    ///
    /// # Cancel safety
    /// Dropping the future may leave requests sent: the receiver can still get them and
    /// deduplicates a later retry by `webhook-id`.
    fn publish(&self, batch: Batch) -> BoxFuture<'static, Vec<Outcome>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            futures::future::join_all(batch.iter().map(|event| inner.deliver(event))).await
        })
    }

    fn probe(&self) -> BoxFuture<'static, Result<Probe, SinkError>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            inner
                .client
                .probe()
                .await
                .map(|detail| Probe { detail })
                .map_err(|(kind, message)| SinkError::new(&inner.name, kind, message))
        })
    }
}

impl Inner {
    async fn deliver(&self, event: &OutboundEvent) -> Outcome {
        if !self.filter.matches(&event.kind) {
            // Not for this endpoint: delivered as far as this sink is concerned.
            return Outcome::Acked;
        }
        if !event.id.bytes().all(|b| b.is_ascii_graphic()) {
            return Outcome::Rejected(
                "the event id is not printable ASCII; it cannot be a webhook-id header".into(),
            );
        }
        let body = match encode::body(self.format, event) {
            Ok(body) => body,
            Err(reason) => return Outcome::Rejected(format!("cannot encode the event: {reason}")),
        };
        let Some(permit) = self.client.permit().await else {
            return Outcome::Retryable("the sink is shutting down".into());
        };
        // Signed per attempt: receivers refuse timestamps older than a few minutes.
        let timestamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or_default();
        let mut headers = vec![
            (HEADER_ID, event.id.clone()),
            (HEADER_TIMESTAMP, timestamp.to_string()),
        ];
        if let Some(signer) = &self.signer {
            headers.push((HEADER_SIGNATURE, signer.sign(&event.id, timestamp, &body)));
        }
        let result = self
            .client
            .post(body, self.format.content_type(), &headers)
            .await;
        drop(permit);
        let answer = match result {
            Ok(answer) => answer,
            Err(e) => return Outcome::Retryable(self.no_answer(e)),
        };
        match classify(answer.status) {
            Class::Delivered => Outcome::Acked,
            Class::Refused => Outcome::Rejected(format!(
                "{} answered {}: {}",
                self.endpoint,
                status_text(answer.status),
                excerpt(&answer)
            )),
            Class::Retry(hint) => {
                let mut reason = format!(
                    "{} answered {}{hint}",
                    self.endpoint,
                    status_text(answer.status)
                );
                let wait = answer
                    .retry_after
                    .as_deref()
                    .and_then(|v| retry_after::parse(v, SystemTime::now(), self.max_retry_after));
                if let Some(wait) = wait.filter(|w| !w.is_zero()) {
                    // Only this event waits (its aggregate with it); other aggregates go
                    // on. The lane's own backoff comes on top.
                    tokio::time::sleep(wait).await;
                    reason.push_str(&format!("; waited {wait:?} as Retry-After asked"));
                }
                Outcome::Retryable(reason)
            }
        }
    }

    fn no_answer(&self, e: SendError) -> String {
        match e {
            SendError::Timeout => format!("{}: no answer within the timeout", self.endpoint),
            SendError::Connect(e) => format!("cannot connect to {}: {e}", self.endpoint),
            SendError::Other(e) => format!("request to {} failed: {e}", self.endpoint),
        }
    }
}

/// What an HTTP status means for the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx: the receiver has it.
    Delivered,
    /// 408, 429, 5xx (and 1xx/3xx, which a POST should never get): may work later; the
    /// text is a hint for operators.
    Retry(&'static str),
    /// Any other 4xx: this event will never be accepted; dead-letter it.
    Refused,
}

/// Decide, in one place, what an answer means. 408 (the receiver's own timeout) is
/// retried with 429 and 5xx; redirects are not followed (a webhook must not be re-posted
/// elsewhere) and are retried, since they would refuse every event alike until `url` is
/// fixed.
pub fn classify(status: u16) -> Class {
    match status {
        200..=299 => Class::Delivered,
        408 | 429 | 500..=599 => Class::Retry(""),
        400..=499 => Class::Refused,
        300..=399 => Class::Retry(" (redirects are not followed: set `url` to the final address)"),
        _ => Class::Retry(" (not a final answer)"),
    }
}

fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("HTTP {status} {reason}"),
        None => format!("HTTP {status}"),
    }
}

/// The start of the answer's body, on one line, for the dead letter's reason.
fn excerpt(answer: &Answer) -> String {
    let text = String::from_utf8_lossy(&answer.body);
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(EXCERPT_CHARS)
        .collect();
    if text.chars().count() > EXCERPT_CHARS {
        out.push('…');
    }
    let trimmed = out.trim();
    if trimmed.is_empty() {
        "(empty body)".into()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn statuses() {
        for s in [200, 201, 202, 204, 299] {
            assert_eq!(classify(s), Class::Delivered, "{s}");
        }
        for s in [408, 429, 500, 502, 503, 504, 599, 301, 302, 307, 100] {
            assert!(matches!(classify(s), Class::Retry(_)), "{s}");
        }
        for s in [400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 499] {
            assert_eq!(classify(s), Class::Refused, "{s}");
        }
    }

    #[test]
    fn excerpts_are_one_bounded_line() {
        let answer = |body: &str| Answer {
            status: 400,
            retry_after: None,
            body: Bytes::from(body.to_string()),
        };
        assert_eq!(excerpt(&answer("unknown type\r\nbye")), "unknown type  bye");
        assert_eq!(excerpt(&answer("")), "(empty body)");
        let long = excerpt(&answer(&"x".repeat(1000)));
        assert_eq!(long.chars().count(), EXCERPT_CHARS + 1);
        assert_eq!(status_text(400), "HTTP 400 Bad Request");
        assert_eq!(status_text(599), "HTTP 599");
    }
}

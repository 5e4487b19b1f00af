//! The delivery side: a [`Sink`] takes a batch of events and reports one [`Outcome`]
//! per event; the pipeline turns outcomes into the confirmed LSN. Sinks never decide
//! about the LSN, they only report.

use bytes::Bytes;
use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::SystemTime;

use crate::{Classify, ErrorClass, OutboundEvent};

/// The fate of one event at one sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The destination has the event durably.
    Acked,
    /// Not delivered now; the same event may succeed later (outage, timeout, throttling).
    Retryable(String),
    /// The destination refuses this event for good (too large, invalid); dead-letter it.
    Rejected(String),
}

impl Outcome {
    /// The outcome of a failure of the given class (`Fatal` at publish time is retried:
    /// credentials can be fixed while the relay waits, and the LSN does not move).
    pub fn failed(class: ErrorClass, reason: String) -> Outcome {
        match class {
            ErrorClass::DeadLetter => Outcome::Rejected(reason),
            ErrorClass::Retry | ErrorClass::Fatal => Outcome::Retryable(reason),
        }
    }
}

/// A batch handed to [`Sink::publish`]: at most [`Sink::max_batch`] events, in the
/// order the pipeline wants them delivered.
pub type Batch = Vec<Arc<OutboundEvent>>;

/// What a successful [`Sink::probe`] found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// One line for operators, e.g. "stream PORTAL_EVENTS captures portal.events.>".
    pub detail: String,
}

/// A destination for events.
pub trait Sink: Send + Sync + 'static {
    /// The name given in the configuration (used in logs and dead letters).
    fn name(&self) -> &str;

    /// `true` when the sink delivers events in exactly the order `publish` was called,
    /// retries included (a single ordered writer that retries internally). The pipeline
    /// then pipelines events of one aggregate; otherwise it keeps at most one event per
    /// aggregate in flight so a retry can never land behind a newer event.
    fn preserves_order(&self) -> bool {
        false
    }

    /// Most events one [`Sink::publish`] call takes (SQS `SendMessageBatch`: 10).
    fn max_batch(&self) -> usize {
        1
    }

    /// Enqueue a batch; the future resolves to one outcome per event, in batch order,
    /// once every event's outcome is known. A shorter answer counts the missing events
    /// as retryable.
    ///
    /// # Cancel safety
    /// Dropping the future does not withdraw the events: they may still be delivered.
    fn publish(&self, batch: Batch) -> BoxFuture<'static, Vec<Outcome>>;

    /// [`Sink::publish`] of a batch of one.
    fn publish_one(&self, event: Arc<OutboundEvent>) -> BoxFuture<'static, Outcome> {
        let outcomes = self.publish(vec![event]);
        Box::pin(async move {
            outcomes
                .await
                .into_iter()
                .next()
                .unwrap_or_else(|| Outcome::Retryable("the sink returned no outcome".into()))
        })
    }

    /// Whether the destination is reachable and set up for us, without side effects
    /// (nothing is sent). For `check`, `status` and readiness.
    fn probe(&self) -> BoxFuture<'static, Result<Probe, SinkError>>;
}

/// What kind of trouble a sink had starting or probing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SinkErrorKind {
    /// The configuration section cannot work as written.
    Config,
    /// The destination did not answer (network, DNS, refused, timeout).
    Unreachable,
    /// Credentials were refused or lack a permission.
    Auth,
    /// The stream, queue or endpoint does not exist.
    Missing,
    /// A local file or device failed.
    Io,
    /// Anything else the destination answered.
    Other,
}

impl SinkErrorKind {
    fn label(self) -> &'static str {
        match self {
            SinkErrorKind::Config => "invalid configuration",
            SinkErrorKind::Unreachable => "unreachable",
            SinkErrorKind::Auth => "not authorized",
            SinkErrorKind::Missing => "destination missing",
            SinkErrorKind::Io => "I/O error",
            SinkErrorKind::Other => "error",
        }
    }
}

/// A sink could not start, or its probe failed. The message names the fix and never
/// contains secrets.
#[derive(Debug, thiserror::Error)]
#[error("sink `{sink}`: {}: {message}", kind.label())]
pub struct SinkError {
    pub sink: String,
    pub kind: SinkErrorKind,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl SinkError {
    pub fn new(sink: &str, kind: SinkErrorKind, message: impl Into<String>) -> Self {
        Self {
            sink: sink.to_string(),
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

impl Classify for SinkError {
    fn class(&self) -> ErrorClass {
        match self.kind {
            SinkErrorKind::Unreachable | SinkErrorKind::Other => ErrorClass::Retry,
            _ => ErrorClass::Fatal,
        }
    }
}

/// One dead letter: what failed, why, where, and the full event or raw row.
#[derive(Debug, Clone)]
pub struct DeadLetterRecord {
    pub id: String,
    /// `capture` for malformed rows, `sink:<name>` for rejections.
    pub stage: String,
    pub reason: String,
    pub commit_lsn: String,
    /// The event envelope (a rejected event) or the raw row (a malformed one).
    pub content: DeadLetterContent,
}

/// What the dead letter carries.
#[derive(Debug, Clone)]
pub enum DeadLetterContent {
    /// The encoded envelope, kept byte for byte.
    Event(Bytes),
    /// The raw row or message (invalid UTF-8 as base64).
    Row(Value),
}

impl DeadLetterRecord {
    /// One JSON line: `id`, `stage`, `reason`, `commitlsn`, `deadletteredat`, and the
    /// `event` (parsed envelope) or the `row`.
    pub fn encode(&self) -> Bytes {
        let at = humantime::format_rfc3339_micros(SystemTime::now()).to_string();
        let mut v = json!({
            "id": self.id,
            "stage": self.stage,
            "reason": self.reason,
            "commitlsn": self.commit_lsn,
            "deadletteredat": at,
        });
        match &self.content {
            DeadLetterContent::Event(body) => {
                let event = std::str::from_utf8(body)
                    .ok()
                    .and_then(|s| serde_json::from_str::<Value>(s).ok())
                    .unwrap_or(Value::Null);
                v["event"] = event;
            }
            DeadLetterContent::Row(row) => v["row"] = row.clone(),
        }
        Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
    }
}

/// Where dead letters go. A write resolving to [`Outcome::Acked`] is durable and counts
/// as the event's final outcome, so the confirmed LSN may pass it.
pub trait DeadLetterWriter: Send + Sync + 'static {
    fn write(&self, record: &DeadLetterRecord) -> BoxFuture<'static, Outcome>;
}

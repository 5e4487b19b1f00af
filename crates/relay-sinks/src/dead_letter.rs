//! The dead-letter file: where events go that no sink will ever take, and rows that could
//! not be made into events. A dead-letter write that is durable counts as the event's
//! outcome, so the confirmed LSN may pass it.

use bytes::Bytes;
use futures::future::BoxFuture;
use serde_json::{json, Value};
use std::path::Path;
use std::time::SystemTime;
use tokio::sync::mpsc;

use crate::line_writer::{self, Job, Target};
use crate::{Outcome, SinkError};

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
    fn encode(&self) -> Bytes {
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

/// Appends dead letters as JSON lines; each is acked after fsync.
pub struct DeadLetter {
    tx: mpsc::UnboundedSender<Job>,
}

impl DeadLetter {
    pub fn open(path: &Path) -> Result<Self, SinkError> {
        let target = Target::open_file(path).map_err(|source| SinkError::Open {
            sink: "dead_letter".into(),
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self {
            tx: line_writer::spawn("dead_letter".into(), target),
        })
    }

    /// Queue a record; resolves to [`Outcome::Acked`] once it is durable.
    pub fn write(&self, record: &DeadLetterRecord) -> BoxFuture<'static, Outcome> {
        line_writer::enqueue(&self.tx, record.encode())
    }
}

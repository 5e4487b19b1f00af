//! The dead-letter writer: records appended as JSON lines, each acked after fsync.

use futures::future::BoxFuture;
use relay_contracts::{DeadLetterRecord, DeadLetterWriter, Outcome, SinkError, SinkErrorKind};
use std::path::Path;
use tokio::sync::mpsc;

use crate::line_writer::{self, Job, Target};

/// Appends dead letters as JSON lines; each is acked after fsync.
pub struct DeadLetter {
    tx: mpsc::UnboundedSender<Job>,
}

impl DeadLetter {
    pub fn open(path: &Path) -> Result<Self, SinkError> {
        let target = Target::open_file(path).map_err(|e| {
            SinkError::new(
                "dead_letter",
                SinkErrorKind::Io,
                format!("cannot open {}: {e}", path.display()),
            )
            .with_source(e)
        })?;
        Ok(Self {
            tx: line_writer::spawn("dead_letter".into(), target),
        })
    }
}

impl DeadLetterWriter for DeadLetter {
    /// Queue a record; resolves to [`Outcome::Acked`] once it is durable.
    fn write(&self, record: &DeadLetterRecord) -> BoxFuture<'static, Outcome> {
        line_writer::enqueue(&self.tx, record.encode())
    }
}

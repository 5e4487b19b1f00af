//! `type = "file"`: append-only JSON lines, acked after `fsync`.

use futures::future::BoxFuture;
use relay_events::OutboundEvent;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::mpsc;

use crate::line_writer::{self, Job, Target};
use crate::{Outcome, Sink, SinkError};

/// Appends each event's envelope as one line; an event is acked once its line is fsynced.
pub struct FileSink {
    name: String,
    tx: mpsc::UnboundedSender<Job>,
}

impl FileSink {
    /// Open (or create) `path`; a torn last line from a crash is removed first.
    pub fn open(name: &str, path: &Path) -> Result<Self, SinkError> {
        let target = Target::open_file(path).map_err(|source| SinkError::Open {
            sink: name.into(),
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self {
            name: name.into(),
            tx: line_writer::spawn(name.into(), target),
        })
    }
}

impl Sink for FileSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn preserves_order(&self) -> bool {
        true
    }

    fn publish(&self, event: Arc<OutboundEvent>) -> BoxFuture<'static, Outcome> {
        line_writer::enqueue(&self.tx, event.body.clone())
    }
}

//! The [`Sink`] implementation: lines queued in order to one writer thread.

use futures::future::BoxFuture;
use relay_contracts::{Batch, Outcome, Probe, Sink, SinkError, SinkErrorKind};
use std::path::{Path, PathBuf};
use tokio::sync::mpsc;

use super::encode;
use crate::line_writer::{self, Job, Target};

/// Appends each event's envelope as one line; an event is acked once its line is fsynced.
pub struct FileSink {
    name: String,
    path: PathBuf,
    tx: mpsc::UnboundedSender<Job>,
}

impl FileSink {
    /// Open (or create) `path`; a torn last line from a crash is removed first.
    pub fn open(name: &str, path: &Path) -> Result<Self, SinkError> {
        let target = Target::open_file(path).map_err(|e| {
            SinkError::new(
                name,
                SinkErrorKind::Io,
                format!("cannot open {}: {e}", path.display()),
            )
            .with_source(e)
        })?;
        Ok(Self {
            name: name.into(),
            path: path.to_path_buf(),
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

    fn publish(&self, batch: Batch) -> BoxFuture<'static, Vec<Outcome>> {
        line_writer::enqueue_all(&self.tx, batch.iter().map(|e| encode::line(e)))
    }

    fn probe(&self) -> BoxFuture<'static, Result<Probe, SinkError>> {
        let (name, path, open) = (self.name.clone(), self.path.clone(), !self.tx.is_closed());
        Box::pin(async move {
            if !open {
                return Err(SinkError::new(
                    &name,
                    SinkErrorKind::Io,
                    "the writer thread has stopped",
                ));
            }
            let meta = std::fs::metadata(&path).map_err(|e| {
                SinkError::new(&name, SinkErrorKind::Io, format!("{}: {e}", path.display()))
            })?;
            if meta.permissions().readonly() {
                return Err(SinkError::new(
                    &name,
                    SinkErrorKind::Io,
                    format!("{} is read-only", path.display()),
                ));
            }
            Ok(Probe {
                detail: format!("appending to {} ({} bytes)", path.display(), meta.len()),
            })
        })
    }
}

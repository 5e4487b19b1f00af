//! The [`Sink`] implementation: lines to one ordered writer on standard output.

use futures::future::BoxFuture;
use relay_contracts::{Batch, Outcome, Probe, Sink, SinkError};
use tokio::sync::mpsc;

use super::encode;
use crate::line_writer::{self, Job, Target};

/// Writes each event's envelope as one line to stdout (logs go to stderr).
pub struct StdoutSink {
    name: String,
    tx: mpsc::UnboundedSender<Job>,
}

impl StdoutSink {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            tx: line_writer::spawn(name.into(), Target::Stdout),
        }
    }
}

impl Sink for StdoutSink {
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
        Box::pin(std::future::ready(Ok(Probe {
            detail: "standard output".into(),
        })))
    }
}

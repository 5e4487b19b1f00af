//! `type = "stdout"`: JSON lines on standard output, acked after flush.

use futures::future::BoxFuture;
use relay_events::OutboundEvent;
use std::sync::Arc;
use tokio::sync::mpsc;

use crate::line_writer::{self, Job, Target};
use crate::{Outcome, Sink};

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

    fn publish(&self, event: Arc<OutboundEvent>) -> BoxFuture<'static, Outcome> {
        line_writer::enqueue(&self.tx, event.body.clone())
    }
}

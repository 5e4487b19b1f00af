//! The [`Sink`] implementation: every event acked at once.

use futures::future::BoxFuture;
use relay_contracts::{Batch, Outcome, Probe, Sink, SinkError};

/// Discards events and acks them immediately.
pub struct NullSink {
    name: String,
}

impl NullSink {
    pub fn new(name: &str) -> Self {
        Self { name: name.into() }
    }
}

impl Sink for NullSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn preserves_order(&self) -> bool {
        true
    }

    fn publish(&self, batch: Batch) -> BoxFuture<'static, Vec<Outcome>> {
        Box::pin(std::future::ready(vec![Outcome::Acked; batch.len()]))
    }

    fn probe(&self) -> BoxFuture<'static, Result<Probe, SinkError>> {
        Box::pin(std::future::ready(Ok(Probe {
            detail: "discards every event".into(),
        })))
    }
}

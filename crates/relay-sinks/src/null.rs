//! `type = "null"`: acks everything at once. For benchmarks that isolate pipeline cost.

use futures::future::BoxFuture;
use relay_events::OutboundEvent;
use std::sync::Arc;

use crate::{Outcome, Sink};

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

    fn publish(&self, _event: Arc<OutboundEvent>) -> BoxFuture<'static, Outcome> {
        Box::pin(std::future::ready(Outcome::Acked))
    }
}

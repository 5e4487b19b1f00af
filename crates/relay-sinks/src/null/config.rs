//! `[[sinks]] type = "null"`: only a name.

use futures::future::BoxFuture;
use relay_contracts::{Sink, SinkError};
use serde::Deserialize;
use std::sync::Arc;

use super::NullSink;

/// Settings of the null sink.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NullConfig {
    pub name: String,
}

impl crate::SinkSpec for NullConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn Sink>, SinkError>> {
        Box::pin(async move { Ok(Arc::new(NullSink::new(&self.name)) as Arc<dyn Sink>) })
    }
}

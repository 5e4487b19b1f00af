//! `[[sinks]] type = "stdout"`: only a name.

use futures::future::BoxFuture;
use relay_contracts::{Sink, SinkError};
use serde::Deserialize;
use std::sync::Arc;

use super::StdoutSink;

/// Settings of the stdout sink.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutConfig {
    pub name: String,
}

impl crate::SinkSpec for StdoutConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn Sink>, SinkError>> {
        Box::pin(async move { Ok(Arc::new(StdoutSink::new(&self.name)) as Arc<dyn Sink>) })
    }
}

//! `[[sinks]] type = "file"`: its keys, and how they build the sink.

use futures::future::BoxFuture;
use relay_contracts::{Sink, SinkError};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

use super::FileSink;

/// Settings of one file sink.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// The sink's name (logs, dead letters).
    pub name: String,
    /// The JSON-lines file events are appended to (created if missing).
    pub path: PathBuf,
}

impl crate::SinkSpec for FileConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn Sink>, SinkError>> {
        Box::pin(
            async move { Ok(Arc::new(FileSink::open(&self.name, &self.path)?) as Arc<dyn Sink>) },
        )
    }
}

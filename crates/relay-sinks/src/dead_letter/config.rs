//! `[dead_letter]`: where refused events and malformed rows are kept.

use serde::Deserialize;
use std::path::PathBuf;

/// The dead-letter destination.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterConfig {
    /// JSON-lines file (created if missing), each line fsynced before it counts.
    pub path: PathBuf,
}

impl DeadLetterConfig {
    pub fn open(&self) -> Result<super::DeadLetter, relay_contracts::SinkError> {
        super::DeadLetter::open(&self.path)
    }
}

//! Why a batch of lookups failed, and whether retrying can help.

use relay_contracts::{Classify, ErrorClass};

/// Why a batch could not be enriched. Nothing was emitted; the caller retries the whole
/// batch (the LSN does not move) when it is retryable ([`Classify`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrichError {
    /// The database could not be reached or the connection broke (or the server is
    /// shutting down, overloaded, or cancelled the query). Reconnect and retry.
    #[error("lookup `{query}` failed, the portal database is unavailable: {message}")]
    Unavailable {
        query: &'static str,
        message: String,
        #[source]
        source: tokio_postgres::Error,
    },
    /// The query itself is wrong for this database: a missing table or column, no
    /// SELECT privilege, a value that does not convert. Retrying will not help: fix the
    /// schema or grants (the message names the query and the SQLSTATE).
    #[error("lookup `{query}` failed ({code}): {message}; check that the portal schema matches the catalog and that the relay's role may SELECT it")]
    Query {
        query: &'static str,
        code: String,
        message: String,
        #[source]
        source: tokio_postgres::Error,
    },
}

impl Classify for EnrichError {
    /// `Retry` when retrying the same batch later can succeed.
    fn class(&self) -> ErrorClass {
        match self {
            EnrichError::Unavailable { .. } => ErrorClass::Retry,
            EnrichError::Query { .. } => ErrorClass::Fatal,
        }
    }
}

impl EnrichError {
    /// The named query that failed.
    pub fn query(&self) -> &'static str {
        match self {
            EnrichError::Unavailable { query, .. } | EnrichError::Query { query, .. } => query,
        }
    }
}

//! The replication source: the first stage of the pipeline.
//!
//! ```text
//! **PostgreSQL slot (pgoutput) ─► PgSource** ─► pgoutput decode ─► capture ─► sinks ─► tracker
//!                        ▲                                                           │
//!                        └──────────── standby status (confirmed LSN) ◄──────────────┘
//! ```
//!
//! [`ConnectionSettings`] parses a libpq-style URL (plus a password from a file or the
//! environment, so URLs need no escaping). [`PgSource`] opens a `pgwire-replication`
//! session on the slot, pins the session settings that shape text values
//! (`DateStyle`, `TimeZone`, `extra_float_digits`, `bytea_output`, `IntervalStyle`), decodes
//! each XLogData payload with the [`pgoutput`] decoder, and passes confirmed positions
//! to the client, which reports them as write = flush = apply, monotonic, on a timer.
//! Keepalives are answered by the client; their `wal_end` is handed to the pipeline so an
//! idle audit table never pins WAL.

mod query;
mod settings;

pub use query::{QueryConnectError, QueryLimits};
pub use settings::{ConnectionSettings, SettingsError, TlsMode};

use pgwire_replication::{
    Lsn, PgWireError, ReplicationClient, ReplicationConfig, ReplicationEvent,
};
use relay_contracts::{sqlstate, ChangeSource, Classify, ErrorClass, SourceEvent};
use std::time::Duration;

/// Session settings pinned on the walsender so text values parse the same everywhere.
pub const PINNED_OPTIONS: &str = "-c DateStyle=ISO,YMD -c TimeZone=UTC -c extra_float_digits=3 \
     -c bytea_output=hex -c IntervalStyle=iso_8601";

/// What a replication session needs besides the connection.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    pub slot: String,
    pub publications: Vec<String>,
    /// How often confirmed positions are reported at most (and at least, when idle).
    pub status_interval: Duration,
    /// Events buffered between the socket reader and the pipeline.
    pub buffer_events: usize,
    /// Largest single WAL message accepted (one row must fit).
    pub max_message_size: usize,
    pub application_name: String,
}

/// Errors of the replication session, classified for the reconnect loop.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    #[error(
        "replication slot \"{slot}\" is in use by another process ({detail}); another relay may be \
         running, or a previous one just died and the server has not noticed yet"
    )]
    SlotInUse { slot: String, detail: String },
    #[error(
        "replication slot \"{slot}\" does not exist: create it with \
         SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput'); (see sql/04_slot.sql)"
    )]
    SlotMissing { slot: String },
    #[error("publication problem: {0} (see sql/02_publication.sql and sql/03_enrichment.sql; publications must exist before the slot; run `outbox-relay check`)")]
    Publication(String),
    #[error("authentication failed for the replication connection: {0}")]
    Auth(String),
    #[error("cannot reach PostgreSQL: {0}")]
    Connect(String),
    #[error(
        "TLS to PostgreSQL failed: {0} (check sslmode, sslrootcert and the server certificate)"
    )]
    Tls(String),
    #[error("server error: {0}")]
    Server(String),
    #[error("server error that needs an operator: {0}")]
    Fatal(String),
    #[error("a WAL message of {payload_bytes} bytes exceeds source.max_message_size ({limit_bytes} bytes); raise it to stream this row")]
    MessageTooLarge {
        payload_bytes: usize,
        limit_bytes: usize,
    },
    #[error("cannot decode a pgoutput message at {at}: {error}")]
    Decode {
        at: String,
        #[source]
        error: pgoutput::DecodeError,
    },
    #[error("replication client: {0}")]
    Client(String),
    #[error("malformed replication protocol message: {0}")]
    Protocol(String),
}

impl Classify for SourceError {
    fn class(&self) -> ErrorClass {
        match self {
            SourceError::SlotInUse { .. }
            | SourceError::Connect(_)
            | SourceError::Server(_)
            | SourceError::Client(_) => ErrorClass::Retry,
            _ => ErrorClass::Fatal,
        }
    }
}

/// Sort a replication client error into what it means for the reconnect loop; server
/// errors by their SQLSTATE ([`sqlstate::class`]).
fn classify(err: PgWireError, slot: &str) -> SourceError {
    let text = err.to_string();
    let code = sqlstate::from_message(&text)
        .unwrap_or_default()
        .to_string();
    match err {
        PgWireError::Tls(m) => SourceError::Tls(m),
        // The worker may report TLS setup failures wrapped; they need an operator, not a retry.
        PgWireError::Io(_) | PgWireError::Task(_) if text.contains("tls error") => {
            SourceError::Tls(text)
        }
        PgWireError::Io(_) | PgWireError::Task(_) => SourceError::Connect(text),
        PgWireError::Auth(m) => SourceError::Auth(m),
        PgWireError::MessageTooLarge {
            payload_bytes,
            limit_bytes,
        } => SourceError::MessageTooLarge {
            payload_bytes,
            limit_bytes,
        },
        PgWireError::Server(m) => match code.as_str() {
            "55006" => SourceError::SlotInUse {
                slot: slot.into(),
                detail: m,
            },
            "42704" if m.contains("publication") => SourceError::Publication(m),
            "42704" => SourceError::SlotMissing { slot: slot.into() },
            c if c.starts_with("28") => SourceError::Auth(m),
            c if sqlstate::class(c) == ErrorClass::Fatal => SourceError::Fatal(m),
            _ => SourceError::Server(m),
        },
        PgWireError::Protocol(m) => SourceError::Protocol(m),
        other => SourceError::Client(other.to_string()),
    }
}

/// A live replication session on the slot.
pub struct PgSource {
    client: ReplicationClient,
    slot: String,
}

impl PgSource {
    /// Connect and start streaming from the slot's confirmed position. Returns once the
    /// server accepted `START_REPLICATION` (the slot is then held by this session).
    pub async fn connect(
        conn: &ConnectionSettings,
        stream: &StreamSettings,
    ) -> Result<Self, SourceError> {
        let mut cfg = ReplicationConfig::new(
            conn.host.clone(),
            conn.user.clone(),
            conn.password.clone(),
            conn.database.clone(),
            stream.slot.clone(),
            stream.publications.clone(),
        )
        .with_port(conn.port)
        .with_tls(conn.replication_tls())
        .with_status_interval(stream.status_interval)
        .with_wakeup_interval(stream.status_interval.max(Duration::from_secs(1)))
        .with_buffer_size(stream.buffer_events.max(1))
        .with_max_message_size(stream.max_message_size)
        .with_options(PINNED_OPTIONS)
        .with_application_name(stream.application_name.clone());
        // Start where the slot's confirmed position is (LSN 0 = the slot decides).
        cfg = cfg.with_start_lsn(Lsn::from_u64(0));
        let slot = &stream.slot;
        let mut client = ReplicationClient::connect_gated(cfg)
            .await
            .map_err(|e| classify(e, slot))?;
        // A SQL_ASCII database can hold bytes that are not valid in any encoding; asked for
        // UTF8 the walsender would fail on such a row forever. Take the bytes raw instead:
        // capture validates UTF-8 itself and dead-letters what is not.
        let rows = client
            .simple_query("SHOW server_encoding")
            .await
            .map_err(|e| classify(e, slot))?;
        let sql_ascii = rows
            .first()
            .and_then(|r| r.first())
            .and_then(|v| v.as_deref())
            .is_some_and(|v| v.eq_ignore_ascii_case(b"SQL_ASCII"));
        if sql_ascii {
            client
                .simple_query("SET client_encoding = 'SQL_ASCII'")
                .await
                .map_err(|e| classify(e, slot))?;
        }
        // Report the slot's confirmed position from the start (not 0/0) so
        // pg_stat_replication reads right after a reconnect; it is confirmed already.
        let confirmed = client
            .simple_query(&format!(
                "SELECT confirmed_flush_lsn::text FROM pg_catalog.pg_replication_slots WHERE slot_name = '{}'",
                slot.replace('\'', "''")
            ))
            .await
            .ok()
            .and_then(|rows| rows.into_iter().next())
            .and_then(|row| row.into_iter().next().flatten())
            .and_then(|v| std::str::from_utf8(&v).ok().and_then(|t| Lsn::parse(t).ok()));
        if let Some(lsn) = confirmed {
            client.update_applied_lsn(lsn);
        }
        client.start().await.map_err(|e| classify(e, slot))?;
        client
            .wait_started()
            .await
            .map_err(|e| classify(e, &stream.slot))?;
        Ok(Self {
            client,
            slot: stream.slot.clone(),
        })
    }

    /// Stop streaming (sends CopyDone) and wait briefly for the session to end.
    pub async fn close(mut self, wait: Duration) {
        self.client.stop();
        let _ = tokio::time::timeout(wait, self.client.shutdown()).await;
    }
}

impl ChangeSource for PgSource {
    type Error = SourceError;

    async fn next(&mut self) -> Result<Option<SourceEvent>, SourceError> {
        let ev = match self.client.recv().await {
            Ok(Some(ev)) => ev,
            Ok(None) => return Ok(None),
            Err(e) => return Err(classify(e, &self.slot)),
        };
        Ok(Some(match ev {
            ReplicationEvent::KeepAlive { wal_end, .. } => SourceEvent::KeepAlive {
                wal_end: wal_end.as_u64(),
            },
            ReplicationEvent::Begin {
                final_lsn,
                xid,
                commit_time_micros,
            } => SourceEvent::Begin {
                xid,
                final_lsn: final_lsn.as_u64(),
                commit_time_micros,
            },
            ReplicationEvent::Commit {
                lsn,
                end_lsn,
                commit_time_micros,
            } => SourceEvent::Commit {
                commit_lsn: lsn.as_u64(),
                end_lsn: end_lsn.as_u64(),
                commit_time_micros,
            },
            ReplicationEvent::Message {
                transactional,
                lsn,
                prefix,
                content,
            } => SourceEvent::Message(pgoutput::LogicalDecodingMessage {
                transactional,
                lsn: lsn.as_u64(),
                prefix,
                content,
            }),
            ReplicationEvent::XLogData {
                data, wal_start, ..
            } => match pgoutput::decode(&data) {
                Ok(msg) => SourceEvent::Change(msg),
                Err(error) => {
                    return Err(SourceError::Decode {
                        at: format!("{wal_start}"),
                        error,
                    })
                }
            },
            ReplicationEvent::StoppedAt { .. } => return Ok(None),
        }))
    }

    fn confirm(&mut self, lsn: u64) {
        self.client.update_applied_lsn(Lsn::from_u64(lsn));
    }
}

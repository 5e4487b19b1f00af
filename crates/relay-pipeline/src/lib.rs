//! The pipeline: from decoded WAL to a confirmed LSN.
//!
//! ```text
//! source ─► decode ─► capture ─► lanes (one per sink) ─► outcomes ─► **tracker** ─► confirm(LSN)
//!   ▲                                                                                │
//!   └──────────────────── back-pressure: stop reading while in-flight is full ◄──────┘
//! ```
//!
//! [`Pipeline::run`] owns one replication session: it reads [`SourceEvent`]s from a
//! [`ChangeSource`], opens an ack unit per transaction, captures rows of the watched
//! table, fans each event out to every sink's lane, and turns outcomes into the confirmed
//! LSN (see [`tracker`]). It stops reading while the in-flight events or bytes are at
//! their limits, so a slow sink slows the WAL reader instead of growing a queue. Rows
//! that cannot become events, and events a sink rejects for good, go to the dead-letter
//! file; without one, the run ends with an error and the LSN stays before them.
//!
//! Any error ends the run without confirming anything more; the caller reconnects and
//! the slot replays from the confirmed LSN (at-least-once delivery).

mod enrich;
mod lane;
mod run;
pub mod tracker;

pub use enrich::{Connector, EnrichConfig, EnrichFatal};
pub use lane::Backoff;

use pgoutput::{LogicalDecodingMessage, LogicalMessage};
use relay_events::Capture;
use relay_sinks::{DeadLetter, Sink};
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

use lane::LaneResult;
use run::{Done, RunState};

/// What the source hands the pipeline, in WAL order.
#[derive(Debug, Clone)]
pub enum SourceEvent {
    Begin {
        xid: u32,
        final_lsn: u64,
        commit_time_micros: i64,
    },
    /// Any other decoded pgoutput message (Relation, Insert, Update, …).
    Change(LogicalMessage),
    /// A logical decoding message (`pg_logical_emit_message`).
    Message(LogicalDecodingMessage),
    Commit {
        commit_lsn: u64,
        end_lsn: u64,
        commit_time_micros: i64,
    },
    /// The server's WAL end; confirmable when nothing read is unresolved.
    KeepAlive { wal_end: u64 },
}

/// An error of the source, telling whether reconnecting may help.
pub trait SourceFailure: std::error::Error + Send + Sync + 'static {
    fn is_retryable(&self) -> bool;
}

/// A stream of [`SourceEvent`]s plus a way to confirm positions.
pub trait ChangeSource: Send {
    type Error: SourceFailure;

    /// The next event; `Ok(None)` when the stream ended cleanly.
    ///
    /// # Cancel safety
    /// Must be cancel safe: the pipeline polls it inside `select!`.
    fn next(&mut self) -> impl Future<Output = Result<Option<SourceEvent>, Self::Error>> + Send;

    /// Everything up to `lsn` is durable downstream (monotonic; lower values are ignored).
    fn confirm(&mut self, lsn: u64);
}

/// Limits and timings of a run.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Outstanding (event, sink) outcomes before reading pauses.
    pub max_inflight_events: u64,
    /// Bytes of outstanding (event, sink) outcomes before reading pauses.
    pub max_inflight_bytes: u64,
    pub retry: Backoff,
    /// How long a graceful shutdown waits for in-flight events before giving up.
    pub drain_timeout: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            max_inflight_events: 10_000,
            max_inflight_bytes: 64 << 20,
            retry: Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(30),
            },
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Counters shared with the binary (logs, metrics endpoint) and benchmarks.
#[derive(Debug, Default)]
pub struct Metrics {
    pub transactions: AtomicU64,
    pub events_captured: AtomicU64,
    pub events_acked: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub retries: AtomicU64,
    pub confirmed_lsn: AtomicU64,
    pub server_wal_end: AtomicU64,
    pub inflight_events: AtomicU64,
    pub inflight_bytes: AtomicU64,
}

/// Why a run ended without being asked to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    #[error("replication source")]
    Source {
        retryable: bool,
        #[source]
        error: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("replication stream out of order: {0}")]
    Protocol(String),
    #[error(
        "row {id} (commit {commit_lsn}) cannot be captured: {reason}; no [dead_letter] is configured, \
         so the relay stops here and the slot stays before this transaction (configure [dead_letter] \
         path, or fix the row, then restart)"
    )]
    Malformed {
        id: String,
        commit_lsn: String,
        reason: String,
    },
    #[error(
        "sink `{sink}` rejected event {id} permanently: {reason}; no [dead_letter] is configured, so the \
         relay stops here and the slot stays before this transaction"
    )]
    Rejected {
        sink: String,
        id: String,
        reason: String,
    },
    #[error("sink `{sink}` failed and must restart from the confirmed position: {reason}")]
    SinkBroken { sink: String, reason: String },
    #[error(transparent)]
    Enrich(#[from] EnrichFatal),
}

impl PipelineError {
    /// Whether reconnecting and replaying from the confirmed LSN may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            PipelineError::Source { retryable, .. } => *retryable,
            PipelineError::SinkBroken { .. } => true,
            PipelineError::Enrich(EnrichFatal::Unavailable(_)) => true,
            _ => false,
        }
    }
}

/// How a run ended cleanly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Shutdown was requested and in-flight events drained.
    Shutdown,
    /// The source ended its stream.
    SourceEnded,
}

/// Everything a run needs besides the source.
pub struct Pipeline {
    capture: Capture,
    sinks: Vec<Arc<dyn Sink>>,
    dead_letter: Option<Arc<DeadLetter>>,
    cfg: PipelineConfig,
    metrics: Arc<Metrics>,
    enrich: Option<EnrichConfig>,
}

impl Pipeline {
    pub fn new(
        capture: Capture,
        sinks: Vec<Arc<dyn Sink>>,
        dead_letter: Option<Arc<DeadLetter>>,
        cfg: PipelineConfig,
    ) -> Self {
        Self {
            capture,
            sinks,
            dead_letter,
            cfg,
            metrics: Arc::new(Metrics::default()),
            enrich: None,
        }
    }

    /// Enrich portal audit rows with the catalog (the capture must hand over rows:
    /// `CaptureConfig::enrich`).
    pub fn with_enrichment(mut self, enrich: EnrichConfig) -> Self {
        self.enrich = Some(enrich);
        self
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    /// Run one replication session until `shutdown` resolves, the source ends, or an
    /// error. See the crate docs for what is guaranteed.
    pub async fn run<S: ChangeSource>(
        &self,
        source: &mut S,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Exit, PipelineError> {
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
        let (lane_tx, mut lane_rx) = mpsc::unbounded_channel::<LaneResult>();
        let mut lanes = Vec::with_capacity(self.sinks.len());
        let mut handles = Vec::with_capacity(self.sinks.len());
        for (i, sink) in self.sinks.iter().enumerate() {
            let (tx, handle) = lane::spawn(
                i,
                Arc::clone(sink),
                self.cfg.retry,
                lane_tx.clone(),
                Arc::clone(&self.metrics),
            );
            lanes.push(tx);
            handles.push(handle);
        }
        drop(lane_tx);
        let mut state = RunState::new(self, lanes, done_tx);
        let result = state
            .drive(source, shutdown, &mut done_rx, &mut lane_rx)
            .await;
        if result.as_ref().is_err_and(|e| !e.is_retryable()) {
            // Deliver (and confirm) what was read before the failure, so the slot stops
            // right before the transaction that failed.
            state
                .drain_after_error(source, &mut done_rx, &mut lane_rx)
                .await;
        }
        for h in handles {
            h.abort();
        }
        result
    }
}

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

mod lane;
mod run;
pub mod tracker;

use relay_capture::Capture;
use relay_contracts::{
    Backoff, Classify, DeadLetterWriter, EnrichFailure, EnrichStage, ErrorClass, NoObserver,
    Observer, Sink,
};
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub use relay_contracts::{ChangeSource, SourceEvent};

use lane::LaneResult;
use run::{Done, RunState};

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
    /// Enrichment batches looked up at once (reading pauses while this many run).
    pub max_enrich_batches: usize,
    /// How long audit rows may wait for more rows to share their lookups while a batch
    /// is being enriched (an idle loop starts the batch at once).
    pub enrich_linger: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            max_inflight_events: 10_000,
            max_inflight_bytes: 64 << 20,
            retry: Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(30),
                jitter: Backoff::DEFAULT_JITTER,
            },
            drain_timeout: Duration::from_secs(30),
            max_enrich_batches: 4,
            enrich_linger: Duration::from_millis(20),
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
    /// Enrichment batches being looked up.
    pub enrich_batches: AtomicU64,
    /// Captured deletes held for their audit row, and the bytes of their rows.
    pub held_deletes: AtomicU64,
    pub held_bytes: AtomicU64,
    /// Captured deleted rows kept in the spill file.
    pub held_spilled: AtomicU64,
    /// Commit time (µs since 2000-01-01) of the oldest transaction not yet confirmed;
    /// 0 when everything read is confirmed.
    pub oldest_unconfirmed_commit_micros: std::sync::atomic::AtomicI64,
    /// The end of the newest transaction read.
    pub received_lsn: AtomicU64,
}

/// Why a run ended without being asked to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    #[error("replication source")]
    Source {
        class: ErrorClass,
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
    Enrich(#[from] EnrichFailure),
}

impl Classify for PipelineError {
    /// `Retry`: reconnecting and replaying from the confirmed LSN may succeed.
    fn class(&self) -> ErrorClass {
        match self {
            PipelineError::Source { class, .. } => *class,
            PipelineError::SinkBroken { .. } => ErrorClass::Retry,
            PipelineError::Enrich(e) => e.class(),
            _ => ErrorClass::Fatal,
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
    dead_letter: Option<Arc<dyn DeadLetterWriter>>,
    cfg: PipelineConfig,
    metrics: Arc<Metrics>,
    enrich: Option<Arc<dyn EnrichStage>>,
    observer: Arc<dyn Observer>,
}

impl Pipeline {
    pub fn new(
        capture: Capture,
        sinks: Vec<Arc<dyn Sink>>,
        dead_letter: Option<Arc<dyn DeadLetterWriter>>,
        cfg: PipelineConfig,
    ) -> Self {
        Self {
            capture,
            sinks,
            dead_letter,
            cfg,
            metrics: Arc::new(Metrics::default()),
            enrich: None,
            observer: Arc::new(NoObserver),
        }
    }

    /// Report what happens to events (for the metrics endpoint).
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// Hand audit rows (the capture must hand them over: `CaptureConfig::enrich`) and the
    /// other changes of each transaction to an enrich stage.
    pub fn with_enrichment(mut self, enrich: Arc<dyn EnrichStage>) -> Self {
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
                Arc::clone(&self.observer),
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

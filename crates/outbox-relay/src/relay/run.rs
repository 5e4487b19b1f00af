//! The run loop: verify, connect, stream, and reconnect from the confirmed LSN after
//! failures, reporting every state change.

use anyhow::Context;
use relay_contracts::Classify;
use relay_pipeline::{Exit, PipelineError};
use relay_source::{PgSource, SourceError};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;

use super::{fatal, operator_backoff, reconnect_backoff, sleep_or_shutdown, Relay};
use crate::telemetry::RelayState;

impl Relay {
    /// Run until `shutdown` becomes true (graceful: in-flight events drain and their
    /// position is confirmed) or a non-retryable error. Before the first session it
    /// verifies the slot, publications and captured table (`check`'s essentials).
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        self.state.set(RelayState::Starting);
        self.verify_before_streaming(&mut shutdown).await?;
        self.spawn_operator_tasks(shutdown.clone());
        {
            // Report the drain as a state of its own.
            let state = self.state();
            let mut stop = shutdown.clone();
            tokio::spawn(async move {
                if stop.wait_for(|s| *s).await.is_ok() {
                    state.set(RelayState::Draining);
                }
            });
        }
        let mut reconnect = reconnect_backoff().retry();
        let mut operator = operator_backoff().retry();
        loop {
            if *shutdown.borrow() {
                self.state.set(RelayState::Stopped);
                return Ok(());
            }
            let connected = tokio::select! {
                r = PgSource::connect(&self.conn, &self.stream) => r,
                _ = shutdown.wait_for(|s| *s) => {
                    self.state.set(RelayState::Stopped);
                    return Ok(());
                }
            };
            let mut source = match connected {
                Ok(source) => source,
                Err(e @ SourceError::SlotInUse { .. }) => {
                    tracing::debug!(error = %e, "slot in use");
                    self.state.set(RelayState::Standby);
                    sleep_or_shutdown(Duration::from_secs(2), &mut shutdown).await;
                    continue;
                }
                Err(e) if e.is_retryable() => {
                    let delay = reconnect.next_delay();
                    self.telemetry.reconnect("connect");
                    self.state.set(RelayState::Waiting(format!(
                        "cannot start replication: {e}"
                    )));
                    tracing::warn!(error = %e, retry_in = ?delay, "cannot start replication; retrying");
                    sleep_or_shutdown(delay, &mut shutdown).await;
                    continue;
                }
                Err(e) => {
                    self.state.set(RelayState::Stopped);
                    return Err(e).with_context(|| {
                        format!(
                            "replication on {} slot \"{}\"",
                            self.conn.display(),
                            self.stream.slot
                        )
                    });
                }
            };
            self.state.set(RelayState::Connected);
            tracing::info!(
                database = %self.conn.display(),
                slot = %self.stream.slot,
                publications = ?self.stream.publications,
                "streaming"
            );
            self.state.set(RelayState::Streaming);
            let mut stop = shutdown.clone();
            let confirmed_before = self.metrics().confirmed_lsn.load(Ordering::Relaxed);
            let result = self
                .pipeline
                .run(&mut source, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            // Delays start over only after the run made progress, never merely because
            // a connection opened: a failure right after each connect backs off.
            if self.metrics().confirmed_lsn.load(Ordering::Relaxed) > confirmed_before {
                reconnect.reset();
                operator.reset();
            }
            match result {
                Ok(Exit::Shutdown) => {
                    // Give the client one status interval to report the final position.
                    tokio::time::sleep(self.stream.status_interval + Duration::from_millis(200))
                        .await;
                    source.close(Duration::from_secs(5)).await;
                    tracing::info!(
                        confirmed_lsn = %relay_contracts::format_lsn(self.metrics().confirmed_lsn.load(Ordering::Relaxed)),
                        "stopped"
                    );
                    self.state.set(RelayState::Stopped);
                    return Ok(());
                }
                Ok(Exit::SourceEnded) => {
                    let delay = reconnect.next_delay();
                    self.telemetry.reconnect("stream_ended");
                    self.state
                        .set(RelayState::Waiting("the replication stream ended".into()));
                    tracing::warn!(retry_in = ?delay, "replication stream ended; reconnecting");
                    sleep_or_shutdown(delay, &mut shutdown).await;
                }
                Err(e) if e.is_retryable() => {
                    let delay = reconnect.next_delay();
                    self.telemetry.reconnect(cause(&e));
                    self.state.set(RelayState::Waiting(format!("{e}")));
                    tracing::warn!(error = %e, retry_in = ?delay, "replication interrupted; reconnecting and replaying from the confirmed position");
                    sleep_or_shutdown(delay, &mut shutdown).await;
                }
                Err(PipelineError::Enrich(e)) => {
                    // A grant, a table or a pg_hba rule is missing: nothing is lost (the
                    // slot stays before the transactions that need it), and the relay
                    // retries slowly so the fix takes effect without a restart.
                    source.close(Duration::from_secs(5)).await;
                    let delay = operator.next_delay();
                    self.telemetry.reconnect("enrichment_configuration");
                    self.state.set(RelayState::Waiting(format!("{e}")));
                    tracing::error!(error = %e, retry_in = ?delay, "enrichment cannot go on until this is fixed; the slot stays before the affected events");
                    sleep_or_shutdown(delay, &mut shutdown).await;
                }
                Err(e) => {
                    // Let the client report what was confirmed before the failure.
                    tokio::time::sleep(self.stream.status_interval + Duration::from_millis(200))
                        .await;
                    source.close(Duration::from_secs(5)).await;
                    self.state.set(RelayState::Stopped);
                    return Err(fatal(e));
                }
            }
        }
    }
}

/// The `cause` label of a reconnect.
fn cause(e: &PipelineError) -> &'static str {
    match e {
        PipelineError::Source { .. } => "source",
        PipelineError::SinkBroken { .. } => "sink",
        PipelineError::Enrich(_) => "enrichment",
        _ => "other",
    }
}

//! The run loop: connect, stream, and reconnect from the confirmed LSN after failures.

use anyhow::Context;
use relay_capture::portal_v2::Facts;
use relay_capture::{Capture, CaptureConfig, Profile};
use relay_catalog::{ConnectFailure, Connector, EnrichConfig, PortalEnrichStage};
use relay_contracts::{Backoff, Classify, DeadLetterWriter, Sink};
use relay_pipeline::{Exit, Metrics, Pipeline, PipelineConfig, PipelineError};
use relay_source::{ConnectionSettings, PgSource, QueryLimits, SourceError, StreamSettings};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use crate::config::{Config, ProfileName};

const RECONNECT_MIN: Duration = Duration::from_millis(500);
const RECONNECT_MAX: Duration = Duration::from_secs(10);

/// Delays between reconnects of the replication session.
fn reconnect_backoff() -> Backoff {
    Backoff {
        initial: RECONNECT_MIN,
        max: RECONNECT_MAX,
        jitter: Backoff::DEFAULT_JITTER,
    }
}

/// Delays between attempts while something only an operator can fix (a grant, a
/// pg_hba rule, a password) stops enrichment: long, capped at minutes.
fn operator_backoff() -> Backoff {
    Backoff {
        initial: Duration::from_secs(5),
        max: Duration::from_secs(300),
        jitter: Backoff::DEFAULT_JITTER,
    }
}

/// A configured relay, ready to run.
pub struct Relay {
    conn: ConnectionSettings,
    stream: StreamSettings,
    pipeline: Pipeline,
    /// portal-v2: the capture's facts and the schema they are seeded from.
    portal_v2: Option<(Arc<Facts>, String)>,
}

/// Connection settings from the `[source]` section (password from file/env applied).
pub fn connection_settings(cfg: &Config) -> anyhow::Result<ConnectionSettings> {
    let mut conn = ConnectionSettings::from_url(&cfg.source.url)?;
    if let Some(file) = &cfg.source.password_file {
        conn.password_from_file(file)?;
    }
    if let Some(var) = &cfg.source.password_env {
        conn.password_from_env(var)?;
    }
    Ok(conn)
}

/// Capture settings from the `[capture]` section.
pub fn capture_config(cfg: &Config) -> CaptureConfig {
    let (schema, table) = cfg.capture.schema_table();
    CaptureConfig {
        profile: match cfg.capture.profile {
            ProfileName::Portal => Profile::Portal,
            ProfileName::DebeziumOutbox => Profile::DebeziumOutbox,
            ProfileName::LogicalMessage => Profile::LogicalMessage,
            ProfileName::PortalV2 => Profile::PortalV2,
        },
        schema,
        table,
        message_prefix: cfg.capture.message_prefix.clone(),
        source: cfg.capture.event_source.clone(),
        enrich: enrichment_enabled(cfg),
    }
}

/// Enrichment runs for the portal profile unless `capture.enrich = false`.
pub fn enrichment_enabled(cfg: &Config) -> bool {
    cfg.capture.enrich && cfg.capture.profile == ProfileName::Portal
}

/// Open every configured sink (brokers are connected and their streams verified).
pub async fn build_sinks(cfg: &Config) -> anyhow::Result<Vec<Arc<dyn Sink>>> {
    relay_sinks::install_crypto_provider();
    let mut sinks: Vec<Arc<dyn Sink>> = Vec::with_capacity(cfg.sinks.len());
    for s in &cfg.sinks {
        sinks.push(s.build().await?);
    }
    Ok(sinks)
}

impl Relay {
    /// Build a relay with the sinks named in the configuration.
    pub async fn from_config(cfg: &Config) -> anyhow::Result<Self> {
        let sinks = build_sinks(cfg).await?;
        Self::with_sinks(cfg, sinks)
    }

    /// Build a relay with the given sinks instead of the configured ones (tests, benches).
    pub fn with_sinks(cfg: &Config, sinks: Vec<Arc<dyn Sink>>) -> anyhow::Result<Self> {
        relay_sinks::install_crypto_provider();
        let conn = connection_settings(cfg)?;
        let stream = StreamSettings {
            slot: cfg.source.slot.clone(),
            publications: cfg.source.publication.to_vec(),
            status_interval: cfg.source.status_interval,
            buffer_events: cfg.source.buffer_events,
            max_message_size: cfg.source.max_message_bytes,
            application_name: cfg.source.application_name.clone(),
        };
        let dead_letter = match &cfg.dead_letter {
            Some(d) => Some(Arc::new(d.open()?) as Arc<dyn DeadLetterWriter>),
            None => None,
        };
        let p = &cfg.pipeline;
        let retry = p.retry()?;
        let capture = Capture::new(capture_config(cfg));
        let portal_v2 = (cfg.capture.profile == ProfileName::PortalV2)
            .then(|| (Arc::clone(capture.facts()), cfg.capture.schema_table().0));
        let mut pipeline = Pipeline::new(
            capture,
            sinks,
            dead_letter,
            PipelineConfig {
                max_inflight_events: p.max_inflight_events,
                max_inflight_bytes: p.max_inflight_bytes,
                retry,
                drain_timeout: p.drain_timeout,
                max_enrich_batches: cfg.capture.enrich_in_flight,
            },
        );
        if enrichment_enabled(cfg) {
            let lookup = match &cfg.source.lookup_url {
                Some(url) => ConnectionSettings::from_url(url).context("source.lookup_url")?,
                None => conn.clone(),
            };
            let limits = QueryLimits {
                connect_timeout: cfg.capture.lookup_connect_timeout,
                statement_timeout: cfg.capture.lookup_timeout,
                lock_timeout: cfg.capture.lookup_lock_timeout,
                ..QueryLimits::default()
            };
            let connector: Connector = Arc::new(move || {
                let lookup = lookup.clone();
                Box::pin(async move {
                    lookup
                        .connect_query_limited(&limits)
                        .await
                        .map_err(|e| ConnectFailure {
                            class: e.class(),
                            message: error_chain(&e),
                        })
                })
            });
            pipeline = pipeline.with_enrichment(Arc::new(PortalEnrichStage::new(EnrichConfig {
                connector,
                delete_hold: cfg.capture.delete_hold,
                delete_hold_transactions: cfg.capture.delete_hold_transactions,
                batch: cfg.capture.enrich_batch,
                source: cfg.capture.event_source.clone(),
                schema: cfg.capture.schema_table().0,
                retry,
                tombstone_budget: cfg.capture.tombstone_budget,
                spill_dir: cfg
                    .capture
                    .spill_dir
                    .clone()
                    .unwrap_or_else(std::env::temp_dir),
            })));
        }
        Ok(Self {
            conn,
            stream,
            pipeline,
            portal_v2,
        })
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.pipeline.metrics()
    }

    /// Run until `shutdown` becomes true (graceful: in-flight events drain and their
    /// position is confirmed) or a non-retryable error.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        if let Some((facts, schema)) = &self.portal_v2 {
            let from = crate::portal_v2::Sources {
                schema,
                slot: &self.stream.slot,
                publications: &self.stream.publications,
            };
            let seed = crate::portal_v2::seed(&self.conn, facts, &from, reconnect_backoff());
            tokio::select! {
                r = seed => { r?; }
                _ = shutdown.wait_for(|s| *s) => return Ok(()),
            }
        }
        let mut reconnect = reconnect_backoff().retry();
        let mut operator = operator_backoff().retry();
        let mut waiting_for_slot = false;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let connected = tokio::select! {
                r = PgSource::connect(&self.conn, &self.stream) => r,
                _ = shutdown.wait_for(|s| *s) => return Ok(()),
            };
            let mut source = match connected {
                Ok(source) => source,
                Err(e @ SourceError::SlotInUse { .. }) => {
                    if !waiting_for_slot {
                        tracing::warn!(error = %e, "waiting for the slot to become free; retrying every few seconds");
                        waiting_for_slot = true;
                    } else {
                        tracing::debug!(error = %e, "slot still in use");
                    }
                    sleep_or_shutdown(Duration::from_secs(2), &mut shutdown).await;
                    continue;
                }
                Err(e) if e.is_retryable() => {
                    let delay = reconnect.next_delay();
                    tracing::warn!(error = %e, retry_in = ?delay, "cannot start replication; retrying");
                    sleep_or_shutdown(delay, &mut shutdown).await;
                    continue;
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "replication on {} slot \"{}\"",
                            self.conn.display(),
                            self.stream.slot
                        )
                    })
                }
            };
            waiting_for_slot = false;
            tracing::info!(
                database = %self.conn.display(),
                slot = %self.stream.slot,
                publications = ?self.stream.publications,
                "streaming"
            );
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
                    return Ok(());
                }
                Ok(Exit::SourceEnded) => {
                    let delay = reconnect.next_delay();
                    tracing::warn!(retry_in = ?delay, "replication stream ended; reconnecting");
                    sleep_or_shutdown(delay, &mut shutdown).await;
                }
                Err(e) if e.is_retryable() => {
                    let delay = reconnect.next_delay();
                    tracing::warn!(error = %e, retry_in = ?delay, "replication interrupted; reconnecting and replaying from the confirmed position");
                    sleep_or_shutdown(delay, &mut shutdown).await;
                }
                Err(PipelineError::Enrich(e)) => {
                    // A grant, a table or a pg_hba rule is missing: nothing is lost (the
                    // slot stays before the transactions that need it), and the relay
                    // retries slowly so the fix takes effect without a restart.
                    source.close(Duration::from_secs(5)).await;
                    let delay = operator.next_delay();
                    tracing::error!(error = %e, retry_in = ?delay, "enrichment cannot go on until this is fixed; the slot stays before the affected events");
                    sleep_or_shutdown(delay, &mut shutdown).await;
                }
                Err(e) => {
                    // Let the client report what was confirmed before the failure.
                    tokio::time::sleep(self.stream.status_interval + Duration::from_millis(200))
                        .await;
                    source.close(Duration::from_secs(5)).await;
                    return Err(fatal(e));
                }
            }
        }
    }
}

/// An error and its sources on one line (`a: b: c`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

fn fatal(e: PipelineError) -> anyhow::Error {
    anyhow::Error::new(e)
}

async fn sleep_or_shutdown(d: Duration, shutdown: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = shutdown.wait_for(|s| *s) => {}
    }
}

/// A watch channel that turns true on SIGINT or SIGTERM.
pub fn shutdown_on_signals() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
        tracing::info!("signal received; shutting down");
        let _ = tx.send(true);
    });
    rx
}

//! The run loop: connect, stream, and reconnect from the confirmed LSN after failures.

use anyhow::Context;
use relay_events::{Capture, CaptureConfig, Profile};
use relay_pipeline::{
    Backoff, Connector, EnrichConfig, Exit, Metrics, Pipeline, PipelineConfig, PipelineError,
};
use relay_sinks::{DeadLetter, FileSink, NatsSink, NullSink, Sink, StdoutSink};
use relay_source::{ConnectionSettings, PgSource, SourceError, StreamSettings};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use crate::config::{Config, ProfileName, SinkSection};

const RECONNECT_MIN: Duration = Duration::from_millis(500);
const RECONNECT_MAX: Duration = Duration::from_secs(10);

/// A configured relay, ready to run.
pub struct Relay {
    conn: ConnectionSettings,
    stream: StreamSettings,
    pipeline: Pipeline,
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
        sinks.push(match s {
            SinkSection::File { name, path } => Arc::new(FileSink::open(name, path)?),
            SinkSection::Stdout { name } => Arc::new(StdoutSink::new(name)),
            SinkSection::Null { name } => Arc::new(NullSink::new(name)),
            SinkSection::Nats(n) => Arc::new(NatsSink::connect(n).await?),
        });
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
            Some(d) => Some(Arc::new(DeadLetter::open(&d.path)?)),
            None => None,
        };
        let p = &cfg.pipeline;
        let mut pipeline = Pipeline::new(
            Capture::new(capture_config(cfg)),
            sinks,
            dead_letter,
            PipelineConfig {
                max_inflight_events: p.max_inflight_events,
                max_inflight_bytes: p.max_inflight_bytes,
                retry: Backoff {
                    initial: p.retry_initial,
                    max: p.retry_max,
                },
                drain_timeout: p.drain_timeout,
            },
        );
        if enrichment_enabled(cfg) {
            let lookup = conn.clone();
            let connector: Connector = Arc::new(move || {
                let lookup = lookup.clone();
                Box::pin(async move { lookup.connect_query().await.map_err(|e| e.to_string()) })
            });
            pipeline = pipeline.with_enrichment(EnrichConfig {
                connector,
                delete_hold: cfg.capture.delete_hold,
                batch: cfg.capture.enrich_batch,
                source: cfg.capture.event_source.clone(),
                schema: cfg.capture.schema_table().0,
            });
        }
        Ok(Self {
            conn,
            stream,
            pipeline,
        })
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.pipeline.metrics()
    }

    /// Run until `shutdown` becomes true (graceful: in-flight events drain and their
    /// position is confirmed) or a non-retryable error.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let mut delay = RECONNECT_MIN;
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
                Err(e) if relay_pipeline::SourceFailure::is_retryable(&e) => {
                    tracing::warn!(error = %e, retry_in = ?delay, "cannot start replication; retrying");
                    sleep_or_shutdown(delay, &mut shutdown).await;
                    delay = (delay * 2).min(RECONNECT_MAX);
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
            delay = RECONNECT_MIN;
            tracing::info!(
                database = %self.conn.display(),
                slot = %self.stream.slot,
                publications = ?self.stream.publications,
                "streaming"
            );
            let mut stop = shutdown.clone();
            let result = self
                .pipeline
                .run(&mut source, async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            match result {
                Ok(Exit::Shutdown) => {
                    // Give the client one status interval to report the final position.
                    tokio::time::sleep(self.stream.status_interval + Duration::from_millis(200))
                        .await;
                    source.close(Duration::from_secs(5)).await;
                    tracing::info!(
                        confirmed_lsn = %relay_events::format_lsn(self.metrics().confirmed_lsn.load(std::sync::atomic::Ordering::Relaxed)),
                        "stopped"
                    );
                    return Ok(());
                }
                Ok(Exit::SourceEnded) => {
                    tracing::warn!(retry_in = ?delay, "replication stream ended; reconnecting");
                    sleep_or_shutdown(delay, &mut shutdown).await;
                    delay = (delay * 2).min(RECONNECT_MAX);
                }
                Err(e) if e.is_retryable() => {
                    tracing::warn!(error = %e, "replication interrupted; reconnecting and replaying from the confirmed position");
                    sleep_or_shutdown(delay, &mut shutdown).await;
                    delay = (delay * 2).min(RECONNECT_MAX);
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

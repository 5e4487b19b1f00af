//! The relay: every stage wired from the configuration, and the run loop (`run`) that
//! connects, streams, and reconnects from the confirmed LSN after failures. `ops` holds
//! what runs beside it for operators: start-up verification, the heartbeat, the slot
//! lag poller.

mod ops;
mod run;

use anyhow::Context;
use relay_capture::portal_v2::Facts;
use relay_capture::{Capture, CaptureConfig, Profile};
use relay_catalog::{ConnectFailure, Connector, EnrichConfig, PortalEnrichStage};
use relay_check::Target;
use relay_contracts::{Backoff, Classify, DeadLetterWriter, Observer, Sink};
use relay_pipeline::{Metrics, Pipeline, PipelineConfig, PipelineError};
use relay_source::{ConnectionSettings, QueryLimits, StreamSettings};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

use crate::config::{Config, ProfileName};
use crate::telemetry::{StateCell, Telemetry};

const RECONNECT_MIN: Duration = Duration::from_millis(500);
const RECONNECT_MAX: Duration = Duration::from_secs(10);

/// Delays between reconnects of the replication session.
pub(crate) fn reconnect_backoff() -> Backoff {
    Backoff {
        initial: RECONNECT_MIN,
        max: RECONNECT_MAX,
        jitter: Backoff::DEFAULT_JITTER,
    }
}

/// Delays between attempts while something only an operator can fix (a grant, a
/// pg_hba rule, a password) stops enrichment: long, capped at minutes.
pub(crate) fn operator_backoff() -> Backoff {
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
    telemetry: Arc<Telemetry>,
    state: StateCell,
    sinks: Vec<Arc<dyn Sink>>,
    /// What must hold before streaming (slot, publications, table).
    verify: Target,
    heartbeat: Option<Duration>,
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

/// What the configuration asks the database to provide (`check`, and the start-up
/// verification).
pub fn check_target(cfg: &Config) -> relay_check::Target {
    // portal-v2 reads no audit table: its tables are checked as a set (`portal_v2`).
    let reads_a_table = !matches!(
        cfg.capture.profile,
        ProfileName::LogicalMessage | ProfileName::PortalV2
    );
    let table = reads_a_table.then(|| cfg.capture.schema_table());
    relay_check::Target {
        slot: cfg.source.slot.clone(),
        publications: cfg.source.publication.to_vec(),
        table,
        plugin: "pgoutput".into(),
        enrichment: enrichment_enabled(cfg).then(|| {
            let catalog = relay_catalog::Catalog::portal();
            relay_check::EnrichmentTarget {
                schema: cfg.capture.schema_table().0,
                replica_identity_full: catalog
                    .tables_to_capture_deletes()
                    .iter()
                    .map(|t| t.to_string())
                    .collect(),
                readable: catalog
                    .tables_read()
                    .iter()
                    .map(|t| t.to_string())
                    .collect(),
            }
        }),
        portal_v2: (cfg.capture.profile == ProfileName::PortalV2)
            .then(|| crate::portal_v2::check_target(&cfg.capture.schema_table().0)),
    }
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
            sinks.clone(),
            dead_letter,
            PipelineConfig {
                max_inflight_events: p.max_inflight_events,
                max_inflight_bytes: p.max_inflight_bytes,
                retry,
                drain_timeout: p.drain_timeout,
                max_enrich_batches: cfg.capture.enrich_in_flight,
                enrich_linger: cfg.capture.enrich_linger,
            },
        );
        let telemetry = Arc::new(Telemetry::new(pipeline.metrics()));
        pipeline = pipeline.with_observer(Arc::clone(&telemetry) as Arc<dyn Observer>);
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
                observer: Arc::clone(&telemetry) as Arc<dyn Observer>,
                connections: cfg.capture.enrich_in_flight,
            })));
        }
        Ok(Self {
            conn,
            stream,
            pipeline,
            portal_v2,
            telemetry,
            state: StateCell::default(),
            sinks,
            verify: check_target(cfg),
            heartbeat: cfg.source.heartbeat,
        })
    }

    /// The metrics every stage reports into.
    pub fn telemetry(&self) -> Arc<Telemetry> {
        Arc::clone(&self.telemetry)
    }

    /// The relay's state (streaming, standby, …).
    pub fn state(&self) -> StateCell {
        self.state.clone()
    }

    /// Serve `/metrics` and `/health/*` on `listen`; returns the bound address.
    pub async fn serve_metrics(&self, listen: &str) -> anyhow::Result<std::net::SocketAddr> {
        crate::telemetry::serve(listen, self.telemetry(), self.state(), self.sinks.clone())
            .await
            .with_context(|| format!("[metrics] listen = {listen:?}: cannot listen there"))
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.pipeline.metrics()
    }
}

/// An error and its sources on one line (`a: b: c`).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

pub(crate) fn fatal(e: PipelineError) -> anyhow::Error {
    anyhow::Error::new(e)
}

pub(crate) async fn sleep_or_shutdown(d: Duration, shutdown: &mut watch::Receiver<bool>) {
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

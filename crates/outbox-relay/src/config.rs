//! The configuration file: TOML, `${ENV_VAR}` interpolation, unknown keys rejected.
//!
//! Sits at the binary's edge: it is read once at start and turned into the settings of
//! each stage (source, capture, sinks, pipeline). Every key is documented in README.md.

use relay_contracts::config::{duration as humantime_serde, OneOrMany};
use relay_contracts::Backoff;
use relay_sinks::{DeadLetterConfig, SinkConfig};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax { path: String, message: String },
    #[error("config file {path}: {message}")]
    Invalid { path: String, message: String },
    #[error("config file {path}: `{key}` refers to environment variable {var}, which is not set (use ${{{var}:-default}} for a default)")]
    MissingEnv {
        path: String,
        key: String,
        var: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub source: SourceSection,
    #[serde(default)]
    pub capture: CaptureSection,
    pub sinks: Vec<SinkConfig>,
    #[serde(default)]
    pub dead_letter: Option<DeadLetterConfig>,
    #[serde(default)]
    pub pipeline: PipelineSection,
    #[serde(default)]
    pub metrics: Option<MetricsSection>,
    #[serde(default)]
    pub log: LogSection,
}

fn default_slot() -> String {
    "outbox_relay".into()
}
fn default_publication() -> OneOrMany<String> {
    OneOrMany(vec!["outbox_relay".into()])
}
fn default_status_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_buffer_events() -> usize {
    128
}
fn default_max_message_bytes() -> usize {
    64 << 20
}
fn default_application_name() -> String {
    "outbox-relay".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSection {
    /// libpq-style URL; `sslmode`, `sslrootcert`, `sslcert`, `sslkey` honoured.
    pub url: String,
    /// Read the password from this file instead of the URL.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// Read the password from this environment variable instead of the URL.
    #[serde(default)]
    pub password_env: Option<String>,
    /// Opt-in: emit a logical message this often, so the slot's position can advance on
    /// a quiet database while others on the same server write WAL.
    #[serde(default, with = "relay_contracts::config::optional_duration")]
    pub heartbeat: Option<Duration>,
    /// Where enrichment lookups connect (e.g. a read replica, or a role of its own);
    /// default: `url` (with `password_file` / `password_env`).
    #[serde(default)]
    pub lookup_url: Option<String>,
    #[serde(default = "default_slot")]
    pub slot: String,
    #[serde(default = "default_publication")]
    pub publication: OneOrMany<String>,
    #[serde(default = "default_status_interval", with = "humantime_serde")]
    pub status_interval: Duration,
    #[serde(default = "default_buffer_events")]
    pub buffer_events: usize,
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    #[serde(default = "default_application_name")]
    pub application_name: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ProfileName {
    Portal,
    DebeziumOutbox,
    LogicalMessage,
    /// The portal's own V2 webhook events from its tables (sql/05_portal_v2.sql).
    PortalV2,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureSection {
    #[serde(default = "default_profile")]
    pub profile: ProfileName,
    /// `schema.table` (schema defaults to `public`). For `portal-v2`, only the schema
    /// counts: the portal's tables are read there.
    #[serde(default = "default_table")]
    pub table: String,
    /// Prefix of `pg_logical_emit_message` for the logical-message profile.
    #[serde(default = "default_prefix")]
    pub message_prefix: String,
    /// CloudEvents `source` attribute.
    #[serde(default = "default_event_source")]
    pub event_source: String,
    /// Portal profile: enrich audit rows into business events with SQL lookups.
    #[serde(default = "default_true")]
    pub enrich: bool,
    /// A captured delete is emitted without its audit row once this many transactions
    /// have been read past it (decided by WAL position, so live runs and replays agree).
    #[serde(default = "default_delete_hold_transactions")]
    pub delete_hold_transactions: u64,
    /// … or, only while the relay has read everything the server had, after this long.
    #[serde(default = "default_delete_hold", with = "humantime_serde")]
    pub delete_hold: Duration,
    /// Audit rows enriched together at most.
    #[serde(default = "default_enrich_batch")]
    pub enrich_batch: usize,
    /// Enrichment batches looked up at once (the next batch's lookups run while the
    /// previous one is delivered).
    #[serde(default = "default_enrich_in_flight")]
    pub enrich_in_flight: usize,
    /// How long audit rows may wait for more rows to share their lookups while a batch
    /// is being enriched (an idle relay enriches at once).
    #[serde(default = "default_enrich_linger", with = "humantime_serde")]
    pub enrich_linger: Duration,
    /// `statement_timeout` of the lookups.
    #[serde(default = "default_lookup_timeout", with = "humantime_serde")]
    pub lookup_timeout: Duration,
    /// `lock_timeout` of the lookups (a domain table locked by `ALTER TABLE`).
    #[serde(default = "default_lookup_lock_timeout", with = "humantime_serde")]
    pub lookup_lock_timeout: Duration,
    /// Connecting the lookup connection (TCP, TLS, authentication).
    #[serde(default = "default_lookup_connect_timeout", with = "humantime_serde")]
    pub lookup_connect_timeout: Duration,
    /// Bytes of captured deleted rows kept in memory; past it they go to a local file.
    #[serde(default = "default_tombstone_budget")]
    pub tombstone_budget: usize,
    /// Where that file goes (default: the system's temporary directory).
    #[serde(default)]
    pub spill_dir: Option<PathBuf>,
}

fn default_true() -> bool {
    true
}
fn default_delete_hold() -> Duration {
    Duration::from_secs(60)
}
fn default_enrich_batch() -> usize {
    500
}
fn default_delete_hold_transactions() -> u64 {
    1000
}
fn default_enrich_in_flight() -> usize {
    4
}
fn default_enrich_linger() -> Duration {
    Duration::from_millis(20)
}
fn default_lookup_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_lookup_lock_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_lookup_connect_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_tombstone_budget() -> usize {
    32 << 20
}

fn default_profile() -> ProfileName {
    ProfileName::Portal
}
fn default_table() -> String {
    "public.events".into()
}
fn default_prefix() -> String {
    "outbox".into()
}
fn default_event_source() -> String {
    "/data-product-portal".into()
}

impl Default for CaptureSection {
    fn default() -> Self {
        Self {
            profile: default_profile(),
            table: default_table(),
            message_prefix: default_prefix(),
            event_source: default_event_source(),
            enrich: true,
            delete_hold_transactions: default_delete_hold_transactions(),
            delete_hold: default_delete_hold(),
            enrich_batch: default_enrich_batch(),
            enrich_in_flight: default_enrich_in_flight(),
            enrich_linger: default_enrich_linger(),
            lookup_timeout: default_lookup_timeout(),
            lookup_lock_timeout: default_lookup_lock_timeout(),
            lookup_connect_timeout: default_lookup_connect_timeout(),
            tombstone_budget: default_tombstone_budget(),
            spill_dir: None,
        }
    }
}

impl CaptureSection {
    /// (`schema`, `table`).
    pub fn schema_table(&self) -> (String, String) {
        match self.table.split_once('.') {
            Some((s, t)) => (s.to_string(), t.to_string()),
            None => ("public".to_string(), self.table.clone()),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
    #[serde(default = "default_max_inflight_events")]
    pub max_inflight_events: u64,
    #[serde(default = "default_max_inflight_bytes")]
    pub max_inflight_bytes: u64,
    #[serde(default = "default_retry_initial", with = "humantime_serde")]
    pub retry_initial: Duration,
    #[serde(default = "default_retry_max", with = "humantime_serde")]
    pub retry_max: Duration,
    #[serde(default = "default_drain_timeout", with = "humantime_serde")]
    pub drain_timeout: Duration,
}

fn default_max_inflight_events() -> u64 {
    10_000
}
fn default_max_inflight_bytes() -> u64 {
    64 << 20
}
fn default_retry_initial() -> Duration {
    Duration::from_millis(200)
}
fn default_retry_max() -> Duration {
    Duration::from_secs(30)
}
fn default_drain_timeout() -> Duration {
    Duration::from_secs(30)
}

impl PipelineSection {
    /// The retry policy of `retry_initial` / `retry_max` (zero delays are refused).
    pub fn retry(&self) -> Result<Backoff, relay_contracts::BackoffError> {
        Backoff::new(self.retry_initial, self.retry_max)
    }
}

impl Default for PipelineSection {
    fn default() -> Self {
        Self {
            max_inflight_events: default_max_inflight_events(),
            max_inflight_bytes: default_max_inflight_bytes(),
            retry_initial: default_retry_initial(),
            retry_max: default_retry_max(),
            drain_timeout: default_drain_timeout(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSection {
    /// Address of the `/metrics` and `/health/*` listener, e.g. `127.0.0.1:9187`.
    pub listen: String,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Lines for people.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    #[serde(default)]
    pub format: LogFormat,
}

impl Config {
    /// Read, interpolate and validate a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: p.clone(),
            source,
        })?;
        Self::parse(&text, &p, &|v| std::env::var(v).ok())
    }

    /// Parse configuration text; `env` resolves `${VAR}` references.
    pub fn parse(
        text: &str,
        path: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut value: toml::Value = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.into(),
            message: e.to_string(),
        })?;
        interpolate(&mut value, "", path, env)?;
        let cfg: Config = value
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid {
                path: path.into(),
                message: e.message().to_string(),
            })?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.into(),
            message,
        };
        if self.sinks.is_empty() {
            return Err(invalid("at least one [[sinks]] entry is required".into()));
        }
        let mut names = std::collections::HashSet::new();
        for s in &self.sinks {
            if !names.insert(s.name()) {
                return Err(invalid(format!(
                    "two sinks are named `{}`; names must be unique",
                    s.name()
                )));
            }
        }
        if self.source.password_file.is_some() && self.source.password_env.is_some() {
            return Err(invalid(
                "set at most one of source.password_file and source.password_env".into(),
            ));
        }
        self.pipeline
            .retry()
            .map_err(|e| invalid(format!("pipeline.retry_initial / retry_max: {e}")))?;
        let c = &self.capture;
        if c.enrich_batch == 0 || c.enrich_in_flight == 0 || c.delete_hold_transactions == 0 {
            return Err(invalid(
                "capture.enrich_batch, enrich_in_flight and delete_hold_transactions must be positive".into(),
            ));
        }
        for (key, d) in [
            ("capture.lookup_timeout", c.lookup_timeout),
            ("capture.lookup_lock_timeout", c.lookup_lock_timeout),
            ("capture.lookup_connect_timeout", c.lookup_connect_timeout),
            ("capture.enrich_linger", c.enrich_linger),
            ("pipeline.drain_timeout", self.pipeline.drain_timeout),
        ] {
            if d.is_zero() {
                return Err(invalid(format!("{key} must be longer than 0s")));
            }
        }
        if self.pipeline.max_inflight_events == 0 || self.pipeline.max_inflight_bytes == 0 {
            return Err(invalid(
                "pipeline.max_inflight_events and max_inflight_bytes must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// Replace `${VAR}` / `${VAR:-default}` in every string; `$${` is a literal `${`.
fn interpolate(
    v: &mut toml::Value,
    key: &str,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    match v {
        toml::Value::String(s) => {
            *s = expand(s, &|var| env(var)).map_err(|var| ConfigError::MissingEnv {
                path: path.into(),
                key: key.into(),
                var,
            })?;
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                interpolate(item, &format!("{key}[{i}]"), path, env)?;
            }
        }
        toml::Value::Table(t) => {
            for (k, item) in t.iter_mut() {
                let child = if key.is_empty() {
                    k.clone()
                } else {
                    format!("{key}.{k}")
                };
                interpolate(item, &child, path, env)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn expand(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                out.push_str(after);
                return Ok(out);
            };
            let inner = &tail[..end];
            let (var, default) = match inner.split_once(":-") {
                Some((v, d)) => (v, Some(d)),
                None => (inner, None),
            };
            match (env(var), default) {
                (Some(val), _) => out.push_str(&val),
                (None, Some(d)) => out.push_str(d),
                (None, None) => return Err(var.to_string()),
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests;

//! The Prometheus metrics (prometheus-client: the Prometheus project's own Rust client,
//! OpenMetrics text). Names and units follow the conventions: `_total` counters,
//! `_seconds` and `_bytes` units. The list is in README.md ("Metrics").

use prometheus_client::encoding::{text::encode, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use relay_contracts::Observer;
use relay_pipeline::Metrics;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabels {
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkTypeLabels {
    sink: String,
    r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkLabels {
    sink: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabels {
    cause: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Handles of a family's series by up to two label values, found by `&str` (no label
/// strings built per event once a series exists; a handle is an `Arc`).
struct Handles<M> {
    map: std::sync::RwLock<HashMap<String, HashMap<String, M>>>,
}

impl<M: Clone> Handles<M> {
    fn new() -> Self {
        Self {
            map: std::sync::RwLock::new(HashMap::new()),
        }
    }

    fn get(&self, a: &str, b: &str, make: impl FnOnce() -> M) -> M {
        if let Some(m) = self
            .map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(a)
            .and_then(|m| m.get(b))
        {
            return m.clone();
        }
        let m = make();
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(a.to_string())
            .or_default()
            .entry(b.to_string())
            .or_insert(m)
            .clone()
    }
}

fn latency() -> Histogram {
    // 1 ms … ~33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Every metric the relay exports, and the pipeline's counters they are read from.
pub struct Telemetry {
    registry: Registry,
    pipeline: Arc<Metrics>,
    read: Family<TypeLabels, Counter>,
    acked: Family<SinkTypeLabels, Counter>,
    retried: Family<SinkTypeLabels, Counter>,
    dead_lettered: Family<SinkTypeLabels, Counter>,
    commit_to_ack: HistogramFamily<SinkLabels>,
    commit_to_read: Histogram,
    lookup: Histogram,
    reconnects: Family<CauseLabels, Counter>,
    state: Family<StateLabels, Gauge>,
    inflight_events: Gauge,
    inflight_bytes: Gauge,
    received_lsn: Gauge,
    confirmed_lsn: Gauge,
    server_wal_end: Gauge,
    slot_lag_bytes: Gauge,
    slot_lag_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    held_deletes: Gauge,
    held_bytes: Gauge,
    held_spilled: Gauge,
    /// Written by the slot poller: the server's `pg_current_wal_lsn() - confirmed_flush_lsn`.
    server_lag_bytes: AtomicI64,
    read_by_type: Handles<Counter>,
    acked_by_pair: Handles<Counter>,
    latency_by_sink: Handles<Histogram>,
}

fn gauge_u64(g: &Gauge, v: u64) {
    g.set(i64::try_from(v).unwrap_or(i64::MAX));
}

impl Telemetry {
    pub fn new(pipeline: Arc<Metrics>) -> Self {
        let mut r = Registry::with_prefix("outbox_relay");
        let t = Telemetry {
            pipeline,
            read: Family::default(),
            acked: Family::default(),
            retried: Family::default(),
            dead_lettered: Family::default(),
            commit_to_ack: Family::new_with_constructor(latency as fn() -> Histogram),
            commit_to_read: latency(),
            lookup: latency(),
            reconnects: Family::default(),
            state: Family::default(),
            inflight_events: Gauge::default(),
            inflight_bytes: Gauge::default(),
            received_lsn: Gauge::default(),
            confirmed_lsn: Gauge::default(),
            server_wal_end: Gauge::default(),
            slot_lag_bytes: Gauge::default(),
            slot_lag_seconds: Gauge::default(),
            held_deletes: Gauge::default(),
            held_bytes: Gauge::default(),
            held_spilled: Gauge::default(),
            server_lag_bytes: AtomicI64::new(-1),
            read_by_type: Handles::new(),
            acked_by_pair: Handles::new(),
            latency_by_sink: Handles::new(),
            registry: Registry::default(),
        };
        r.register(
            "events_read",
            "Events read from the slot and dispatched, by CloudEvents type",
            t.read.clone(),
        );
        r.register(
            "events_acked",
            "Events a sink acknowledged, by sink and type",
            t.acked.clone(),
        );
        r.register(
            "events_retried",
            "Publishes that failed and are retried, by sink and type",
            t.retried.clone(),
        );
        r.register("events_dead_lettered", "Events written to the dead-letter file, by sink (capture: rows that could not become events) and type", t.dead_lettered.clone());
        r.register_with_unit(
            "commit_to_ack",
            "Time from the transaction's commit to the sink's ack, by sink",
            Unit::Seconds,
            t.commit_to_ack.clone(),
        );
        r.register_with_unit(
            "commit_to_read",
            "Time from a transaction's commit to the relay reading it from the slot",
            Unit::Seconds,
            t.commit_to_read.clone(),
        );
        r.register_with_unit(
            "enrichment_lookup",
            "Time a batch of enrichment lookups took",
            Unit::Seconds,
            t.lookup.clone(),
        );
        r.register(
            "reconnects",
            "Replication sessions restarted, by cause",
            t.reconnects.clone(),
        );
        r.register("state", "1 for the relay's current state (starting, connected, streaming, standby, waiting, draining, stopped)", t.state.clone());
        r.register(
            "inflight_events",
            "Event-sink pairs awaiting their outcome",
            t.inflight_events.clone(),
        );
        r.register_with_unit(
            "inflight",
            "Bytes of event-sink pairs awaiting their outcome",
            Unit::Bytes,
            t.inflight_bytes.clone(),
        );
        r.register(
            "received_lsn",
            "End LSN of the newest transaction read (as a number)",
            t.received_lsn.clone(),
        );
        r.register(
            "confirmed_lsn",
            "LSN confirmed to the slot (flushed = applied; as a number)",
            t.confirmed_lsn.clone(),
        );
        r.register(
            "server_wal_end",
            "The server's WAL end from its last keepalive (as a number)",
            t.server_wal_end.clone(),
        );
        r.register_with_unit("slot_lag", "The server's pg_current_wal_lsn() minus the slot's confirmed_flush_lsn (-1: not measured yet)", Unit::Bytes, t.slot_lag_bytes.clone());
        r.register_with_unit(
            "slot_lag",
            "Age of the oldest transaction read and not yet confirmed (0: none)",
            Unit::Seconds,
            t.slot_lag_seconds.clone(),
        );
        r.register(
            "held_deletes",
            "Captured deletes waiting for their audit row",
            t.held_deletes.clone(),
        );
        r.register_with_unit(
            "held",
            "Bytes of captured deleted rows kept in memory",
            Unit::Bytes,
            t.held_bytes.clone(),
        );
        r.register(
            "held_spilled_rows",
            "Captured deleted rows kept in the spill file",
            t.held_spilled.clone(),
        );
        Telemetry { registry: r, ..t }
    }

    /// A replication session ended and restarts, for `cause`.
    pub fn reconnect(&self, cause: &str) {
        self.reconnects
            .get_or_create(&CauseLabels {
                cause: cause.to_string(),
            })
            .inc();
    }

    /// The state gauge: 1 for `current`, 0 for the others seen.
    pub fn set_state(&self, current: &str) {
        for s in [
            "starting",
            "connected",
            "streaming",
            "standby",
            "waiting",
            "draining",
            "stopped",
        ] {
            self.state
                .get_or_create(&StateLabels { state: s.into() })
                .set(i64::from(s == current));
        }
    }

    /// The slot poller's measurement.
    pub fn set_server_lag(&self, bytes: i64) {
        self.server_lag_bytes.store(bytes, Ordering::Relaxed);
    }

    /// The exposition text, gauges refreshed from the pipeline's counters first.
    pub fn render(&self) -> String {
        let m = &self.pipeline;
        gauge_u64(
            &self.inflight_events,
            m.inflight_events.load(Ordering::Relaxed),
        );
        gauge_u64(
            &self.inflight_bytes,
            m.inflight_bytes.load(Ordering::Relaxed),
        );
        gauge_u64(&self.received_lsn, m.received_lsn.load(Ordering::Relaxed));
        gauge_u64(&self.confirmed_lsn, m.confirmed_lsn.load(Ordering::Relaxed));
        gauge_u64(
            &self.server_wal_end,
            m.server_wal_end.load(Ordering::Relaxed),
        );
        gauge_u64(&self.held_deletes, m.held_deletes.load(Ordering::Relaxed));
        gauge_u64(&self.held_bytes, m.held_bytes.load(Ordering::Relaxed));
        gauge_u64(&self.held_spilled, m.held_spilled.load(Ordering::Relaxed));
        self.slot_lag_bytes
            .set(self.server_lag_bytes.load(Ordering::Relaxed));
        let oldest = m.oldest_unconfirmed_commit_micros.load(Ordering::Relaxed);
        self.slot_lag_seconds.set(age_seconds(oldest));
        let mut out = String::new();
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// Seconds since a PostgreSQL timestamp (µs since 2000-01-01); 0 for none.
fn age_seconds(micros: i64) -> f64 {
    if micros == 0 {
        return 0.0;
    }
    const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    let age = now - (micros + PG_EPOCH_UNIX_MICROS);
    (age.max(0) as f64) / 1e6
}

impl Observer for Telemetry {
    // The per-event calls go through `Handles` (read and delivered happen once per
    // event); retries and dead letters are rare and use the families directly.
    fn event_read(&self, kind: &str) {
        self.read_by_type
            .get(kind, "", || {
                self.read
                    .get_or_create(&TypeLabels {
                        r#type: kind.to_string(),
                    })
                    .clone()
            })
            .inc();
    }

    fn transaction_read(&self, commit_to_read: Duration) {
        self.commit_to_read.observe(commit_to_read.as_secs_f64());
    }

    fn delivered(&self, sink: &str, kind: &str, commit_to_ack: Option<Duration>) {
        self.acked_by_pair
            .get(sink, kind, || {
                self.acked
                    .get_or_create(&SinkTypeLabels {
                        sink: sink.to_string(),
                        r#type: kind.to_string(),
                    })
                    .clone()
            })
            .inc();
        if let Some(d) = commit_to_ack {
            self.latency_by_sink
                .get(sink, "", || {
                    self.commit_to_ack
                        .get_or_create(&SinkLabels {
                            sink: sink.to_string(),
                        })
                        .clone()
                })
                .observe(d.as_secs_f64());
        }
    }

    fn retried(&self, sink: &str, kind: &str) {
        self.retried
            .get_or_create(&SinkTypeLabels {
                sink: sink.to_string(),
                r#type: kind.to_string(),
            })
            .inc();
    }

    fn dead_lettered(&self, sink: &str, kind: &str) {
        self.dead_lettered
            .get_or_create(&SinkTypeLabels {
                sink: sink.to_string(),
                r#type: kind.to_string(),
            })
            .inc();
    }

    fn lookup(&self, took: Duration, _records: usize) {
        self.lookup.observe(took.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_event_counters_count_every_event_in_its_own_series() {
        let t = Telemetry::new(Arc::new(Metrics::default()));
        for _ in 0..3 {
            t.event_read("portal.a.v1");
            t.delivered("s", "portal.a.v1", Some(Duration::from_millis(3)));
        }
        t.delivered("s", "portal.b.v1", None);
        t.delivered("u", "portal.a.v1", Some(Duration::from_millis(3)));
        t.transaction_read(Duration::from_millis(3));
        t.transaction_read(Duration::from_millis(300));
        let text = t.render();
        for line in [
            r#"outbox_relay_events_read_total{type="portal.a.v1"} 3"#,
            r#"outbox_relay_events_acked_total{sink="s",type="portal.a.v1"} 3"#,
            r#"outbox_relay_events_acked_total{sink="s",type="portal.b.v1"} 1"#,
            r#"outbox_relay_events_acked_total{sink="u",type="portal.a.v1"} 1"#,
            r#"outbox_relay_commit_to_ack_seconds_count{sink="s"} 3"#,
            r#"outbox_relay_commit_to_ack_seconds_count{sink="u"} 1"#,
            r#"outbox_relay_commit_to_read_seconds_count 2"#,
            r#"outbox_relay_commit_to_read_seconds_bucket{le="0.004"} 1"#,
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
    }

    /// The metric families the endpoint declares (`# TYPE` lines).
    fn declared() -> std::collections::BTreeSet<String> {
        use relay_contracts::Observer;
        let t = Telemetry::new(Arc::new(Metrics::default()));
        // Labelled families appear once they have a sample.
        t.event_read("portal.x.v1");
        t.delivered("s", "portal.x.v1", Some(Duration::from_millis(3)));
        t.retried("s", "portal.x.v1");
        t.dead_lettered("s", "portal.x.v1");
        t.reconnect("source");
        t.set_state("streaming");
        t.render()
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect()
    }

    /// `outbox_relay_…` names in `text`, without the sample suffixes.
    fn referenced(text: &str) -> std::collections::BTreeSet<String> {
        let mut out = std::collections::BTreeSet::new();
        for (i, _) in text.match_indices("outbox_relay_") {
            let name: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let base = ["_total", "_bucket", "_count", "_sum"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(&name);
            out.insert(base.to_string());
        }
        out
    }

    #[test]
    fn the_dashboard_and_the_readme_name_only_metrics_the_endpoint_serves() {
        let declared = declared();
        assert!(
            declared.contains("outbox_relay_slot_lag_seconds"),
            "{declared:?}"
        );
        let dashboard = include_str!("../../../../deploy/grafana-dashboard.json");
        let json: serde_json::Value = serde_json::from_str(dashboard).expect("valid JSON");
        assert!(json["panels"].as_array().is_some_and(|p| !p.is_empty()));
        let used = referenced(dashboard);
        assert!(used.len() >= 10, "{used:?}");
        for name in &used {
            assert!(declared.contains(name), "dashboard uses {name}, not served");
        }
        // README lists them without the prefix: each listed family is served.
        let readme = include_str!("../../../../README.md");
        let table = readme
            .split("**Metrics**")
            .nth(1)
            .and_then(|t| t.split("\n\n").nth(1))
            .expect("README has the metrics table");
        let mut listed = 0;
        for row in table.lines().skip(2) {
            let cell = row.split('|').nth(1).unwrap_or_default();
            for name in cell.split('/').map(|n| n.trim().trim_matches('`')) {
                let full = format!("outbox_relay_{name}");
                let base = full.strip_suffix("_total").unwrap_or(&full);
                assert!(declared.contains(base), "README lists {name}, not served");
                listed += 1;
            }
        }
        assert_eq!(
            listed,
            declared.len(),
            "README lists every served family: {declared:?}"
        );
    }
}

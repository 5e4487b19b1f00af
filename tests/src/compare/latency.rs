//! The fixed-rate latency runs: the broker alone at a pace, and the relay binary with a
//! paced inserter, each timed from send or commit to the first arrival at a subscriber.

use super::paths::{raw_stream, RelayChild, Target, LIMIT};
use crate::nats::NatsServer;
use crate::TestDb;
use futures::stream::{FuturesUnordered, StreamExt};
use std::time::{Duration, Instant, SystemTime};
use tokio_postgres::Client;

/// Commit → broker latency at a fixed rate.
#[derive(Debug, Clone, Default)]
pub struct Latency {
    pub rate: u64,
    pub enrich: bool,
    pub events: u64,
    /// Milliseconds from each audit row's commit (the envelope's `time`) to its arrival
    /// at a subscriber of the stream's subjects, sorted.
    pub millis: Vec<f64>,
    pub peak_rss_mib: Option<f64>,
    /// The rate the inserter achieved (below `rate` when the database could not keep up).
    pub offered: f64,
    /// The relay's own commit → ack histogram (`outbox_relay_commit_to_ack_seconds`):
    /// the upper bounds (ms) of the buckets holding its p50 and p99, which tells the
    /// relay's share from the broker's delivery to the subscriber.
    pub relay_p50_p99_ms: Option<(f64, f64)>,
    /// The same for its commit → read histogram (`outbox_relay_commit_to_read_seconds`):
    /// the server's and the network's share.
    pub read_p50_p99_ms: Option<(f64, f64)>,
    /// The broker alone ([`raw_nats_latency`]), not the relay.
    pub broker_only: bool,
}

impl Latency {
    pub fn quantile(&self, q: f64) -> f64 {
        if self.millis.is_empty() {
            return f64::NAN;
        }
        let i = ((self.millis.len() as f64 - 1.0) * q).round() as usize;
        self.millis[i.min(self.millis.len() - 1)]
    }
}

/// The envelope fields the latency subscriber reads.
#[derive(serde::Deserialize)]
struct Head<'a> {
    #[serde(borrow)]
    id: &'a str,
    #[serde(borrow)]
    time: &'a str,
}

/// Run the relay on `slot` to a fresh stream, offer audit rows at `rate` per second for
/// `seconds` (a transaction of `rate / 100` rows every 10 ms), and time each from its
/// commit to its arrival on the broker.
pub async fn latency(
    db: &TestDb,
    admin: &Client,
    nats: &NatsServer,
    slot: &str,
    enrich: bool,
    rate: u64,
    seconds: f64,
) -> Latency {
    let (stream, prefix) = (slot.to_ascii_uppercase(), slot.to_string());
    let mut relay = RelayChild::start(db, slot, enrich, &Target::JetStream(nats, &stream, &prefix));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !relay.ready() {
        assert!(relay.alive(), "the relay exited before it was ready");
        assert!(Instant::now() < deadline, "the relay was not ready in 60 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let client = async_nats::connect(nats.url())
        .await
        .expect("connect to NATS");
    // A publish the relay retried reaches a core subscriber twice (the stream keeps
    // one): only the first arrival of each id counts.
    let mut ids = std::collections::HashSet::new();
    let arrivals = Arrivals::start(&client, &prefix, move |payload| {
        let arrived = SystemTime::now();
        // Only the two fields (borrowed, not a whole `Value` tree): the subscriber
        // shares the machine with what it measures.
        let head = serde_json::from_slice::<Head<'_>>(payload).ok()?;
        if !ids.insert(head.id.to_string()) {
            return None;
        }
        let time = humantime::parse_rfc3339(head.time).ok()?;
        Some(
            arrived
                .duration_since(time)
                .map_or(0.0, |d| d.as_secs_f64() * 1e3),
        )
    })
    .await;
    let per_tick = (rate / 100).max(1);
    let ticks = (seconds * 100.0).round() as u64;
    let started = Instant::now();
    let mut interval = tokio::time::interval(Duration::from_millis(10));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut g = 0usize;
    for _ in 0..ticks {
        interval.tick().await;
        crate::real_portal::backlog::insert(admin, per_tick, per_tick as usize, g).await;
        g += per_tick as usize;
    }
    let offered = g as f64 / started.elapsed().as_secs_f64();
    let events = g as u64;
    let wait = Instant::now();
    while relay.acked().unwrap_or(0) < events {
        assert!(relay.alive(), "the relay exited during the latency run");
        assert!(wait.elapsed() < LIMIT, "the relay fell behind for good");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let peak_rss_mib = relay.peak_rss_mib();
    let relay_p50_p99_ms = relay.commit_to_ack_quantiles();
    let read_p50_p99_ms = relay.commit_to_read_quantiles();
    let millis = arrivals.stop().await;
    drop(relay);
    Latency {
        rate,
        enrich,
        events,
        millis,
        peak_rss_mib,
        offered,
        relay_p50_p99_ms,
        read_p50_p99_ms,
        broker_only: false,
    }
}

/// The broker's own latency at a fixed rate: `rate / 100` JetStream publishes of `bytes`
/// (each carrying its send time) every 10 ms for `seconds`, acks awaited concurrently,
/// timed from the send to the first arrival at a subscriber of the stream's subjects —
/// the floor under the relay's commit → broker latency on the same server and machine.
pub async fn raw_nats_latency(
    nats: &NatsServer,
    stream: &str,
    rate: u64,
    seconds: f64,
    bytes: usize,
) -> Latency {
    let (client, js, prefix) = raw_stream(nats, stream).await;
    // Each message carries its send time (µs since the epoch) in its first 20 bytes.
    let arrivals = Arrivals::start(&client, &prefix, |payload| {
        let arrived = unix_micros();
        let sent: u64 = std::str::from_utf8(payload.get(..20)?).ok()?.parse().ok()?;
        Some(arrived.saturating_sub(sent) as f64 / 1e3)
    })
    .await;
    let per_tick = (rate / 100).max(1);
    let ticks = (seconds * 100.0).round() as u64;
    let mut interval = tokio::time::interval(Duration::from_millis(10));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    type Ack = futures::future::BoxFuture<
        'static,
        Result<
            async_nats::jetstream::publish::PublishAck,
            async_nats::jetstream::context::PublishError,
        >,
    >;
    let mut pending: FuturesUnordered<Ack> = FuturesUnordered::new();
    let started = Instant::now();
    let mut sent = 0u64;
    for _ in 0..ticks {
        loop {
            tokio::select! {
                biased;
                _ = interval.tick() => break,
                Some(ack) = pending.next(), if !pending.is_empty() => {
                    ack.expect("ack");
                }
            }
        }
        for _ in 0..per_tick {
            let mut body = format!("{:020}", unix_micros()).into_bytes();
            body.resize(bytes.max(20), b'x');
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("lat-{sent}").as_str());
            let ack = js
                .publish_with_headers(format!("{prefix}.s{}", sent % 64), headers, body.into())
                .await
                .expect("publish");
            pending.push(Box::pin(std::future::IntoFuture::into_future(ack)));
            sent += 1;
        }
    }
    let offered = sent as f64 / started.elapsed().as_secs_f64();
    while let Some(ack) = pending.next().await {
        ack.expect("ack");
    }
    let millis = arrivals.stop().await;
    Latency {
        rate,
        enrich: false,
        events: sent,
        millis,
        offered,
        broker_only: true,
        ..Latency::default()
    }
}

/// A core-NATS subscriber on `<prefix>.>` timing each arrival with `time_of` (ms from
/// the message's send or commit to now; `None`: not counted).
struct Arrivals {
    seen: std::sync::Arc<std::sync::Mutex<Vec<f64>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Arrivals {
    async fn start(
        client: &async_nats::Client,
        prefix: &str,
        mut time_of: impl FnMut(&[u8]) -> Option<f64> + Send + 'static,
    ) -> Arrivals {
        let mut sub = client
            .subscribe(format!("{prefix}.>"))
            .await
            .expect("subscribe");
        client.flush().await.expect("flush the subscription");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let task = {
            let seen = std::sync::Arc::clone(&seen);
            tokio::spawn(async move {
                while let Some(msg) = sub.next().await {
                    if let Some(ms) = time_of(&msg.payload) {
                        seen.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(ms);
                    }
                }
            })
        };
        Arrivals { seen, task }
    }

    /// Every acked message has reached the subscriber once the stream has published it:
    /// a short grace for the last deliveries, then stop listening. The times, sorted.
    async fn stop(self) -> Vec<f64> {
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.task.abort();
        let mut millis = std::mem::take(
            &mut *self
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        millis.sort_by(f64::total_cmp);
        millis
    }
}

fn unix_micros() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

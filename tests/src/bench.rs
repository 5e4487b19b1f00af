//! What the benchmarks in `benches/` share: running an in-process relay until a number of
//! events is acked, timing it, and accounting the CPU it took — this process's (the
//! relay's) and the whole machine's (the relay plus PostgreSQL and the broker), so a
//! benchmark can say where the time of a run went, not only how long it was.
//!
//! Figures are for printing, never for asserting: these machines are noisy.

use outbox_relay::{Config, Relay};
use relay_contracts::Sink;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Clock ticks per second of `/proc/*/stat` and `/proc/stat` (`USER_HZ`, 100 on Linux).
const TICKS: f64 = 100.0;

/// CPU seconds used so far: by this process, and by the whole machine (every busy core).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cpu {
    pub own: f64,
    pub machine: f64,
}

impl Cpu {
    /// Now, from `/proc/self/stat` (user + system) and `/proc/stat` (all but idle and
    /// iowait). Zero where `/proc` cannot be read.
    pub fn now() -> Cpu {
        Cpu {
            own: process_cpu("self").unwrap_or(0.0),
            machine: machine_busy().unwrap_or(0.0),
        }
    }

    /// What was used between `earlier` and `self`.
    pub fn since(self, earlier: Cpu) -> Cpu {
        Cpu {
            own: self.own - earlier.own,
            machine: self.machine - earlier.machine,
        }
    }

    /// Everything but this process: the servers (PostgreSQL, the broker) and the rest of
    /// the machine.
    pub fn others(&self) -> f64 {
        (self.machine - self.own).max(0.0)
    }
}

/// User + system CPU seconds of process `pid` (`"self"` for this one).
pub fn process_cpu(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; the fields after it are plain.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS)
}

/// Busy CPU seconds of the whole machine since boot.
fn machine_busy() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy: f64 = v.iter().take(8).sum::<f64>() - v.get(3)? - v.get(4).unwrap_or(&0.0);
    Some(busy / TICKS)
}

/// Peak resident memory (VmHWM) of process `pid` (`"self"` for this one), in MiB.
pub fn peak_rss_mib(pid: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// One drain: how long until `events` were acked, how long until the first was, the CPU it
/// took and how many deliveries were retried.
#[derive(Debug, Clone, Copy)]
pub struct Drained {
    pub took: Duration,
    pub first: Duration,
    pub cpu: Cpu,
    pub retries: u64,
}

impl Drained {
    pub fn rate(&self, events: u64) -> f64 {
        events as f64 / self.took.as_secs_f64()
    }
}

/// Run a relay built from `cfg` with `sinks` until `events` are acked (panics after
/// `limit` or when the relay stops first), then stop it.
pub async fn drain(
    cfg: &Config,
    sinks: Vec<Arc<dyn Sink>>,
    events: u64,
    limit: Duration,
) -> Drained {
    let relay = Arc::new(Relay::with_sinks(cfg, sinks).expect("relay"));
    let metrics = relay.metrics();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let cpu = Cpu::now();
    let start = Instant::now();
    let runner = {
        let relay = Arc::clone(&relay);
        tokio::spawn(async move { relay.run(stop_rx).await })
    };
    let mut first = None;
    loop {
        let acked = metrics.events_acked.load(Ordering::Relaxed);
        if acked > 0 && first.is_none() {
            first = Some(start.elapsed());
        }
        if acked >= events {
            break;
        }
        assert!(
            start.elapsed() < limit,
            "the relay did not drain the backlog in {limit:?} ({acked} of {events} acked)"
        );
        assert!(
            !runner.is_finished(),
            "the relay stopped early ({acked} of {events} acked)"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let took = start.elapsed();
    let cpu = Cpu::now().since(cpu);
    let _ = stop_tx.send(true);
    let _ = runner.await;
    Drained {
        took,
        first: first.unwrap_or(took),
        cpu,
        retries: metrics.retries.load(Ordering::Relaxed),
    }
}

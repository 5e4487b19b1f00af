//! One lane per sink: publishes events in arrival (commit) order, retries retryable
//! failures with capped exponential backoff, and keeps each aggregate's events in order.
//!
//! For a sink that is not order-preserving, at most one event per aggregate is in flight:
//! the next event of that aggregate waits until the previous one has its final outcome,
//! so a retry can never land behind a newer event (DESIGN.md invariant 5). Events of
//! different aggregates are pipelined freely.

use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use relay_events::OutboundEvent;
use relay_sinks::{Outcome, Sink};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

use crate::tracker::UnitId;
use crate::Metrics;

/// Retry timing for retryable failures.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

pub(crate) struct LaneItem {
    pub unit: UnitId,
    pub event: Arc<OutboundEvent>,
}

/// A lane's final word on one (event, sink) pair.
pub(crate) enum LaneResult {
    Acked {
        unit: UnitId,
        bytes: u64,
    },
    Rejected {
        unit: UnitId,
        sink: usize,
        event: Arc<OutboundEvent>,
        reason: String,
    },
    /// An order-preserving sink returned a retryable failure: retrying one event alone
    /// could reorder it, so the pipeline restarts from the confirmed LSN instead.
    Broken {
        sink: usize,
        reason: String,
    },
}

pub(crate) fn spawn(
    index: usize,
    sink: Arc<dyn Sink>,
    backoff: Backoff,
    results: mpsc::UnboundedSender<LaneResult>,
    metrics: Arc<Metrics>,
) -> (mpsc::UnboundedSender<LaneItem>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let report = results.clone();
    let handle = tokio::spawn(async move {
        let lane = std::panic::AssertUnwindSafe(run(index, sink, backoff, rx, results, metrics));
        if lane.catch_unwind().await.is_err() {
            // Its pairs would never resolve: make the run end and replay instead.
            let _ = report.send(LaneResult::Broken {
                sink: index,
                reason: "the sink's lane panicked".into(),
            });
        }
    });
    (tx, handle)
}

type Attempt = futures::future::BoxFuture<'static, (LaneItem, Outcome, u32)>;

fn attempt(sink: &Arc<dyn Sink>, item: LaneItem, n: u32, delay: Option<Duration>) -> Attempt {
    let sink = Arc::clone(sink);
    async move {
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        let outcome = sink.publish(Arc::clone(&item.event)).await;
        (item, outcome, n)
    }
    .boxed()
}

async fn run(
    index: usize,
    sink: Arc<dyn Sink>,
    backoff: Backoff,
    mut rx: mpsc::UnboundedReceiver<LaneItem>,
    results: mpsc::UnboundedSender<LaneResult>,
    metrics: Arc<Metrics>,
) {
    let ordered = sink.preserves_order();
    // aggregate → events waiting behind the one in flight (present = one is in flight)
    let mut busy: HashMap<String, VecDeque<LaneItem>> = HashMap::new();
    let mut inflight: FuturesUnordered<Attempt> = FuturesUnordered::new();
    let mut input_open = true;
    let mut last_log: Option<Instant> = None;
    let mut suppressed = 0u64;
    loop {
        tokio::select! {
            item = rx.recv(), if input_open => {
                let Some(item) = item else { input_open = false; continue };
                if ordered {
                    inflight.push(attempt(&sink, item, 0, None));
                } else if let Some(queue) = busy.get_mut(&item.event.aggregate) {
                    queue.push_back(item);
                } else {
                    busy.insert(item.event.aggregate.clone(), VecDeque::new());
                    inflight.push(attempt(&sink, item, 0, None));
                }
            }
            Some((item, outcome, n)) = inflight.next() => {
                let aggregate = item.event.aggregate.clone();
                let done = match outcome {
                    Outcome::Acked => {
                        let bytes = item.event.size() as u64;
                        let _ = results.send(LaneResult::Acked { unit: item.unit, bytes });
                        true
                    }
                    Outcome::Rejected(reason) => {
                        tracing::warn!(sink = sink.name(), event_id = %item.event.id, %reason, "event rejected permanently");
                        let _ = results.send(LaneResult::Rejected { unit: item.unit, sink: index, event: item.event, reason });
                        true
                    }
                    Outcome::Retryable(reason) if ordered => {
                        let _ = results.send(LaneResult::Broken { sink: index, reason });
                        return;
                    }
                    Outcome::Retryable(reason) => {
                        metrics.retries.fetch_add(1, Ordering::Relaxed);
                        let delay = backoff.delay(n);
                        let now = Instant::now();
                        if last_log.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(5)) {
                            tracing::warn!(
                                sink = sink.name(),
                                %reason,
                                retry_in = ?delay,
                                similar_failures_since_last_log = suppressed,
                                "publish failed; retrying (the confirmed LSN waits)"
                            );
                            last_log = Some(now);
                            suppressed = 0;
                        } else {
                            suppressed += 1;
                        }
                        inflight.push(attempt(&sink, item, n.saturating_add(1), Some(delay)));
                        false
                    }
                };
                if done && !ordered {
                    let next = busy.get_mut(&aggregate).and_then(VecDeque::pop_front);
                    match next {
                        Some(next) => inflight.push(attempt(&sink, next, 0, None)),
                        None => { busy.remove(&aggregate); }
                    }
                }
            }
            else => break,
        }
    }
}

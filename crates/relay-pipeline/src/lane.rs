//! One lane per sink: publishes events in arrival (commit) order, in batches of up to
//! the sink's `max_batch`, retries retryable failures with the one backoff policy, and
//! keeps each aggregate's events in order.
//!
//! For a sink that is not order-preserving, at most one event per aggregate is in flight:
//! the next event of that aggregate waits until the previous one has its final outcome,
//! so a retry can never land behind a newer event (DESIGN.md invariant 5). Events of
//! different aggregates are pipelined freely. A batch is cut from the events ready at
//! that moment (no linger): each event's outcome is handled on its own, so one refused
//! entry never holds back or fails the rest of its batch.

use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use relay_contracts::{Backoff, Observer, OutboundEvent, Outcome, Sink, UnitId};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

use crate::Metrics;

pub(crate) struct LaneItem {
    pub unit: UnitId,
    pub event: Arc<OutboundEvent>,
    /// Commit time of the event's transaction (µs since 2000-01-01), 0 when unknown.
    pub commit_time_micros: i64,
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
    observer: Arc<dyn Observer>,
) -> (mpsc::UnboundedSender<LaneItem>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let report = results.clone();
    let handle = tokio::spawn(async move {
        let lane =
            std::panic::AssertUnwindSafe(run(index, sink, backoff, rx, results, metrics, observer));
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

/// One publish call: the items, their outcomes, and the retry number of the items.
type Attempt = futures::future::BoxFuture<'static, (Vec<LaneItem>, Vec<Outcome>, u32)>;

fn attempt(sink: &Arc<dyn Sink>, items: Vec<LaneItem>, n: u32, delay: Option<Duration>) -> Attempt {
    let sink = Arc::clone(sink);
    async move {
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        let batch = items.iter().map(|i| Arc::clone(&i.event)).collect();
        let mut outcomes = sink.publish(batch).await;
        // A sink that answers for fewer events than it was given: the rest are retried.
        outcomes.resize_with(items.len(), || {
            Outcome::Retryable("the sink returned no outcome for this event".into())
        });
        (items, outcomes, n)
    }
    .boxed()
}

struct Lane {
    index: usize,
    sink: Arc<dyn Sink>,
    backoff: Backoff,
    results: mpsc::UnboundedSender<LaneResult>,
    metrics: Arc<Metrics>,
    observer: Arc<dyn Observer>,
    ordered: bool,
    max_batch: usize,
    /// aggregate → events waiting behind the one in flight (present = one is in flight)
    /// (foldhash, seeded per process like std's SipHash but cheaper on short keys: two
    /// lookups per event)
    busy: foldhash::HashMap<String, VecDeque<LaneItem>>,
    inflight: FuturesUnordered<Attempt>,
    last_log: Option<Instant>,
    suppressed: u64,
    /// Events admitted and not yet finally resolved (acked or rejected): what an outage
    /// of this sink holds back.
    waiting: u64,
    /// Since when this sink has delivered nothing while failing (reset by any ack).
    failing_since: Option<Instant>,
}

async fn run(
    index: usize,
    sink: Arc<dyn Sink>,
    backoff: Backoff,
    mut rx: mpsc::UnboundedReceiver<LaneItem>,
    results: mpsc::UnboundedSender<LaneResult>,
    metrics: Arc<Metrics>,
    observer: Arc<dyn Observer>,
) {
    let mut lane = Lane {
        index,
        ordered: sink.preserves_order(),
        max_batch: sink.max_batch().max(1),
        sink,
        backoff,
        results,
        metrics,
        observer,
        busy: foldhash::HashMap::default(),
        inflight: FuturesUnordered::new(),
        last_log: None,
        suppressed: 0,
        waiting: 0,
        failing_since: None,
    };
    let mut input_open = true;
    let mut ready: Vec<LaneItem> = Vec::new();
    loop {
        tokio::select! {
            item = rx.recv(), if input_open => {
                let Some(item) = item else { input_open = false; continue };
                lane.admit(item, &mut ready);
                // Take what else is already queued, so a batch-capable sink gets batches.
                while ready.len() < lane.max_batch {
                    match rx.try_recv() {
                        Ok(item) => lane.admit(item, &mut ready),
                        Err(_) => break,
                    }
                }
                lane.launch(&mut ready, 0, None);
            }
            Some((items, outcomes, n)) = lane.inflight.next() => {
                if !lane.settle(items, outcomes, n) {
                    return;
                }
            }
            else => break,
        }
    }
}

impl Lane {
    /// An event arrives: ready at once, or queued behind its aggregate's event in flight.
    fn admit(&mut self, item: LaneItem, ready: &mut Vec<LaneItem>) {
        self.waiting += 1;
        if self.ordered {
            ready.push(item);
        } else if let Some(queue) = self.busy.get_mut(&item.event.aggregate) {
            queue.push_back(item);
        } else {
            self.busy
                .insert(item.event.aggregate.clone(), VecDeque::new());
            ready.push(item);
        }
    }

    /// Publish `ready` in batches of at most `max_batch`.
    fn launch(&mut self, ready: &mut Vec<LaneItem>, n: u32, delay: Option<Duration>) {
        while !ready.is_empty() {
            let take = ready.len().min(self.max_batch);
            let batch: Vec<LaneItem> = ready.drain(..take).collect();
            self.inflight.push(attempt(&self.sink, batch, n, delay));
        }
    }

    /// Handle one batch's outcomes; `false` when the lane must stop (an order-preserving
    /// sink failed).
    fn settle(&mut self, items: Vec<LaneItem>, outcomes: Vec<Outcome>, n: u32) -> bool {
        let mut retry: Vec<LaneItem> = Vec::new();
        let mut next: Vec<LaneItem> = Vec::new();
        let mut retry_reason = None;
        for (item, outcome) in items.into_iter().zip(outcomes) {
            match outcome {
                Outcome::Acked => {
                    self.waiting = self.waiting.saturating_sub(1);
                    self.failing_since = None;
                    self.observer.delivered(
                        self.sink.name(),
                        &item.event.kind,
                        relay_contracts::since_pg_micros(item.commit_time_micros),
                    );
                    self.release(&item.event.aggregate, &mut next);
                    let bytes = item.event.size() as u64;
                    let _ = self.results.send(LaneResult::Acked {
                        unit: item.unit,
                        bytes,
                    });
                }
                Outcome::Rejected(reason) => {
                    self.waiting = self.waiting.saturating_sub(1);
                    tracing::warn!(sink = self.sink.name(), event_id = %item.event.id, %reason, "event rejected permanently");
                    self.release(&item.event.aggregate, &mut next);
                    let _ = self.results.send(LaneResult::Rejected {
                        unit: item.unit,
                        sink: self.index,
                        event: item.event,
                        reason,
                    });
                }
                Outcome::Retryable(reason) if self.ordered => {
                    let _ = self.results.send(LaneResult::Broken {
                        sink: self.index,
                        reason,
                    });
                    return false;
                }
                Outcome::Retryable(reason) => {
                    self.failing_since.get_or_insert_with(Instant::now);
                    self.metrics.retries.fetch_add(1, Ordering::Relaxed);
                    self.observer.retried(self.sink.name(), &item.event.kind);
                    retry.push(item);
                    retry_reason.get_or_insert(reason);
                }
            }
        }
        if let Some(reason) = retry_reason {
            let delay = self.backoff.delay(n);
            self.log_retry(&reason, delay);
            self.launch(&mut retry, n.saturating_add(1), Some(delay));
        }
        self.launch(&mut next, 0, None);
        true
    }

    /// `aggregate`'s event has its final outcome: its next event (if one waits) is ready,
    /// else the aggregate is no longer busy.
    fn release(&mut self, aggregate: &str, next: &mut Vec<LaneItem>) {
        if self.ordered {
            return;
        }
        match self.busy.get_mut(aggregate).and_then(VecDeque::pop_front) {
            Some(item) => next.push(item),
            None => {
                self.busy.remove(aggregate);
            }
        }
    }

    /// One warning per 5 s at most, with the number of failures not logged in between,
    /// how many events this sink holds back and for how long it has delivered nothing:
    /// the lag one failing sink causes for all (the confirmed LSN waits for every sink).
    fn log_retry(&mut self, reason: &str, delay: Duration) {
        let now = Instant::now();
        if self
            .last_log
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(5))
        {
            let failing_for = self
                .failing_since
                .map(|t| Duration::from_secs(now.duration_since(t).as_secs()))
                .unwrap_or_default();
            tracing::warn!(
                sink = self.sink.name(),
                %reason,
                retry_in = ?delay,
                waiting_events = self.waiting,
                failing_for = ?failing_for,
                similar_failures_since_last_log = self.suppressed,
                "publish failed; retrying (the confirmed LSN waits for this sink, holding back every sink)"
            );
            self.last_log = Some(now);
            self.suppressed = 0;
        } else {
            self.suppressed += 1;
        }
    }
}

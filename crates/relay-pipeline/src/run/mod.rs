//! One replication session's state: the loop that reads the source, opens an ack unit
//! per transaction, captures, hands rows to the enrich stage, dispatches to the lanes
//! and turns outcomes into the confirmed LSN. [`crate::Pipeline::run`] builds a
//! [`RunState`] per session.
//!
//! ```text
//!            ┌──────────── source.next() (only while nothing is saturated) ◄──────────┐
//!            ▼                                                                         │
//!   changes: units, capture, enrich session (sync) ──► flush(): lookups off the loop   │
//!            │                                            │ FuturesOrdered: results     │
//!            ▼                                            ▼ applied in WAL order        │
//!   outcomes: dispatch to lanes ◄──────────────────── on_flushed                        │
//!            │ lane results, dead letters                                              │
//!            ▼                                                                         │
//!   tracker ─► confirmed LSN ─► source.confirm ────────────────────────────────────────┘
//! ```
//!
//! The loop never awaits a lookup: enrichment batches are futures it polls next to the
//! lanes, the dead-letter writes, the shutdown signal and the source; up to
//! `max_enrich_batches` run at once, and while that many are running the loop stops
//! reading (back-pressure), as it does when in-flight events or bytes are at their
//! limits.

mod changes;
mod outcomes;

use futures::stream::{FuturesOrdered, FuturesUnordered, StreamExt};
use pgoutput::RelationCache;
use relay_contracts::{Classify, EnrichFailure, EnrichSession, Flushed, TxContext};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;

use crate::lane::{LaneItem, LaneResult};
use crate::tracker::{Tracker, UnitId};
use crate::{ChangeSource, Exit, Pipeline, PipelineError};

pub(crate) use outcomes::Done;

type FlushJob = futures::future::BoxFuture<'static, Result<Flushed, EnrichFailure>>;

/// Lane results handled in one turn of the loop at most (then the other branches get
/// their turn).
const LANE_RESULTS_PER_TURN: usize = 256;
pub(crate) struct RunState<'a> {
    p: &'a Pipeline,
    tracker: Tracker,
    relations: RelationCache,
    /// The open transaction and its unit.
    tx: Option<(TxContext, UnitId)>,
    /// Index of the next change within the open transaction.
    position: u64,
    /// End of the newest transaction (or idle position) read.
    read_end: u64,
    /// The last thing the source sent was a keepalive: it had nothing more to send.
    caught_up: bool,
    lanes: Vec<mpsc::UnboundedSender<LaneItem>>,
    done_tx: mpsc::UnboundedSender<Done>,
    dead_letters: FuturesUnordered<futures::future::BoxFuture<'static, ()>>,
    enrich: Option<Box<dyn EnrichSession>>,
    /// Enrichment batches running, in the order they were started.
    flushes: FuturesOrdered<FlushJob>,
    /// When pending audit rows must be enriched at the latest.
    flush_deadline: Option<tokio::time::Instant>,
}

impl<'a> RunState<'a> {
    pub(crate) fn new(
        p: &'a Pipeline,
        lanes: Vec<mpsc::UnboundedSender<LaneItem>>,
        done_tx: mpsc::UnboundedSender<Done>,
    ) -> Self {
        Self {
            p,
            tracker: Tracker::new(),
            relations: RelationCache::default(),
            tx: None,
            position: 0,
            read_end: 0,
            caught_up: false,
            lanes,
            done_tx,
            dead_letters: FuturesUnordered::new(),
            enrich: p.enrich.as_ref().map(|e| e.session()),
            flushes: FuturesOrdered::new(),
            flush_deadline: None,
        }
    }
}

impl RunState<'_> {
    fn saturated(&self) -> bool {
        self.tracker.inflight_pairs() >= self.p.cfg.max_inflight_events
            || self.tracker.inflight_bytes() >= self.p.cfg.max_inflight_bytes
            || self.flushes.len() >= self.p.cfg.max_enrich_batches.max(1)
    }

    /// Nothing is left to deliver: no event in flight and no batch being enriched.
    fn drained(&self) -> bool {
        self.tracker.inflight_pairs() == 0 && self.flushes.is_empty()
    }

    pub(crate) async fn drive<S: ChangeSource>(
        &mut self,
        source: &mut S,
        shutdown: impl Future<Output = ()>,
        done_rx: &mut mpsc::UnboundedReceiver<Done>,
        lane_rx: &mut mpsc::UnboundedReceiver<LaneResult>,
    ) -> Result<Exit, PipelineError> {
        tokio::pin!(shutdown);
        let mut draining: Option<tokio::time::Instant> = None;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if let Some(deadline) = draining {
                if self.drained() {
                    return Ok(Exit::Shutdown);
                }
                if tokio::time::Instant::now() >= deadline {
                    tracing::warn!(
                        inflight = self.tracker.inflight_pairs(),
                        enrich_batches = self.flushes.len(),
                        "shutdown: gave up waiting for in-flight events; they will be replayed"
                    );
                    return Ok(Exit::Shutdown);
                }
            } else {
                self.expire_due_holds(source);
            }
            let can_read = draining.is_none() && !self.saturated();
            // Group commit for lookups: when nothing more can be read right now and no
            // batch is being enriched, the rows waiting go at once instead of after the
            // linger; while a batch is looked up, the next one gathers (up to
            // `enrich_batch` rows or the linger), so a backlog still fills its batches.
            let idle_flush = can_read
                && self.tx.is_none()
                && self.flush_deadline.is_some()
                && self.flushes.is_empty();
            let holding = self
                .enrich
                .as_ref()
                .is_some_and(|e| e.holding().deletes > 0);
            tokio::select! {
                biased;
                () = &mut shutdown, if draining.is_none() => {
                    self.start_flush();
                    tracing::info!(inflight = self.tracker.inflight_pairs(), "shutdown requested; draining in-flight events");
                    draining = Some(tokio::time::Instant::now() + self.p.cfg.drain_timeout);
                }
                Some(result) = lane_rx.recv() => {
                    self.on_lane(result, source)?;
                    // The lanes settle whole bursts: take what else is queued in this
                    // pass rather than one loop turn (and one poll of every branch) each.
                    for _ in 1..LANE_RESULTS_PER_TURN {
                        let Ok(result) = lane_rx.try_recv() else { break };
                        self.on_lane(result, source)?;
                    }
                }
                Some(done) = done_rx.recv() => self.on_done(done, source)?,
                Some(()) = self.dead_letters.next() => {}
                Some(flushed) = self.flushes.next(), if !self.flushes.is_empty() => {
                    self.on_flushed(flushed?, source)?;
                }
                // Before the source, so rows are enriched within the linger under load too.
                () = sleep_until_or_never(self.flush_deadline), if self.flush_deadline.is_some() => {
                    self.start_flush();
                }
                event = source.next(), if can_read => {
                    match event {
                        Ok(Some(ev)) => self.on_event(ev, source)?,
                        Ok(None) => return Ok(Exit::SourceEnded),
                        Err(e) => return Err(PipelineError::Source { class: e.class(), error: Box::new(e) }),
                    }
                }
                // Wakes the loop so held deletes can fall due by time once caught up.
                _ = tick.tick(), if holding => {}
                () = tokio::time::sleep(Duration::from_millis(200)), if draining.is_some() => {}
                // Last: fires only when the source (and everything above) has nothing ready.
                () = std::future::ready(()), if idle_flush => self.start_flush(),
            }
            self.publish_gauges();
        }
    }

    pub(crate) async fn drain_after_error<S: ChangeSource>(
        &mut self,
        source: &mut S,
        done_rx: &mut mpsc::UnboundedReceiver<Done>,
        lane_rx: &mut mpsc::UnboundedReceiver<LaneResult>,
    ) {
        let deadline = tokio::time::Instant::now() + self.p.cfg.drain_timeout;
        while self.tracker.inflight_pairs() > 0 && tokio::time::Instant::now() < deadline {
            tokio::select! {
                Some(result) = lane_rx.recv() => { let _ = self.on_lane(result, source); }
                Some(done) = done_rx.recv() => { let _ = self.on_done(done, source); }
                Some(()) = self.dead_letters.next() => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    fn publish_gauges(&self) {
        let m = &self.p.metrics;
        m.inflight_events
            .store(self.tracker.inflight_pairs(), Ordering::Relaxed);
        m.inflight_bytes
            .store(self.tracker.inflight_bytes(), Ordering::Relaxed);
        m.enrich_batches
            .store(self.flushes.len() as u64, Ordering::Relaxed);
        m.oldest_unconfirmed_commit_micros.store(
            self.tracker.oldest_unresolved_commit_time(),
            Ordering::Relaxed,
        );
        m.received_lsn.store(self.read_end, Ordering::Relaxed);
        if let Some(e) = &self.enrich {
            let h = e.holding();
            m.held_deletes.store(h.deletes, Ordering::Relaxed);
            m.held_bytes.store(h.bytes, Ordering::Relaxed);
            m.held_spilled.store(h.spilled, Ordering::Relaxed);
        }
    }

    fn advance<S: ChangeSource>(&mut self, source: &mut S) {
        if let Some(lsn) = self.tracker.advance() {
            self.confirm(lsn, source);
        }
    }

    fn confirm<S: ChangeSource>(&mut self, lsn: u64, source: &mut S) {
        source.confirm(lsn);
        self.p.metrics.confirmed_lsn.store(lsn, Ordering::Relaxed);
    }

    /// Start enriching every pending record; the lookups run while the loop goes on.
    fn start_flush(&mut self) {
        self.flush_deadline = None;
        let Some(enrich) = self.enrich.as_mut() else {
            return;
        };
        if enrich.has_pending() {
            // A task of its own: building the events of a batch is CPU work, which must
            // not run on the loop's task (it would serialise with reading and dispatch).
            let job = AbortOnDrop(tokio::spawn(enrich.flush()));
            self.flushes.push_back(Box::pin(async move {
                job.await.unwrap_or_else(|e| {
                    Err(relay_contracts::EnrichFailure {
                        class: relay_contracts::ErrorClass::Retry,
                        message: format!("an enrichment task ended abnormally: {e}"),
                    })
                })
            }));
        }
    }

    /// A batch is enriched (batches finish in the order they started): dispatch its
    /// events into their transactions' units and release what it accounts for.
    fn on_flushed<S: ChangeSource>(
        &mut self,
        flushed: Flushed,
        source: &mut S,
    ) -> Result<(), PipelineError> {
        for (unit, ev) in flushed.events {
            self.dispatch(unit, relay_capture::Captured::Event(ev))?;
        }
        for (held, resolver) in flushed.releases {
            self.tracker.release_when(held, resolver);
        }
        for unit in flushed.record_units {
            self.tracker.release(unit);
        }
        self.advance(source);
        Ok(())
    }

    /// A record was queued for enrichment in `unit`: hold the unit, arm the flush timer.
    fn queued_for_enrichment(&mut self, unit: UnitId, newly_held: bool) {
        if newly_held {
            self.tracker.hold(unit);
        }
        if self.flush_deadline.is_none() {
            self.flush_deadline = Some(tokio::time::Instant::now() + self.p.cfg.enrich_linger);
        }
        if self.enrich.as_ref().is_some_and(|e| e.batch_full()) {
            self.start_flush();
        }
    }

    /// Held deletes that fell due become removal events in a unit of their own at the
    /// current position (between transactions), one chunk at a time while batches can
    /// start; their held units are released once those events are delivered.
    fn expire_due_holds<S: ChangeSource>(&mut self, source: &mut S) {
        let now = std::time::Instant::now();
        while self.tx.is_none() && !self.saturated() {
            let caught_up = self.caught_up;
            if !self
                .enrich
                .as_ref()
                .is_some_and(|e| e.has_due(now, caught_up))
            {
                return;
            }
            // Records already read resolve their held deletes first (in flush), so a
            // hold whose audit row was read is never emitted as an orphan.
            if self.enrich.as_ref().is_some_and(|e| e.has_pending()) {
                self.start_flush();
                continue;
            }
            let unit = self.tracker.open();
            let queued = self
                .enrich
                .as_mut()
                .and_then(|e| e.expire_due(unit, now, caught_up));
            if let Some(q) = queued {
                self.queued_for_enrichment(unit, q.newly_held);
            }
            self.tracker.close(unit, self.read_end);
            self.start_flush();
            self.advance(source);
        }
    }
}

async fn sleep_until_or_never(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// A spawned enrichment job that is cancelled when the run ends (a dropped `JoinHandle`
/// would let it run on, holding a lookup connection).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

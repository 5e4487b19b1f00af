//! One replication session's state: the loop that reads the source, opens an ack unit
//! per transaction, captures, enriches, dispatches to the lanes and turns outcomes into
//! the confirmed LSN. [`crate::Pipeline::run`] builds a [`RunState`] per session.

use futures::stream::{FuturesUnordered, StreamExt};
use futures::FutureExt;
use pgoutput::{LogicalMessage, RelationCache};
use relay_capture::{Captured, Malformed};
use relay_contracts::{
    format_lsn, Classify, DeadLetterContent, DeadLetterRecord, DeadLetterWriter, EnrichSession,
    OutboundEvent, Outcome, TxContext,
};
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

use crate::lane::{LaneItem, LaneResult};
use crate::tracker::{Tracker, UnitId};
use crate::{ChangeSource, Exit, Pipeline, PipelineError, SourceEvent};

/// Messages back into the pipeline loop.
pub(crate) enum Done {
    DeadLettered { unit: UnitId, bytes: u64 },
}

pub(crate) struct RunState<'a> {
    p: &'a Pipeline,
    tracker: Tracker,
    relations: RelationCache,
    /// The open transaction and its unit.
    tx: Option<(TxContext, UnitId)>,
    /// Index of the next change within the open transaction.
    position: u64,
    lanes: Vec<mpsc::UnboundedSender<LaneItem>>,
    done_tx: mpsc::UnboundedSender<Done>,
    dead_letters: FuturesUnordered<futures::future::BoxFuture<'static, ()>>,
    enrich: Option<Box<dyn EnrichSession>>,
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
            lanes,
            done_tx,
            dead_letters: FuturesUnordered::new(),
            enrich: p.enrich.as_ref().map(|e| e.session()),
            flush_deadline: None,
        }
    }
}

/// How long audit rows may wait for more rows to share their lookups.
const ENRICH_LINGER: Duration = Duration::from_millis(20);

impl RunState<'_> {
    fn saturated(&self) -> bool {
        self.tracker.inflight_pairs() >= self.p.cfg.max_inflight_events
            || self.tracker.inflight_bytes() >= self.p.cfg.max_inflight_bytes
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
                if self.tracker.inflight_pairs() == 0 {
                    return Ok(Exit::Shutdown);
                }
                if tokio::time::Instant::now() >= deadline {
                    tracing::warn!(
                        inflight = self.tracker.inflight_pairs(),
                        "shutdown: gave up waiting for in-flight events; they will be replayed"
                    );
                    return Ok(Exit::Shutdown);
                }
            }
            let can_read = draining.is_none() && !self.saturated();
            tokio::select! {
                biased;
                () = &mut shutdown, if draining.is_none() => {
                    self.flush_enrichment(source).await?;
                    tracing::info!(inflight = self.tracker.inflight_pairs(), "shutdown requested; draining in-flight events");
                    draining = Some(tokio::time::Instant::now() + self.p.cfg.drain_timeout);
                }
                Some(result) = lane_rx.recv() => self.on_lane(result, source)?,
                Some(done) = done_rx.recv() => self.on_done(done, source)?,
                Some(()) = self.dead_letters.next() => {}
                // Before the source, so rows are enriched within ENRICH_LINGER under load too.
                () = sleep_until_or_never(self.flush_deadline), if self.flush_deadline.is_some() => {
                    self.flush_enrichment(source).await?;
                }
                // Before the source, so expired holds are emitted during a catch-up too.
                _ = tick.tick(), if self.enrich.as_ref().is_some_and(|e| e.has_holds()) => {
                    self.expire_holds(source).await?;
                }
                event = source.next(), if can_read => {
                    match event {
                        Ok(Some(ev)) => self.on_event(ev, source).await?,
                        Ok(None) => return Ok(Exit::SourceEnded),
                        Err(e) => return Err(PipelineError::Source { class: e.class(), error: Box::new(e) }),
                    }
                }
                () = tokio::time::sleep(Duration::from_millis(200)), if draining.is_some() => {}

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

    async fn on_event<S: ChangeSource>(
        &mut self,
        ev: SourceEvent,
        source: &mut S,
    ) -> Result<(), PipelineError> {
        match ev {
            SourceEvent::Begin {
                xid,
                final_lsn,
                commit_time_micros,
            } => {
                if self.tx.is_some() {
                    return Err(PipelineError::Protocol(
                        "Begin inside an open transaction".into(),
                    ));
                }
                let unit = self.tracker.open();
                self.tx = Some((
                    TxContext {
                        xid,
                        commit_lsn: final_lsn,
                        commit_time_micros,
                    },
                    unit,
                ));
                self.position = 0;
            }
            SourceEvent::Commit { end_lsn, .. } => {
                let Some((tx, unit)) = self.tx else {
                    return Err(PipelineError::Protocol("Commit without Begin".into()));
                };
                let _ = tx;
                self.tx = None;
                // A unit with records still waiting for enrichment is held: closing it
                // cannot confirm it before its events exist.
                self.tracker.close(unit, end_lsn);
                if self.enrich.as_ref().is_some_and(|e| e.batch_full()) {
                    self.flush_enrichment(source).await?;
                }
                self.p.metrics.transactions.fetch_add(1, Ordering::Relaxed);
                self.advance(source);
            }
            SourceEvent::KeepAlive { wal_end } => {
                self.p
                    .metrics
                    .server_wal_end
                    .store(wal_end, Ordering::Relaxed);
                if self.tx.is_none() {
                    if let Some(lsn) = self.tracker.confirm_idle(wal_end) {
                        self.confirm(lsn, source);
                    }
                }
            }
            SourceEvent::Message(msg) => {
                let tx = self.tx.map(|(t, _)| t);
                if let Some(captured) = self.p.capture.message(tx.as_ref(), &msg) {
                    match self.tx {
                        Some((_, unit)) => self.dispatch(unit, captured)?,
                        None => {
                            // A non-transactional message is its own unit, ending at its
                            // LSN; closed only once its outcome is registered, so a
                            // failure leaves it open and never confirmed.
                            let unit = self.tracker.open();
                            self.dispatch(unit, captured)?;
                            self.tracker.close(unit, msg.lsn);
                        }
                    }
                    self.advance(source);
                }
            }
            SourceEvent::Change(change) => {
                self.on_change(change)?;
                if self.enrich.as_ref().is_some_and(|e| e.batch_full()) {
                    self.flush_enrichment(source).await?;
                }
            }
        }
        Ok(())
    }

    /// Enrich every pending audit row (one batch of lookups, across transactions) and
    /// dispatch the events into their transactions' units.
    async fn flush_enrichment<S: ChangeSource>(
        &mut self,
        source: &mut S,
    ) -> Result<(), PipelineError> {
        let Some(enrich) = self.enrich.as_mut() else {
            return Ok(());
        };
        if !enrich.has_pending() {
            return Ok(());
        }
        let flushed = enrich.flush().await?;
        self.flush_deadline = None;
        for (unit, ev) in flushed.events {
            self.dispatch(unit, Captured::Event(ev))?;
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
            self.flush_deadline = Some(tokio::time::Instant::now() + ENRICH_LINGER);
        }
    }

    /// Emit captured deletes whose hold expired, then release their transactions.
    async fn expire_holds<S: ChangeSource>(&mut self, source: &mut S) -> Result<(), PipelineError> {
        let Some(enrich) = self.enrich.as_mut() else {
            return Ok(());
        };
        let expired = enrich.expire(std::time::Instant::now()).await?;
        for e in expired {
            for ev in e.events {
                self.dispatch(e.unit, Captured::Event(ev))?;
            }
            for other in e.also_released {
                self.tracker.release_when(other, e.unit);
            }
            self.tracker.release(e.unit);
        }
        self.advance(source);
        Ok(())
    }

    fn on_change(&mut self, change: LogicalMessage) -> Result<(), PipelineError> {
        match change {
            LogicalMessage::Relation(rel) => {
                tracing::debug!(relation = %format!("{}.{}", rel.namespace, rel.name), columns = rel.columns.len(), "relation");
                self.relations.insert(rel);
            }
            LogicalMessage::Insert(ins) => {
                let Some((tx, unit)) = self.tx else {
                    return Err(PipelineError::Protocol(
                        "Insert outside a transaction".into(),
                    ));
                };
                let Some(rel) = self.relations.get(ins.relation_id) else {
                    return Err(PipelineError::Protocol(format!(
                        "Insert for relation {} that was never described",
                        ins.relation_id
                    )));
                };
                let position = self.position;
                self.position += 1;
                if let Some(captured) = self.p.capture.insert(&tx, rel, &ins.new, position) {
                    self.dispatch(unit, captured)?;
                }
            }
            LogicalMessage::Delete(del) if self.enrich.is_some() => {
                self.position += 1;
                let (Some((tx, unit)), Some(rel)) = (self.tx, self.relations.get(del.relation_id))
                else {
                    return Ok(());
                };
                let Some(old) = del.old.as_ref().or(del.key.as_ref()) else {
                    return Ok(());
                };
                if let Some(e) = self.enrich.as_mut() {
                    if e.delete(unit, &tx, rel, old) {
                        self.tracker.hold(unit);
                    }
                }
            }
            LogicalMessage::Update(upd) if self.enrich.is_some() => {
                self.position += 1;
                let (Some((tx, unit)), Some(rel)) = (self.tx, self.relations.get(upd.relation_id))
                else {
                    return Ok(());
                };
                let queued = self
                    .enrich
                    .as_mut()
                    .and_then(|e| e.update(unit, &tx, rel, &upd.new, upd.old.as_ref()));
                if let Some(q) = queued {
                    self.queued_for_enrichment(unit, q.newly_held);
                }
            }
            LogicalMessage::Truncate(t) => {
                let watched = t.relation_ids.iter().any(|id| {
                    self.relations
                        .get(*id)
                        .is_some_and(|r| self.p.capture.watches(r))
                });
                if watched {
                    tracing::warn!("the audit/outbox table was truncated; rows removed by TRUNCATE produce no events");
                }
                self.position += 1;
            }
            // Updates and deletes of the audit table are not events (the portal fills
            // deleted_*_identifier by UPDATE); types and origins need no action.
            _ => self.position += 1,
        }
        Ok(())
    }

    fn dispatch(&mut self, unit: UnitId, captured: Captured) -> Result<(), PipelineError> {
        match captured {
            Captured::Event(event) => {
                self.p
                    .metrics
                    .events_captured
                    .fetch_add(1, Ordering::Relaxed);
                let bytes = event.size() as u64;
                let event = Arc::new(event);
                self.tracker.add(unit, self.lanes.len() as u64, bytes);
                for lane in &self.lanes {
                    let _ = lane.send(LaneItem {
                        unit,
                        event: Arc::clone(&event),
                    });
                }
                Ok(())
            }
            Captured::AuditRow(row) => {
                let tx = self.tx.map(|(t, _)| t).unwrap_or(TxContext {
                    xid: 0,
                    commit_lsn: 0,
                    commit_time_micros: 0,
                });
                let row = match self.enrich.as_mut() {
                    Some(e) => match e.audit_row(unit, &tx, row) {
                        Ok(q) => {
                            self.queued_for_enrichment(unit, q.newly_held);
                            return Ok(());
                        }
                        Err(row) => row,
                    },
                    None => row,
                };
                let id = row
                    .get("id")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string();
                self.dead_letter_malformed(
                    unit,
                    Malformed {
                        aggregate: id.clone(),
                        id,
                        reason: if self.enrich.is_some() {
                            "audit row lacks id, name or subject_type".into()
                        } else {
                            "audit row handed to enrichment, but enrichment is not configured"
                                .into()
                        },
                        commit_lsn: self.tx.map(|(t, _)| t.commit_lsn).unwrap_or_default(),
                        raw: serde_json::Value::Object(row),
                    },
                )
            }
            Captured::Malformed(m) => self.dead_letter_malformed(unit, m),
        }
    }

    fn dead_letter_malformed(&mut self, unit: UnitId, m: Malformed) -> Result<(), PipelineError> {
        tracing::warn!(row_id = %m.id, commit = %format_lsn(m.commit_lsn), reason = %m.reason, "malformed row");
        let Some(dlq) = self.p.dead_letter.clone() else {
            return Err(PipelineError::Malformed {
                id: m.id,
                commit_lsn: format_lsn(m.commit_lsn),
                reason: m.reason,
            });
        };
        let bytes = m.raw.to_string().len() as u64;
        self.tracker.add(unit, 1, bytes);
        let record = DeadLetterRecord {
            id: m.id,
            stage: "capture".into(),
            reason: m.reason,
            commit_lsn: format_lsn(m.commit_lsn),
            content: DeadLetterContent::Row(m.raw),
        };
        self.spawn_dead_letter(dlq, record, unit, bytes);
        Ok(())
    }

    fn spawn_dead_letter(
        &mut self,
        dlq: Arc<dyn DeadLetterWriter>,
        record: DeadLetterRecord,
        unit: UnitId,
        bytes: u64,
    ) {
        let done = self.done_tx.clone();
        let mut retry = self.p.cfg.retry.retry();
        self.dead_letters.push(
            async move {
                loop {
                    match dlq.write(&record).await {
                        Outcome::Acked => break,
                        other => {
                            let delay = retry.next_delay();
                            tracing::warn!(outcome = ?other, retry_in = ?delay, "dead-letter write failed; retrying");
                            tokio::time::sleep(delay).await;
                        }
                    }
                }
                let _ = done.send(Done::DeadLettered { unit, bytes });
            }
            .boxed(),
        );
    }

    fn on_lane<S: ChangeSource>(
        &mut self,
        result: LaneResult,
        source: &mut S,
    ) -> Result<(), PipelineError> {
        match result {
            LaneResult::Acked { unit, bytes } => {
                self.p.metrics.events_acked.fetch_add(1, Ordering::Relaxed);
                self.tracker.resolve(unit, bytes);
                self.advance(source);
            }
            LaneResult::Rejected {
                unit,
                sink,
                event,
                reason,
            } => {
                let sink_name = self
                    .p
                    .sinks
                    .get(sink)
                    .map(|s| s.name().to_string())
                    .unwrap_or_default();
                let Some(dlq) = self.p.dead_letter.clone() else {
                    return Err(PipelineError::Rejected {
                        sink: sink_name,
                        id: event.id.clone(),
                        reason,
                    });
                };
                let record = dead_letter_for(&event, &sink_name, reason);
                self.spawn_dead_letter(dlq, record, unit, event.size() as u64);
            }
            LaneResult::Broken { sink, reason } => {
                let sink = self
                    .p
                    .sinks
                    .get(sink)
                    .map(|s| s.name().to_string())
                    .unwrap_or_default();
                return Err(PipelineError::SinkBroken { sink, reason });
            }
        }
        Ok(())
    }

    fn on_done<S: ChangeSource>(
        &mut self,
        done: Done,
        source: &mut S,
    ) -> Result<(), PipelineError> {
        match done {
            Done::DeadLettered { unit, bytes } => {
                self.p.metrics.dead_lettered.fetch_add(1, Ordering::Relaxed);
                self.tracker.resolve(unit, bytes);
                self.advance(source);
            }
        }
        Ok(())
    }
}

async fn sleep_until_or_never(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn dead_letter_for(event: &OutboundEvent, sink: &str, reason: String) -> DeadLetterRecord {
    DeadLetterRecord {
        id: event.id.clone(),
        stage: format!("sink:{sink}"),
        reason,
        commit_lsn: format_lsn(event.commit_lsn),
        content: DeadLetterContent::Event(event.body.clone()),
    }
}

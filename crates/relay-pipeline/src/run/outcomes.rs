//! Outcomes: events dispatched to the lanes, lane results and dead letters resolved in
//! the tracker.

use futures::FutureExt;
use relay_capture::{Captured, Malformed};
use relay_contracts::{
    format_lsn, DeadLetterContent, DeadLetterRecord, DeadLetterWriter, OutboundEvent, Outcome,
    TxContext,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::RunState;
use crate::lane::{LaneItem, LaneResult};
use crate::tracker::UnitId;
use crate::{ChangeSource, PipelineError};

/// Messages back into the pipeline loop.
pub(crate) enum Done {
    DeadLettered { unit: UnitId, bytes: u64 },
}

impl RunState<'_> {
    pub(super) fn dispatch(
        &mut self,
        unit: UnitId,
        captured: Captured,
    ) -> Result<(), PipelineError> {
        match captured {
            Captured::Event(event) => {
                self.p
                    .metrics
                    .events_captured
                    .fetch_add(1, Ordering::Relaxed);
                let bytes = event.size() as u64;
                self.p.observer.event_read(&event.kind);
                let event = Arc::new(event);
                let commit_time_micros = self.tracker.commit_time(unit);
                self.tracker.add(unit, self.lanes.len() as u64, bytes);
                for lane in &self.lanes {
                    let _ = lane.send(LaneItem {
                        unit,
                        commit_time_micros,
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
        self.p.observer.dead_lettered("capture", "malformed");
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

    pub(super) fn on_lane<S: ChangeSource>(
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
                self.p.observer.dead_lettered(&sink_name, &event.kind);
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

    pub(super) fn on_done<S: ChangeSource>(
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

fn dead_letter_for(event: &OutboundEvent, sink: &str, reason: String) -> DeadLetterRecord {
    DeadLetterRecord {
        id: event.id.clone(),
        stage: format!("sink:{sink}"),
        reason,
        commit_lsn: format_lsn(event.commit_lsn),
        content: DeadLetterContent::Event(event.body.clone()),
    }
}

//! The source's events: transactions become ack units; rows go to capture and the
//! enrich session.

use pgoutput::LogicalMessage;
use relay_contracts::TxContext;
use std::sync::atomic::Ordering;

use super::RunState;
use crate::{ChangeSource, PipelineError, SourceEvent};

impl RunState<'_> {
    pub(super) fn on_event<S: ChangeSource>(
        &mut self,
        ev: SourceEvent,
        source: &mut S,
    ) -> Result<(), PipelineError> {
        if !matches!(ev, SourceEvent::KeepAlive { .. }) {
            self.caught_up = false;
        }
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
                if let Some(lag) = relay_contracts::since_pg_micros(commit_time_micros) {
                    self.p.observer.transaction_read(lag);
                }
                let unit = self.tracker.open_at(commit_time_micros);
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
                self.tx = None;
                if let Some(e) = self.enrich.as_mut() {
                    e.commit(unit, &tx);
                }
                // A unit with records still waiting for enrichment is held: closing it
                // cannot confirm it before its events exist.
                self.tracker.close(unit, end_lsn);
                self.read_end = self.read_end.max(end_lsn);
                self.p.metrics.transactions.fetch_add(1, Ordering::Relaxed);
                self.advance(source);
            }
            SourceEvent::KeepAlive { wal_end } => {
                self.p
                    .metrics
                    .server_wal_end
                    .store(wal_end, Ordering::Relaxed);
                if self.tx.is_none() {
                    self.caught_up = true;
                    self.read_end = self.read_end.max(wal_end);
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
            SourceEvent::Change(change) => self.on_change(change)?,
        }
        Ok(())
    }

    fn on_change(&mut self, change: LogicalMessage) -> Result<(), PipelineError> {
        match change {
            LogicalMessage::Insert(_) | LogicalMessage::Update(_) | LogicalMessage::Delete(_)
                if self.p.capture.captures_row_changes() =>
            {
                self.capture_row_change(&change)?;
            }
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
                } else if let Some(e) = self.enrich.as_mut() {
                    if let Some(q) = e.insert(unit, &tx, rel, &ins.new) {
                        self.queued_for_enrichment(unit, q.newly_held);
                    }
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
            // Sent once per session before a Relation that uses the type: not a change
            // (counting it would give a replay other positions than the live run).
            LogicalMessage::Type(_) => {}
            // Updates and deletes of the audit table are not events (the portal fills
            // deleted_*_identifier by UPDATE); origins need no action.
            _ => self.position += 1,
        }
        Ok(())
    }

    /// A profile that captures row changes (portal-v2) gets every INSERT, UPDATE and
    /// DELETE of any published table here, with its position in the transaction.
    fn capture_row_change(&mut self, change: &LogicalMessage) -> Result<(), PipelineError> {
        let relation_id = match change {
            LogicalMessage::Insert(c) => c.relation_id,
            LogicalMessage::Update(c) => c.relation_id,
            LogicalMessage::Delete(c) => c.relation_id,
            _ => return Ok(()),
        };
        let Some((tx, unit)) = self.tx else {
            return Err(PipelineError::Protocol(
                "row change outside a transaction".into(),
            ));
        };
        let Some(rel) = self.relations.get(relation_id) else {
            return Err(PipelineError::Protocol(format!(
                "row change for relation {relation_id} that was never described"
            )));
        };
        let position = self.position;
        self.position += 1;
        for captured in self.p.capture.row_change(&tx, rel, change, position) {
            self.dispatch(unit, captured)?;
        }
        Ok(())
    }
}

//! The enrich stage for the portal profile, between capture and the pipeline's lanes;
//! the pipeline calls it through `relay_contracts::EnrichSession` and knows no table:
//!
//! ```text
//! capture ─► audit rows, captured deletes, input_ports updates ─► **enrich** ─► lanes
//! ```
//!
//! Audit rows are collected across transactions and enriched together (when `batch` rows
//! wait, 20 ms after the first, or before a shutdown drain) with the catalog's batched
//! lookups, on an ordinary connection; each waiting transaction's ack unit is held until
//! its events are dispatched. A lookup that fails for a retryable reason is retried with
//! backoff on a fresh connection while the transaction stays unresolved: the LSN does not
//! move. Deletes of the catalog's domain tables are kept as tombstones (last known state
//! for removal events) and hold their transaction's ack unit until the audit row that
//! explains them has been delivered, or until `delete_hold` passes, after which the
//! removal is emitted from the tombstone with a marker. Because the held transaction is
//! not confirmed, a restart replays the delete: nothing has to be persisted.

use futures::future::BoxFuture;
use futures::FutureExt;
use pgoutput::{Relation, TupleData};
use relay_contracts::{
    format_lsn, now_rfc3339, pg_micros_to_rfc3339, Backoff, Classify, EnrichFailure, EnrichSession,
    EnrichStage, ErrorClass, Expired, Flushed, OutboundEvent, Queued, TxContext, UnitId,
};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{
    access_expired_record, cascade_removed_records, orphan_removed_record, resolved_tombstones,
    AuditRecord, Enricher, EnvelopeContext, Tombstones,
};

/// Opens a lookup connection (the binary supplies one with the source's settings).
pub type Connector =
    Arc<dyn Fn() -> BoxFuture<'static, Result<tokio_postgres::Client, String>> + Send + Sync>;

/// How the enrich stage runs.
#[derive(Clone)]
pub struct EnrichConfig {
    pub connector: Connector,
    /// How long a captured delete waits for its audit row before it is emitted alone.
    pub delete_hold: Duration,
    /// Audit rows enriched together at most (a large transaction is enriched in chunks).
    pub batch: usize,
    /// CloudEvents `source`.
    pub source: String,
    /// Schema of the portal's tables.
    pub schema: String,
    /// Delays between lookup attempts.
    pub retry: Backoff,
}

/// The portal enrich stage: one [`EnrichSession`] per replication session.
pub struct PortalEnrichStage {
    cfg: EnrichConfig,
}

impl PortalEnrichStage {
    pub fn new(cfg: EnrichConfig) -> Self {
        Self { cfg }
    }
}

impl EnrichStage for PortalEnrichStage {
    fn session(&self) -> Box<dyn EnrichSession> {
        Box::new(EnrichState::new(self.cfg.clone()))
    }
}

fn query_failure(query: &str, message: &str) -> EnrichFailure {
    EnrichFailure {
        class: ErrorClass::Fatal,
        message: format!(
            "enrichment lookup `{query}` failed: {message} (check the portal schema and the SELECT grants of sql/03_enrichment.sql)"
        ),
    }
}

fn unavailable(message: &str) -> EnrichFailure {
    EnrichFailure {
        class: ErrorClass::Retry,
        message: format!("enrichment lookups unavailable: {message}"),
    }
}

/// Quick in-place attempts before a lookup failure ends the run (which releases the
/// replication connection, so a shutting-down server is not held up by it).
const QUICK_ATTEMPTS: u32 = 3;

struct PendingRecord {
    record: AuditRecord,
    unit: UnitId,
    tx: TxContext,
}

struct Held {
    unit: UnitId,
    table: String,
    id: String,
    commit_lsn: u64,
    deadline: Instant,
}

enum LookupFailure {
    Retryable(String),
    Fatal(EnrichFailure),
}

struct EnrichState {
    cfg: EnrichConfig,
    enricher: Enricher,
    client: Option<tokio_postgres::Client>,
    tombstones: Tombstones,
    held: Vec<Held>,
    /// Records waiting for enrichment, each with its transaction's unit and facts.
    records: Vec<PendingRecord>,
    /// Units holding back for their pending records (in order, deduplicated).
    record_units: Vec<UnitId>,
    delete_tables: HashSet<&'static str>,
}

impl EnrichState {
    fn new(cfg: EnrichConfig) -> Self {
        let enricher = Enricher::default();
        let delete_tables = enricher
            .catalog()
            .tables_to_capture_deletes()
            .iter()
            .copied()
            .collect();
        Self {
            cfg,
            enricher,
            client: None,
            tombstones: Tombstones::new(),
            held: Vec::new(),
            records: Vec::new(),
            record_units: Vec::new(),
            delete_tables,
        }
    }

    fn is_batch_full(&self) -> bool {
        self.records.len() >= self.cfg.batch.max(1)
    }

    fn pending(&self) -> bool {
        !self.records.is_empty()
    }

    /// Queue a record; returns whether `unit` must now be held for it.
    fn push(&mut self, record: AuditRecord, unit: UnitId, tx: &TxContext) -> bool {
        self.records.push(PendingRecord {
            record,
            unit,
            tx: *tx,
        });
        if self.record_units.last() == Some(&unit) {
            false
        } else {
            self.record_units.push(unit);
            true
        }
    }

    /// An audit row; `None` when it is not a usable audit record, else whether `unit`
    /// must now be held.
    fn push_audit_row(
        &mut self,
        unit: UnitId,
        tx: &TxContext,
        row: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<bool> {
        let record = AuditRecord::from_row(row)?;
        Some(self.push(record, unit, tx))
    }

    /// A delete of a domain table: keep its last state and hold the transaction.
    /// Returns whether the unit must be held.
    fn on_delete(
        &mut self,
        unit: UnitId,
        tx: &TxContext,
        schema: &str,
        table: &str,
        row: Vec<(String, Option<String>)>,
    ) -> bool {
        if schema != self.cfg.schema || !self.delete_tables.contains(table) {
            return false;
        }
        let id = row
            .iter()
            .find(|(k, _)| k == "id")
            .and_then(|(_, v)| v.clone())
            .unwrap_or_default();
        if !self
            .tombstones
            .insert_old_tuple(table, row.iter().map(|(k, v)| (k.as_str(), v.clone())))
        {
            return false;
        }
        self.held.push(Held {
            unit,
            table: table.to_string(),
            id,
            commit_lsn: tx.commit_lsn,
            deadline: Instant::now() + self.cfg.delete_hold,
        });
        true
    }

    /// An update of `input_ports`: access expiry is a derived event.
    /// Returns whether `unit` must now be held for a derived record.
    fn on_update(
        &mut self,
        unit: UnitId,
        tx: &TxContext,
        schema: &str,
        table: &str,
        new: &serde_json::Map<String, serde_json::Value>,
        old: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> bool {
        if schema != self.cfg.schema || table != "input_ports" {
            return false;
        }
        let expired = |m: &serde_json::Map<String, serde_json::Value>| {
            m.get("status")
                .and_then(|v| v.as_str())
                .is_some_and(|s| s.eq_ignore_ascii_case("EXPIRED"))
        };
        if expired(new) && !old.is_some_and(expired) {
            return self.push(access_expired_record(new, tx.commit_lsn), unit, tx);
        }
        false
    }

    /// Enrich every pending record (of one or several transactions) in one batch of
    /// lookups, with the cascades of product removals.
    async fn flush_all(&mut self) -> Result<Flushed, EnrichFailure> {
        let pending = std::mem::take(&mut self.records);
        let record_units = std::mem::take(&mut self.record_units);
        let mut records = Vec::with_capacity(pending.len());
        let mut owners: Vec<(UnitId, TxContext)> = Vec::with_capacity(pending.len());
        for p in pending {
            let cascades = if p.record.name == "data_product_removed" {
                p.record
                    .subject_id
                    .as_deref()
                    .map(|product| {
                        cascade_removed_records(product, &self.tombstones, p.tx.commit_lsn)
                    })
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            records.push(p.record);
            owners.push((p.unit, p.tx));
            for c in cascades {
                records.push(c);
                owners.push((p.unit, p.tx));
            }
        }
        if records.is_empty() {
            return Ok(Flushed {
                events: Vec::new(),
                releases: Vec::new(),
                record_units,
            });
        }
        let business = self.lookup_with_retry(&records).await?;
        if business.len() != records.len() {
            return Err(query_failure(
                "enrich",
                &format!(
                    "the catalog returned {} events for {} records",
                    business.len(),
                    records.len()
                ),
            ));
        }
        let enriched_at = now_rfc3339();
        let events = business
            .into_iter()
            .zip(&owners)
            .map(|(ev, (unit, tx))| {
                (
                    *unit,
                    self.outbound(ev, tx.commit_lsn, tx.commit_time_micros, &enriched_at),
                )
            })
            .collect();
        // The held deletes these records account for are released once they are delivered.
        let mut releases = Vec::new();
        for (r, (unit, _)) in records.iter().zip(&owners) {
            for (table, id) in resolved_tombstones(r, &self.tombstones) {
                self.held.retain(|h| {
                    if h.table == table && h.id == id {
                        releases.push((h.unit, *unit));
                        false
                    } else {
                        true
                    }
                });
                self.tombstones.remove(&table, &id);
            }
        }
        Ok(Flushed {
            events,
            releases,
            record_units,
        })
    }

    /// Captured deletes whose hold expired: emitted alone, from the tombstone.
    /// Returns (held unit, events to dispatch into it).
    async fn expire_due(&mut self, now: Instant) -> Result<Vec<Expired>, EnrichFailure> {
        let (expired, kept): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.deadline <= now);
        self.held = kept;
        let mut out = Vec::new();
        for h in expired {
            let Some(row) = self.tombstones.get(&h.table, &h.id).cloned() else {
                out.push(Expired {
                    unit: h.unit,
                    events: Vec::new(),
                    also_released: Vec::new(),
                });
                continue;
            };
            let mut records: Vec<AuditRecord> = orphan_removed_record(&h.table, &row, h.commit_lsn)
                .into_iter()
                .collect();
            if h.table == "abstract_data_products" {
                records.extend(cascade_removed_records(
                    &h.id,
                    &self.tombstones,
                    h.commit_lsn,
                ));
            }
            tracing::warn!(
                table = %h.table,
                id = %h.id,
                delete_commit = %format_lsn(h.commit_lsn),
                emitted = records.len(),
                "a captured delete got no audit row within capture.delete_hold; emitting it from its last known state"
            );
            let events = if records.is_empty() {
                Vec::new()
            } else {
                self.enrich(&records, h.commit_lsn, 0).await?
            };
            // Children emitted in cascade are accounted for: release their holds too,
            // once these events are delivered, instead of emitting them a second time.
            let mut also_released = Vec::new();
            for r in &records {
                for (table, id) in resolved_tombstones(r, &self.tombstones) {
                    self.held.retain(|other| {
                        if other.table == table && other.id == id {
                            also_released.push(other.unit);
                            false
                        } else {
                            true
                        }
                    });
                    if !(table == h.table && id == h.id) {
                        self.tombstones.remove(&table, &id);
                    }
                }
            }
            self.tombstones.remove(&h.table, &h.id);
            out.push(Expired {
                unit: h.unit,
                events,
                also_released,
            });
        }
        Ok(out)
    }

    fn holds(&self) -> bool {
        !self.held.is_empty()
    }

    /// One attempt: (re)connect if needed, then the batched lookups.
    async fn lookup(
        &mut self,
        records: &[AuditRecord],
    ) -> Result<Vec<crate::BusinessEvent>, LookupFailure> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            let client = (self.cfg.connector)().await.map_err(|e| {
                LookupFailure::Retryable(format!("cannot connect for lookups: {e}"))
            })?;
            self.client = Some(client);
        }
        let Some(client) = self.client.as_ref() else {
            return Err(LookupFailure::Retryable("no lookup connection".into()));
        };
        match self
            .enricher
            .enrich(client, records, &self.tombstones)
            .await
        {
            Ok(events) => Ok(events),
            Err(e) if e.is_retryable() => Err(LookupFailure::Retryable(e.to_string())),
            Err(e) => Err(LookupFailure::Fatal(query_failure(
                e.query(),
                &e.to_string(),
            ))),
        }
    }

    async fn enrich(
        &mut self,
        records: &[AuditRecord],
        commit_lsn: u64,
        commit_time_micros: i64,
    ) -> Result<Vec<OutboundEvent>, EnrichFailure> {
        let business = self.lookup_with_retry(records).await?;
        let enriched_at = now_rfc3339();
        Ok(business
            .into_iter()
            .map(|ev| self.outbound(ev, commit_lsn, commit_time_micros, &enriched_at))
            .collect())
    }

    async fn lookup_with_retry(
        &mut self,
        records: &[AuditRecord],
    ) -> Result<Vec<crate::BusinessEvent>, EnrichFailure> {
        let mut retry = self.cfg.retry.retry();
        loop {
            let failure = match self.lookup(records).await {
                Ok(events) => return Ok(events),
                Err(LookupFailure::Fatal(f)) => return Err(f),
                Err(LookupFailure::Retryable(why)) => why,
            };
            self.client = None;
            if retry.attempts() + 1 >= QUICK_ATTEMPTS {
                return Err(unavailable(&failure));
            }
            let delay = retry.next_delay();
            tracing::warn!(error = %failure, retry_in = ?delay, "enrichment lookup failed; retrying (the confirmed LSN waits)");
            tokio::time::sleep(delay).await;
        }
    }

    fn outbound(
        &self,
        ev: crate::BusinessEvent,
        commit_lsn: u64,
        commit_time_micros: i64,
        enriched_at: &str,
    ) -> OutboundEvent {
        let time = if commit_time_micros == 0 {
            now_rfc3339()
        } else {
            pg_micros_to_rfc3339(commit_time_micros)
        };
        let envelope = ev.to_cloudevent(&EnvelopeContext {
            source: &self.cfg.source,
            time: &time,
            commit_lsn,
            enriched_at,
        });
        OutboundEvent {
            body: serde_json::to_vec(&envelope).unwrap_or_default().into(),
            id: ev.id,
            aggregate: ev.subject,
            kind: ev.event_type,
            route: ev.route,
            commit_lsn,
        }
    }
}

impl EnrichSession for EnrichState {
    fn audit_row(
        &mut self,
        unit: UnitId,
        tx: &TxContext,
        row: Map<String, Value>,
    ) -> Result<Queued, Map<String, Value>> {
        match self.push_audit_row(unit, tx, &row) {
            Some(newly_held) => Ok(Queued { newly_held }),
            None => Err(row),
        }
    }

    fn update(
        &mut self,
        unit: UnitId,
        tx: &TxContext,
        rel: &Relation,
        new: &TupleData,
        old: Option<&TupleData>,
    ) -> Option<Queued> {
        let new = json_row(text_row(rel, new));
        let old = old.map(|o| json_row(text_row(rel, o)));
        let before = self.records.len();
        let newly_held = self.on_update(unit, tx, &rel.namespace, &rel.name, &new, old.as_ref());
        (self.records.len() > before).then_some(Queued { newly_held })
    }

    fn delete(&mut self, unit: UnitId, tx: &TxContext, rel: &Relation, old: &TupleData) -> bool {
        let row = text_row(rel, old);
        self.on_delete(unit, tx, &rel.namespace, &rel.name, row)
    }

    fn batch_full(&self) -> bool {
        self.is_batch_full()
    }

    fn has_pending(&self) -> bool {
        self.pending()
    }

    fn flush(&mut self) -> BoxFuture<'_, Result<Flushed, EnrichFailure>> {
        self.flush_all().boxed()
    }

    fn has_holds(&self) -> bool {
        self.holds()
    }

    fn expire(&mut self, now: Instant) -> BoxFuture<'_, Result<Vec<Expired>, EnrichFailure>> {
        self.expire_due(now).boxed()
    }
}

/// A decoded tuple as (column, text or null); bytes that are not UTF-8 are replaced.
fn text_row(rel: &Relation, t: &TupleData) -> Vec<(String, Option<String>)> {
    rel.columns
        .iter()
        .zip(t.0.iter())
        .filter_map(|(c, v)| {
            let value = match v {
                pgoutput::ColumnValue::Null => None,
                pgoutput::ColumnValue::Text(b) | pgoutput::ColumnValue::Binary(b) => {
                    Some(String::from_utf8_lossy(b).into_owned())
                }
                pgoutput::ColumnValue::UnchangedToast => return None,
            };
            Some((c.name.clone(), value))
        })
        .collect()
}

fn json_row(row: Vec<(String, Option<String>)>) -> Map<String, Value> {
    row.into_iter()
        .map(|(k, v)| (k, v.map_or(Value::Null, Value::String)))
        .collect()
}

//! The enrich stage for the portal profile, between capture and the pipeline's lanes;
//! the pipeline calls it through `relay_contracts::EnrichSession` and knows no table:
//!
//! ```text
//! capture ─► audit rows, captured deletes, input_ports updates ─► **Session** (sync, in the loop)
//!                                                                    │ flush(): a Batch
//!                                                                    ▼
//!                                         lookups::run (async, off the loop, several at once)
//!                                                                    │ Flushed, in WAL order
//!                                                                    ▼
//!                                                           pipeline lanes ─► sinks
//! ```
//!
//! Audit rows are collected across transactions (`batch` rows, or the pipeline's linger)
//! and enriched together; each waiting transaction's ack unit is held until its events
//! are dispatched. What an event is about comes from the WAL: the audit row, the rows
//! deleted up to its commit (tombstones, each remembering the transaction that deleted
//! it), and for cascades exactly the rows deleted by the same transaction as the data
//! product. Deletes of the catalog's domain tables hold their unit until a record
//! resolves them or they fall due (see `holds`); a due delete is emitted from its last
//! known state, with the id and time of the transaction that deleted it.
//!
//! Because held transactions are not confirmed, a restart replays the deletes: nothing
//! has to be persisted.

mod holds;
mod links;
mod lookups;
mod rows;
mod spill;

pub use lookups::{ConnectFailure, Connector};

use futures::future::BoxFuture;
use futures::FutureExt;
use pgoutput::{Relation, TupleData};
use relay_contracts::{
    format_lsn, Backoff, EnrichFailure, EnrichSession, EnrichStage, Flushed, Holding, Queued,
    TxContext, UnitId,
};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::catalog::DERIVED_ACCESS_EXPIRED;
use crate::tombstones::{id_key, Deleted};
use crate::{
    access_expired_record, cascade_removed_records, exploration_removed_records, is_exploration,
    orphan_removed_record, resolved_tombstones, AuditRecord, Catalog,
};
use holds::Holds;
use links::{pair_columns, Links};
use lookups::{Batch, Item, LookupConn};
use spill::TombstoneStore;

/// How the enrich stage runs.
#[derive(Clone)]
pub struct EnrichConfig {
    pub connector: Connector,
    /// A captured delete falls due for emission without its audit row after this many
    /// transactions have been read past it.
    pub delete_hold_transactions: u64,
    /// … or, only once the reader has caught up with the server, after this long.
    pub delete_hold: Duration,
    /// Audit rows enriched together at most (a large transaction is enriched in chunks).
    pub batch: usize,
    /// CloudEvents `source`.
    pub source: String,
    /// Schema of the portal's tables.
    pub schema: String,
    /// Delays between lookup attempts.
    pub retry: Backoff,
    /// Bytes of captured rows kept in memory; further rows go to a file in `spill_dir`.
    pub tombstone_budget: usize,
    pub spill_dir: std::path::PathBuf,
    /// Where lookup timings are reported.
    pub observer: std::sync::Arc<dyn relay_contracts::Observer>,
    /// Lookup connections: batches in flight at once each use their own, so their
    /// lookups run side by side on the server (the pipeline's `enrich_in_flight`).
    pub connections: usize,
}

/// The portal enrich stage: one [`EnrichSession`] per replication session.
pub struct PortalEnrichStage {
    cfg: Arc<EnrichConfig>,
}

impl PortalEnrichStage {
    pub fn new(cfg: EnrichConfig) -> Self {
        Self { cfg: Arc::new(cfg) }
    }
}

impl EnrichStage for PortalEnrichStage {
    fn session(&self) -> Box<dyn EnrichSession> {
        Box::new(Session::new(Arc::clone(&self.cfg)))
    }
}

/// How far from the entities a record names the tombstones of its batch reach.
const SUBSET_DEPTH: usize = 3;

/// A record waiting for a flush.
struct Pending {
    item: Item,
    /// Tombstones deleted after this commit LSN are not visible to it.
    as_of: u64,
}

struct Session {
    cfg: Arc<EnrichConfig>,
    conn: Arc<LookupConn>,
    tombstones: TombstoneStore,
    /// The spill file failed: the next flush fails (the run ends, the slot replays).
    broken: Option<String>,
    holds: Holds,
    /// Which link each pair named, by WAL position.
    links: Links,
    pending: Vec<Pending>,
    /// Units holding back for their pending records (in order, deduplicated).
    record_units: Vec<UnitId>,
    /// Held units to release when another unit resolves, outside any record.
    extra_releases: Vec<(UnitId, UnitId)>,
    delete_tables: HashSet<&'static str>,
}

impl Session {
    fn new(cfg: Arc<EnrichConfig>) -> Self {
        let catalog = Catalog::portal();
        Self {
            conn: Arc::new(LookupConn::new(Arc::clone(&cfg.connector), cfg.connections)),
            // The budget covers the rows (three quarters) and the held entries that
            // point at them (a quarter); past either, they go to local files.
            holds: Holds::new(
                cfg.delete_hold_transactions,
                cfg.delete_hold,
                cfg.tombstone_budget / 4 / holds::HOLD_BYTES,
                cfg.spill_dir.clone(),
            ),
            delete_tables: catalog
                .tables_to_capture_deletes()
                .iter()
                .copied()
                .collect(),
            tombstones: TombstoneStore::new(
                cfg.tombstone_budget - cfg.tombstone_budget / 4,
                cfg.spill_dir.clone(),
            ),
            broken: None,
            links: Links::default(),
            pending: Vec::new(),
            record_units: Vec::new(),
            extra_releases: Vec::new(),
            cfg,
        }
    }

    /// Queue a record; returns whether `unit` must now be held for it.
    fn push(&mut self, record: AuditRecord, unit: UnitId, envelope: TxContext, as_of: u64) -> bool {
        self.pending.push(Pending {
            item: Item {
                record,
                unit,
                envelope,
            },
            as_of,
        });
        if self.record_units.last() == Some(&unit) {
            false
        } else {
            self.record_units.push(unit);
            true
        }
    }

    fn push_release(&mut self, held: UnitId, resolver: UnitId) {
        self.extra_releases.push((held, resolver));
    }

    fn ours(&self, rel: &Relation) -> bool {
        rel.namespace == self.cfg.schema
    }

    /// A row of a link table: remember which link its pair had at this commit.
    fn see_link(&mut self, rel: &Relation, row: &Map<String, Value>, tx: &TxContext) {
        let Some((table, a, b)) = pair_columns(&rel.name) else {
            return;
        };
        let col = |c: &str| row.get(c).and_then(Value::as_str);
        if let (Some(a), Some(b), Some(id)) = (col(a), col(b), col("id")) {
            self.links.saw(table, a, b, id, tx.commit_lsn);
        }
    }

    /// Name the link of an access or asset-link record from the WAL, as of `as_of`.
    fn name_link(&self, record: &mut AuditRecord, as_of: u64) {
        if record.link_id.is_some() {
            return;
        }
        let Some(spec) = Catalog::portal().spec(&record.name) else {
            return;
        };
        let r = crate::refs(record);
        let pair = match spec.entity {
            crate::Entity::Access => r.product.zip(r.port).map(|p| ("input_ports", p)),
            crate::Entity::TechnicalAssetLink => {
                r.asset.zip(r.port).map(|p| ("data_outputs_datasets", p))
            }
            _ => None,
        };
        if let Some((table, (a, b))) = pair {
            record.link_id = self.links.as_of(table, &a, &b, as_of);
        }
    }

    /// Take the pending records: add the cascades of product removals, decide which held
    /// deletes they account for, copy the tombstones they can need.
    fn take_batch(&mut self) -> Result<Batch, String> {
        let pending = std::mem::take(&mut self.pending);
        let record_units = std::mem::take(&mut self.record_units);
        let mut items: Vec<(Item, u64)> = Vec::with_capacity(pending.len());
        for mut p in pending {
            self.name_link(&mut p.item.record, p.as_of);
            let cascades = self.cascades_of(&p.item.record)?;
            let (unit, as_of) = (p.item.unit, p.as_of);
            items.push((p.item, as_of));
            for (record, envelope) in cascades {
                items.push((
                    Item {
                        record,
                        unit,
                        envelope,
                    },
                    as_of,
                ));
            }
        }
        let as_of = items.iter().map(|(_, a)| *a).max().unwrap_or(0);
        let roots: Vec<String> = items
            .iter()
            .flat_map(|(i, _)| [i.record.subject_id.clone(), i.record.target_id.clone()])
            .flatten()
            .collect();
        let tombstones = self.tombstones.subset(roots, as_of, SUBSET_DEPTH)?;
        // The held deletes each record accounts for (deleted at or before its commit) are
        // released once its events are delivered; later batches no longer need them.
        let mut resolved: Vec<(String, String)> = Vec::new();
        let mut resolvers: Vec<UnitId> = Vec::new();
        for (item, as_of) in &items {
            for (table, id) in resolved_tombstones(&item.record, &tombstones) {
                let visible = tombstones
                    .get_deleted(&table, &id)
                    .is_some_and(|(_, d)| d.commit_lsn == 0 || d.commit_lsn <= *as_of);
                if !visible {
                    continue;
                }
                self.tombstones.remove(&table, &id)?;
                resolved.push((table, id));
                resolvers.push(item.unit);
            }
        }
        let releases: Vec<(UnitId, UnitId)> = self
            .holds
            .release_many(&resolved)?
            .into_iter()
            .zip(resolvers)
            .filter_map(|(held, resolver)| Some((held?, resolver)))
            .collect();
        Ok(Batch {
            items: items.into_iter().map(|(i, _)| i).collect(),
            tombstones,
            releases,
            record_units,
        })
    }

    /// The rows near `parent` (its children and their access links) deleted by the same
    /// transaction as it.
    fn children_of(&mut self, parent: &str, deleted: Deleted) -> Result<crate::Tombstones, String> {
        let mut same_tx = crate::Tombstones::new();
        let near = self
            .tombstones
            .subset([parent.to_string()], deleted.commit_lsn, 2)?;
        for (table, id, row) in near.iter() {
            if near
                .get_deleted(table, id)
                .is_some_and(|(_, d)| d.commit_lsn == deleted.commit_lsn)
            {
                same_tx.insert_deleted(table, row.clone(), deleted);
            }
        }
        Ok(same_tx)
    }

    /// For a data product removal: the children deleted by the same transaction as the
    /// product (never rows removed earlier under their own audit rows), with the id and
    /// time of that transaction.
    fn cascades_of(
        &mut self,
        record: &AuditRecord,
    ) -> Result<Vec<(AuditRecord, TxContext)>, String> {
        let is_removal = record.name == "data_product_removed"
            || record.name == crate::catalog::DERIVED_PRODUCT_ORPHAN;
        let Some(product) = record.subject_id.as_deref().filter(|_| is_removal) else {
            return Ok(Vec::new());
        };
        let Some((_, deleted)) = self.tombstones.get("abstract_data_products", product)? else {
            return Ok(Vec::new());
        };
        let same_tx = self.children_of(product, deleted)?;
        Ok(
            cascade_removed_records(product, &same_tx, deleted.commit_lsn)
                .into_iter()
                .map(|r| (r, envelope_of(deleted)))
                .collect(),
        )
    }
}

/// The transaction a derived event names: the one that deleted its rows.
fn envelope_of(deleted: Deleted) -> TxContext {
    TxContext {
        xid: 0,
        commit_lsn: deleted.commit_lsn,
        commit_time_micros: deleted.commit_time_micros,
    }
}

fn deleted_by(tx: &TxContext) -> Deleted {
    Deleted {
        commit_lsn: tx.commit_lsn,
        commit_time_micros: tx.commit_time_micros,
    }
}

impl EnrichSession for Session {
    fn audit_row(
        &mut self,
        unit: UnitId,
        tx: &TxContext,
        row: Map<String, Value>,
    ) -> Result<Queued, Map<String, Value>> {
        match AuditRecord::from_row(&row) {
            Some(record) => Ok(Queued {
                newly_held: self.push(record, unit, *tx, tx.commit_lsn),
            }),
            None => Err(row),
        }
    }

    /// An insert of a link table names the link its pair has from now on.
    fn insert(
        &mut self,
        _unit: UnitId,
        tx: &TxContext,
        rel: &Relation,
        new: &TupleData,
    ) -> Option<Queued> {
        if self.ours(rel) && pair_columns(&rel.name).is_some() {
            let row = rows::json_row(rel, new);
            self.see_link(rel, &row, tx);
        }
        None
    }

    /// An update of `input_ports` to `EXPIRED`: access expiry is a derived event.
    fn update(
        &mut self,
        unit: UnitId,
        tx: &TxContext,
        rel: &Relation,
        new: &TupleData,
        old: Option<&TupleData>,
    ) -> Option<Queued> {
        if !self.ours(rel) || pair_columns(&rel.name).is_none() {
            return None;
        }
        let new = rows::json_row(rel, new);
        self.see_link(rel, &new, tx);
        if rel.name != "input_ports" {
            return None;
        }
        let old = old.map(|o| rows::json_row(rel, o));
        let expired = |m: &Map<String, Value>| {
            m.get("status")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case("EXPIRED"))
        };
        if expired(&new) && !old.as_ref().is_some_and(expired) {
            let record = access_expired_record(&new, tx.commit_lsn);
            debug_assert_eq!(record.name, DERIVED_ACCESS_EXPIRED);
            return Some(Queued {
                newly_held: self.push(record, unit, *tx, tx.commit_lsn),
            });
        }
        None
    }

    /// A delete of a domain table: keep its last state and hold the transaction.
    fn delete(&mut self, unit: UnitId, tx: &TxContext, rel: &Relation, old: &TupleData) -> bool {
        if !self.ours(rel) {
            return false;
        }
        let Some(table) = self.delete_tables.get(rel.name.as_str()).copied() else {
            return false;
        };
        let row = rows::json_row(rel, old);
        let Some(id) = row.get("id").and_then(Value::as_str).map(id_key) else {
            return false;
        };
        self.see_link(rel, &row, tx);
        match self.tombstones.insert(table, row, deleted_by(tx)) {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                self.broken.get_or_insert(e);
                return false;
            }
        }
        match self.holds.hold(unit, table, id, deleted_by(tx)) {
            // The same row deleted twice (re-inserted in between): the first hold is
            // superseded; its unit must not wait for it any longer.
            Ok(Some(replaced)) => tracing::debug!(
                unit = replaced,
                "a held delete was superseded by a later one"
            ),
            Ok(None) => {}
            Err(e) => {
                self.broken.get_or_insert(e);
            }
        }
        true
    }

    fn commit(&mut self, _unit: UnitId, _tx: &TxContext) {
        self.holds.tick_transaction();
    }

    fn has_due(&self, now: Instant, caught_up: bool) -> bool {
        self.holds.has_due(now, caught_up)
    }

    /// Due holds become orphan removals, queued into `unit`; their held units are
    /// released once those events are delivered (resolution at the next flush). For a
    /// data product — or an exploration, which announces only its access links — the rows
    /// its own transaction deleted with it are accounted for by its records (cascades),
    /// never emitted on their own.
    fn expire_due(&mut self, unit: UnitId, now: Instant, caught_up: bool) -> Option<Queued> {
        let due = match self.holds.take_due(now, caught_up, self.cfg.batch.max(1)) {
            Ok(due) => due,
            Err(e) => {
                self.broken.get_or_insert(e);
                return None;
            }
        };
        let mut newly_held = false;
        let mut queued = false;
        // Rows a parent processed in this chunk accounts for.
        let mut covered: HashSet<(String, String)> = HashSet::new();
        // Parents first: a product's (or exploration's) children are deleted before it in
        // its transaction, so they are older holds, but its records account for them.
        let mut due = due;
        due.sort_by_key(|h| h.table != "abstract_data_products");
        let mut due = due.into_iter();
        for h in due.by_ref() {
            if covered.contains(&(h.table.to_string(), h.id.clone())) {
                self.holds.put_back(h);
                continue;
            }
            let row = match self.tombstones.get(h.table, &h.id) {
                Ok(Some((row, _))) => row,
                Ok(None) => {
                    self.push_release(h.unit, unit);
                    continue;
                }
                Err(e) => {
                    self.broken.get_or_insert(e);
                    self.holds.put_back(h);
                    break;
                }
            };
            let mut records: Vec<AuditRecord> = Vec::new();
            if h.table == "abstract_data_products" {
                match self.children_of(&h.id, h.deleted) {
                    Ok(children) => {
                        for (t, id, _) in children.iter() {
                            covered.insert((t.to_string(), id.to_string()));
                        }
                        if is_exploration(&row) {
                            // The exploration itself is not announced.
                            records =
                                exploration_removed_records(&h.id, &children, h.deleted.commit_lsn);
                        }
                    }
                    Err(e) => {
                        self.broken.get_or_insert(e);
                        self.holds.put_back(h);
                        break;
                    }
                }
            }
            if h.table == "abstract_data_products" && is_exploration(&row) {
                if records.is_empty() {
                    self.push_release(h.unit, unit);
                    if let Err(e) = self.tombstones.remove(h.table, &h.id) {
                        self.broken.get_or_insert(e);
                    }
                } else {
                    // Its tombstone names the consumer of the access removals (kind
                    // `exploration`, owner); their resolution releases it.
                    self.holds.put_back(h.clone());
                }
            } else if let Some(record) = orphan_removed_record(h.table, &row, h.deleted.commit_lsn)
            {
                tracing::info!(
                    table = %h.table,
                    id = %h.id,
                    delete_commit = %format_lsn(h.deleted.commit_lsn),
                    "a captured delete got no audit row within capture.delete_hold_transactions; emitting it from its last known state"
                );
                // Held until the record's resolution releases it with its events.
                self.holds.put_back(h.clone());
                records.push(record);
            } else {
                // Not an entity of its own (a configuration, a request): only its parent's
                // removal names it.
                self.push_release(h.unit, unit);
            }
            for record in records {
                newly_held |= self.push(record, unit, envelope_of(h.deleted), u64::MAX);
                queued = true;
            }
        }
        for rest in due {
            self.holds.put_back(rest);
        }
        queued.then_some(Queued { newly_held })
    }

    fn batch_full(&self) -> bool {
        self.pending.len() >= self.cfg.batch.max(1)
    }

    fn has_pending(&self) -> bool {
        !self.pending.is_empty() || !self.extra_releases.is_empty() || self.broken.is_some()
    }

    fn flush(&mut self) -> BoxFuture<'static, Result<Flushed, EnrichFailure>> {
        let batch = match self.broken.take().map_or_else(|| self.take_batch(), Err) {
            Ok(mut batch) => {
                batch.releases.append(&mut self.extra_releases);
                batch
            }
            Err(e) => {
                let failure = EnrichFailure {
                    class: relay_contracts::ErrorClass::Retry,
                    message: format!("{e} (check capture.spill_dir: free space, permissions)"),
                };
                return Box::pin(std::future::ready(Err(failure)));
            }
        };
        lookups::run(batch, Arc::clone(&self.conn), Arc::clone(&self.cfg)).boxed()
    }

    fn holding(&self) -> Holding {
        Holding {
            deletes: self.holds.len() as u64,
            bytes: (self.tombstones.memory_bytes() + self.holds.memory_bytes()) as u64,
            spilled: self.tombstones.spilled_rows(),
        }
    }
}

//! The enricher: audit records of one batch → business events.
//!
//! [`Enricher::enrich`] takes the audit records of a batch, runs the catalog's lookups
//! for all of them at once (one query per entity kind, `WHERE id = ANY($1)`, independent
//! queries pipelined on the one connection), falls back on [`Tombstones`] for rows that
//! are gone, and builds one [`BusinessEvent`] per record, in order.
//!
//! Failure policy: an entity that is not found is not an error (the event says so in
//! `data.enrichment`); an unknown audit name is not an error (`portal.unknown.v1`); a
//! lookup that fails is an [`EnrichError`], retryable when the database is unreachable.

use crate::build;
use crate::catalog::{Catalog, EventSpec};
use crate::error::EnrichError;
use crate::lookup::{self, LookupClient};
use crate::model::{AuditRecord, BusinessEvent};
use crate::store::Store;
use crate::tombstones::{Row, Tombstones};

/// Turns audit records into business events with the catalog's lookups.
#[derive(Debug, Clone, Default)]
pub struct Enricher {
    catalog: Catalog,
}

impl Enricher {
    pub fn new(catalog: Catalog) -> Self {
        Self { catalog }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Enrich all records of ONE transaction with batched lookups (one query per entity
    /// kind per batch, `WHERE id = ANY($1)`), not one query per event. Returns one event per
    /// record, in the records' order. Derived records ([`access_expired_record`],
    /// [`cascade_removed_records`]) are enriched the same way.
    ///
    /// `tombstones` are the deleted rows captured so far (this transaction's and those
    /// held from earlier ones); a row no lookup finds is taken from them
    /// (`"state": "last_known"`).
    ///
    /// # Errors
    /// [`EnrichError`] when a lookup fails; nothing is returned for the batch. Retry it
    /// (on a new connection) when it is retryable ([`Classify`]).
    ///
    /// # Cancel safety
    /// Cancel safe: it only reads. Dropping the future leaves nothing half done.
    pub async fn enrich(
        &self,
        client: &LookupClient,
        records: &[AuditRecord],
        tombstones: &Tombstones,
    ) -> Result<Vec<BusinessEvent>, EnrichError> {
        let specs: Vec<Option<&'static EventSpec>> =
            records.iter().map(|r| self.catalog.spec(&r.name)).collect();
        let known: Vec<(&'static EventSpec, &AuditRecord)> = specs
            .iter()
            .zip(records)
            .filter_map(|(s, r)| s.map(|s| (s, r)))
            .collect();
        let mut store = Store::new(tombstones);
        if !known.is_empty() {
            lookup::load(client, &known, &mut store).await?;
        }
        Ok(specs
            .iter()
            .zip(records)
            .map(|(spec, rec)| match spec {
                Some(spec) => build::build(spec, rec, &store, true),
                None => build::unknown(rec),
            })
            .collect())
    }

    /// Build events without any lookup, from `tombstones` (and `extra` live rows) only:
    /// what a derived event can say when no database connection is at hand. Anything not
    /// covered is listed in `data.enrichment.missing` with status `not_looked_up`.
    pub fn build_offline(
        &self,
        records: &[AuditRecord],
        tombstones: &Tombstones,
        extra: &[(&str, Row)],
    ) -> Vec<BusinessEvent> {
        self.build_from_rows(records, tombstones, extra, false)
    }

    /// Build events as if the lookups had found exactly `live` (and `tombstones` held the
    /// deleted rows): the docs' examples and tests of the payload builders.
    pub fn build_as_found(
        &self,
        records: &[AuditRecord],
        tombstones: &Tombstones,
        live: &[(&str, Row)],
    ) -> Vec<BusinessEvent> {
        self.build_from_rows(records, tombstones, live, true)
    }

    fn build_from_rows(
        &self,
        records: &[AuditRecord],
        tombstones: &Tombstones,
        live: &[(&str, Row)],
        looked_up: bool,
    ) -> Vec<BusinessEvent> {
        let mut store = Store::new(tombstones);
        for (table, row) in live {
            store.put(table, row.clone());
        }
        records
            .iter()
            .map(|rec| match self.catalog.spec(&rec.name) {
                Some(spec) => build::build(spec, rec, &store, looked_up),
                None => build::unknown(rec),
            })
            .collect()
    }
}

//! The ids the scenarios create and `Run`, which enriches one audit row at a time and
//! records which audit names a scenario covered.

use crate::common::*;
use relay_catalog::{AuditRecord, Enricher, Tombstones};
use serde_json::{json, Value};
use std::collections::BTreeSet;

pub const DP: &str = "DATA_PRODUCT";
pub const DS: &str = "DATASET";
pub const DO: &str = "DATA_OUTPUT";
pub const U: &str = "USER";

/// Product created in the scenarios.
pub const N: &str = "11111111-0000-4000-8000-000000000004";
/// Output port of N.
pub const D2: &str = "22222222-0000-4000-8000-000000000002";
/// Output port of P that gets removed.
pub const D3: &str = "22222222-0000-4000-8000-000000000003";
/// Technical asset of N.
pub const A2: &str = "33333333-0000-4000-8000-000000000002";
/// Technical asset of N that gets removed.
pub const A3: &str = "33333333-0000-4000-8000-000000000003";

pub struct Run<'a> {
    pub db: &'a Db,
    pub enricher: Enricher,
    pub tombstones: Tombstones,
    pub covered: BTreeSet<String>,
}

impl Run<'_> {
    pub async fn sql(&self, sql: &str) {
        self.db
            .client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Enrich one audit row; check its type and subject; return the validated envelope.
    pub async fn event(&mut self, rec: AuditRecord, ty: &str, subject: &str) -> Value {
        let evs = self
            .enricher
            .enrich(
                &self.db.lookups,
                std::slice::from_ref(&rec),
                &self.tombstones,
            )
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", rec.name));
        let ev = &evs[0];
        assert_eq!(ev.event_type, ty, "{}", rec.name);
        assert_eq!(ev.subject, subject, "{}: subject", rec.name);
        assert_eq!(ev.id, rec.id);
        assert_eq!(ev.audit_name, rec.name);
        assert!(ev.enriched, "{}: not enriched: {:#}", rec.name, ev.data);
        self.covered.insert(rec.name.clone());
        let env = envelope(ev);
        assert_eq!(env["auditname"], json!(rec.name));
        env["data"].clone()
    }

    pub async fn capture(&mut self, table: &str, filter: &str) -> usize {
        capture_deletes(&self.db.client, &mut self.tombstones, table, filter).await
    }
}

//! The narrow door between the pipeline and an enrich stage.
//!
//! The pipeline knows no table names: it hands the session the rows capture gave it
//! (audit rows) and the other changes of the transaction (updates, deletes), asks it to
//! flush when it says its batch is full or a linger passed, and dispatches the events
//! a flush returns into their transactions' ack units. A session may *hold* a unit (a
//! captured delete waiting for the audit row that explains it); what it holds it
//! releases through [`Flushed::releases`] or [`Expired`]. One session lives as long as
//! one replication session: a restart replays the slot and builds a new one.

use futures::future::BoxFuture;
use pgoutput::{Relation, TupleData};
use serde_json::{Map, Value};
use std::time::Instant;

use crate::{Classify, ErrorClass, OutboundEvent, TxContext};

/// Identifies an ack unit (one per source transaction); increases with commit order.
pub type UnitId = u64;

/// Builds one [`EnrichSession`] per replication session.
pub trait EnrichStage: Send + Sync + 'static {
    fn session(&self) -> Box<dyn EnrichSession>;
}

/// A row was queued for enrichment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Queued {
    /// The unit was not waiting for this session before: the pipeline must hold it
    /// until a flush lists it in [`Flushed::record_units`].
    pub newly_held: bool,
}

/// What a flush produced.
#[derive(Debug, Default)]
pub struct Flushed {
    /// Events to dispatch, each into its transaction's unit, in WAL order.
    pub events: Vec<(UnitId, OutboundEvent)>,
    /// (held delete unit, unit whose delivery releases it).
    pub releases: Vec<(UnitId, UnitId)>,
    /// Units that were held for pending records: release once the events are dispatched.
    pub record_units: Vec<UnitId>,
}

/// What the session holds back on purpose (captured deletes waiting for their audit
/// row): reported for metrics and bounded by the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Holding {
    /// Captured deletes waiting.
    pub deletes: u64,
    /// Bytes their last known rows hold in memory.
    pub bytes: u64,
    /// Rows kept in a local file instead (past the memory budget).
    pub spilled: u64,
}

/// Enrichment failed; nothing of the batch was emitted.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct EnrichFailure {
    pub class: ErrorClass,
    /// One line naming what failed and the fix.
    pub message: String,
}

impl Classify for EnrichFailure {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

/// One replication session's enrich state.
///
/// Every method but [`EnrichSession::flush`] is synchronous and cheap: the pipeline calls
/// them from its loop as it reads. `flush` hands back a `'static` future that runs the
/// lookups off the loop; the pipeline keeps several in flight and applies their results
/// in the order it started them (WAL order).
pub trait EnrichSession: Send {
    /// A row of the captured audit table. `Err` gives the row back when it is not a
    /// usable record (the pipeline dead-letters it).
    fn audit_row(
        &mut self,
        unit: UnitId,
        tx: &TxContext,
        row: Map<String, Value>,
    ) -> Result<Queued, Map<String, Value>>;

    /// An INSERT of any other published table; `Some` when it queued a (derived) record.
    fn insert(
        &mut self,
        unit: UnitId,
        tx: &TxContext,
        rel: &Relation,
        new: &TupleData,
    ) -> Option<Queued>;

    /// An UPDATE of any published table; `Some` when it queued a (derived) record.
    fn update(
        &mut self,
        unit: UnitId,
        tx: &TxContext,
        rel: &Relation,
        new: &TupleData,
        old: Option<&TupleData>,
    ) -> Option<Queued>;

    /// A DELETE of any published table (`old`: the old tuple or key); `true` when the
    /// session keeps it and the pipeline must hold `unit` until a flush releases it.
    fn delete(&mut self, unit: UnitId, tx: &TxContext, rel: &Relation, old: &TupleData) -> bool;

    /// The transaction of `unit` committed (one more transaction read: held deletes age
    /// by WAL position, not by the clock).
    fn commit(&mut self, unit: UnitId, tx: &TxContext);

    /// Held deletes are due: they waited their number of transactions, or — only when
    /// `caught_up` (the reader has read everything the server had) — their time.
    fn has_due(&self, now: Instant, caught_up: bool) -> bool;

    /// Queue the removals of due held deletes (a bounded chunk) into `unit`, a unit the
    /// pipeline opened for them at the current position; `Some` when it queued any.
    fn expire_due(&mut self, unit: UnitId, now: Instant, caught_up: bool) -> Option<Queued>;

    /// Enough records wait that a flush should run now.
    fn batch_full(&self) -> bool;

    /// Records wait for a flush.
    fn has_pending(&self) -> bool;

    /// Take every pending record and return the job that enriches them: lookups run
    /// when the future is polled, off the pipeline's loop.
    ///
    /// # Cancel safety
    /// Dropping the future loses the batch's events: the pipeline only does so when the
    /// run ends, and the slot then replays them.
    fn flush(&mut self) -> BoxFuture<'static, Result<Flushed, EnrichFailure>>;

    /// What is held back on purpose right now.
    fn holding(&self) -> Holding;
}

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

/// A hold that expired: the events to dispatch into its unit, and other holds its
/// events account for (released when that unit resolves).
#[derive(Debug)]
pub struct Expired {
    pub unit: UnitId,
    pub events: Vec<OutboundEvent>,
    pub also_released: Vec<UnitId>,
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
pub trait EnrichSession: Send {
    /// A row of the captured audit table. `Err` gives the row back when it is not a
    /// usable record (the pipeline dead-letters it).
    fn audit_row(
        &mut self,
        unit: UnitId,
        tx: &TxContext,
        row: Map<String, Value>,
    ) -> Result<Queued, Map<String, Value>>;

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
    /// session keeps it and the pipeline must hold `unit` until it is released.
    fn delete(&mut self, unit: UnitId, tx: &TxContext, rel: &Relation, old: &TupleData) -> bool;

    /// Enough records wait that a flush should run now.
    fn batch_full(&self) -> bool;

    /// Records wait for a flush.
    fn has_pending(&self) -> bool;

    /// Enrich every pending record.
    ///
    /// # Cancel safety
    /// Not cancel safe: pending records are taken out when it starts.
    fn flush(&mut self) -> BoxFuture<'_, Result<Flushed, EnrichFailure>>;

    /// Deletes are held.
    fn has_holds(&self) -> bool;

    /// Emit the holds whose time is up (`now` passed their deadline).
    fn expire(&mut self, now: Instant) -> BoxFuture<'_, Result<Vec<Expired>, EnrichFailure>>;
}

//! Enrich: the Data Product Portal's event catalog.
//!
//! ```text
//! source ─► pgoutput decode ─► capture ─► **enrich (catalog)** ─► deliver (sinks) ─► track (LSN)
//!                               │            ▲
//!                               │ deletes    │ batched SQL lookups on an ordinary connection
//!                               └─► Tombstones (last known state of deleted rows)
//! ```
//!
//! Capture turns each row of the portal's audit table into an [`AuditRecord`] and each
//! captured domain delete into a tombstone ([`Tombstones`]). The [`Enricher`] turns the
//! records of one transaction into [`BusinessEvent`]s: the [`Catalog`] says what each audit
//! name becomes (CloudEvents `type` `portal.<entity>.<action>.v1`, route, aggregate,
//! implied status) and which named lookups fill its payload; the lookups run once per
//! entity kind for the whole batch. Deliver wraps each event in its CloudEvents envelope
//! ([`BusinessEvent::to_cloudevent`]).
//!
//! The contract for consumers (a JSON Schema per event type, an AsyncAPI 3.0 document,
//! the catalog page) is generated from the same catalog by `relay-catalog-docs`, which
//! the runtime does not need, and checked into `docs/`.
//!
//! Modules, leaves first (no import circles): `catalog` (the specs as data) and
//! `queries` (the lookup SQL); `tombstones` (deleted rows) and `model` (records, events,
//! statuses); `store` (rows a batch can see); `build` (one builder per entity);
//! `lookup` (the batched queries); `enricher` (records → events); `resolve` and
//! `derived` (which held deletes a record explains, events the portal does not audit);
//! `stage` (the enrich stage the pipeline calls).

mod build;
pub mod catalog;
mod derived;
mod enricher;
mod error;
mod lookup;
mod model;
mod queries;
mod resolve;
mod stage;
mod store;
mod tombstones;

pub use catalog::{
    Aggregate, CapturedTable, Catalog, ConfigurationType, Entity, EventSpec, NamedQuery,
    Orientation, Origin, RefType, Side, UNKNOWN_EVENT_TYPE, UNKNOWN_ROUTE,
};
pub use derived::{
    access_expired_event, access_expired_record, cascade_removed_events, cascade_removed_records,
    exploration_removed_records, is_exploration, orphan_removed_record,
};
pub use enricher::Enricher;
pub use error::EnrichError;
pub use lookup::LookupClient;
pub use model::{
    refs, AuditRecord, BusinessEvent, EnvelopeContext, Refs, STATUS_COMPLETE, STATUS_NOT_FOUND,
    STATUS_NOT_LOOKED_UP, STATUS_UNKNOWN_CONFIGURATION, STATUS_UNKNOWN_NAME,
};
pub use relay_contracts::now_rfc3339;
pub use resolve::resolved_tombstones;
pub use stage::{ConnectFailure, Connector, EnrichConfig, PortalEnrichStage};
pub use tombstones::{old_tuple_row, Row, Tombstones};

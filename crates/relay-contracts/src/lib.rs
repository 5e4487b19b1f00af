//! The contracts between the relay's stages, in one leaf crate.
//!
//! ```text
//!  relay-source ──SourceEvent──► relay-pipeline ──Arc<OutboundEvent>──► relay-sinks
//!   (ChangeSource)                 │  ▲    (capture, lanes, tracker)        (Sink)
//!                                  ▼  │ EnrichSession
//!                                relay-catalog (the portal's enrich stage)
//! ```
//!
//! Every stage crate depends on this one and on none of the others; only the binary
//! wires them together. What lives here:
//!
//! - [`SourceEvent`] and [`ChangeSource`]: what the replication source hands on, in WAL
//!   order, and how positions are confirmed back to it.
//! - [`Sink`], [`Outcome`], [`Probe`], [`SinkError`]: a destination takes a batch of
//!   events and reports one outcome per event; `probe` says, without side effects,
//!   whether it is reachable. [`DeadLetterWriter`] is where refused events go.
//! - [`OutboundEvent`] and [`TxContext`]: an event ready to send and the transaction it
//!   came from; [`Lsn`] for positions in their text form; [`derived_event_id`] and
//!   [`derived_event_id_at`] for the stable ids of events without an audit row; commit
//!   times as RFC 3339.
//! - [`ErrorClass`] and [`Classify`]: the one way any stage says "retry", "dead-letter"
//!   or "stop", with the SQLSTATE table in [`sqlstate`].
//! - [`Backoff`] and [`Retry`]: the one backoff policy (capped, exponential, jittered)
//!   every retry loop takes its delays from.
//! - [`EnrichStage`] and [`EnrichSession`]: the narrow door through which the pipeline
//!   calls an enrich stage it knows nothing else about.
//! - [`Observer`]: what the stages report for metrics (the binary implements it).
//! - [`config`]: serde helpers shared by every configuration section.

mod backoff;
pub mod config;
mod enrich;
mod error;
mod event;
mod ids;
mod lsn;
mod observe;
mod sink;
mod source;
pub mod sqlstate;
mod time;

pub use backoff::{Backoff, BackoffError, Retry};
pub use enrich::{EnrichFailure, EnrichSession, EnrichStage, Flushed, Holding, Queued, UnitId};
pub use error::{Classify, ErrorClass};
pub use event::{OutboundEvent, TxContext};
pub use ids::{derived_event_id, derived_event_id_at};
pub use lsn::{format_lsn, parse_lsn, Lsn};
pub use observe::{NoObserver, Observer};
pub use sink::{
    Batch, DeadLetterContent, DeadLetterRecord, DeadLetterWriter, Outcome, Probe, Sink, SinkError,
    SinkErrorKind,
};
pub use source::{ChangeSource, SourceEvent};
pub use time::{now_rfc3339, pg_micros_to_rfc3339, since_pg_micros};

//! Enrichment against a real PostgreSQL 15 with the portal-like schema: one scenario per
//! audit name (the portal's change, then the audit row the portal writes), removals from
//! captured deletes, derived events, unknown names, missing entities and failures.
//! Every emitted envelope is validated against its JSON Schema.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod audit_names;
mod batching;
mod derived;
mod failures;

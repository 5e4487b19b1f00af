//! `type = "file"`: append-only JSON lines, acked after `fsync`.
//!
//! ```text
//! pipeline lane ─► **FileSink::publish** ─► line writer thread (batch, write, fsync) ─► Outcome
//! ```
//!
//! The worked example of a sink (see `docs/architecture.md`): `config` (the section and
//! how it builds the sink), `encode` (event → bytes), `sink` (the [`Sink`](relay_contracts::Sink)
//! impl). It has no `client`: the shared line writer is its connection.

mod config;
mod encode;
mod sink;

pub use config::FileConfig;
pub use sink::FileSink;

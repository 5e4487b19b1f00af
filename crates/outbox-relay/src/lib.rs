//! The `outbox-relay` binary's library half: configuration, the reconnecting run loop,
//! `check` and `demo`. This is the edge of the program, where every stage is wired:
//!
//! ```text
//! config ─► Relay::run ─► [PgSource ─► Pipeline(capture ─► lanes ─► sinks) ─► tracker] ─┐
//!               ▲                                                                         │
//!               └─────────── reconnect with backoff on retryable errors ◄─────────────────┘
//! ```
//!
//! Errors here are `anyhow`: they end up as one line on stderr and an exit code.

pub mod check;
pub mod config;
pub mod demo;
pub mod relay;
pub mod status;
pub mod telemetry;

pub use config::Config;
pub use relay::Relay;

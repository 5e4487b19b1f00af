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

/// mimalloc instead of the system allocator, for the binary and everything linking this
/// library (tests, benchmarks): building and encoding an enriched event allocates per
/// value, and glibc's allocator showed up as the largest single cost in profiles.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod check;
pub mod config;
pub mod demo;
pub mod portal_v2;
pub mod relay;
pub mod status;
pub mod telemetry;

pub use config::Config;
pub use relay::Relay;

//! `type = "null"`: acks everything at once. For benchmarks that isolate pipeline cost.
//!
//! Files as in every sink: `config`, `sink` (nothing is encoded, no `client`).

mod config;
mod sink;

pub use config::NullConfig;
pub use sink::NullSink;

//! `type = "stdout"`: JSON lines on standard output, acked after flush (logs go to stderr).
//!
//! Files as in every sink: `config`, `encode`, `sink`; no `client`.

mod config;
mod encode;
mod sink;

pub use config::StdoutConfig;
pub use sink::StdoutSink;

//! Telemetry at the binary's edge: the Prometheus metrics, the relay's state (what
//! `/health/ready` and the state-change log lines say) and the HTTP listener that serves
//! both (`[metrics] listen`).
//!
//! ```text
//! pipeline, lanes, enrich stage ──Observer──► Telemetry (prometheus-client families)
//! pipeline Metrics (atomics) ───────────────► gauges, copied at each scrape
//! run loop ──set_state──► State ──► /health/ready, one log line per change
//! slot poller (server query) ─────────────► slot lag gauges
//! ```

mod metrics;
mod server;
mod state;

pub use metrics::Telemetry;
pub use server::serve;
pub use state::{RelayState, StateCell};

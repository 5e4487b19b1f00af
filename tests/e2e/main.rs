//! End-to-end tests of the relay's spine against real PostgreSQL clusters (one per test).
//! Run through `scripts/test.sh`, which installs and points at every service needed.

mod azure;
mod chaos;
mod check;
mod compare;
mod crash;
mod enrich_stage;
mod enrichment;
mod failing_sink;
mod idle;
mod malformed;
mod nats;
mod operate;
mod ordering;
mod portal_truth;
mod portal_v2;
mod profiles;
mod restart;
mod schema_change;
mod sqs;
mod takeover;
mod tls;
mod webhook;

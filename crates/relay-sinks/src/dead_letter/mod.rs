//! The dead-letter file: where events go that no sink will ever take, and rows that could
//! not be made into events. A dead-letter write that is durable counts as the event's
//! outcome, so the confirmed LSN may pass it.
//!
//! Files as in every sink: `config` (the `[dead_letter]` section), `sink` (the
//! [`DeadLetterWriter`](relay_contracts::DeadLetterWriter) impl); records encode themselves
//! (`relay_contracts::DeadLetterRecord::encode`).

mod config;
mod sink;

pub use config::DeadLetterConfig;
pub use sink::DeadLetter;

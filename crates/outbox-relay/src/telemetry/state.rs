//! The relay's state, one value at a time; each change is one log line.

use std::sync::{Arc, Mutex};

/// Where the relay is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayState {
    Starting,
    /// Connected to PostgreSQL, about to stream.
    Connected,
    Streaming,
    /// Another relay holds the slot; this one waits to take over.
    Standby,
    /// Not streaming, for the reason given (a retry is scheduled).
    Waiting(String),
    Draining,
    Stopped,
}

impl RelayState {
    pub fn name(&self) -> &'static str {
        match self {
            RelayState::Starting => "starting",
            RelayState::Connected => "connected",
            RelayState::Streaming => "streaming",
            RelayState::Standby => "standby",
            RelayState::Waiting(_) => "waiting",
            RelayState::Draining => "draining",
            RelayState::Stopped => "stopped",
        }
    }
}

/// The current state, shared by the run loop and the health endpoint.
#[derive(Debug, Clone)]
pub struct StateCell(Arc<Mutex<RelayState>>);

impl Default for StateCell {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(RelayState::Starting)))
    }
}

impl StateCell {
    /// Change the state; logs one line when it actually changes.
    pub fn set(&self, next: RelayState) {
        let mut cur = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if *cur == next {
            return;
        }
        match &next {
            RelayState::Waiting(why) => {
                tracing::warn!(state = next.name(), reason = %why, "state: waiting")
            }
            RelayState::Standby => tracing::info!(
                state = next.name(),
                "state: standby (another relay holds the slot; taking over when it is free)"
            ),
            other => tracing::info!(state = other.name(), "state: {}", other.name()),
        }
        *cur = next;
    }

    pub fn get(&self) -> RelayState {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

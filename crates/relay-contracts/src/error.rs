//! One classification of failures, used by every stage.
//!
//! The source, the enrich stage, the sinks and the pipeline each have their own typed
//! errors (what went wrong is theirs to say), but what to *do* about an error is
//! decided by one question with three answers:
//!
//! | class | meaning | what happens |
//! |---|---|---|
//! | [`ErrorClass::Retry`] | the same work may succeed later (outage, timeout, throttling, lock) | back off ([`crate::Backoff`]) and try again; the confirmed LSN waits |
//! | [`ErrorClass::DeadLetter`] | this one event or row can never succeed (too large, malformed) | write it to the dead-letter destination, or stop when there is none |
//! | [`ErrorClass::Fatal`] | nothing will succeed until an operator acts (credentials, missing slot, schema) | stop with one line naming the fix |

/// What to do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// Try again later; the confirmed LSN waits.
    Retry,
    /// This item can never succeed: dead-letter it (or stop without a destination).
    DeadLetter,
    /// Stop: an operator must act.
    Fatal,
}

impl ErrorClass {
    pub fn is_retry(self) -> bool {
        self == ErrorClass::Retry
    }
}

/// Errors that know their [`ErrorClass`].
pub trait Classify {
    fn class(&self) -> ErrorClass;

    /// Shorthand for `class() == Retry`.
    fn is_retryable(&self) -> bool {
        self.class().is_retry()
    }
}

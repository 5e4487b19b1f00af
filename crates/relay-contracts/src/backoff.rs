//! The one backoff policy: capped exponential delays with jitter.
//!
//! Every retry loop in the relay (a publish, a lookup, a dead-letter write, a
//! reconnect) takes its delays from a [`Backoff`], so "how long do we wait" has one
//! answer and one set of configuration keys. Jitter spreads retries of many lanes (or
//! many relays) so they do not hit a recovering broker in step. A [`Retry`] counts the
//! attempts of one loop and is reset only when work made progress, never merely
//! because a connection opened.

use rand::Rng;
use std::time::Duration;

/// Capped exponential backoff with jitter: attempt `n` waits
/// `min(max, initial · 2ⁿ)`, reduced by a random share of up to `jitter` of itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    /// Share of each delay that is random, in `0.0..=1.0` (0.5: between half and all of it).
    pub jitter: f64,
}

/// A backoff that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackoffError {
    #[error("the initial retry delay must be positive (a zero delay retries in a tight loop)")]
    ZeroInitial,
    #[error("the maximum retry delay ({max:?}) is below the initial one ({initial:?})")]
    MaxBelowInitial { initial: Duration, max: Duration },
    #[error("jitter must be between 0 and 1, got {0}")]
    Jitter(String),
}

impl Backoff {
    /// Jitter used unless configured otherwise.
    pub const DEFAULT_JITTER: f64 = 0.5;

    /// A policy with the default jitter; rejects a zero initial delay and `max < initial`.
    pub fn new(initial: Duration, max: Duration) -> Result<Self, BackoffError> {
        let b = Backoff {
            initial,
            max,
            jitter: Self::DEFAULT_JITTER,
        };
        b.validate()?;
        Ok(b)
    }

    pub fn with_jitter(mut self, jitter: f64) -> Result<Self, BackoffError> {
        self.jitter = jitter;
        self.validate()?;
        Ok(self)
    }

    pub fn validate(&self) -> Result<(), BackoffError> {
        if self.initial.is_zero() {
            return Err(BackoffError::ZeroInitial);
        }
        if self.max < self.initial {
            return Err(BackoffError::MaxBelowInitial {
                initial: self.initial,
                max: self.max,
            });
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(BackoffError::Jitter(self.jitter.to_string()));
        }
        Ok(())
    }

    /// The delay before retry number `attempt` (0 = the first retry), without jitter.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay before retry number `attempt`, with jitter. Never zero when `initial`
    /// is positive: jitter removes at most `jitter` of the delay, and at least 1 ms stays.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let jitter = self.jitter.clamp(0.0, 1.0);
        if jitter == 0.0 {
            return ceiling;
        }
        let cut = rand::thread_rng().gen_range(0.0..jitter);
        ceiling
            .mul_f64(1.0 - cut)
            .max(Duration::from_millis(1).min(ceiling))
    }

    /// A fresh attempt counter on this policy.
    pub fn retry(&self) -> Retry {
        Retry {
            policy: *self,
            attempt: 0,
        }
    }
}

/// The attempts of one retry loop.
#[derive(Debug, Clone)]
pub struct Retry {
    policy: Backoff,
    attempt: u32,
}

impl Retry {
    /// The delay to wait before the next attempt; counts the attempt.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.policy.delay(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        d
    }

    /// Failed attempts since the last [`Retry::reset`].
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Work made progress: the next failure starts from the initial delay again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn policy(&self) -> &Backoff {
        &self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn capped_exponential_within_jitter() {
        let b = Backoff::new(ms(100), ms(1000)).unwrap();
        for (attempt, ceiling) in [
            (0, 100),
            (1, 200),
            (2, 400),
            (3, 800),
            (4, 1000),
            (30, 1000),
        ] {
            assert_eq!(b.ceiling(attempt), ms(ceiling));
            for _ in 0..50 {
                let d = b.delay(attempt);
                assert!(d <= ms(ceiling) && d >= ms(ceiling / 2), "{attempt}: {d:?}");
            }
        }
        let exact = b.with_jitter(0.0).unwrap();
        assert_eq!(exact.delay(2), ms(400));
    }

    #[test]
    fn zero_and_inverted_policies_are_refused() {
        assert_eq!(
            Backoff::new(Duration::ZERO, ms(10)),
            Err(BackoffError::ZeroInitial)
        );
        assert!(Backoff::new(ms(10), ms(5)).is_err());
        assert!(Backoff::new(ms(10), ms(50))
            .unwrap()
            .with_jitter(1.5)
            .is_err());
    }

    #[test]
    fn retry_counts_and_resets_only_when_told() {
        let mut r = Backoff::new(ms(10), ms(80))
            .unwrap()
            .with_jitter(0.0)
            .unwrap()
            .retry();
        assert_eq!(r.next_delay(), ms(10));
        assert_eq!(r.next_delay(), ms(20));
        assert_eq!(r.attempts(), 2);
        r.reset();
        assert_eq!(r.next_delay(), ms(10));
    }
}

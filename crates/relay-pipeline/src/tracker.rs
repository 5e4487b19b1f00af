//! Ack units resolved in commit order become the confirmed LSN.
//!
//! One unit per source transaction. A unit is resolved when its transaction has
//! committed (its `end_lsn` is known) and every (event, sink) pair in it has a final
//! outcome (acked, or durably dead-lettered). The confirmed LSN is the `end_lsn` of the
//! newest unit such that it and every unit before it are resolved; a failure anywhere
//! holds it back (DESIGN.md invariants 1 and 3). When nothing read is unresolved, an idle
//! position (a keepalive's `wal_end`) may be confirmed so an idle table pins no WAL.

use std::collections::{HashMap, VecDeque};

pub use relay_contracts::UnitId;

#[derive(Debug)]
struct Unit {
    end_lsn: Option<u64>,
    pending: u64,
    /// Commit time of its transaction (µs since 2000-01-01), 0 when it has none.
    commit_time_micros: i64,
}

/// The ordered LSN tracker. Not thread-safe by design: the pipeline loop owns it.
#[derive(Debug, Default)]
pub struct Tracker {
    units: VecDeque<Unit>,
    /// Id of `units[0]`.
    base: UnitId,
    confirmed: u64,
    inflight_pairs: u64,
    inflight_bytes: u64,
    /// resolver unit → held units to release once the resolver is resolved.
    waiters: HashMap<UnitId, Vec<UnitId>>,
}

impl Tracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Open a unit for a transaction that has begun.
    pub fn open(&mut self) -> UnitId {
        self.open_at(0)
    }

    /// Open a unit for a transaction that committed at `commit_time_micros`.
    pub fn open_at(&mut self, commit_time_micros: i64) -> UnitId {
        self.units.push_back(Unit {
            end_lsn: None,
            pending: 0,
            commit_time_micros,
        });
        self.base + self.units.len() as u64 - 1
    }

    /// Commit time of `id`'s transaction (0: unknown).
    pub fn commit_time(&self, id: UnitId) -> i64 {
        id.checked_sub(self.base)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.units.get(i))
            .map_or(0, |u| u.commit_time_micros)
    }

    /// Commit time of the oldest unresolved transaction that has one (0: none):
    /// how far behind the confirmed position is, in time.
    pub fn oldest_unresolved_commit_time(&self) -> i64 {
        self.units
            .iter()
            .map(|u| u.commit_time_micros)
            .find(|t| *t != 0)
            .unwrap_or(0)
    }

    fn unit(&mut self, id: UnitId) -> Option<&mut Unit> {
        let idx = usize::try_from(id.checked_sub(self.base)?).ok()?;
        self.units.get_mut(idx)
    }

    /// Register `pairs` outstanding outcomes (one per sink) of `bytes` each in `id`.
    pub fn add(&mut self, id: UnitId, pairs: u64, bytes: u64) {
        if let Some(u) = self.unit(id) {
            u.pending += pairs;
            self.inflight_pairs += pairs;
            self.inflight_bytes += pairs * bytes;
        }
    }

    /// The transaction of `id` committed at `end_lsn`.
    pub fn close(&mut self, id: UnitId, end_lsn: u64) {
        if let Some(u) = self.unit(id) {
            u.end_lsn = Some(end_lsn);
        }
        self.fire_waiters(id);
    }

    /// Hold `id` unresolved (e.g. a captured delete waiting for its audit row) until
    /// [`Tracker::release`] or a resolver registered with [`Tracker::release_when`].
    pub fn hold(&mut self, id: UnitId) {
        if let Some(u) = self.unit(id) {
            u.pending += 1;
        }
    }

    /// Release one hold of `id`.
    pub fn release(&mut self, id: UnitId) {
        let mut done = false;
        if let Some(u) = self.unit(id) {
            if u.pending > 0 {
                u.pending -= 1;
                done = u.pending == 0 && u.end_lsn.is_some();
            }
        }
        if done {
            self.fire_waiters(id);
        }
    }

    /// Release one hold of `held` once `resolver` is resolved (at once if it already is).
    pub fn release_when(&mut self, held: UnitId, resolver: UnitId) {
        if held == resolver || self.is_resolved(resolver) {
            self.release(held);
        } else {
            self.waiters.entry(resolver).or_default().push(held);
        }
    }

    fn is_resolved(&mut self, id: UnitId) -> bool {
        if id < self.base {
            return true;
        }
        self.unit(id)
            .is_none_or(|u| u.pending == 0 && u.end_lsn.is_some())
    }

    fn fire_waiters(&mut self, id: UnitId) {
        if self.waiters.contains_key(&id) && self.is_resolved(id) {
            for held in self.waiters.remove(&id).unwrap_or_default() {
                self.release(held);
            }
        }
    }

    /// One (event, sink) pair of `id` has its final outcome.
    pub fn resolve(&mut self, id: UnitId, bytes: u64) {
        let mut released = false;
        if let Some(u) = self.unit(id) {
            if u.pending > 0 {
                u.pending -= 1;
                released = true;
            }
        }
        if released {
            self.inflight_pairs -= 1;
            self.inflight_bytes = self.inflight_bytes.saturating_sub(bytes);
            self.fire_waiters(id);
        }
    }

    /// Pop resolved units from the front; returns the new confirmed LSN if it moved.
    pub fn advance(&mut self) -> Option<u64> {
        let before = self.confirmed;
        while let Some(front) = self.units.front() {
            match front.end_lsn {
                Some(end) if front.pending == 0 => {
                    self.confirmed = self.confirmed.max(end);
                    self.units.pop_front();
                    self.base += 1;
                }
                _ => break,
            }
        }
        (self.confirmed > before).then_some(self.confirmed)
    }

    /// Nothing read is unresolved: confirm an idle position (keepalive `wal_end`).
    /// Returns the new confirmed LSN if it moved; does nothing while any unit is open.
    pub fn confirm_idle(&mut self, position: u64) -> Option<u64> {
        if !self.units.is_empty() || position <= self.confirmed {
            return None;
        }
        self.confirmed = position;
        Some(position)
    }

    pub fn confirmed(&self) -> u64 {
        self.confirmed
    }

    /// Units not yet resolved (open transactions included).
    pub fn unresolved_units(&self) -> usize {
        self.units.len()
    }

    /// Outstanding (event, sink) outcomes.
    pub fn inflight_pairs(&self) -> u64 {
        self.inflight_pairs
    }

    /// Bytes held by outstanding (event, sink) outcomes.
    pub fn inflight_bytes(&self) -> u64 {
        self.inflight_bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_failure_holds_back_later_successes() {
        let mut t = Tracker::new();
        let a = t.open();
        t.add(a, 1, 10);
        t.close(a, 100);
        let b = t.open();
        t.add(b, 1, 10);
        t.close(b, 200);
        t.resolve(b, 10);
        assert_eq!(t.advance(), None, "b is done but a is not");
        t.resolve(a, 10);
        assert_eq!(t.advance(), Some(200));
        assert_eq!(t.inflight_pairs(), 0);
        assert_eq!(t.inflight_bytes(), 0);
    }

    #[test]
    fn open_transaction_is_never_confirmed() {
        let mut t = Tracker::new();
        let a = t.open();
        t.add(a, 1, 1);
        t.resolve(a, 1);
        assert_eq!(t.advance(), None);
        assert_eq!(
            t.confirm_idle(500),
            None,
            "idle position while a unit is open"
        );
        t.close(a, 50);
        assert_eq!(t.advance(), Some(50));
        assert_eq!(t.confirm_idle(500), Some(500));
        assert_eq!(t.confirm_idle(400), None, "never backwards");
    }

    #[test]
    fn a_held_unit_waits_for_its_resolver() {
        let mut t = Tracker::new();
        let delete = t.open();
        t.hold(delete);
        t.close(delete, 10);
        let event = t.open();
        t.add(event, 1, 5);
        t.close(event, 20);
        t.release_when(delete, event);
        assert_eq!(
            t.advance(),
            None,
            "the delete is held until the event is acked"
        );
        t.resolve(event, 5);
        assert_eq!(t.advance(), Some(20));
        // a hold released at once when delete and event share a transaction
        let both = t.open();
        t.hold(both);
        t.release_when(both, both);
        t.close(both, 30);
        assert_eq!(t.advance(), Some(30));
    }

    #[test]
    fn empty_transactions_resolve_at_commit() {
        let mut t = Tracker::new();
        let a = t.open();
        t.close(a, 70);
        assert_eq!(t.advance(), Some(70));
    }

    proptest! {
        /// Whatever order outcomes arrive in, the confirmed LSN is monotonic and never
        /// passes the first unit with an unresolved pair.
        #[test]
        fn confirmed_never_passes_an_unresolved_unit(
            sizes in proptest::collection::vec(0u64..4, 1..40),
            order in proptest::collection::vec(any::<prop::sample::Index>(), 0..200),
        ) {
            let mut t = Tracker::new();
            let mut pending: Vec<(UnitId, u64)> = Vec::new();
            let mut remaining: Vec<u64> = Vec::new();
            for (i, n) in sizes.iter().enumerate() {
                let id = t.open();
                t.add(id, *n, 1);
                t.close(id, (i as u64 + 1) * 10);
                for _ in 0..*n { pending.push((id, (i as u64 + 1) * 10)); }
                remaining.push(*n);
            }
            let mut last = 0;
            for idx in order {
                if pending.is_empty() { break; }
                let (id, _) = pending.swap_remove(idx.index(pending.len()));
                t.resolve(id, 1);
                remaining[id as usize] -= 1;
                t.advance();
                let c = t.confirmed();
                prop_assert!(c >= last);
                last = c;
                let first_unresolved = remaining.iter().position(|r| *r > 0);
                if let Some(f) = first_unresolved {
                    prop_assert!(c < (f as u64 + 1) * 10);
                }
            }
            for (id, _) in pending.drain(..) { t.resolve(id, 1); }
            t.advance();
            prop_assert_eq!(t.confirmed(), sizes.len() as u64 * 10);
        }
    }
}

//! Captured deletes held until the audit row that explains them, aged by WAL position.
//!
//! A delete of a catalogued domain table holds its transaction's ack unit (the slot may
//! not pass it) until a record resolves it — the audit row of the removal, or the
//! removal of its parent — or until it is due: `max_transactions` transactions have been
//! read past it. Counting transactions read, not seconds, makes a live run and a replay
//! of the same WAL decide alike. Only when the reader has caught up with the server (no
//! more WAL to read, so a replay could not see the audit row sooner) does a hold also
//! fall due after `max_age`, so an idle database does not pin its slot.

use relay_contracts::UnitId;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use crate::tombstones::Deleted;

/// One held delete.
#[derive(Debug, Clone)]
pub(super) struct Held {
    pub unit: UnitId,
    pub table: &'static str,
    pub id: String,
    pub deleted: Deleted,
    /// Its place in capture order.
    seq: u64,
    /// Transactions read when it was captured.
    at_tx: u64,
    since: Instant,
}

/// The held deletes, oldest first.
#[derive(Debug)]
pub(super) struct Holds {
    by_seq: BTreeMap<u64, Held>,
    by_key: HashMap<(&'static str, String), u64>,
    next_seq: u64,
    /// Transactions read so far in this session.
    txs: u64,
    max_transactions: u64,
    max_age: Duration,
}

impl Holds {
    pub(super) fn new(max_transactions: u64, max_age: Duration) -> Self {
        Self {
            by_seq: BTreeMap::new(),
            by_key: HashMap::new(),
            next_seq: 0,
            txs: 0,
            max_transactions: max_transactions.max(1),
            max_age,
        }
    }

    /// Hold a delete (a second delete of the same row replaces the first hold, whose
    /// unit is returned to be released).
    pub(super) fn hold(
        &mut self,
        unit: UnitId,
        table: &'static str,
        id: String,
        deleted: Deleted,
    ) -> Option<UnitId> {
        let replaced = self.release(table, &id);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_key.insert((table, id.clone()), seq);
        self.by_seq.insert(
            seq,
            Held {
                unit,
                table,
                id,
                deleted,
                seq,
                at_tx: self.txs,
                since: Instant::now(),
            },
        );
        replaced
    }

    /// Hold again what [`Holds::take_due`] took, in its place and with its age.
    pub(super) fn put_back(&mut self, h: Held) {
        self.by_key.insert((h.table, h.id.clone()), h.seq);
        self.by_seq.insert(h.seq, h);
    }

    /// A record resolved this delete: stop holding it; returns its unit.
    pub(super) fn release(&mut self, table: &str, id: &str) -> Option<UnitId> {
        let key = (table_static(table)?, id.to_string());
        let seq = self.by_key.remove(&key)?;
        self.by_seq.remove(&seq).map(|h| h.unit)
    }

    #[cfg(test)]
    pub(super) fn is_held(&self, table: &str, id: &str) -> bool {
        table_static(table).is_some_and(|t| self.by_key.contains_key(&(t, id.to_string())))
    }

    /// One more transaction was read.
    pub(super) fn tick_transaction(&mut self) {
        self.txs += 1;
    }

    fn due(&self, h: &Held, now: Instant, caught_up: bool) -> bool {
        self.txs.saturating_sub(h.at_tx) >= self.max_transactions
            || (caught_up && now.duration_since(h.since) >= self.max_age)
    }

    /// Whether the oldest hold is due (holds age in capture order, so it is the first).
    pub(super) fn has_due(&self, now: Instant, caught_up: bool) -> bool {
        self.by_seq
            .values()
            .next()
            .is_some_and(|h| self.due(h, now, caught_up))
    }

    /// Take up to `limit` due holds, oldest first, and never part of a transaction: the
    /// holds of one transaction fall due together (a product's children are held before
    /// it, a moment earlier, yet its removal accounts for them).
    pub(super) fn take_due(&mut self, now: Instant, caught_up: bool, limit: usize) -> Vec<Held> {
        let mut out: Vec<Held> = Vec::new();
        while let Some((&seq, h)) = self.by_seq.iter().next() {
            let same_tx = out.last().is_some_and(|last| {
                last.deleted.commit_lsn != 0 && last.deleted.commit_lsn == h.deleted.commit_lsn
            });
            if !same_tx && (out.len() >= limit || !self.due(h, now, caught_up)) {
                break;
            }
            if let Some(h) = self.by_seq.remove(&seq) {
                self.by_key.remove(&(h.table, h.id.clone()));
                out.push(h);
            }
        }
        out
    }

    pub(super) fn len(&self) -> usize {
        self.by_seq.len()
    }
}

/// The catalog's name for a captured table, as a `'static` str (holds keep no copies).
fn table_static(table: &str) -> Option<&'static str> {
    crate::Catalog::portal()
        .tables_to_capture_deletes()
        .iter()
        .copied()
        .find(|t| *t == table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_fall_due_by_transactions_read_and_by_time_only_when_caught_up() {
        let mut h = Holds::new(2, Duration::ZERO);
        h.hold(1, "datasets", "a".into(), Deleted::default());
        let now = Instant::now();
        assert!(!h.has_due(now, false));
        h.tick_transaction();
        assert!(!h.has_due(now, false));
        assert!(h.has_due(now, true), "caught up: the clock counts");
        h.tick_transaction();
        assert!(h.has_due(now, false), "two transactions read past it");
        let due = h.take_due(now, false, 10);
        assert_eq!(due.len(), 1);
        assert_eq!(h.len(), 0);
    }

    #[test]
    fn the_holds_of_one_transaction_fall_due_together() {
        let mut h = Holds::new(100, Duration::from_millis(20));
        let tx = |commit_lsn| Deleted {
            commit_lsn,
            ..Deleted::default()
        };
        h.hold(1, "input_ports", "link".into(), tx(10));
        std::thread::sleep(Duration::from_millis(30));
        h.hold(1, "abstract_data_products", "x".into(), tx(10));
        h.hold(2, "datasets", "later".into(), tx(20));
        let now = Instant::now();
        // Only the first is old enough, but its transaction's other hold comes with it,
        // even past the limit; the next transaction's does not.
        let due = h.take_due(now, true, 1);
        let ids: Vec<&str> = due.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["link", "x"]);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn a_resolved_hold_is_released_once() {
        let mut h = Holds::new(10, Duration::from_secs(60));
        h.hold(7, "input_ports", "x".into(), Deleted::default());
        assert!(h.is_held("input_ports", "x"));
        assert_eq!(h.release("input_ports", "x"), Some(7));
        assert_eq!(h.release("input_ports", "x"), None);
    }
}

//! Captured deletes held until the audit row that explains them, aged by WAL position.
//!
//! A delete of a catalogued domain table holds its transaction's ack unit (the slot may
//! not pass it) until a record resolves it — the audit row of the removal, or the
//! removal of its parent — or until it is due: `max_transactions` transactions have been
//! read past it. Counting transactions read, not seconds, makes a live run and a replay
//! of the same WAL decide alike. Only when the reader has caught up with the server (no
//! more WAL to read, so a replay could not see the audit row sooner) does a hold also
//! fall due after `max_age`, so an idle database does not pin its slot.

mod file;

use file::HoldSpill;
use relay_contracts::UnitId;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::tombstones::Deleted;

/// About what one held entry costs in memory (the entry, its key, the maps' overhead):
/// how many holds fit in the share of `capture.tombstone_budget` they may use.
pub(super) const HOLD_BYTES: usize = 256;

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

/// The held deletes, oldest first: the oldest `max_in_memory` in memory, the rest (a
/// DELETE of a million rows holds a million) in a local file, moved up as the head
/// drains. Every held entry in memory is older than every one in the file.
#[derive(Debug)]
pub(super) struct Holds {
    by_seq: BTreeMap<u64, Held>,
    by_key: HashMap<(&'static str, String), u64>,
    next_seq: u64,
    /// Transactions read so far in this session.
    txs: u64,
    max_transactions: u64,
    max_age: Duration,
    max_in_memory: usize,
    dir: PathBuf,
    spill: Option<HoldSpill>,
}

impl Holds {
    /// `max_in_memory` held entries at most in memory; more go to a file in `dir`.
    pub(super) fn new(
        max_transactions: u64,
        max_age: Duration,
        max_in_memory: usize,
        dir: PathBuf,
    ) -> Self {
        Self {
            by_seq: BTreeMap::new(),
            by_key: HashMap::new(),
            next_seq: 0,
            txs: 0,
            max_transactions: max_transactions.max(1),
            max_age,
            max_in_memory: max_in_memory.max(2),
            dir,
            spill: None,
        }
    }

    /// Hold a delete. A second delete of the same row replaces the first hold: its unit
    /// is returned when that hold was in memory; one in the file is dropped when the
    /// file is next written.
    pub(super) fn hold(
        &mut self,
        unit: UnitId,
        table: &'static str,
        id: String,
        deleted: Deleted,
    ) -> Result<Option<UnitId>, String> {
        let replaced = self
            .by_key
            .remove(&(table, id.clone()))
            .and_then(|seq| self.by_seq.remove(&seq))
            .map(|h| h.unit);
        let seq = self.next_seq;
        self.next_seq += 1;
        let held = Held {
            unit,
            table,
            id,
            deleted,
            seq,
            at_tx: self.txs,
            since: Instant::now(),
        };
        let spilling = self.spill.as_ref().is_some_and(|s| s.len > 0);
        if !spilling && self.by_seq.len() < self.max_in_memory {
            self.keep(held);
        } else {
            if self.spill.is_none() {
                tracing::info!(
                    held = self.by_seq.len(),
                    dir = %self.dir.display(),
                    "held deletes exceed their share of capture.tombstone_budget; keeping further ones in a local file"
                );
                self.spill = Some(HoldSpill::open(&self.dir)?);
            }
            if let Some(s) = self.spill.as_mut() {
                s.put(&held)?;
            }
        }
        Ok(replaced)
    }

    fn keep(&mut self, h: Held) {
        self.by_key.insert((h.table, h.id.clone()), h.seq);
        self.by_seq.insert(h.seq, h);
    }

    /// Hold again what [`Holds::take_due`] took, in its place and with its age (older
    /// than anything in the file, so it goes back to memory).
    pub(super) fn put_back(&mut self, h: Held) {
        self.keep(h);
    }

    /// A record resolved this delete: stop holding it; returns its unit.
    #[cfg(test)]
    pub(super) fn release(&mut self, table: &str, id: &str) -> Result<Option<UnitId>, String> {
        Ok(self
            .release_many(&[(table.to_string(), id.to_string())])?
            .pop()
            .flatten())
    }

    /// [`Holds::release`] of several deletes at once (one write to the file for all):
    /// the unit of each, in order.
    pub(super) fn release_many(
        &mut self,
        keys: &[(String, String)],
    ) -> Result<Vec<Option<UnitId>>, String> {
        let mut out = Vec::with_capacity(keys.len());
        let mut in_file = Vec::new();
        for (i, (table, id)) in keys.iter().enumerate() {
            let found = table_static(table).and_then(|t| {
                let seq = self.by_key.remove(&(t, id.clone()))?;
                self.by_seq.remove(&seq).map(|h| h.unit)
            });
            if found.is_none() {
                if let Some(t) = table_static(table) {
                    in_file.push((i, t, id.as_str()));
                }
            }
            out.push(found);
        }
        if let Some(s) = self.spill.as_mut().filter(|s| s.len > 0) {
            if !in_file.is_empty() {
                let units = s.remove_many(in_file.iter().map(|(_, t, id)| (*t, *id)))?;
                for ((i, _, _), unit) in in_file.iter().zip(units) {
                    out[*i] = unit;
                }
            }
        }
        Ok(out)
    }

    #[cfg(test)]
    pub(super) fn is_held(&mut self, table: &str, id: &str) -> bool {
        let Some(t) = table_static(table) else {
            return false;
        };
        self.by_key.contains_key(&(t, id.to_string()))
            || self
                .spill
                .as_mut()
                .is_some_and(|s| s.seq_of(t, id).unwrap_or(None).is_some())
    }

    /// One more transaction was read.
    pub(super) fn tick_transaction(&mut self) {
        self.txs += 1;
    }

    fn due(&self, h: &Held, now: Instant, caught_up: bool) -> bool {
        self.txs.saturating_sub(h.at_tx) >= self.max_transactions
            || (caught_up && now.duration_since(h.since) >= self.max_age)
    }

    /// Move the oldest held entries of the file up when memory has room for them.
    fn refill(&mut self) -> Result<(), String> {
        let room = self.max_in_memory.saturating_sub(self.by_seq.len());
        if room < self.max_in_memory / 2 {
            return Ok(());
        }
        let Some(s) = self.spill.as_mut().filter(|s| s.len > 0) else {
            return Ok(());
        };
        for h in s.take_oldest(room)? {
            self.keep(h);
        }
        Ok(())
    }

    /// Whether the oldest hold is due (holds age in capture order, so it is the first).
    pub(super) fn has_due(&self, now: Instant, caught_up: bool) -> bool {
        let oldest = match self.by_seq.values().next() {
            Some(h) => Some(h.clone()),
            None => self.spill.as_ref().and_then(|s| s.oldest.clone()),
        };
        oldest.is_some_and(|h| self.due(&h, now, caught_up))
    }

    /// Take up to `limit` due holds, oldest first. The holds of one transaction fall
    /// due with its first (a product's children are held a moment before it, yet its
    /// removal accounts for them), so a chunk never stops between them for want of age.
    pub(super) fn take_due(
        &mut self,
        now: Instant,
        caught_up: bool,
        limit: usize,
    ) -> Result<Vec<Held>, String> {
        let mut out: Vec<Held> = Vec::new();
        loop {
            if self.by_seq.is_empty() {
                self.refill()?;
            }
            let Some((&seq, h)) = self.by_seq.iter().next() else {
                break;
            };
            let same_tx = out.last().is_some_and(|last| {
                last.deleted.commit_lsn != 0 && last.deleted.commit_lsn == h.deleted.commit_lsn
            });
            if out.len() >= limit || !(same_tx || self.due(h, now, caught_up)) {
                break;
            }
            if let Some(h) = self.by_seq.remove(&seq) {
                self.by_key.remove(&(h.table, h.id.clone()));
                out.push(h);
            }
        }
        Ok(out)
    }

    /// About what the held entries in memory cost (never much more than their share of
    /// the budget: `max_in_memory` plus a chunk put back).
    pub(super) fn memory_bytes(&self) -> usize {
        self.by_seq.len() * HOLD_BYTES
    }

    pub(super) fn len(&self) -> usize {
        self.by_seq.len() + self.spill.as_ref().map_or(0, |s| s.len)
    }

    /// Held entries kept in the file.
    #[cfg(test)]
    pub(super) fn spilled(&self) -> usize {
        self.spill.as_ref().map_or(0, |s| s.len)
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

    fn tmp() -> PathBuf {
        std::env::temp_dir().join(format!("holds-test-{}", std::process::id()))
    }

    #[test]
    fn holds_past_the_memory_limit_go_to_a_file_and_answer_the_same() {
        let mut h = Holds::new(1, Duration::from_secs(3600), 4, tmp());
        let tx = |commit_lsn| Deleted {
            commit_lsn,
            ..Deleted::default()
        };
        // 5,000 deletes of 100-row transactions: 4 in memory, the rest in the file.
        for i in 0..5000u64 {
            h.hold(i / 100, "datasets", format!("d{i}"), tx(i / 100 + 1))
                .unwrap();
        }
        assert_eq!(h.len(), 5000);
        assert_eq!(h.spilled(), 4996);
        assert!(h.by_seq.len() <= 4);
        // Released from the file (and from memory) with their units.
        let units = h
            .release_many(&[
                ("datasets".into(), "d0".into()),
                ("datasets".into(), "d4321".into()),
                ("datasets".into(), "nope".into()),
            ])
            .unwrap();
        assert_eq!(units, [Some(0), Some(43), None]);
        assert!(!h.is_held("datasets", "d4321") && h.is_held("datasets", "d4322"));
        // Deleted again (re-inserted in between): the later hold replaces the earlier.
        h.hold(77, "datasets", "d10".into(), tx(999)).unwrap();
        assert!(h.is_held("datasets", "d10"));
        assert_eq!(h.len(), 4998);
        // Nothing is due before a transaction is read; then all of it, oldest first,
        // in chunks, through memory.
        assert!(!h.has_due(Instant::now(), false));
        h.tick_transaction();
        assert!(h.has_due(Instant::now(), false));
        let mut seen = Vec::new();
        loop {
            let chunk = h.take_due(Instant::now(), false, 300).unwrap();
            if chunk.is_empty() {
                break;
            }
            assert!(chunk.len() <= 300, "the limit bounds a chunk");
            seen.extend(chunk.into_iter().map(|c| (c.seq, c.id, c.unit)));
        }
        assert_eq!(seen.len(), 4998);
        assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "oldest first");
        assert_eq!(seen.last().map(|l| (l.1.as_str(), l.2)), Some(("d10", 77)));
        assert_eq!(h.len(), 0);
    }

    #[test]
    fn the_file_does_not_grow_with_every_hold_it_ever_had() {
        let mut h = Holds::new(1, Duration::from_secs(3600), 2, tmp());
        let mut sizes = Vec::new();
        for round in 0..10u64 {
            for i in 0..1500u64 {
                let id = format!("r{round}-{i}");
                h.hold(round, "datasets", id, Deleted::default()).unwrap();
            }
            h.tick_transaction();
            while !h.take_due(Instant::now(), false, 1000).unwrap().is_empty() {}
            assert_eq!(h.len(), 0);
            let path = &h.spill.as_ref().unwrap().path;
            sizes.push(std::fs::metadata(path).unwrap().len());
        }
        // Pages of drained entries are reused (an `Eventual` commit now and then frees
        // them); with `None` only, the file grew by the first round's size every round.
        assert!(
            sizes[9] < 3 * sizes[0],
            "spill file sizes by round: {sizes:?}"
        );
    }

    #[test]
    fn holds_fall_due_by_transactions_read_and_by_time_only_when_caught_up() {
        let mut h = Holds::new(2, Duration::ZERO, 100, tmp());
        h.hold(1, "datasets", "a".into(), Deleted::default())
            .unwrap();
        let now = Instant::now();
        assert!(!h.has_due(now, false));
        h.tick_transaction();
        assert!(!h.has_due(now, false));
        assert!(h.has_due(now, true), "caught up: the clock counts");
        h.tick_transaction();
        assert!(h.has_due(now, false), "two transactions read past it");
        let due = h.take_due(now, false, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(h.len(), 0);
    }

    #[test]
    fn the_holds_of_one_transaction_fall_due_together() {
        let mut h = Holds::new(100, Duration::from_millis(20), 100, tmp());
        let tx = |commit_lsn| Deleted {
            commit_lsn,
            ..Deleted::default()
        };
        h.hold(1, "input_ports", "link".into(), tx(10)).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        h.hold(1, "abstract_data_products", "x".into(), tx(10))
            .unwrap();
        h.hold(2, "datasets", "later".into(), tx(20)).unwrap();
        let now = Instant::now();
        // Only the first is old enough, but its transaction's other hold comes with it;
        // the next transaction's does not.
        let due = h.take_due(now, true, 10).unwrap();
        let ids: Vec<&str> = due.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["link", "x"]);
        assert_eq!(h.len(), 1);
        // The limit still bounds a chunk.
        h.hold(3, "datasets", "y".into(), tx(30)).unwrap();
        h.hold(3, "datasets", "z".into(), tx(30)).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(h.take_due(Instant::now(), true, 2).unwrap().len(), 2);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn a_resolved_hold_is_released_once() {
        let mut h = Holds::new(10, Duration::from_secs(60), 100, tmp());
        h.hold(7, "input_ports", "x".into(), Deleted::default())
            .unwrap();
        assert!(h.is_held("input_ports", "x"));
        assert_eq!(h.release("input_ports", "x").unwrap(), Some(7));
        assert_eq!(h.release("input_ports", "x").unwrap(), None);
    }
}

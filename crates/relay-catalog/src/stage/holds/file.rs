//! Held entries past the in-memory limit of [`super::Holds`], in a local file: the tail
//! of the queue of held deletes, oldest first, read back in chunks as the head drains.

use redb::{Database, ReadableTable, TableDefinition};
use relay_contracts::UnitId;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{table_static, Held};
use crate::tombstones::Deleted;

/// seq (big-endian) → the held entry.
const HELD: TableDefinition<u64, &[u8]> = TableDefinition::new("held");
/// `table<US>id` → seq.
const HELD_KEYS: TableDefinition<&str, u64> = TableDefinition::new("held_keys");
const CACHE_BYTES: usize = 2 << 20;

/// Held entries past the in-memory limit, in an embedded `redb` file (as the tombstone
/// spill, and deleted with the session; a restart replays the slot).
pub(super) struct HoldSpill {
    db: Database,
    pub(super) path: PathBuf,
    /// When the session's clock started: held entries in the file keep their age as
    /// milliseconds since.
    epoch: Instant,
    /// Entries in the file, with `pending`.
    pub(super) len: usize,
    /// A copy of the oldest entry in the file (for `has_due` without a read).
    pub(super) oldest: Option<Held>,
    /// The newest entries, written in one transaction when there are `FLUSH_AT` or
    /// before any read.
    pending: Vec<Held>,
    commits: u64,
}

const FLUSH_AT: usize = 2048;

impl std::fmt::Debug for HoldSpill {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HoldSpill")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish()
    }
}

impl Drop for HoldSpill {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn err(e: impl std::fmt::Display) -> String {
    format!("held-delete spill file: {e}")
}

fn key(table: &str, id: &str) -> String {
    format!("{table}\u{1f}{id}")
}

impl HoldSpill {
    pub(super) fn open(dir: &Path) -> Result<Self, String> {
        let (db, path) = super::super::spill::create_file(dir, "holds", CACHE_BYTES, |txn| {
            txn.open_table(HELD)?;
            txn.open_table(HELD_KEYS)?;
            Ok(())
        })?;
        Ok(Self {
            db,
            path,
            epoch: Instant::now(),
            len: 0,
            oldest: None,
            pending: Vec::new(),
            commits: 0,
        })
    }

    fn encode(&self, h: &Held) -> Vec<u8> {
        let since = h.since.saturating_duration_since(self.epoch).as_millis() as u64;
        let mut out = Vec::with_capacity(48 + h.table.len() + h.id.len());
        for n in [
            h.unit,
            h.deleted.commit_lsn,
            h.deleted.commit_time_micros as u64,
            h.at_tx,
            since,
        ] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        out.push(h.table.len() as u8);
        out.extend_from_slice(h.table.as_bytes());
        out.extend_from_slice(h.id.as_bytes());
        out
    }

    fn decode(&self, seq: u64, b: &[u8]) -> Result<Held, String> {
        let n = |i: usize| -> Result<u64, String> {
            b.get(i * 8..i * 8 + 8)
                .and_then(|s| s.try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or_else(|| err("a truncated entry"))
        };
        let tlen = *b.get(40).ok_or_else(|| err("a truncated entry"))? as usize;
        let table = b
            .get(41..41 + tlen)
            .and_then(|t| std::str::from_utf8(t).ok())
            .and_then(table_static)
            .ok_or_else(|| err("an entry of an unknown table"))?;
        let id = b
            .get(41 + tlen..)
            .and_then(|t| std::str::from_utf8(t).ok())
            .ok_or_else(|| err("an entry with a bad id"))?;
        Ok(Held {
            unit: n(0)?,
            table,
            id: id.to_string(),
            deleted: Deleted {
                commit_lsn: n(1)?,
                commit_time_micros: n(2)? as i64,
            },
            seq,
            at_tx: n(3)?,
            since: self.epoch + Duration::from_millis(n(4)?),
        })
    }

    pub(super) fn put(&mut self, h: &Held) -> Result<(), String> {
        if self.len == 0 {
            self.oldest = Some(h.clone());
        }
        self.len += 1;
        self.pending.push(h.clone());
        if self.pending.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut superseded = 0usize;
        let mut txn = self.db.begin_write().map_err(err)?;
        self.commits += 1;
        txn.set_durability(super::super::spill::durability(self.commits));
        {
            let mut held = txn.open_table(HELD).map_err(err)?;
            let mut keys = txn.open_table(HELD_KEYS).map_err(err)?;
            for h in std::mem::take(&mut self.pending) {
                held.insert(h.seq, self.encode(&h).as_slice())
                    .map_err(err)?;
                let old = keys
                    .insert(key(h.table, &h.id).as_str(), h.seq)
                    .map_err(err)?
                    .map(|g| g.value());
                // The same row deleted twice (re-inserted in between): the later hold
                // supersedes the earlier one.
                if let Some(old) = old.filter(|o| *o != h.seq) {
                    if held.remove(old).map_err(err)?.is_some() {
                        superseded += 1;
                    }
                }
            }
        }
        txn.commit().map_err(err)?;
        if superseded > 0 {
            tracing::debug!(superseded, "held deletes were superseded by later ones");
            self.len = self.len.saturating_sub(superseded);
            self.oldest = self.first()?;
        }
        Ok(())
    }

    #[cfg(test)]
    pub(super) fn seq_of(&mut self, table: &str, id: &str) -> Result<Option<u64>, String> {
        self.flush()?;
        let txn = self.db.begin_read().map_err(err)?;
        let keys = txn.open_table(HELD_KEYS).map_err(err)?;
        Ok(keys
            .get(key(table, id).as_str())
            .map_err(err)?
            .map(|g| g.value()))
    }

    /// Remove these entries; the unit of each (`None`: not in the file).
    pub(super) fn remove_many<'k>(
        &mut self,
        keys: impl Iterator<Item = (&'static str, &'k str)>,
    ) -> Result<Vec<Option<UnitId>>, String> {
        self.flush()?;
        let mut out = Vec::new();
        let mut oldest_gone = false;
        let mut txn = self.db.begin_write().map_err(err)?;
        self.commits += 1;
        txn.set_durability(super::super::spill::durability(self.commits));
        {
            let mut keys_t = txn.open_table(HELD_KEYS).map_err(err)?;
            let mut held = txn.open_table(HELD).map_err(err)?;
            for (table, id) in keys {
                let seq = keys_t
                    .remove(key(table, id).as_str())
                    .map_err(err)?
                    .map(|g| g.value());
                let Some(seq) = seq else {
                    out.push(None);
                    continue;
                };
                let h = held
                    .remove(seq)
                    .map_err(err)?
                    .map(|g| self.decode(seq, g.value()))
                    .transpose()?;
                if let Some(h) = &h {
                    self.len = self.len.saturating_sub(1);
                    oldest_gone |= self.oldest.as_ref().is_some_and(|o| o.seq == h.seq);
                }
                out.push(h.map(|h| h.unit));
            }
        }
        txn.commit().map_err(err)?;
        if oldest_gone {
            self.oldest = self.first()?;
        }
        Ok(out)
    }

    fn first(&self) -> Result<Option<Held>, String> {
        let txn = self.db.begin_read().map_err(err)?;
        let held = txn.open_table(HELD).map_err(err)?;
        let first = held.first().map_err(err)?;
        let out = match first {
            Some((k, v)) => Some(self.decode(k.value(), v.value())?),
            None => None,
        };
        Ok(out)
    }

    /// Remove and return the `n` oldest entries.
    pub(super) fn take_oldest(&mut self, n: usize) -> Result<Vec<Held>, String> {
        self.flush()?;
        let mut out = Vec::with_capacity(n.min(self.len));
        let mut txn = self.db.begin_write().map_err(err)?;
        self.commits += 1;
        txn.set_durability(super::super::spill::durability(self.commits));
        {
            let mut held = txn.open_table(HELD).map_err(err)?;
            let mut keys = txn.open_table(HELD_KEYS).map_err(err)?;
            while out.len() < n {
                let Some((k, v)) = held.pop_first().map_err(err)? else {
                    break;
                };
                let h = self.decode(k.value(), v.value())?;
                drop((k, v));
                keys.remove(key(h.table, &h.id).as_str()).map_err(err)?;
                out.push(h);
            }
        }
        txn.commit().map_err(err)?;
        self.len = self.len.saturating_sub(out.len());
        self.oldest = self.first()?;
        Ok(out)
    }
}

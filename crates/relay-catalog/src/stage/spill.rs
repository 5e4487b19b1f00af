//! The session's tombstones in bounded memory: rows beyond a byte budget are kept in a
//! local file (an embedded `redb` database, deleted when the session ends) instead of
//! the heap, with the same answers either way.
//!
//! ```text
//! captured delete ─► TombstoneStore::insert ─┬─ in memory (until `budget` bytes)
//!                                            └─ spill file: rows and their parent index
//! flush (prepare) ◄── subset / get ── both, as one set
//! ```
//!
//! Why redb: a maintained, pure-Rust B-tree store; its page cache is bounded
//! (`CACHE_BYTES`), so memory stays flat however many rows a DELETE removes. Writes are
//! buffered and committed in batches without fsync (the file dies with the session; a
//! restart replays the slot).

use redb::{Builder, Database, Durability, TableDefinition};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::tombstones::{id_key, table_key, Deleted, Row, Tombstones};

/// (table, id) → `{"row": …, "lsn": …, "time": …}`.
const ROWS: TableDefinition<&str, &[u8]> = TableDefinition::new("rows");
/// parent value, table, id → ().
const PARENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("parents");
const SEP: char = '\u{1f}';
const CACHE_BYTES: usize = 4 << 20;
const FLUSH_OPS: usize = 2048;

enum Op {
    /// Keep a row (replacing any row with the same key, index entries included).
    Put { key: String, value: Vec<u8> },
    /// Forget a row and its index entries, if there is one.
    Del { key: String },
}

/// Rows past the budget, on disk.
struct Spill {
    db: Database,
    path: PathBuf,
    /// Buffered writes, applied in one write transaction (no fsync) before any read.
    ops: Vec<Op>,
    /// Tables with spilled rows (for "this id in any table").
    tables: BTreeSet<String>,
    rows: u64,
    commits: u64,
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn err(e: impl std::fmt::Display) -> String {
    format!("tombstone spill file: {e}")
}

/// No fsync for a file that dies with the session, except that redb frees the pages of
/// removed entries only at a commit more durable than `None`: every `RECLAIM_EVERY`th
/// commit is `Eventual`, so the file does not grow with every row it ever held.
pub(super) fn durability(commit: u64) -> Durability {
    if commit.is_multiple_of(RECLAIM_EVERY) {
        Durability::Eventual
    } else {
        Durability::None
    }
}

const RECLAIM_EVERY: u64 = 16;

/// The stored form of a row: the row, and the transaction that deleted it.
fn encode(row: &Row, deleted: Deleted) -> Result<Vec<u8>, String> {
    serde_json::to_vec(
        &json!({ "row": row, "lsn": deleted.commit_lsn, "time": deleted.commit_time_micros }),
    )
    .map_err(err)
}

fn decode(bytes: &[u8]) -> Result<Option<(Row, Deleted)>, String> {
    let v: Value = serde_json::from_slice(bytes).map_err(err)?;
    let row = match v.get("row") {
        Some(Value::Object(m)) => m.clone(),
        _ => return Ok(None),
    };
    let deleted = Deleted {
        commit_lsn: v.get("lsn").and_then(Value::as_u64).unwrap_or(0),
        commit_time_micros: v.get("time").and_then(Value::as_i64).unwrap_or(0),
    };
    Ok(Some((row, deleted)))
}

/// The index keys of a stored row: one per parent.
fn index_keys(key: &str, row: &Row) -> Vec<String> {
    Tombstones::parents_of(row)
        .into_iter()
        .map(|p| format!("{p}{SEP}{key}"))
        .collect()
}

/// A new spill file `outbox-relay-<kind>-<pid>-<uuid>.redb` in `dir` (made if missing)
/// with a page cache of `cache_bytes`; `init` opens (so creates) its tables, so reads
/// find them before the first write.
pub(super) fn create_file(
    dir: &std::path::Path,
    kind: &str,
    cache_bytes: usize,
    init: impl FnOnce(&redb::WriteTransaction) -> Result<(), redb::TableError>,
) -> Result<(Database, PathBuf), String> {
    let fail = |e: &dyn std::fmt::Display| format!("{kind} spill file: {e}");
    std::fs::create_dir_all(dir).map_err(|e| fail(&e))?;
    let path = dir.join(format!(
        "outbox-relay-{kind}-{}-{}.redb",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    let db = Builder::new()
        .set_cache_size(cache_bytes)
        .create(&path)
        .map_err(|e| fail(&e))?;
    let mut txn = db.begin_write().map_err(|e| fail(&e))?;
    txn.set_durability(Durability::None);
    init(&txn).map_err(|e| fail(&e))?;
    txn.commit().map_err(|e| fail(&e))?;
    Ok((db, path))
}

impl Spill {
    fn open(dir: &std::path::Path) -> Result<Self, String> {
        let (db, path) = create_file(dir, "tombstones", CACHE_BYTES, |txn| {
            txn.open_table(ROWS)?;
            txn.open_table(PARENTS)?;
            Ok(())
        })?;
        Ok(Self {
            db,
            path,
            ops: Vec::new(),
            tables: BTreeSet::new(),
            rows: 0,
            commits: 0,
        })
    }

    fn flush(&mut self) -> Result<(), String> {
        if self.ops.is_empty() {
            return Ok(());
        }
        let mut txn = self.db.begin_write().map_err(err)?;
        self.commits += 1;
        txn.set_durability(durability(self.commits));
        {
            let mut rows = txn.open_table(ROWS).map_err(err)?;
            let mut parents = txn.open_table(PARENTS).map_err(err)?;
            for op in self.ops.drain(..) {
                let key = match &op {
                    Op::Put { key, .. } | Op::Del { key } => key.clone(),
                };
                // Whatever the key held before goes, with its index entries.
                let old = rows
                    .remove(key.as_str())
                    .map_err(err)?
                    .map(|g| decode(g.value()))
                    .transpose()?
                    .flatten();
                if let Some((row, _)) = old {
                    for p in index_keys(&key, &row) {
                        parents.remove(p.as_str()).map_err(err)?;
                    }
                    self.rows = self.rows.saturating_sub(1);
                }
                if let Op::Put { key, value } = op {
                    if let Some((row, _)) = decode(&value)? {
                        for p in index_keys(&key, &row) {
                            parents.insert(p.as_str(), [].as_slice()).map_err(err)?;
                        }
                        rows.insert(key.as_str(), value.as_slice()).map_err(err)?;
                        self.rows += 1;
                    }
                }
            }
        }
        txn.commit().map_err(err)
    }

    fn push(&mut self, op: Op) -> Result<(), String> {
        self.ops.push(op);
        if self.ops.len() >= FLUSH_OPS {
            self.flush()?;
        }
        Ok(())
    }

    fn put(&mut self, table: &str, id: &str, row: &Row, deleted: Deleted) -> Result<(), String> {
        let value = encode(row, deleted)?;
        self.tables.insert(table.to_string());
        self.push(Op::Put {
            key: format!("{table}{SEP}{id}"),
            value,
        })
    }

    fn get(&mut self, table: &str, id: &str) -> Result<Option<(Row, Deleted)>, String> {
        self.flush()?;
        let txn = self.db.begin_read().map_err(err)?;
        let rows = txn.open_table(ROWS).map_err(err)?;
        match rows
            .get(format!("{table}{SEP}{id}").as_str())
            .map_err(err)?
        {
            Some(v) => decode(v.value()),
            None => Ok(None),
        }
    }

    fn remove(&mut self, table: &str, id: &str) -> Result<(), String> {
        self.push(Op::Del {
            key: format!("{table}{SEP}{id}"),
        })
    }

    /// Keys `<prefix><SEP>table<SEP>id` of `def` → (table, id).
    fn scan(
        &mut self,
        def: TableDefinition<'static, &'static str, &'static [u8]>,
        prefix: &str,
    ) -> Result<Vec<(String, String)>, String> {
        self.flush()?;
        let txn = self.db.begin_read().map_err(err)?;
        let t = txn.open_table(def).map_err(err)?;
        let start = format!("{prefix}{SEP}");
        let end = format!("{prefix}{}", char::from_u32(SEP as u32 + 1).unwrap_or(SEP));
        let mut out = Vec::new();
        for e in t.range(start.as_str()..end.as_str()).map_err(err)? {
            let (k, _) = e.map_err(err)?;
            let mut parts = k.value()[start.len()..].splitn(2, SEP);
            if let (Some(table), Some(id)) = (parts.next(), parts.next()) {
                out.push((table.to_string(), id.to_string()));
            }
        }
        Ok(out)
    }
}

/// The session's tombstones: in memory up to `budget` bytes, then spilled.
pub(super) struct TombstoneStore {
    mem: Tombstones,
    budget: usize,
    dir: PathBuf,
    spill: Option<Spill>,
}

impl TombstoneStore {
    pub(super) fn new(budget: usize, dir: PathBuf) -> Self {
        Self {
            mem: Tombstones::new(),
            budget,
            dir,
            spill: None,
        }
    }

    /// Keep a deleted row; `false` when it has no id.
    pub(super) fn insert(
        &mut self,
        table: &str,
        row: Row,
        deleted: Deleted,
    ) -> Result<bool, String> {
        let Some(id) = row.get("id").and_then(Value::as_str).map(id_key) else {
            return Ok(false);
        };
        let table = table_key(table);
        // A row deleted again replaces the earlier one (in the spill file, at its next flush).
        self.mem.remove(&table, &id);
        let fits = self.mem.bytes() + crate::tombstones::row_bytes(&table, &row) <= self.budget;
        if fits {
            return Ok(self.mem.insert_deleted(&table, row, deleted));
        }
        if self.spill.is_none() {
            tracing::info!(
                budget_bytes = self.budget,
                dir = %self.dir.display(),
                "captured deletes exceed capture.tombstone_budget; keeping further rows in a local file"
            );
            self.spill = Some(Spill::open(&self.dir)?);
        }
        if let Some(s) = self.spill.as_mut() {
            s.put(&table, &id, &row, deleted)?;
        }
        Ok(true)
    }

    pub(super) fn get(&mut self, table: &str, id: &str) -> Result<Option<(Row, Deleted)>, String> {
        if let Some((row, d)) = self.mem.get_deleted(table, id) {
            return Ok(Some((row.clone(), d)));
        }
        match self.spill.as_mut() {
            Some(s) => s.get(&table_key(table), &id_key(id)),
            None => Ok(None),
        }
    }

    pub(super) fn remove(&mut self, table: &str, id: &str) -> Result<(), String> {
        let in_memory = self.mem.remove(table, id).is_some();
        match self.spill.as_mut() {
            // A row kept in memory was never spilled unless it was deleted twice.
            Some(s) if !in_memory || s.tables.contains(&table_key(table)) => {
                s.remove(&table_key(table), &id_key(id))
            }
            _ => Ok(()),
        }
    }

    /// Bytes held in memory (never more than about the budget).
    pub(super) fn memory_bytes(&self) -> usize {
        self.mem.bytes()
    }

    /// Rows kept in the spill file.
    pub(super) fn spilled_rows(&self) -> u64 {
        self.spill.as_ref().map_or(0, |s| s.rows)
    }

    /// [`Tombstones::subset`] over memory and the spill file together.
    pub(super) fn subset(
        &mut self,
        roots: impl IntoIterator<Item = String>,
        as_of: u64,
        depth: usize,
    ) -> Result<Tombstones, String> {
        if self.spill.is_none() {
            return Ok(self.mem.subset(roots, as_of, depth));
        }
        let mut out = Tombstones::new();
        let mut frontier: BTreeSet<String> = roots.into_iter().map(|r| id_key(&r)).collect();
        let mut seen = BTreeSet::new();
        let visible = |d: Deleted| d.commit_lsn == 0 || d.commit_lsn <= as_of;
        for _ in 0..=depth {
            let mut next = BTreeSet::new();
            for id in std::mem::take(&mut frontier) {
                if !seen.insert(id.clone()) {
                    continue;
                }
                let mut tables: BTreeSet<String> =
                    self.mem.table_names().map(str::to_string).collect();
                if let Some(s) = &self.spill {
                    tables.extend(s.tables.iter().cloned());
                }
                for table in tables {
                    if let Some((row, d)) = self.get(&table, &id)? {
                        if visible(d) {
                            next.extend(Tombstones::parents_of(&row));
                            out.insert_deleted(&table, row, d);
                        }
                    }
                }
                let mut children = self.mem.children(&id);
                if let Some(s) = self.spill.as_mut() {
                    children.extend(s.scan(PARENTS, &id)?);
                }
                for (table, child) in children {
                    if let Some((row, d)) = self.get(&table, &child)? {
                        if visible(d) && out.insert_deleted(&table, row, d) {
                            next.insert(child);
                        }
                    }
                }
            }
            frontier = next;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, product: &str) -> Row {
        crate::old_tuple_row([
            ("id", Some(id)),
            ("data_product_id", Some(product)),
            ("name", Some("x")),
        ])
    }

    #[test]
    fn spilled_rows_answer_like_rows_in_memory() {
        let dir = std::env::temp_dir().join(format!("spill-test-{}", std::process::id()));
        let mut store = TombstoneStore::new(600, dir);
        let p = "11111111-0000-4000-8000-000000000001";
        let d = Deleted {
            commit_lsn: 10,
            commit_time_micros: 5,
        };
        for i in 0..50 {
            let id = format!("22222222-0000-4000-8000-{i:012}");
            assert!(store.insert("datasets", row(&id, p), d).unwrap());
        }
        let sub = store.subset([p.to_string()], 10, 1).unwrap();
        assert!(store.spilled_rows() > 40, "most rows went to the file");
        assert!(store.memory_bytes() <= 600);
        assert_eq!(sub.find_by("datasets", "data_product_id", p).len(), 50);
        assert_eq!(
            store.subset([p.to_string()], 9, 1).unwrap().len(),
            0,
            "deleted later"
        );
        let last = "22222222-0000-4000-8000-000000000049";
        assert_eq!(store.get("datasets", last).unwrap().unwrap().1, d);
        store.remove("datasets", last).unwrap();
        assert!(store.get("datasets", last).unwrap().is_none());
        assert_eq!(store.subset([p.to_string()], 10, 1).unwrap().len(), 49);
    }
}

//! Last known state of deleted domain rows, captured from WAL deletes.
//!
//! With `REPLICA IDENTITY FULL`, a pgoutput `Delete` message carries the whole old row.
//! The capture stage turns each into a tombstone ([`old_tuple_row`]) and keeps it in a
//! [`Tombstones`] set; the enricher falls back to it when a lookup finds nothing, so a
//! `*_removed` event still carries what was deleted (`"state": "last_known"`).

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A row as column → text value (or `null`): the text format pgoutput and the lookups use.
pub type Row = Map<String, Value>;

/// Columns that point from a child row to its parent entity: the relations cascades,
/// resolution and batch subsets follow. Indexed, so finding the children of an entity
/// costs the number of children, not the number of tombstones.
pub(crate) const RELATION_COLUMNS: &[&str] = &[
    "data_product_id",
    "owner_id",
    "dataset_id",
    "data_output_id",
    "consuming_abstract_data_product_id",
    "input_port_id",
    "configuration_id",
];

/// Where a tombstone came from in the WAL: the deleting transaction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Commit LSN of the transaction that deleted the row (0: unknown, visible to all).
    pub commit_lsn: u64,
    /// Its commit time (µs since 2000-01-01), 0 when unknown.
    pub commit_time_micros: i64,
}

#[derive(Debug, Clone, PartialEq)]
struct Entry {
    row: Row,
    deleted: Deleted,
    bytes: usize,
}

/// Deleted rows by (table, id). Tables are named without schema (`datasets`); a
/// `public.` prefix is dropped. Ids are compared in canonical UUID text form. Each row
/// remembers the transaction that deleted it ([`Deleted`]), and the relation columns
/// ([`RELATION_COLUMNS`]) are indexed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tombstones {
    rows: BTreeMap<(String, String), Entry>,
    /// Canonical value of a relation column → the (table, column, id) of rows holding it.
    index: HashMap<String, BTreeSet<(String, &'static str, String)>>,
    /// Rows per table.
    tables: BTreeMap<String, usize>,
    bytes: usize,
}

/// The table name as the catalog uses it: no `public.` schema, no quotes.
pub(crate) fn table_key(table: &str) -> String {
    let t = table.strip_prefix("public.").unwrap_or(table);
    t.trim_matches('"').to_string()
}

/// [`table_key`] without a copy.
pub(crate) fn table_ref(table: &str) -> &str {
    table
        .strip_prefix("public.")
        .unwrap_or(table)
        .trim_matches('"')
}

/// [`id_key`], borrowed when `id` already is canonical (the usual case: ids come from
/// PostgreSQL's own `uuid` output), so lookups by id do not allocate.
pub(crate) fn id_ref(id: &str) -> std::borrow::Cow<'_, str> {
    let b = id.as_bytes();
    let canonical = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        });
    if canonical {
        std::borrow::Cow::Borrowed(id)
    } else {
        std::borrow::Cow::Owned(id_key(id))
    }
}

/// A canonical id: UUIDs in lowercase hyphenated form, anything else as given.
pub(crate) fn id_key(id: &str) -> String {
    match uuid::Uuid::parse_str(id.trim()) {
        Ok(u) => u.to_string(),
        Err(_) => id.trim().to_string(),
    }
}

/// Turn a pgoutput-like old tuple (column names with text values, `None` = NULL) into a
/// tombstone row.
pub fn old_tuple_row<'a, I, V>(columns: I) -> Row
where
    I: IntoIterator<Item = (&'a str, Option<V>)>,
    V: Into<String>,
{
    columns
        .into_iter()
        .map(|(name, value)| {
            (
                name.to_string(),
                value.map_or(Value::Null, |v| Value::String(v.into())),
            )
        })
        .collect()
}

/// Bytes a row holds in memory, roughly (what the tombstone budget counts).
pub(crate) fn row_bytes(table: &str, row: &Row) -> usize {
    let cells: usize = row
        .iter()
        .map(|(k, v)| k.len() + v.as_str().map_or(8, str::len) + 48)
        .sum();
    table.len() + cells + 96
}

impl Tombstones {
    pub fn new() -> Self {
        Self::default()
    }

    /// Remember a deleted row of `table`, visible to every record. Returns `false` (and
    /// keeps nothing) when the row has no text `id` column. A later delete of the same id
    /// replaces the earlier one.
    pub fn insert(&mut self, table: &str, row: Row) -> bool {
        self.insert_deleted(table, row, Deleted::default())
    }

    /// Remember a row deleted by the transaction `deleted`.
    pub fn insert_deleted(&mut self, table: &str, row: Row, deleted: Deleted) -> bool {
        let Some(id) = row.get("id").and_then(Value::as_str).map(id_key) else {
            return false;
        };
        let table = table_key(table);
        self.remove(&table, &id);
        for col in RELATION_COLUMNS {
            if let Some(v) = row.get(*col).and_then(Value::as_str) {
                self.index
                    .entry(id_key(v))
                    .or_default()
                    .insert((table.clone(), *col, id.clone()));
            }
        }
        let bytes = row_bytes(&table, &row);
        self.bytes += bytes;
        *self.tables.entry(table.clone()).or_default() += 1;
        self.rows.insert(
            (table, id),
            Entry {
                row,
                deleted,
                bytes,
            },
        );
        true
    }

    /// [`old_tuple_row`] then [`Tombstones::insert`]: a pgoutput `Delete`'s old tuple.
    pub fn insert_old_tuple<'a, I, V>(&mut self, table: &str, columns: I) -> bool
    where
        I: IntoIterator<Item = (&'a str, Option<V>)>,
        V: Into<String>,
    {
        self.insert(table, old_tuple_row(columns))
    }

    /// The deleted row of `table` with this id.
    pub fn get(&self, table: &str, id: &str) -> Option<&Row> {
        self.entry(table, id).map(|e| &e.row)
    }

    /// The deleted row of `table` with this id and the transaction that deleted it.
    pub fn get_deleted(&self, table: &str, id: &str) -> Option<(&Row, Deleted)> {
        self.entry(table, id).map(|e| (&e.row, e.deleted))
    }

    fn entry(&self, table: &str, id: &str) -> Option<&Entry> {
        self.rows.get(&(table_key(table), id_key(id)))
    }

    /// Deleted rows of `table` whose `column` equals `value` (e.g. all `datasets` with
    /// `data_product_id = X`, for cascades), ordered by id. Relation columns are looked up
    /// in the index; any other column scans the table's rows.
    pub fn find_by(&self, table: &str, column: &str, value: &str) -> Vec<&Row> {
        let table = table_key(table);
        let value = id_key(value);
        if RELATION_COLUMNS.contains(&column) {
            let mut ids: Vec<&String> = self
                .index
                .get(&value)
                .into_iter()
                .flatten()
                .filter(|(t, c, _)| *t == table && *c == column)
                .map(|(_, _, id)| id)
                .collect();
            ids.sort();
            return ids
                .into_iter()
                .filter_map(|id| self.rows.get(&(table.clone(), id.clone())))
                .map(|e| &e.row)
                .collect();
        }
        self.rows
            .range((table.clone(), String::new())..)
            .take_while(|((t, _), _)| *t == table)
            .filter(|(_, e)| {
                e.row
                    .get(column)
                    .and_then(Value::as_str)
                    .is_some_and(|v| id_key(v) == value)
            })
            .map(|(_, e)| &e.row)
            .collect()
    }

    /// Forget a deleted row (e.g. once the event that needed it has been acknowledged).
    pub fn remove(&mut self, table: &str, id: &str) -> Option<Row> {
        let table = table_key(table);
        let id = id_key(id);
        let entry = self.rows.remove(&(table.clone(), id.clone()))?;
        self.bytes -= entry.bytes;
        if let Some(n) = self.tables.get_mut(&table) {
            *n -= 1;
            if *n == 0 {
                self.tables.remove(&table);
            }
        }
        for col in RELATION_COLUMNS {
            if let Some(v) = entry.row.get(*col).and_then(Value::as_str) {
                let key = id_key(v);
                if let Some(refs) = self.index.get_mut(&key) {
                    refs.remove(&(table.clone(), *col, id.clone()));
                    if refs.is_empty() {
                        self.index.remove(&key);
                    }
                }
            }
        }
        Some(entry.row)
    }

    /// Add every row of `other` (its rows win).
    pub fn extend(&mut self, other: Tombstones) {
        for ((table, _), e) in other.rows {
            self.insert_deleted(&table, e.row, e.deleted);
        }
    }

    /// Every (table, id, row), ordered by table then id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &Row)> {
        self.rows
            .iter()
            .map(|((t, id), e)| (t.as_str(), id.as_str(), &e.row))
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Bytes the rows hold, roughly.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// (table, id) of the rows whose relation columns hold `value` (their parent's id).
    pub(crate) fn children(&self, value: &str) -> Vec<(String, String)> {
        self.index
            .get(&id_key(value))
            .into_iter()
            .flatten()
            .map(|(t, _, id)| (t.clone(), id.clone()))
            .collect()
    }

    /// The tables that have rows.
    pub(crate) fn table_names(&self) -> impl Iterator<Item = &str> {
        self.tables.keys().map(String::as_str)
    }

    /// Relation-column values of a row (its parents' ids).
    pub(crate) fn parents_of(row: &Row) -> Vec<String> {
        RELATION_COLUMNS
            .iter()
            .filter_map(|c| row.get(*c).and_then(Value::as_str).map(id_key))
            .collect()
    }

    /// The tombstones a batch naming `roots` (entity ids) can need, deleted at or before
    /// `as_of` (a commit LSN; rows deleted later are not visible to the records): the
    /// rows with those ids and, following [`RELATION_COLUMNS`] both ways, their children
    /// and parents, `depth` steps out. A copy: the batch is enriched off the main loop
    /// while this set keeps changing.
    pub fn subset(
        &self,
        roots: impl IntoIterator<Item = String>,
        as_of: u64,
        depth: usize,
    ) -> Tombstones {
        let mut out = Tombstones::new();
        let mut frontier: BTreeSet<String> = roots.into_iter().map(|r| id_key(&r)).collect();
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let visible = |e: &Entry| e.deleted.commit_lsn == 0 || e.deleted.commit_lsn <= as_of;
        for _ in 0..=depth {
            let mut next = BTreeSet::new();
            for id in std::mem::take(&mut frontier) {
                if !seen.insert(id.clone()) {
                    continue;
                }
                // Rows with this id, in any table.
                for table in self.tables.keys() {
                    if let Some(e) = self.rows.get(&(table.clone(), id.clone())) {
                        if visible(e) && out.insert_deleted(table, e.row.clone(), e.deleted) {
                            for col in RELATION_COLUMNS {
                                if let Some(v) = e.row.get(*col).and_then(Value::as_str) {
                                    next.insert(id_key(v));
                                }
                            }
                        }
                    }
                }
                // Children pointing at this id.
                for (table, _, child) in self.index.get(&id).into_iter().flatten() {
                    if let Some(e) = self.rows.get(&(table.clone(), child.clone())) {
                        if visible(e) && out.insert_deleted(table, e.row.clone(), e.deleted) {
                            next.insert(child.clone());
                        }
                    }
                }
            }
            frontier = next;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "33333333-3333-4333-8333-333333333333";

    #[test]
    fn old_tuples_become_rows_keyed_by_table_and_id() {
        let mut t = Tombstones::new();
        assert!(t.insert_old_tuple(
            "public.datasets",
            [
                ("id", Some("44444444-4444-4444-8444-444444444444")),
                ("name", Some("Revenue daily")),
                ("description", None),
                ("data_product_id", Some(P)),
            ],
        ));
        assert!(!t.insert_old_tuple("datasets", [("name", Some("no id"))]));
        let row = t
            .get("datasets", "44444444-4444-4444-8444-444444444444")
            .unwrap();
        assert_eq!(row["name"], "Revenue daily");
        assert_eq!(row["description"], Value::Null);
        // Ids compare canonically (upper case, public. prefix).
        assert!(t
            .get(
                "public.datasets",
                "44444444-4444-4444-8444-444444444444"
                    .to_uppercase()
                    .as_str()
            )
            .is_some());
        assert_eq!(t.find_by("datasets", "data_product_id", P).len(), 1);
        assert!(t.find_by("data_outputs", "owner_id", P).is_empty());
        assert!(t
            .remove("datasets", "44444444-4444-4444-8444-444444444444")
            .is_some());
        assert!(t.is_empty());
    }
}

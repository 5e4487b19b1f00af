//! What the lookups of one batch found, with the tombstones as fallback.

use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use crate::tombstones::{id_key, id_ref, table_key, table_ref, Row, Tombstones};

/// Where a row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Read by a lookup: the state at enrichment time.
    Live,
    /// Captured from a WAL delete: the last known state.
    Tombstone,
}

/// Canonical column value → ids of the live rows holding it.
type ColumnIndex = HashMap<String, Vec<String>>;

/// Live rows by table and id, and the tombstones to fall back on.
#[derive(Debug)]
pub(crate) struct Store<'t> {
    live: HashMap<String, BTreeMap<String, Row>>,
    tombstones: &'t Tombstones,
    /// (table, column) → canonical value → ids of the live rows holding it: built on the
    /// first [`Store::find`] by that column, so a batch's finds are lookups, not scans
    /// of every row per record. Cleared by [`Store::put`].
    /// A short list: a batch finds by a handful of columns.
    index: RefCell<Vec<((String, String), ColumnIndex)>>,
}

impl<'t> Store<'t> {
    pub(crate) fn new(tombstones: &'t Tombstones) -> Self {
        Self {
            live: HashMap::new(),
            tombstones,
            index: RefCell::new(Vec::new()),
        }
    }

    /// Add a looked-up row (keyed by its `id` column).
    pub(crate) fn put(&mut self, table: &str, row: Row) {
        self.index.get_mut().clear();
        let Some(id) = row
            .get("id")
            .and_then(Value::as_str)
            .map(|id| id_ref(id).into_owned())
        else {
            return;
        };
        // One allocation per table, not per row.
        match self.live.get_mut(table_ref(table)) {
            Some(rows) => {
                rows.insert(id, row);
            }
            None => {
                self.live
                    .entry(table_key(table))
                    .or_default()
                    .insert(id, row);
            }
        }
    }

    /// The row of `table` with this id: live first, else the tombstone.
    pub(crate) fn get(&self, table: &str, id: &str) -> Option<(&Row, Source)> {
        let (table, id) = (table_ref(table), id_ref(id));
        if let Some(row) = self.live.get(table).and_then(|t| t.get(id.as_ref())) {
            return Some((row, Source::Live));
        }
        self.tombstones
            .get(table, &id)
            .map(|row| (row, Source::Tombstone))
    }

    /// Rows of `table` whose columns equal the given values (ids compared canonically):
    /// the live rows, plus the tombstones when `with_tombstones` (rows of a deleted parent)
    /// and there is no live row of that id. Ordered by id.
    pub(crate) fn find(
        &self,
        table: &str,
        filters: &[(&str, &str)],
        with_tombstones: bool,
    ) -> Vec<(&Row, Source)> {
        let table = table_ref(table);
        let keys: Vec<(&str, std::borrow::Cow<'_, str>)> =
            filters.iter().map(|(c, v)| (*c, id_ref(v))).collect();
        let matches = |row: &Row| {
            keys.iter().all(|(col, key)| {
                row.get(*col)
                    .and_then(Value::as_str)
                    .is_some_and(|v| same_id(v, key))
            })
        };
        // Keyed by canonical id (borrowed from the live rows, owned for tombstones).
        let mut out: BTreeMap<std::borrow::Cow<'_, str>, (&Row, Source)> = BTreeMap::new();
        if let Some(rows) = self.live.get(table) {
            match keys.first() {
                Some((col, key)) => {
                    for (id, row) in self.indexed(table, col, rows, key) {
                        if matches(row) {
                            out.insert(id.as_str().into(), (row, Source::Live));
                        }
                    }
                }
                None => {
                    for (id, row) in rows {
                        out.insert(id.as_str().into(), (row, Source::Live));
                    }
                }
            }
        }
        if with_tombstones {
            if let Some((col, val)) = filters.first() {
                for row in self.tombstones.find_by(table, col, val) {
                    if matches(row) {
                        if let Some(id) = row.get("id").and_then(Value::as_str) {
                            out.entry(id_key(id).into())
                                .or_insert((row, Source::Tombstone));
                        }
                    }
                }
            }
        }
        out.into_values().collect()
    }

    /// The live rows of `table` whose `column` is `key` (with their ids), from the index
    /// (built on first use).
    fn indexed<'r>(
        &self,
        table: &str,
        column: &str,
        rows: &'r BTreeMap<String, Row>,
        key: &str,
    ) -> Vec<(&'r String, &'r Row)> {
        let mut index = self.index.borrow_mut();
        let at = match index
            .iter()
            .position(|((t, c), _)| t == table && c == column)
        {
            Some(at) => at,
            None => {
                let mut m = ColumnIndex::new();
                for (id, row) in rows {
                    if let Some(v) = row.get(column).and_then(Value::as_str) {
                        m.entry(id_key(v)).or_default().push(id.clone());
                    }
                }
                index.push(((table.to_string(), column.to_string()), m));
                index.len() - 1
            }
        };
        index[at]
            .1
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|id| rows.get_key_value(id))
            .collect()
    }

    /// Every row of `table` the batch knows: the live rows, then every tombstone of it.
    pub(crate) fn all_rows(&self, table: &str) -> Vec<&Row> {
        let table = table_key(table);
        let mut out: Vec<&Row> = self
            .live
            .get(&table)
            .map(|t| t.values().collect())
            .unwrap_or_default();
        out.extend(
            self.tombstones
                .iter()
                .filter(|(t, _, _)| *t == table)
                .map(|(_, _, row)| row),
        );
        out
    }

    /// The values of `column` over [`Store::all_rows`] of `table` (canonical ids).
    pub(crate) fn column_values(&self, table: &str, column: &str) -> Vec<String> {
        self.all_rows(table)
            .into_iter()
            .filter_map(|row| text(row, column).map(|v| id_ref(v).into_owned()))
            .collect()
    }
}

/// A text column of a row.
pub(crate) fn text<'r>(row: &'r Row, column: &str) -> Option<&'r str> {
    row.get(column).and_then(Value::as_str)
}

/// A text column as JSON (`null` when absent).
pub(crate) fn text_value(row: Option<&Row>, column: &str) -> Value {
    row.and_then(|r| text(r, column))
        .map_or(Value::Null, |s| Value::String(s.to_string()))
}

/// An enum-like column in lower case (the portal stores some enums as upper-case names,
/// others as lower-case values; the events always carry lower case).
pub(crate) fn lower_value(row: Option<&Row>, column: &str) -> Value {
    row.and_then(|r| text(r, column))
        .map_or(Value::Null, |s| Value::String(s.to_ascii_lowercase()))
}

/// A PostgreSQL `timestamp without time zone` (UTC) or `date` text value in RFC 3339
/// form: `2024-05-01 08:00:00.5` → `2024-05-01T08:00:00.5Z`; a date stays a date;
/// anything else is kept as given.
pub(crate) fn rfc3339(s: &str) -> String {
    let s = s.trim();
    if s.len() == 10 {
        return s.to_string();
    }
    let mut t = s.replacen(' ', "T", 1);
    for suffix in ["+00:00", "+00"] {
        if let Some(stripped) = t.strip_suffix(suffix) {
            t = stripped.to_string();
        }
    }
    if t.ends_with('Z') || t.rfind(['+', '-']).is_some_and(|i| i > 10) {
        t
    } else {
        format!("{t}Z")
    }
}

/// A timestamp/date column as RFC 3339 JSON (`null` when absent).
pub(crate) fn time_value(row: Option<&Row>, column: &str) -> Value {
    row.and_then(|r| text(r, column))
        .map_or(Value::Null, |s| Value::String(rfc3339(s)))
}

/// Whether `v` is the id whose canonical form is `key`, without allocating for the
/// usual case (PostgreSQL prints canonical lower-case UUIDs).
fn same_id(v: &str, key: &str) -> bool {
    v == key || id_key(v) == key
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, owner: &str) -> Row {
        let mut r = Row::new();
        r.insert("id".into(), Value::String(id.into()));
        r.insert("owner_id".into(), Value::String(owner.into()));
        r
    }

    #[test]
    fn find_by_column_uses_the_index_and_sees_later_rows() {
        let t = Tombstones::new();
        let mut store = Store::new(&t);
        let (a, b) = (
            "aaaaaaaa-0000-4000-8000-000000000001",
            "bbbbbbbb-0000-4000-8000-000000000002",
        );
        store.put("datasets", row("11111111-0000-4000-8000-000000000001", a));
        store.put("datasets", row("11111111-0000-4000-8000-000000000002", b));
        let found = store.find("datasets", &[("owner_id", &a.to_uppercase())], false);
        assert_eq!(found.len(), 1, "ids compare canonically");
        store.put("datasets", row("11111111-0000-4000-8000-000000000003", a));
        assert_eq!(store.find("datasets", &[("owner_id", a)], false).len(), 2);
        assert!(store
            .find("datasets", &[("owner_id", a), ("id", b)], false)
            .is_empty());
    }

    #[test]
    fn timestamps_become_rfc3339() {
        assert_eq!(
            rfc3339("2026-11-29 08:35:06.629784"),
            "2026-11-29T08:35:06.629784Z"
        );
        assert_eq!(rfc3339("2026-11-29T08:35:06"), "2026-11-29T08:35:06Z");
        assert_eq!(rfc3339("2026-11-29 08:35:06+00"), "2026-11-29T08:35:06Z");
        assert_eq!(rfc3339("2026-11-29"), "2026-11-29");
    }
}

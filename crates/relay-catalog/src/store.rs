//! What the lookups of one batch found, with the tombstones as fallback.

use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

use crate::tombstones::{id_key, table_key, Row, Tombstones};

/// Where a row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Read by a lookup: the state at enrichment time.
    Live,
    /// Captured from a WAL delete: the last known state.
    Tombstone,
}

/// Live rows by table and id, and the tombstones to fall back on.
#[derive(Debug)]
pub(crate) struct Store<'t> {
    live: HashMap<String, BTreeMap<String, Row>>,
    tombstones: &'t Tombstones,
}

impl<'t> Store<'t> {
    pub(crate) fn new(tombstones: &'t Tombstones) -> Self {
        Self {
            live: HashMap::new(),
            tombstones,
        }
    }

    /// Add a looked-up row (keyed by its `id` column).
    pub(crate) fn put(&mut self, table: &str, row: Row) {
        if let Some(id) = row.get("id").and_then(Value::as_str).map(id_key) {
            self.live
                .entry(table_key(table))
                .or_default()
                .insert(id, row);
        }
    }

    /// The row of `table` with this id: live first, else the tombstone.
    pub(crate) fn get(&self, table: &str, id: &str) -> Option<(&Row, Source)> {
        let (table, id) = (table_key(table), id_key(id));
        if let Some(row) = self.live.get(&table).and_then(|t| t.get(&id)) {
            return Some((row, Source::Live));
        }
        self.tombstones
            .get(&table, &id)
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
        let table = table_key(table);
        let matches = |row: &Row| {
            filters.iter().all(|(col, val)| {
                row.get(*col)
                    .and_then(Value::as_str)
                    .is_some_and(|v| id_key(v) == id_key(val))
            })
        };
        let mut out: BTreeMap<String, (&Row, Source)> = BTreeMap::new();
        if let Some(rows) = self.live.get(&table) {
            for (id, row) in rows {
                if matches(row) {
                    out.insert(id.clone(), (row, Source::Live));
                }
            }
        }
        if with_tombstones {
            if let Some((col, val)) = filters.first() {
                for row in self.tombstones.find_by(&table, col, val) {
                    if matches(row) {
                        if let Some(id) = row.get("id").and_then(Value::as_str) {
                            out.entry(id_key(id)).or_insert((row, Source::Tombstone));
                        }
                    }
                }
            }
        }
        out.into_values().collect()
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
            .filter_map(|row| text(row, column).map(id_key))
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

#[cfg(test)]
mod tests {
    use super::*;

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

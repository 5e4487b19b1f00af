//! Last known state of deleted domain rows, captured from WAL deletes.
//!
//! With `REPLICA IDENTITY FULL`, a pgoutput `Delete` message carries the whole old row.
//! The capture stage turns each into a tombstone ([`old_tuple_row`]) and keeps it in a
//! [`Tombstones`] set; the enricher falls back to it when a lookup finds nothing, so a
//! `*_removed` event still carries what was deleted (`"state": "last_known"`).

use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A row as column → text value (or `null`): the text format pgoutput and the lookups use.
pub type Row = Map<String, Value>;

/// Deleted rows by (table, id). Tables are named without schema (`datasets`); a
/// `public.` prefix is dropped. Ids are compared in canonical UUID text form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tombstones {
    rows: BTreeMap<(String, String), Row>,
}

/// The table name as the catalog uses it: no `public.` schema, no quotes.
pub(crate) fn table_key(table: &str) -> String {
    let t = table.strip_prefix("public.").unwrap_or(table);
    t.trim_matches('"').to_string()
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

impl Tombstones {
    pub fn new() -> Self {
        Self::default()
    }

    /// Remember a deleted row of `table`. Returns `false` (and keeps nothing) when the row
    /// has no text `id` column. A later delete of the same id replaces the earlier one.
    pub fn insert(&mut self, table: &str, row: Row) -> bool {
        let Some(id) = row.get("id").and_then(Value::as_str).map(id_key) else {
            return false;
        };
        self.rows.insert((table_key(table), id), row);
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
        self.rows.get(&(table_key(table), id_key(id)))
    }

    /// Deleted rows of `table` whose `column` equals `value` (e.g. all `datasets` with
    /// `data_product_id = X`, for cascades), ordered by id.
    pub fn find_by(&self, table: &str, column: &str, value: &str) -> Vec<&Row> {
        let table = table_key(table);
        let value = id_key(value);
        self.rows
            .range((table.clone(), String::new())..)
            .take_while(|((t, _), _)| *t == table)
            .filter(|(_, row)| {
                row.get(column)
                    .and_then(Value::as_str)
                    .is_some_and(|v| id_key(v) == value)
            })
            .map(|(_, row)| row)
            .collect()
    }

    /// Forget a deleted row (e.g. once the event that needed it has been acknowledged).
    pub fn remove(&mut self, table: &str, id: &str) -> Option<Row> {
        self.rows.remove(&(table_key(table), id_key(id)))
    }

    /// Keep only the rows for which `keep(table, id, row)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str, &Row) -> bool) {
        self.rows.retain(|(t, id), row| keep(t, id, row));
    }

    /// Add every row of `other` (its rows win).
    pub fn extend(&mut self, other: Tombstones) {
        self.rows.extend(other.rows);
    }

    /// Every (table, id, row), ordered by table then id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &Row)> {
        self.rows
            .iter()
            .map(|((t, id), row)| (t.as_str(), id.as_str(), row))
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
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

//! Decoded pgoutput tuples as the catalog's text rows.

use pgoutput::{ColumnValue, Relation, TupleData};
use serde_json::{Map, Value};

/// A decoded tuple as (column, text or null); bytes that are not UTF-8 are replaced.
/// Unchanged TOAST values are left out.
pub(super) fn text_row(rel: &Relation, t: &TupleData) -> Vec<(String, Option<String>)> {
    rel.columns
        .iter()
        .zip(t.0.iter())
        .filter_map(|(c, v)| {
            let value = match v {
                ColumnValue::Null => None,
                ColumnValue::Text(b) | ColumnValue::Binary(b) => {
                    Some(String::from_utf8_lossy(b).into_owned())
                }
                ColumnValue::UnchangedToast => return None,
            };
            Some((c.name.clone(), value))
        })
        .collect()
}

/// The same as a JSON object (the catalog's `Row`).
pub(super) fn json_row(rel: &Relation, t: &TupleData) -> Map<String, Value> {
    text_row(rel, t)
        .into_iter()
        .map(|(k, v)| (k, v.map_or(Value::Null, Value::String)))
        .collect()
}

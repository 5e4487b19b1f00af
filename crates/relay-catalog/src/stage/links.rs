//! Which link a pair named, by WAL position: the identity of access and asset-link
//! events.
//!
//! Audit rows of access (`data_product_dataset_link_*`) and asset links
//! (`data_output_dataset_link_*`) name a pair — consumer and output port, technical asset
//! and output port — not the link row. A pair can have several links over time (removed,
//! then requested again: a new id). The session records every insert, update and delete
//! of `input_ports` and `data_outputs_datasets` it reads; a record then names the link
//! the pair had at its commit, whatever a lookup would find later. Pairs the WAL has not
//! shown since the relay started fall back on the lookups.

use std::collections::HashMap;

use crate::tombstones::id_key;

/// Versions kept per pair (a pair re-requested more often keeps its newest links).
const VERSIONS: usize = 8;

/// (link table, one side's id, the other side's id).
type Pair = (&'static str, String, String);

#[derive(Debug, Default)]
pub(super) struct Links {
    /// pair → (commit LSN, link id), oldest first.
    pairs: HashMap<Pair, Vec<(u64, String)>>,
}

/// The pair columns of a link table.
pub(super) fn pair_columns(table: &str) -> Option<(&'static str, &'static str, &'static str)> {
    match table {
        "input_ports" => Some((
            "input_ports",
            "consuming_abstract_data_product_id",
            "dataset_id",
        )),
        "data_outputs_datasets" => Some(("data_outputs_datasets", "data_output_id", "dataset_id")),
        _ => None,
    }
}

impl Links {
    /// A row of `table` (one of the link tables) seen at `commit_lsn`.
    pub(super) fn saw(&mut self, table: &'static str, a: &str, b: &str, id: &str, commit_lsn: u64) {
        let versions = self.pairs.entry((table, id_key(a), id_key(b))).or_default();
        let id = id_key(id);
        if versions.last().is_some_and(|(_, last)| *last == id) {
            return;
        }
        versions.push((commit_lsn, id));
        if versions.len() > VERSIONS {
            versions.remove(0);
        }
    }

    /// The link the pair had at `as_of` (the newest seen at or before it).
    pub(super) fn as_of(
        &self,
        table: &'static str,
        a: &str,
        b: &str,
        as_of: u64,
    ) -> Option<String> {
        self.pairs
            .get(&(table, id_key(a), id_key(b)))?
            .iter()
            .rev()
            .find(|(lsn, _)| *lsn <= as_of)
            .map(|(_, id)| id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_names_the_link_it_had_at_each_commit() {
        let mut l = Links::default();
        l.saw(
            "input_ports",
            "c",
            "p",
            "11111111-0000-4000-8000-000000000001",
            10,
        );
        l.saw(
            "input_ports",
            "c",
            "p",
            "11111111-0000-4000-8000-000000000002",
            30,
        );
        assert_eq!(l.as_of("input_ports", "c", "p", 5), None);
        assert_eq!(
            l.as_of("input_ports", "c", "p", 20).as_deref(),
            Some("11111111-0000-4000-8000-000000000001")
        );
        assert_eq!(
            l.as_of("input_ports", "c", "p", 30).as_deref(),
            Some("11111111-0000-4000-8000-000000000002")
        );
    }
}

//! What the portal's V2 events name but the changed row does not hold: the type of the
//! consuming product (`abstract_data_products.abstract_data_product_type`), an access
//! link's consumer, a technical asset's owner and an output port's product.
//!
//! These relationships never change for a given id (a product does not become an
//! exploration, a technical asset keeps its owner), so they are learned once: from every
//! row of those tables that goes through capture (inserts, updates, and deletes under
//! `REPLICA IDENTITY FULL`), and at start from the tables themselves ([`seed_query`]) and
//! from the WAL the slot will replay (`learn_change`), both run by the binary since
//! capture does no I/O. A live run and a replay therefore name the same values.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Largest number of ids remembered per relationship (a portal has thousands).
const MAX_PER_FACT: usize = 2_000_000;

/// One kind of relationship.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fact {
    /// abstract data product id → `data_products` | `explorations`.
    ProductType,
    /// input port (access link) id → consuming abstract data product id.
    InputPortConsumer,
    /// technical asset (`data_outputs`) id → owning data product id.
    AssetOwner,
    /// output port (`datasets`) id → data product id.
    PortProduct,
}

impl Fact {
    const ALL: [Fact; 4] = [
        Fact::ProductType,
        Fact::InputPortConsumer,
        Fact::AssetOwner,
        Fact::PortProduct,
    ];

    /// The label of this fact in [`seed_query`]'s first column.
    pub fn label(self) -> &'static str {
        match self {
            Fact::ProductType => "product_type",
            Fact::InputPortConsumer => "input_port_consumer",
            Fact::AssetOwner => "asset_owner",
            Fact::PortProduct => "port_product",
        }
    }

    fn from_label(label: &str) -> Option<Fact> {
        Fact::ALL.into_iter().find(|f| f.label() == label)
    }

    /// (table, id column, value column) this fact is read from.
    fn source(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Fact::ProductType => ("abstract_data_products", "id", "abstract_data_product_type"),
            Fact::InputPortConsumer => ("input_ports", "id", "consuming_abstract_data_product_id"),
            Fact::AssetOwner => ("data_outputs", "id", "owner_id"),
            Fact::PortProduct => ("datasets", "id", "data_product_id"),
        }
    }
}

/// The query that reads every fact at start: rows of (fact label, id, value), all text.
/// `schema` must already be a quoted identifier.
pub fn seed_query(schema: &str) -> String {
    Fact::ALL
        .iter()
        .map(|f| {
            let (table, id, value) = f.source();
            format!(
                "SELECT '{}'::text, {id}::text, {value}::text FROM {schema}.{table} WHERE {value} IS NOT NULL",
                f.label()
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// The remembered relationships. Shared by the capture of every replication session of
/// one process (the facts stay true across sessions).
#[derive(Default)]
pub struct Facts {
    maps: Mutex<HashMap<Fact, HashMap<String, String>>>,
}

impl std::fmt::Debug for Facts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Facts({} known)", self.len())
    }
}

impl Facts {
    pub fn learn(&self, fact: Fact, id: &str, value: &str) {
        let mut maps = self.maps.lock().unwrap_or_else(PoisonError::into_inner);
        let map = maps.entry(fact).or_default();
        if map.len() < MAX_PER_FACT || map.contains_key(id) {
            map.insert(id.to_string(), value.to_string());
        }
    }

    /// A row of [`seed_query`]; `false` for an unknown label.
    pub fn seed(&self, label: &str, id: &str, value: &str) -> bool {
        match Fact::from_label(label) {
            Some(fact) => {
                self.learn(fact, id, value);
                true
            }
            None => false,
        }
    }

    pub fn get(&self, fact: Fact, id: &str) -> Option<String> {
        let maps = self.maps.lock().unwrap_or_else(PoisonError::into_inner);
        maps.get(&fact).and_then(|m| m.get(id)).cloned()
    }

    /// Ids known, over all relationships.
    pub fn len(&self) -> usize {
        let maps = self.maps.lock().unwrap_or_else(PoisonError::into_inner);
        maps.values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learn_seed_and_query() {
        let facts = Facts::default();
        assert!(facts.is_empty());
        facts.learn(Fact::ProductType, "p", "explorations");
        assert!(facts.seed("asset_owner", "a", "p"));
        assert!(!facts.seed("nonsense", "a", "p"));
        assert_eq!(
            facts.get(Fact::ProductType, "p").as_deref(),
            Some("explorations")
        );
        assert_eq!(facts.get(Fact::AssetOwner, "a").as_deref(), Some("p"));
        assert_eq!(facts.get(Fact::PortProduct, "a"), None);
        assert_eq!(facts.len(), 2);
        let sql = seed_query("\"public\"");
        assert!(
            sql.contains("FROM \"public\".abstract_data_products"),
            "{sql}"
        );
        assert_eq!(sql.matches("UNION ALL").count(), 3, "{sql}");
    }
}

//! Which held deletes an audit record accounts for.
//!
//! The pipeline holds captured deletes (and their transactions' LSNs) until the audit row
//! that explains them has been delivered. [`resolved_tombstones`] names, for one audit
//! record, the tombstones of the entity it removes and of everything deleted in cascade
//! with it; once the record's events are acknowledged, those can be forgotten.

use std::collections::BTreeSet;

use crate::catalog::{
    Catalog, Entity, CONFIGURATION_TYPES, DERIVED_ACCESS_CASCADE, DERIVED_ACCESS_EXPLORATION,
    DERIVED_ASSET_CASCADE, DERIVED_PORT_CASCADE,
};
use crate::model::{refs, AuditRecord};
use crate::store::text;
use crate::tombstones::{id_key, Row, Tombstones};

struct Collector<'t> {
    t: &'t Tombstones,
    out: BTreeSet<(String, String)>,
}

impl<'t> Collector<'t> {
    fn add(&mut self, table: &str, row: &Row) {
        if let Some(id) = text(row, "id") {
            self.out.insert((table.to_string(), id_key(id)));
        }
    }

    fn by_id(&mut self, table: &str, id: &str) -> Option<&'t Row> {
        let row = self.t.get(table, id)?;
        self.add(table, row);
        Some(row)
    }

    fn by(&mut self, table: &str, filters: &[(&str, &str)]) -> Vec<&'t Row> {
        let Some((col, val)) = filters.first() else {
            return Vec::new();
        };
        let rows: Vec<&'t Row> = self
            .t
            .find_by(table, col, val)
            .into_iter()
            .filter(|row| {
                filters
                    .iter()
                    .skip(1)
                    .all(|(c, v)| text(row, c).is_some_and(|x| id_key(x) == id_key(v)))
            })
            .collect();
        for row in &rows {
            self.add(table, row);
        }
        rows
    }

    fn access(&mut self, links: Vec<&'t Row>) {
        for link in links {
            if let Some(id) = text(link, "id") {
                self.by("input_port_requests", &[("input_port_id", id)]);
            }
        }
    }

    fn port(&mut self, id: &str) {
        self.by_id("datasets", id);
        self.by("role_assignments_dataset", &[("dataset_id", id)]);
        self.by("data_outputs_datasets", &[("dataset_id", id)]);
        let links = self.by("input_ports", &[("dataset_id", id)]);
        self.access(links);
    }

    fn asset(&mut self, id: &str) {
        if let Some(row) = self.by_id("data_outputs", id) {
            if let Some(cfg) = text(row, "configuration_id") {
                self.by_id("data_output_configurations", cfg);
                for ct in CONFIGURATION_TYPES {
                    self.by_id(ct.table, cfg);
                }
            }
        }
        self.by("data_outputs_datasets", &[("data_output_id", id)]);
    }

    fn product(&mut self, id: &str) {
        for table in ["abstract_data_products", "data_products", "explorations"] {
            self.by_id(table, id);
        }
        self.by("role_assignments_data_product", &[("data_product_id", id)]);
        let links = self.by("input_ports", &[("consuming_abstract_data_product_id", id)]);
        self.access(links);
        for port in self.t.find_by("datasets", "data_product_id", id) {
            if let Some(p) = text(port, "id") {
                self.port(p);
            }
        }
        for asset in self.t.find_by("data_outputs", "owner_id", id) {
            if let Some(a) = text(asset, "id") {
                self.asset(a);
            }
        }
    }
}

/// The captured deletes (table, id) that `record` accounts for: for a removal, the
/// entity's rows and everything deleted in cascade with it (a data product: its team,
/// access links it consumes, its output ports with their teams, links and access, its
/// technical assets with their configurations); for access removed/cancelled, the link
/// and its requests; for a membership removed/denied, the assignment. Only tombstones
/// present in `tombstones` are listed; other records account for none.
pub fn resolved_tombstones(record: &AuditRecord, tombstones: &Tombstones) -> Vec<(String, String)> {
    let Some(spec) = Catalog::portal().spec(&record.name) else {
        return Vec::new();
    };
    let r = refs(record);
    let mut c = Collector {
        t: tombstones,
        out: BTreeSet::new(),
    };
    let removal = matches!(
        spec.implied_status,
        Some("removed" | "cancelled" | "denied")
    ) || matches!(
        spec.key,
        DERIVED_ACCESS_CASCADE
            | DERIVED_ACCESS_EXPLORATION
            | DERIVED_ASSET_CASCADE
            | DERIVED_PORT_CASCADE
    );
    if removal {
        match spec.entity {
            Entity::DataProduct => {
                if let Some(p) = &r.product {
                    c.product(p);
                }
            }
            Entity::OutputPort => {
                if let Some(p) = &r.port {
                    c.port(p);
                }
            }
            Entity::TechnicalAsset => {
                if let Some(a) = &r.asset {
                    c.asset(a);
                }
            }
            Entity::Access => {
                if let (Some(p), Some(d)) = (&r.product, &r.port) {
                    let links = c.by(
                        "input_ports",
                        &[("consuming_abstract_data_product_id", p), ("dataset_id", d)],
                    );
                    c.access(links);
                    if spec.key == DERIVED_ACCESS_EXPLORATION {
                        // The exploration went with its links (never audited itself).
                        c.product(p);
                    }
                }
            }
            Entity::TechnicalAssetLink => {
                if let (Some(a), Some(d)) = (&r.asset, &r.port) {
                    c.by(
                        "data_outputs_datasets",
                        &[("data_output_id", a), ("dataset_id", d)],
                    );
                }
            }
            Entity::DataProductMembership => {
                if let (Some(p), Some(u)) = (&r.product, &r.user) {
                    c.by(
                        "role_assignments_data_product",
                        &[("data_product_id", p), ("user_id", u)],
                    );
                }
            }
            Entity::OutputPortMembership => {
                if let (Some(p), Some(u)) = (&r.port, &r.user) {
                    c.by(
                        "role_assignments_dataset",
                        &[("dataset_id", p), ("user_id", u)],
                    );
                }
            }
        }
    }
    c.out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tombstones::old_tuple_row;

    const P: &str = "11111111-0000-4000-8000-000000000001";
    const D: &str = "22222222-0000-4000-8000-000000000001";
    const A: &str = "33333333-0000-4000-8000-000000000001";
    const CFG: &str = "44444444-0000-4000-8000-000000000001";
    const L: &str = "55555555-0000-4000-8000-000000000001";
    const IP: &str = "99999999-0000-4000-8000-000000000001";
    const OTHER: &str = "11111111-0000-4000-8000-000000000009";

    fn t() -> Tombstones {
        let mut t = Tombstones::new();
        let mut add = |table: &str, cols: &[(&str, &str)]| {
            t.insert(
                table,
                old_tuple_row(cols.iter().map(|(k, v)| (*k, Some(*v)))),
            );
        };
        add("abstract_data_products", &[("id", P), ("name", "Revenue")]);
        add("data_products", &[("id", P)]);
        add("datasets", &[("id", D), ("data_product_id", P)]);
        add(
            "data_outputs",
            &[("id", A), ("owner_id", P), ("configuration_id", CFG)],
        );
        add("data_output_configurations", &[("id", CFG)]);
        add("s3_technical_asset_configurations", &[("id", CFG)]);
        add(
            "data_outputs_datasets",
            &[("id", L), ("data_output_id", A), ("dataset_id", D)],
        );
        add(
            "input_ports",
            &[
                ("id", IP),
                ("consuming_abstract_data_product_id", OTHER),
                ("dataset_id", D),
            ],
        );
        add(
            "input_port_requests",
            &[
                ("id", "99999999-1111-4000-8000-000000000001"),
                ("input_port_id", IP),
            ],
        );
        add(
            "abstract_data_products",
            &[("id", OTHER), ("name", "Other")],
        );
        t
    }

    fn rec(name: &str, st: &str, sid: &str, target: Option<(&str, &str)>) -> AuditRecord {
        AuditRecord {
            id: "e".into(),
            name: name.into(),
            subject_type: st.into(),
            subject_id: Some(sid.into()),
            target_type: target.map(|t| t.0.into()),
            target_id: target.map(|t| t.1.into()),
            ..AuditRecord::default()
        }
    }

    #[test]
    fn a_product_removal_accounts_for_its_cascade() {
        let t = t();
        let got = resolved_tombstones(&rec("data_product_removed", "DATA_PRODUCT", P, None), &t);
        let tables: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(got.len(), 9, "{got:?}");
        assert!(!got.contains(&("abstract_data_products".into(), OTHER.into())));
        for table in [
            "datasets",
            "data_outputs",
            "input_port_requests",
            "s3_technical_asset_configurations",
        ] {
            assert!(tables.contains(&table), "{table}");
        }
    }

    #[test]
    fn narrower_removals_account_for_their_rows_only() {
        let t = t();
        let link = resolved_tombstones(
            &rec(
                "data_output_dataset_link_removed",
                "DATA_OUTPUT",
                A,
                Some(("DATASET", D)),
            ),
            &t,
        );
        assert_eq!(
            link,
            vec![("data_outputs_datasets".to_string(), L.to_string())]
        );
        let access = resolved_tombstones(
            &rec(
                "data_product_dataset_link_removed",
                "DATASET",
                D,
                Some(("DATA_PRODUCT", OTHER)),
            ),
            &t,
        );
        assert_eq!(access.len(), 2);
        let created = resolved_tombstones(&rec("dataset_created", "DATASET", D, None), &t);
        assert!(created.is_empty());
        let unknown = resolved_tombstones(&rec("something_else", "DATASET", D, None), &t);
        assert!(unknown.is_empty());
    }
}

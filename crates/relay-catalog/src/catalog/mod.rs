//! The portal event catalog, as data.
//!
//! One [`EventSpec`] per audit `name` the Data Product Portal writes (33 of them), plus the
//! derived events the portal does not audit (access expiry, children deleted in cascade
//! with a data product, deletes whose audit row never came). A spec says which business event the audit row becomes
//! (CloudEvents `type` and route), which audit column holds which entity
//! ([`Orientation`]), what the aggregate (CloudEvents `subject`) is, which status the
//! name implies, and which named lookups enrich it. The lookup SQL belongs to the catalog
//! too ([`QUERIES`], kept in `queries.rs` and re-exported here); nothing else in the crate
//! writes SQL.
//!
//! An audit name that is not in the catalog is not an error: it becomes a
//! `portal.unknown.v1` event ([`UNKNOWN_EVENT_TYPE`]) carrying the audit row and the marker
//! `"enrichment": {"status": "unknown_audit_name"}`.

mod specs;
mod types;

pub use specs::*;
pub use types::*;

pub use crate::queries::{
    CapturedTable, ConfigurationType, NamedQuery, CAPTURED_TABLES, CONFIGURATION_TYPES, QUERIES,
    Q_ACCESS_BY_PAIR, Q_ACCESS_REQUESTS, Q_CONFIGURATIONS, Q_LINKS_BY_PAIR, Q_LINKS_BY_PORT,
    Q_OUTPUT_PORTS, Q_PORT_MEMBERS, Q_PRODUCTS, Q_PRODUCT_MEMBERS, Q_REFERENCE, Q_ROLES,
    Q_TECHNICAL_ASSETS, Q_USERS,
};

/// The event catalog: what each audit name becomes and how it is enriched.
#[derive(Debug, Clone, Copy)]
pub struct Catalog {
    specs: &'static [EventSpec],
}

impl Default for Catalog {
    fn default() -> Self {
        Self::portal()
    }
}

impl Catalog {
    /// The Data Product Portal's catalog.
    pub fn portal() -> Self {
        Self {
            specs: PORTAL_SPECS,
        }
    }

    /// Every entry, audit names first, then derived events.
    pub fn specs(&self) -> &'static [EventSpec] {
        self.specs
    }

    /// The entry for an audit name (or derived key); `None` for an unknown name.
    pub fn spec(&self, key: &str) -> Option<&'static EventSpec> {
        self.specs.iter().find(|s| s.key == key)
    }

    /// The entries for audit names only.
    pub fn audit_specs(&self) -> impl Iterator<Item = &'static EventSpec> {
        self.specs.iter().filter(|s| s.origin == Origin::Audit)
    }

    /// Every CloudEvents type the catalog can emit (sorted, unique), including
    /// [`UNKNOWN_EVENT_TYPE`].
    pub fn event_types(&self) -> Vec<String> {
        let mut types: Vec<String> = self.specs.iter().map(EventSpec::event_type).collect();
        types.push(UNKNOWN_EVENT_TYPE.to_string());
        types.sort();
        types.dedup();
        types
    }

    /// The entries that produce this event type.
    pub fn specs_for_type(&self, event_type: &str) -> Vec<&'static EventSpec> {
        self.specs
            .iter()
            .filter(|s| s.event_type() == event_type)
            .collect()
    }

    /// The lookups the enricher runs.
    pub fn queries(&self) -> &'static [NamedQuery] {
        QUERIES
    }

    /// A lookup by name.
    pub fn query(&self, name: &str) -> Option<&'static NamedQuery> {
        QUERIES.iter().find(|q| q.name == name)
    }

    /// Domain tables whose deletes must be captured (REPLICA IDENTITY FULL, in a
    /// publication that publishes `delete`), so that removal events carry the last known
    /// state of what was deleted. Per-type configuration tables the portal has not created
    /// (`to_regclass(name) IS NULL`) can be left out of the publication.
    pub fn tables_to_capture_deletes(&self) -> &'static [&'static str] {
        const TABLES: &[&str] = &[
            "abstract_data_products",
            "data_products",
            "explorations",
            "datasets",
            "data_outputs",
            "data_output_configurations",
            "s3_technical_asset_configurations",
            "glue_technical_asset_configurations",
            "databricks_technical_asset_configurations",
            "snowflake_technical_asset_configurations",
            "redshift_technical_asset_configurations",
            "azure_blob_technical_asset_configurations",
            "postgresql_technical_asset_configurations",
            "osi_semantic_model_technical_asset_configurations",
            "data_outputs_datasets",
            "input_ports",
            "input_port_requests",
            "role_assignments_data_product",
            "role_assignments_dataset",
        ];
        TABLES
    }

    /// Every table the lookups read: the relay's role needs SELECT on each (per-type
    /// configuration tables only where they exist).
    pub fn tables_read(&self) -> &'static [&'static str] {
        const TABLES: &[&str] = &[
            "abstract_data_products",
            "data_products",
            "explorations",
            "domains",
            "data_product_types",
            "data_product_lifecycles",
            "datasets",
            "data_outputs",
            "data_output_configurations",
            "s3_technical_asset_configurations",
            "glue_technical_asset_configurations",
            "databricks_technical_asset_configurations",
            "snowflake_technical_asset_configurations",
            "redshift_technical_asset_configurations",
            "azure_blob_technical_asset_configurations",
            "postgresql_technical_asset_configurations",
            "osi_semantic_model_technical_asset_configurations",
            "platforms",
            "platform_services",
            "data_outputs_datasets",
            "input_ports",
            "input_port_requests",
            "roles",
            "role_assignments_data_product",
            "role_assignments_dataset",
            "users",
        ];
        TABLES
    }

    /// [`Catalog::tables_to_capture_deletes`] with the reason for each and the audit
    /// names that resolve a held delete.
    pub fn captured_tables(&self) -> &'static [CapturedTable] {
        CAPTURED_TABLES
    }

    /// The configuration types with a per-type table.
    pub fn configuration_types(&self) -> &'static [ConfigurationType] {
        CONFIGURATION_TYPES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const PORTAL_NAMES: &[&str] = &[
        "data_output_created",
        "data_output_updated",
        "data_output_removed",
        "data_output_dataset_link_requested",
        "data_output_dataset_link_approved",
        "data_output_dataset_link_denied",
        "data_output_dataset_link_removed",
        "data_product_created",
        "data_product_updated",
        "data_product_removed",
        "data_product_setting_updated",
        "data_product_role_assignment_created",
        "data_product_role_assignment_updated",
        "data_product_role_assignment_removed",
        "data_product_role_assignment_requested",
        "data_product_role_assignment_approved",
        "data_product_role_assignment_denied",
        "data_product_dataset_link_requested",
        "data_product_dataset_link_approved",
        "data_product_dataset_link_denied",
        "data_product_dataset_link_removed",
        "data_product_dataset_link_revoked",
        "data_product_dataset_link_cancelled",
        "dataset_created",
        "dataset_updated",
        "dataset_removed",
        "dataset_setting_updated",
        "dataset_role_assignment_created",
        "dataset_role_assignment_updated",
        "dataset_role_assignment_removed",
        "dataset_role_assignment_requested",
        "dataset_role_assignment_approved",
        "dataset_role_assignment_denied",
    ];

    #[test]
    fn every_portal_name_has_exactly_one_entry() {
        let c = Catalog::portal();
        let audit: Vec<&str> = c.audit_specs().map(|s| s.key).collect();
        assert_eq!(audit.len(), 33);
        let set: HashSet<&str> = audit.iter().copied().collect();
        assert_eq!(set.len(), 33, "duplicate audit names");
        for name in PORTAL_NAMES {
            assert!(set.contains(name), "{name} missing from the catalog");
        }
    }

    #[test]
    fn types_and_routes_use_business_names() {
        for s in Catalog::portal().specs() {
            let t = s.event_type();
            assert!(t.starts_with("portal.") && t.ends_with(".v1"), "{t}");
            for legacy in ["dataset", "data_output", "role_assignment"] {
                assert!(!t.contains(legacy), "{t} uses a legacy name");
            }
            assert_eq!(format!("portal.{}.v1", s.route()), t);
            assert!(!s.orientations.is_empty());
            for q in s.lookups {
                assert!(
                    *q == "configuration_<type>" || Catalog::portal().query(q).is_some(),
                    "{} names unknown lookup {q}",
                    s.key
                );
            }
        }
    }

    #[test]
    fn access_directions_follow_the_portal() {
        let c = Catalog::portal();
        let consumer = Orientation {
            subject: RefType::DataProduct,
            target: Some(RefType::Dataset),
            side: Some(Side::Consumer),
        };
        let producer = Orientation {
            subject: RefType::Dataset,
            target: Some(RefType::DataProduct),
            side: Some(Side::Producer),
        };
        let sides = |n: &str| c.spec(n).unwrap().orientations.to_vec();
        assert_eq!(sides("data_product_dataset_link_requested"), vec![consumer]);
        assert_eq!(sides("data_product_dataset_link_cancelled"), vec![consumer]);
        // Access to an output port open to everyone is approved at once, from the
        // consumer side (PORTAL.md): approval has both orientations.
        assert_eq!(
            sides("data_product_dataset_link_approved"),
            vec![consumer, producer]
        );
        assert_eq!(sides("data_product_dataset_link_denied"), vec![producer]);
        assert_eq!(
            sides("data_product_dataset_link_revoked"),
            vec![consumer, producer]
        );
        assert_eq!(
            sides("data_product_dataset_link_removed"),
            vec![consumer, producer]
        );
    }

    #[test]
    fn captured_tables_agree() {
        let c = Catalog::portal();
        let listed: Vec<&str> = c.captured_tables().iter().map(|t| t.table).collect();
        assert_eq!(listed, c.tables_to_capture_deletes());
        for t in c.captured_tables() {
            for n in t.resolved_by {
                assert!(c.spec(n).is_some(), "{n}");
            }
        }
        for q in c.queries() {
            let sql = q.sql.to_ascii_lowercase();
            let named = c.tables_read().iter().any(|t| {
                sql.contains(&format!("from {t} ")) || sql.contains(&format!("from {t}\n"))
            });
            assert!(named, "{} reads a table missing from tables_read", q.name);
        }
        for t in c.tables_to_capture_deletes() {
            assert!(c.tables_read().contains(t), "{t}");
        }
        for ct in c.configuration_types() {
            assert!(c.query(ct.query).is_some());
            assert!(listed.contains(&ct.table));
        }
    }
}

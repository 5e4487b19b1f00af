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

/// CloudEvents `type` of an audit row whose `name` the catalog does not know.
pub const UNKNOWN_EVENT_TYPE: &str = "portal.unknown.v1";
/// Route of [`UNKNOWN_EVENT_TYPE`] events.
pub const UNKNOWN_ROUTE: &str = "unknown";

/// The business entities events are about (clear names, not the portal's legacy table names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entity {
    /// `abstract_data_products` (+ `data_products` / `explorations`).
    DataProduct,
    /// `datasets`.
    OutputPort,
    /// `data_outputs` (+ its configuration).
    TechnicalAsset,
    /// `input_ports` (+ `input_port_requests`): a consuming product's access to an output port.
    Access,
    /// `role_assignments_data_product`.
    DataProductMembership,
    /// `role_assignments_dataset`.
    OutputPortMembership,
    /// `data_outputs_datasets`: a technical asset linked to an output port.
    TechnicalAssetLink,
}

impl Entity {
    pub const ALL: [Entity; 7] = [
        Entity::DataProduct,
        Entity::OutputPort,
        Entity::TechnicalAsset,
        Entity::Access,
        Entity::DataProductMembership,
        Entity::OutputPortMembership,
        Entity::TechnicalAssetLink,
    ];

    /// The name used in event types, routes and as the payload key.
    pub fn name(self) -> &'static str {
        match self {
            Entity::DataProduct => "data_product",
            Entity::OutputPort => "output_port",
            Entity::TechnicalAsset => "technical_asset",
            Entity::Access => "access",
            Entity::DataProductMembership => "data_product_membership",
            Entity::OutputPortMembership => "output_port_membership",
            Entity::TechnicalAssetLink => "technical_asset_link",
        }
    }

    /// The portal table holding this entity.
    pub fn table(self) -> &'static str {
        match self {
            Entity::DataProduct => "abstract_data_products",
            Entity::OutputPort => "datasets",
            Entity::TechnicalAsset => "data_outputs",
            Entity::Access => "input_ports",
            Entity::DataProductMembership => "role_assignments_data_product",
            Entity::OutputPortMembership => "role_assignments_dataset",
            Entity::TechnicalAssetLink => "data_outputs_datasets",
        }
    }
}

/// The values of the audit columns `subject_type` / `target_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefType {
    DataProduct,
    /// An output port.
    Dataset,
    /// A technical asset.
    DataOutput,
    User,
}

impl RefType {
    /// The value stored in the audit table.
    pub fn audit_value(self) -> &'static str {
        match self {
            RefType::DataProduct => "DATA_PRODUCT",
            RefType::Dataset => "DATASET",
            RefType::DataOutput => "DATA_OUTPUT",
            RefType::User => "USER",
        }
    }

    /// Parse an audit `subject_type`/`target_type` value (case-insensitive).
    pub fn parse(s: &str) -> Option<RefType> {
        [
            RefType::DataProduct,
            RefType::Dataset,
            RefType::DataOutput,
            RefType::User,
        ]
        .into_iter()
        .find(|t| t.audit_value().eq_ignore_ascii_case(s.trim()))
    }
}

/// Which side of an access link acted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The consuming data product (request, cancel, consumer-side revoke/remove).
    Consumer,
    /// The output port's owner (approve, deny, producer-side revoke/remove).
    Producer,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Consumer => "consumer",
            Side::Producer => "producer",
        }
    }
}

/// One way the portal fills `subject_*` / `target_*` for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Orientation {
    pub subject: RefType,
    pub target: Option<RefType>,
    /// For access events: which side acted when the row looks like this.
    pub side: Option<Side>,
}

/// What the CloudEvents `subject` (the aggregate, the ordering key) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// The id of the audit reference of this type (subject or target, whichever has it).
    Ref(RefType),
    /// The access link: the `input_ports` row id, found by (consuming product, output port).
    AccessLink,
    /// The asset↔port link: the `data_outputs_datasets` row id, found by (asset, port).
    TechnicalAssetLink,
}

impl Aggregate {
    /// How the docs describe the rule.
    pub fn describe(self) -> String {
        match self {
            Aggregate::Ref(RefType::DataProduct) => "data product id".into(),
            Aggregate::Ref(RefType::Dataset) => "output port id".into(),
            Aggregate::Ref(RefType::DataOutput) => "technical asset id".into(),
            Aggregate::Ref(RefType::User) => "user id".into(),
            Aggregate::AccessLink => {
                "access link id (`input_ports.id` of (consuming product, output port))".into()
            }
            Aggregate::TechnicalAssetLink => {
                "link id (`data_outputs_datasets.id` of (technical asset, output port))".into()
            }
        }
    }
}

/// Whether an event comes from an audit row or is derived by the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An audit row with this `name`.
    Audit,
    /// Not audited by the portal; the relay derives it (the spec's `key` is internal and
    /// never appears in an event's `auditname`).
    Derived,
}

/// One catalog entry: an audit name (or derived event key) → a business event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSpec {
    /// The audit `name` (for [`Origin::Derived`], an internal key).
    pub key: &'static str,
    pub origin: Origin,
    pub entity: Entity,
    /// The verb of the event type, e.g. `approved`.
    pub action: &'static str,
    /// The ways the portal fills the audit row's subject/target for this name.
    pub orientations: &'static [Orientation],
    pub aggregate: Aggregate,
    /// The status the name implies (written to the entity's `status`, overriding any
    /// looked-up value).
    pub implied_status: Option<&'static str>,
    /// The named lookups ([`NamedQuery::name`]) that enrich it.
    pub lookups: &'static [&'static str],
    /// One line for the catalog page.
    pub summary: &'static str,
}

impl EventSpec {
    /// The CloudEvents `type`, `portal.<entity>.<action>.v1`.
    pub fn event_type(&self) -> String {
        format!("portal.{}.{}.v1", self.entity.name(), self.action)
    }

    /// The route, `<entity>.<action>` (NATS subject suffix after `portal.events.`).
    pub fn route(&self) -> String {
        format!("{}.{}", self.entity.name(), self.action)
    }

    /// For derived events, why the relay emits it (`data.derived.reason`):
    /// `access_expired`, `data_product_removed` (cascade) or `audit_row_missing`.
    pub fn derived_reason(&self) -> Option<&'static str> {
        match self.origin {
            Origin::Audit => None,
            Origin::Derived if self.key == DERIVED_ACCESS_EXPIRED => Some("access_expired"),
            Origin::Derived if self.key.ends_with("_in_cascade") => Some("data_product_removed"),
            Origin::Derived => Some("audit_row_missing"),
        }
    }

    /// The audit name, `None` for derived events.
    pub fn audit_name(&self) -> Option<&'static str> {
        (self.origin == Origin::Audit).then_some(self.key)
    }

    /// The orientation matching the record's subject/target types.
    pub fn orientation_for(
        &self,
        subject: Option<RefType>,
        target: Option<RefType>,
    ) -> Option<&'static Orientation> {
        self.orientations
            .iter()
            .find(|o| Some(o.subject) == subject && o.target == target)
    }
}

pub use crate::queries::{
    CapturedTable, ConfigurationType, NamedQuery, CAPTURED_TABLES, CONFIGURATION_TYPES, QUERIES,
    Q_ACCESS_BY_PAIR, Q_ACCESS_REQUESTS, Q_CONFIGURATIONS, Q_LINKS_BY_PAIR, Q_LINKS_BY_PORT,
    Q_OUTPUT_PORTS, Q_PORT_MEMBERS, Q_PRODUCTS, Q_PRODUCT_MEMBERS, Q_REFERENCE, Q_ROLES,
    Q_TECHNICAL_ASSETS, Q_USERS,
};

use Aggregate as A;
use RefType::{DataOutput as DO, DataProduct as DP, Dataset as DS, User as U};

const fn o(subject: RefType, target: Option<RefType>) -> Orientation {
    Orientation {
        subject,
        target,
        side: None,
    }
}

const fn side(subject: RefType, target: RefType, side: Side) -> Orientation {
    Orientation {
        subject,
        target: Some(target),
        side: Some(side),
    }
}

const PRODUCT_ONLY: &[Orientation] = &[o(DP, None)];
const PRODUCT_USER: &[Orientation] = &[o(DP, Some(U))];
const PORT_ONLY: &[Orientation] = &[o(DS, None)];
const PORT_REMOVED: &[Orientation] = &[o(DS, Some(DP)), o(DS, None)];
const PORT_USER: &[Orientation] = &[o(DS, Some(U))];
const ASSET_OWNER: &[Orientation] = &[o(DO, Some(DP))];
const ASSET_ONLY: &[Orientation] = &[o(DO, None)];
const ASSET_TO_PORT: &[Orientation] = &[o(DO, Some(DS))];
const PORT_TO_ASSET: &[Orientation] = &[o(DS, Some(DO))];
const CONSUMER: &[Orientation] = &[side(DP, DS, Side::Consumer)];
const PRODUCER: &[Orientation] = &[side(DS, DP, Side::Producer)];
const EITHER_SIDE: &[Orientation] = &[side(DP, DS, Side::Consumer), side(DS, DP, Side::Producer)];

const L_PRODUCT: &[&str] = &[Q_PRODUCTS, Q_PRODUCT_MEMBERS, Q_USERS, Q_ROLES, Q_REFERENCE];
const L_PORT: &[&str] = &[
    Q_OUTPUT_PORTS,
    Q_PRODUCTS,
    Q_LINKS_BY_PORT,
    Q_TECHNICAL_ASSETS,
    Q_CONFIGURATIONS,
    "configuration_<type>",
    Q_REFERENCE,
    Q_USERS,
];
const L_ASSET: &[&str] = &[
    Q_TECHNICAL_ASSETS,
    Q_PRODUCTS,
    Q_CONFIGURATIONS,
    "configuration_<type>",
    Q_REFERENCE,
    Q_USERS,
];
const L_ACCESS: &[&str] = &[
    Q_ACCESS_BY_PAIR,
    Q_ACCESS_REQUESTS,
    Q_OUTPUT_PORTS,
    Q_PRODUCTS,
    Q_LINKS_BY_PORT,
    Q_TECHNICAL_ASSETS,
    Q_CONFIGURATIONS,
    "configuration_<type>",
    Q_REFERENCE,
    Q_USERS,
];
const L_PRODUCT_MEMBER: &[&str] = &[Q_PRODUCT_MEMBERS, Q_PRODUCTS, Q_USERS, Q_ROLES];
const L_PORT_MEMBER: &[&str] = &[Q_PORT_MEMBERS, Q_OUTPUT_PORTS, Q_PRODUCTS, Q_USERS, Q_ROLES];
const L_LINK: &[&str] = &[
    Q_LINKS_BY_PAIR,
    Q_TECHNICAL_ASSETS,
    Q_OUTPUT_PORTS,
    Q_PRODUCTS,
    Q_CONFIGURATIONS,
    "configuration_<type>",
    Q_REFERENCE,
    Q_USERS,
];

#[allow(clippy::too_many_arguments)]
const fn spec(
    key: &'static str,
    entity: Entity,
    action: &'static str,
    orientations: &'static [Orientation],
    aggregate: Aggregate,
    implied_status: Option<&'static str>,
    lookups: &'static [&'static str],
    summary: &'static str,
) -> EventSpec {
    EventSpec {
        key,
        origin: Origin::Audit,
        entity,
        action,
        orientations,
        aggregate,
        implied_status,
        lookups,
        summary,
    }
}

const fn derived(mut s: EventSpec) -> EventSpec {
    s.origin = Origin::Derived;
    s
}

/// Derived key: an access link whose `input_ports.status` became `EXPIRED`.
pub const DERIVED_ACCESS_EXPIRED: &str = "access_expired";
/// Derived key: an output port deleted in cascade with its data product.
pub const DERIVED_PORT_CASCADE: &str = "output_port_removed_in_cascade";
/// Derived key: a technical asset deleted in cascade with its owning data product.
pub const DERIVED_ASSET_CASCADE: &str = "technical_asset_removed_in_cascade";
/// Derived key: an access link deleted in cascade with a data product (consumer or owner).
pub const DERIVED_ACCESS_CASCADE: &str = "access_removed_in_cascade";
/// Derived keys: a captured delete whose audit row never came within the pipeline's
/// bounded hold, emitted from the captured row so that it cannot pin WAL.
pub const DERIVED_PRODUCT_ORPHAN: &str = "data_product_removed_without_audit_row";
pub const DERIVED_PORT_ORPHAN: &str = "output_port_removed_without_audit_row";
pub const DERIVED_ASSET_ORPHAN: &str = "technical_asset_removed_without_audit_row";
pub const DERIVED_ACCESS_ORPHAN: &str = "access_removed_without_audit_row";
pub const DERIVED_LINK_ORPHAN: &str = "technical_asset_link_removed_without_audit_row";
pub const DERIVED_PRODUCT_MEMBERSHIP_ORPHAN: &str =
    "data_product_membership_removed_without_audit_row";
pub const DERIVED_PORT_MEMBERSHIP_ORPHAN: &str = "output_port_membership_removed_without_audit_row";

use Entity as E;

/// The portal catalog: the 33 audit names, then the derived events.
pub static PORTAL_SPECS: &[EventSpec] = &[
    // Technical assets (legacy: data_output).
    spec("data_output_created", E::TechnicalAsset, "created", ASSET_OWNER, A::Ref(DO), None, L_ASSET,
         "A technical asset was created for a data product (its owner)."),
    spec("data_output_updated", E::TechnicalAsset, "updated", ASSET_ONLY, A::Ref(DO), None, L_ASSET,
         "A technical asset's name, status or configuration changed."),
    spec("data_output_removed", E::TechnicalAsset, "removed", ASSET_OWNER, A::Ref(DO), Some("removed"), L_ASSET,
         "A technical asset was deleted; the payload is its last known state."),
    // Asset↔port links (legacy: data_output_dataset_link).
    spec("data_output_dataset_link_requested", E::TechnicalAssetLink, "requested", ASSET_TO_PORT, A::TechnicalAssetLink, Some("pending"), L_LINK,
         "A technical asset's owner asked to expose the asset through an output port."),
    spec("data_output_dataset_link_approved", E::TechnicalAssetLink, "approved", PORT_TO_ASSET, A::TechnicalAssetLink, Some("approved"), L_LINK,
         "The output port's owner approved the technical asset link."),
    spec("data_output_dataset_link_denied", E::TechnicalAssetLink, "denied", PORT_TO_ASSET, A::TechnicalAssetLink, Some("denied"), L_LINK,
         "The output port's owner denied the technical asset link."),
    spec("data_output_dataset_link_removed", E::TechnicalAssetLink, "removed", ASSET_TO_PORT, A::TechnicalAssetLink, Some("removed"), L_LINK,
         "The technical asset was unlinked from the output port."),
    // Data products.
    spec("data_product_created", E::DataProduct, "created", PRODUCT_ONLY, A::Ref(DP), None, L_PRODUCT,
         "A data product was created."),
    spec("data_product_updated", E::DataProduct, "updated", PRODUCT_ONLY, A::Ref(DP), None, L_PRODUCT,
         "A data product's properties changed."),
    spec("data_product_removed", E::DataProduct, "removed", PRODUCT_ONLY, A::Ref(DP), Some("removed"), L_PRODUCT,
         "A data product was deleted (its output ports, technical assets and access links go with it: see the derived cascade events)."),
    spec("data_product_setting_updated", E::DataProduct, "settings_updated", PRODUCT_ONLY, A::Ref(DP), None, L_PRODUCT,
         "A data product setting value changed."),
    // Data product team (legacy: data_product_role_assignment).
    spec("data_product_role_assignment_created", E::DataProductMembership, "created", PRODUCT_USER, A::Ref(DP), Some("approved"), L_PRODUCT_MEMBER,
         "A user was given a role in a data product."),
    spec("data_product_role_assignment_updated", E::DataProductMembership, "updated", PRODUCT_USER, A::Ref(DP), Some("approved"), L_PRODUCT_MEMBER,
         "A data product member's role changed."),
    spec("data_product_role_assignment_removed", E::DataProductMembership, "removed", PRODUCT_USER, A::Ref(DP), Some("removed"), L_PRODUCT_MEMBER,
         "A user was removed from a data product's team."),
    spec("data_product_role_assignment_requested", E::DataProductMembership, "requested", PRODUCT_USER, A::Ref(DP), Some("pending"), L_PRODUCT_MEMBER,
         "A user asked for a role in a data product."),
    spec("data_product_role_assignment_approved", E::DataProductMembership, "approved", PRODUCT_USER, A::Ref(DP), Some("approved"), L_PRODUCT_MEMBER,
         "A role request in a data product was approved."),
    spec("data_product_role_assignment_denied", E::DataProductMembership, "denied", PRODUCT_USER, A::Ref(DP), Some("denied"), L_PRODUCT_MEMBER,
         "A role request in a data product was denied."),
    // Access (legacy: data_product_dataset_link, an input port of the consumer).
    spec("data_product_dataset_link_requested", E::Access, "requested", CONSUMER, A::AccessLink, Some("pending"), L_ACCESS,
         "A data product (or exploration) asked for access to an output port."),
    spec("data_product_dataset_link_approved", E::Access, "approved", PRODUCER, A::AccessLink, Some("approved"), L_ACCESS,
         "The output port's owner granted access: provision it."),
    spec("data_product_dataset_link_denied", E::Access, "denied", PRODUCER, A::AccessLink, Some("denied"), L_ACCESS,
         "The output port's owner denied access."),
    spec("data_product_dataset_link_removed", E::Access, "removed", EITHER_SIDE, A::AccessLink, Some("removed"), L_ACCESS,
         "The access link was deleted, by the consumer or the producer: deprovision it."),
    spec("data_product_dataset_link_revoked", E::Access, "revoked", EITHER_SIDE, A::AccessLink, Some("revoked"), L_ACCESS,
         "Granted access was revoked, by the consumer or the producer: deprovision it."),
    spec("data_product_dataset_link_cancelled", E::Access, "cancelled", CONSUMER, A::AccessLink, Some("cancelled"), L_ACCESS,
         "The consumer withdrew its pending access request."),
    // Output ports (legacy: dataset).
    spec("dataset_created", E::OutputPort, "created", PORT_ONLY, A::Ref(DS), None, L_PORT,
         "An output port was created."),
    spec("dataset_updated", E::OutputPort, "updated", PORT_ONLY, A::Ref(DS), None, L_PORT,
         "An output port's properties changed."),
    spec("dataset_removed", E::OutputPort, "removed", PORT_REMOVED, A::Ref(DS), Some("removed"), L_PORT,
         "An output port was deleted; the payload is its last known state."),
    spec("dataset_setting_updated", E::OutputPort, "settings_updated", PORT_ONLY, A::Ref(DS), None, L_PORT,
         "An output port setting value changed."),
    // Output port team (legacy: dataset_role_assignment).
    spec("dataset_role_assignment_created", E::OutputPortMembership, "created", PORT_USER, A::Ref(DS), Some("approved"), L_PORT_MEMBER,
         "A user was given a role on an output port."),
    spec("dataset_role_assignment_updated", E::OutputPortMembership, "updated", PORT_USER, A::Ref(DS), Some("approved"), L_PORT_MEMBER,
         "An output port member's role changed."),
    spec("dataset_role_assignment_removed", E::OutputPortMembership, "removed", PORT_USER, A::Ref(DS), Some("removed"), L_PORT_MEMBER,
         "A user was removed from an output port's team."),
    spec("dataset_role_assignment_requested", E::OutputPortMembership, "requested", PORT_USER, A::Ref(DS), Some("pending"), L_PORT_MEMBER,
         "A user asked for a role on an output port."),
    spec("dataset_role_assignment_approved", E::OutputPortMembership, "approved", PORT_USER, A::Ref(DS), Some("approved"), L_PORT_MEMBER,
         "A role request on an output port was approved."),
    spec("dataset_role_assignment_denied", E::OutputPortMembership, "denied", PORT_USER, A::Ref(DS), Some("denied"), L_PORT_MEMBER,
         "A role request on an output port was denied."),
    // Derived: not audited by the portal.
    derived(spec(DERIVED_ACCESS_EXPIRED, E::Access, "expired", CONSUMER, A::AccessLink, Some("expired"), L_ACCESS,
         "Derived: a background job set `input_ports.status` to EXPIRED (not audited by the portal): deprovision it.")),
    derived(spec(DERIVED_PORT_CASCADE, E::OutputPort, "removed", PORT_REMOVED, A::Ref(DS), Some("removed"), L_PORT,
         "Derived: an output port deleted in cascade with its data product.")),
    derived(spec(DERIVED_ASSET_CASCADE, E::TechnicalAsset, "removed", ASSET_OWNER, A::Ref(DO), Some("removed"), L_ASSET,
         "Derived: a technical asset deleted in cascade with its owning data product.")),
    derived(spec(DERIVED_ACCESS_CASCADE, E::Access, "removed", CONSUMER, A::AccessLink, Some("removed"), L_ACCESS,
         "Derived: an access link deleted in cascade with its consuming product or the output port's product.")),
    derived(spec(DERIVED_PRODUCT_ORPHAN, E::DataProduct, "removed", PRODUCT_ONLY, A::Ref(DP), Some("removed"), L_PRODUCT,
         "Derived: a data product delete whose audit row never came (emitted after the bounded hold).")),
    derived(spec(DERIVED_PORT_ORPHAN, E::OutputPort, "removed", PORT_REMOVED, A::Ref(DS), Some("removed"), L_PORT,
         "Derived: an output port delete whose audit row never came (emitted after the bounded hold).")),
    derived(spec(DERIVED_ASSET_ORPHAN, E::TechnicalAsset, "removed", ASSET_OWNER, A::Ref(DO), Some("removed"), L_ASSET,
         "Derived: a technical asset delete whose audit row never came (emitted after the bounded hold).")),
    derived(spec(DERIVED_ACCESS_ORPHAN, E::Access, "removed", CONSUMER, A::AccessLink, Some("removed"), L_ACCESS,
         "Derived: an access link delete whose audit row never came (emitted after the bounded hold).")),
    derived(spec(DERIVED_LINK_ORPHAN, E::TechnicalAssetLink, "removed", ASSET_TO_PORT, A::TechnicalAssetLink, Some("removed"), L_LINK,
         "Derived: a technical asset link delete whose audit row never came (emitted after the bounded hold).")),
    derived(spec(DERIVED_PRODUCT_MEMBERSHIP_ORPHAN, E::DataProductMembership, "removed", PRODUCT_USER, A::Ref(DP), Some("removed"), L_PRODUCT_MEMBER,
         "Derived: a data product role assignment delete whose audit row never came (emitted after the bounded hold).")),
    derived(spec(DERIVED_PORT_MEMBERSHIP_ORPHAN, E::OutputPortMembership, "removed", PORT_USER, A::Ref(DS), Some("removed"), L_PORT_MEMBER,
         "Derived: an output port role assignment delete whose audit row never came (emitted after the bounded hold).")),
];

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
        assert_eq!(sides("data_product_dataset_link_approved"), vec![producer]);
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

//! The vocabulary of the catalog: entities, reference types, orientations, aggregates
//! and the [`EventSpec`] every catalog entry is.

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
            Origin::Derived if self.key == super::DERIVED_ACCESS_EXPIRED => Some("access_expired"),
            Origin::Derived if self.key.ends_with("_in_cascade") => Some("data_product_removed"),
            Origin::Derived if self.key == super::DERIVED_ACCESS_EXPLORATION => {
                Some("exploration_removed")
            }
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

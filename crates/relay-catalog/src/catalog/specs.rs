//! The portal catalog as data: one [`EventSpec`] per audit name, then the derived events.

use super::types::*;
use crate::queries::*;

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
/// An exploration (never audited by the portal) was deleted: each access link it
/// consumed is removed with it. No data product removal: an exploration is not one.
pub const DERIVED_ACCESS_EXPLORATION: &str = "access_removed_with_exploration";
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
    spec("data_product_dataset_link_approved", E::Access, "approved", EITHER_SIDE, A::AccessLink, Some("approved"), L_ACCESS,
         "Access was granted: by the output port's owner (side producer), or at once for an output port open to everyone (side consumer). Provision it."),
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
    derived(spec(DERIVED_ACCESS_EXPLORATION, E::Access, "removed", CONSUMER, A::AccessLink, Some("removed"), L_ACCESS,
         "Derived: an access link of an exploration that was deleted (the portal audits neither): deprovision it. The exploration itself produces no event.")),
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

//! Stable identities for events that have no audit row (DESIGN.md invariant 4): capture
//! (logical messages, malformed rows) and enrichment (derived events) both take them from here.

use uuid::Uuid;

/// Namespace of Outbox Relay's UUIDv5 event ids (fixed forever: changing it changes every
/// derived id and breaks consumers' deduplication across upgrades).
const NAMESPACE: Uuid = Uuid::from_u128(0x6f75_7462_6f78_2d72_656c_6179_2d76_3500);

/// UUIDv5 over (kind, entity id, commit LSN): a replay of the same WAL yields the same id.
pub fn derived_event_id(kind: &str, entity: &str, commit_lsn: u64) -> String {
    let name = format!("{kind}\u{1f}{entity}\u{1f}{commit_lsn:X}");
    Uuid::new_v5(&NAMESPACE, name.as_bytes()).to_string()
}

/// UUIDv5 over (kind, entity id, commit LSN, position in the transaction): for events of
/// which one transaction can yield several about the same entity (row-change events: an
/// insert then an update of one row). The position is the change's index among the
/// transaction's row changes, which a replay of the same WAL reproduces.
/// [`derived_event_id`] is unchanged (its ids are already in consumers' hands).
pub fn derived_event_id_at(kind: &str, entity: &str, commit_lsn: u64, position: u64) -> String {
    let name = format!("{kind}\u{1f}{entity}\u{1f}{commit_lsn:X}\u{1f}{position}");
    Uuid::new_v5(&NAMESPACE, name.as_bytes()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_make_ids_distinct_and_leave_the_old_ones_alone() {
        // Pinned: changing either output breaks consumers' deduplication across upgrades.
        // (Computed independently with Python's uuid.uuid5.)
        assert_eq!(
            derived_event_id("logical-message", "0/16B3748", 0x16B3800),
            "c6bd74f8-0df0-5227-8def-8b2047d44279"
        );
        let a = derived_event_id_at("data_product.event", "p1", 0x10, 0);
        assert_eq!(a, "b738da00-fb2f-5d3d-a1b4-e710727a85a3");
        assert_eq!(a, derived_event_id_at("data_product.event", "p1", 0x10, 0));
        assert_ne!(a, derived_event_id_at("data_product.event", "p1", 0x10, 1));
        assert_ne!(a, derived_event_id_at("data_product.event", "p1", 0x11, 0));
        assert_ne!(a, derived_event_id_at("exploration.event", "p1", 0x10, 0));
        assert_ne!(a, derived_event_id("data_product.event", "p1", 0x10));
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = derived_event_id("logical-message", "0/16B3748", 0x16B3800);
        assert_eq!(
            a,
            derived_event_id("logical-message", "0/16B3748", 0x16B3800)
        );
        assert_ne!(
            a,
            derived_event_id("logical-message", "0/16B3749", 0x16B3800)
        );
        assert_ne!(
            a,
            derived_event_id("access-expired", "0/16B3748", 0x16B3800)
        );
        assert_eq!(Uuid::parse_str(&a).unwrap().get_version_num(), 5);
    }
}

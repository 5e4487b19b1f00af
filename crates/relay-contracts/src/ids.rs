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

#[cfg(test)]
mod tests {
    use super::*;

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

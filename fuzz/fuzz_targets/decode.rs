//! Decodes arbitrary bytes as one pgoutput message. `decode` must return Ok or Err, never
//! panic; decoded Relations go through a RelationCache and decoded Inserts/Updates are paired
//! with their cached relation, as the capture stage does.
//!
//! The input is split on a 0xFF 0xFE 0xFD separator, so one run can hold a short stream
//! (a Relation, then rows that refer to it).

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use pgoutput::{decode, LogicalMessage, Relation, RelationCache, TupleData};

const SEPARATOR: &[u8] = &[0xff, 0xfe, 0xfd];

fuzz_target!(|data: &[u8]| {
    let mut cache = RelationCache::new();
    for chunk in split(data) {
        match decode(&Bytes::copy_from_slice(chunk)) {
            Ok(LogicalMessage::Relation(relation)) => {
                cache.insert(relation);
            }
            Ok(LogicalMessage::Insert(insert)) => {
                pair(cache.get(insert.relation_id), &insert.new);
            }
            Ok(LogicalMessage::Update(update)) => {
                let relation = cache.get(update.relation_id);
                for tuple in [update.key.as_ref(), update.old.as_ref(), Some(&update.new)]
                    .into_iter()
                    .flatten()
                {
                    pair(relation, tuple);
                }
            }
            Ok(_) | Err(_) => {}
        }
    }
});

/// Pairs the tuple with the relation and reads every column by name.
fn pair(relation: Option<&Relation>, tuple: &TupleData) {
    let Some(relation) = relation else { return };
    if let Ok(row) = relation.row(tuple) {
        for (name, value) in row.iter() {
            // Duplicate column names resolve to the first one; the value must exist either way.
            assert!(row.get(name).is_some());
            let _ = value.as_bytes();
        }
    }
}

fn split(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let current = rest?;
        match current
            .windows(SEPARATOR.len())
            .position(|w| w == SEPARATOR)
        {
            Some(at) => {
                rest = current.get(at + SEPARATOR.len()..);
                current.get(..at)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

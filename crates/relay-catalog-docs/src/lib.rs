//! The contract for consumers, generated from the catalog: a JSON Schema (draft 2020-12)
//! per event type describing the whole CloudEvents envelope, an AsyncAPI 3.0 document,
//! and the markdown catalog page, with an example envelope per type built by the real
//! payload builders. Checked into `docs/` (a test fails when they drift: regenerate with
//! `OUTBOX_REGENERATE_DOCS=1 cargo test -p relay-catalog-docs`).
//!
//! Apart from the runtime: the relay streams without this crate; `outbox-relay catalog`
//! and the docs use it.

mod asyncapi;
mod defs;
mod envelope;
mod examples;
mod jsonschema;
mod markdown;

pub use asyncapi::asyncapi;
pub use jsonschema::jsonschemas;
pub use markdown::markdown;

use serde_json::Value;

/// Where the docs are published relative to the repository (used in `$id`s and links).
const SCHEMA_ID_BASE: &str = "urn:outbox-relay:schema:";
/// NATS subject prefix of every route.
pub const SUBJECT_PREFIX: &str = "portal.events.";
/// The version of the catalog contract (AsyncAPI `info.version`).
pub const CATALOG_VERSION: &str = "1.0.0";

const DEFS: &str = "#/$defs/";

/// One example envelope per event type (sorted by type), built by the real payload
/// builders from a fixed example portal; the catalog page and the AsyncAPI document show
/// them.
pub fn examples() -> Vec<(String, Value)> {
    examples::envelopes()
}

/// The files `docs/` holds, relative to it: `catalog.md`, `asyncapi.json`,
/// `schemas/<type>.json`. JSON is pretty-printed with a trailing newline.
pub fn doc_files() -> Vec<(String, String)> {
    let pretty = |v: &Value| format!("{}\n", serde_json::to_string_pretty(v).unwrap_or_default());
    let mut files = vec![
        ("catalog.md".to_string(), markdown()),
        ("asyncapi.json".to_string(), pretty(&asyncapi())),
    ];
    for (t, s) in jsonschemas() {
        files.push((format!("schemas/{t}.json"), pretty(&s)));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use relay_catalog::{Catalog, UNKNOWN_EVENT_TYPE};
    use serde_json::json;

    #[test]
    fn one_schema_per_type_with_the_unknown_type() {
        let schemas = jsonschemas();
        let types: Vec<&str> = schemas.iter().map(|(t, _)| t.as_str()).collect();
        assert!(types.contains(&UNKNOWN_EVENT_TYPE));
        assert!(types.contains(&"portal.access.expired.v1"));
        assert_eq!(types.len(), Catalog::portal().event_types().len());
        for (t, s) in &schemas {
            assert_eq!(s["properties"]["type"]["const"], json!(t));
        }
    }

    #[test]
    fn asyncapi_refs_point_into_components() {
        let doc = serde_json::to_string(&asyncapi()).unwrap();
        assert!(!doc.contains("#/$defs/"));
        assert!(doc.contains("portal.events.access.approved"));
    }
}

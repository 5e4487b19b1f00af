//! A JSON Schema (draft 2020-12) per event type.

use relay_catalog::Catalog;
use serde_json::{json, Map, Value};

use crate::defs::defs;
use crate::envelope::{envelope, used_defs};
use crate::SCHEMA_ID_BASE;

/// A JSON Schema (draft 2020-12) per event type, sorted by type; each describes the whole
/// CloudEvents envelope and is self-contained (`$defs`).
pub fn jsonschemas() -> Vec<(String, Value)> {
    let catalog = Catalog::portal();
    let defs = Value::Object(defs());
    catalog
        .event_types()
        .into_iter()
        .map(|t| {
            let mut s = Map::new();
            s.insert(
                "$schema".into(),
                json!("https://json-schema.org/draft/2020-12/schema"),
            );
            s.insert("$id".into(), json!(format!("{SCHEMA_ID_BASE}{t}")));
            let env = envelope(&t, &catalog);
            let used = used_defs(&env, &defs);
            if let Value::Object(env) = env {
                s.extend(env);
            }
            s.insert("$defs".into(), Value::Object(used));
            (t, Value::Object(s))
        })
        .collect()
}

//! The contract in `docs/` is what the code generates, and it validates: every example
//! envelope against its JSON Schema (an independent validator, the `jsonschema` crate),
//! and the AsyncAPI document with `@asyncapi/parser` when it is installed
//! (`npm ci --prefix docs`).

use relay_catalog_docs as schema;
use std::path::{Path, PathBuf};

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs")
}

#[test]
fn checked_in_docs_match_the_catalog() {
    let dir = docs_dir();
    let files = schema::doc_files();
    if std::env::var_os("OUTBOX_REGENERATE_DOCS").is_some() {
        let schemas = dir.join("schemas");
        let _ = std::fs::remove_dir_all(&schemas);
        std::fs::create_dir_all(&schemas).unwrap();
        for (path, content) in &files {
            std::fs::write(dir.join(path), content).unwrap();
        }
        eprintln!("regenerated {} files in {}", files.len(), dir.display());
        return;
    }
    let mut stale = Vec::new();
    for (path, content) in &files {
        let on_disk = std::fs::read_to_string(dir.join(path)).unwrap_or_default();
        if on_disk != *content {
            stale.push(path.clone());
        }
    }
    let expected: Vec<&String> = files.iter().map(|(p, _)| p).collect();
    for entry in std::fs::read_dir(dir.join("schemas"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = format!("schemas/{}", entry.file_name().to_string_lossy());
        if !expected.contains(&&path) {
            stale.push(format!("{path} (no longer generated)"));
        }
    }
    assert!(
        stale.is_empty(),
        "docs/ is out of date with the catalog: {stale:?}\n\
         regenerate with: OUTBOX_REGENERATE_DOCS=1 cargo test -p relay-catalog-docs --test docs"
    );
}

fn validator(schema: &serde_json::Value) -> jsonschema::Validator {
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("invalid JSON Schema: {e}"))
}

#[test]
fn every_example_validates_against_its_schema() {
    let schemas = schema::jsonschemas();
    let examples = schema::examples();
    assert_eq!(examples.len(), schemas.len(), "one example per type");
    for (t, example) in &examples {
        let (_, s) = schemas.iter().find(|(st, _)| st == t).unwrap();
        let v = validator(s);
        let errors: Vec<String> = v
            .iter_errors(example)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{t}: {errors:?}\n{example:#}");
        // And the schema rejects the example of another type.
        let other = examples.iter().find(|(o, _)| o != t).unwrap();
        assert!(!v.is_valid(&other.1), "{t} accepts a {}", other.0);
    }
}

#[test]
fn asyncapi_document_validates_with_the_asyncapi_parser() {
    let dir = docs_dir();
    assert!(
        dir.join("node_modules/@asyncapi/parser").is_dir(),
        "@asyncapi/parser is not installed: run `npm ci --prefix docs` (scripts/test.sh does)"
    );
    let tmp = std::env::temp_dir().join(format!("asyncapi-{}.json", std::process::id()));
    std::fs::write(
        &tmp,
        serde_json::to_string_pretty(&schema::asyncapi()).unwrap(),
    )
    .unwrap();
    let out = std::process::Command::new("node")
        .arg(dir.join("validate-asyncapi.mjs"))
        .arg(&tmp)
        .output()
        .expect("run node");
    let _ = std::fs::remove_file(&tmp);
    assert!(
        out.status.success(),
        "AsyncAPI document is invalid:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

//! The fixture ids and the domain rows they name, audit rows, relay configuration, and
//! checks over the delivered events (schema validation, field lookup).

use outbox_relay_tests::*;
use serde_json::Value;
use std::collections::HashMap;

pub const P: &str = "0b6f1c2e-0000-4000-8000-00000000000a"; // producing data product
pub const Q: &str = "0b6f1c2e-0000-4000-8000-00000000000b"; // consuming data product
pub const D: &str = "0b6f1c2e-0000-4000-8000-00000000000c"; // output port of P
pub const A: &str = "0b6f1c2e-0000-4000-8000-00000000000d"; // technical asset of P
const C: &str = "0b6f1c2e-0000-4000-8000-00000000000e"; // its S3 configuration
pub const I: &str = "0b6f1c2e-0000-4000-8000-00000000000f"; // access link Q → D

pub fn domain_sql() -> String {
    format!(
        "INSERT INTO domains(id, name) VALUES ('0b6f1c2e-0000-4000-8000-000000000001', 'Finance');
         INSERT INTO platforms(id, name) VALUES ('0b6f1c2e-0000-4000-8000-000000000002', 'AWS');
         INSERT INTO platform_services(id, platform_id, name) VALUES
            ('0b6f1c2e-0000-4000-8000-000000000003', '0b6f1c2e-0000-4000-8000-000000000002', 'S3');
         INSERT INTO abstract_data_products(id, name, namespace, status, domain_id) VALUES
            ('{P}', 'Revenue', 'revenue', 'active', '0b6f1c2e-0000-4000-8000-000000000001'),
            ('{Q}', 'Forecast', 'forecast', 'active', '0b6f1c2e-0000-4000-8000-000000000001');
         INSERT INTO data_products(id) VALUES ('{P}'), ('{Q}');
         INSERT INTO datasets(id, namespace, name, data_product_id) VALUES ('{D}', 'revenue-daily', 'Revenue daily', '{P}');
         INSERT INTO data_output_configurations(id, configuration_type) VALUES ('{C}', 'S3TechnicalAssetConfiguration');
         INSERT INTO s3_technical_asset_configurations(id, bucket, suffix, path) VALUES ('{C}', 'datalake', 'revenue', 'daily');
         INSERT INTO data_outputs(id, namespace, name, platform_id, service_id, owner_id, configuration_id) VALUES
            ('{A}', 'revenue-s3', 'Revenue on S3', '0b6f1c2e-0000-4000-8000-000000000002',
             '0b6f1c2e-0000-4000-8000-000000000003', '{P}', '{C}');
         INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status) VALUES ('{I}', '{Q}', '{D}', 'APPROVED');"
    )
}

pub async fn audit(db: &TestDb, name: &str, subject: (&str, &str), target: Option<(&str, &str)>) {
    let (tt, ti) = target.map_or((None, None), |(t, i)| {
        (Some(t.to_string()), Some(i.to_string()))
    });
    db.admin
        .execute(
            "INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id)
             VALUES (gen_random_uuid(), $1, $2, $3::text::uuid, $4, $5::text::uuid, $6::text::uuid)",
            &[&name, &subject.0, &subject.1, &tt, &ti, &ACTOR],
        )
        .await
        .unwrap();
}

pub fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[k],
    })
}

/// Every event validates against docs/schemas/<type>.json (an independent validator).
pub fn assert_valid(events: &[Value]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schemas");
    let mut validators: HashMap<String, jsonschema::Validator> = HashMap::new();
    for e in events {
        let ty = e["type"].as_str().unwrap().to_string();
        let v = validators.entry(ty.clone()).or_insert_with(|| {
            let schema: Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join(format!("{ty}.json")))
                    .unwrap_or_else(|_| panic!("no schema for {ty}")),
            )
            .unwrap();
            jsonschema::options()
                .should_validate_formats(true)
                .build(&schema)
                .unwrap()
        });
        let errors: Vec<String> = v
            .iter_errors(e)
            .map(|err| format!("{} at {}", err, err.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{ty} event {} does not match its schema: {errors:?}",
            e["id"]
        );
    }
}

pub fn relay_config(db: &TestDb, out: &std::path::Path) -> std::path::PathBuf {
    relay_config_with(db, out, "delete_hold = \"5m\"")
}

/// The relay's configuration with these `[capture]` lines and the file sink at `out`.
pub fn relay_config_with(db: &TestDb, out: &std::path::Path, capture: &str) -> std::path::PathBuf {
    db.config(
        "relay",
        &format!(
            "[capture]\n{capture}\n\n[[sinks]]\nname = \"archive\"\ntype = \"file\"\npath = \"{}\"\n",
            out.display()
        ),
    )
}

pub fn of_type<'a>(lines: &'a [Value], ty: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == ty).collect()
}

pub const U: &str = "0b6f1c2e-0000-4000-8000-000000000010"; // a member
pub const L: &str = "0b6f1c2e-0000-4000-8000-000000000011"; // technical asset ↔ output port link

//! Shared test harness: a throwaway PostgreSQL 15 per test with the portal-like schema,
//! a small portal (products, ports, assets, teams), helpers to capture deleted rows the
//! way the WAL delivers them, and envelope validation against the generated JSON Schemas.
#![allow(dead_code)]

use relay_catalog::{AuditRecord, BusinessEvent, EnvelopeContext, LookupClient, Tombstones};
use relay_tempdb::{Cluster, ClusterOptions, PgBinaries};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;
use tokio_postgres::Client;

pub const SCHEMA: &str = include_str!("../../../outbox-relay/src/portal_schema.sql");

pub const ACTOR: &str = "aaaaaaaa-0000-4000-8000-000000000001";
pub const ALICE: &str = "aaaaaaaa-0000-4000-8000-000000000002";
pub const BOB: &str = "aaaaaaaa-0000-4000-8000-000000000003";
pub const CAROL: &str = "aaaaaaaa-0000-4000-8000-000000000004";
/// Producer product "Revenue".
pub const P: &str = "11111111-0000-4000-8000-000000000001";
/// Consumer product "Forecast".
pub const C: &str = "11111111-0000-4000-8000-000000000002";
/// Exploration "Sandbox" (owner Carol).
pub const X: &str = "11111111-0000-4000-8000-000000000003";
/// Output port "Revenue daily" of P.
pub const D: &str = "22222222-0000-4000-8000-000000000001";
/// Technical asset "Revenue on S3" of P, linked to D.
pub const A: &str = "33333333-0000-4000-8000-000000000001";
pub const CFG_A: &str = "44444444-0000-4000-8000-000000000001";
pub const LINK_A_D: &str = "55555555-0000-4000-8000-000000000001";
pub const R_OWNER: &str = "66666666-0000-4000-8000-000000000001";
pub const R_MEMBER: &str = "66666666-0000-4000-8000-000000000002";
pub const R_PORT_OWNER: &str = "66666666-0000-4000-8000-000000000003";
pub const R_PORT_READER: &str = "66666666-0000-4000-8000-000000000004";

/// The portal before each scenario (casing as the portal stores it).
pub const FIXTURE: &str = r"
INSERT INTO users(id, email, external_id, first_name, last_name) VALUES
  ('aaaaaaaa-0000-4000-8000-000000000001', 'actor@example.com', 'ext-actor', 'Act', 'Or'),
  ('aaaaaaaa-0000-4000-8000-000000000002', 'alice@example.com', 'ext-alice', 'Alice', 'A'),
  ('aaaaaaaa-0000-4000-8000-000000000003', 'bob@example.com', 'ext-bob', 'Bob', 'B'),
  ('aaaaaaaa-0000-4000-8000-000000000004', 'carol@example.com', 'ext-carol', 'Carol', 'C');
INSERT INTO domains(id, name) VALUES ('77777777-0000-4000-8000-000000000001', 'Finance');
INSERT INTO data_product_types(id, name) VALUES ('77777777-0000-4000-8000-000000000002', 'Source aligned');
INSERT INTO data_product_lifecycles(id, name, value) VALUES ('77777777-0000-4000-8000-000000000003', 'Production', 3);
INSERT INTO platforms(id, name) VALUES ('77777777-0000-4000-8000-000000000004', 'AWS');
INSERT INTO platform_services(id, platform_id, name) VALUES
  ('77777777-0000-4000-8000-000000000005', '77777777-0000-4000-8000-000000000004', 'S3');
INSERT INTO roles(id, name, scope, prototype) VALUES
  ('66666666-0000-4000-8000-000000000001', 'Owner', 'data_product', 2),
  ('66666666-0000-4000-8000-000000000002', 'Member', 'data_product', 0),
  ('66666666-0000-4000-8000-000000000003', 'Port owner', 'dataset', 2),
  ('66666666-0000-4000-8000-000000000004', 'Reader', 'dataset', 0);
INSERT INTO abstract_data_products(id, name, namespace, abstract_data_product_type, status, description, domain_id) VALUES
  ('11111111-0000-4000-8000-000000000001', 'Revenue', 'revenue', 'data_products', 'active', 'Booked revenue', '77777777-0000-4000-8000-000000000001'),
  ('11111111-0000-4000-8000-000000000002', 'Forecast', 'forecast', 'data_products', 'active', NULL, '77777777-0000-4000-8000-000000000001'),
  ('11111111-0000-4000-8000-000000000003', 'Sandbox', 'sandbox', 'explorations', 'active', NULL, NULL);
INSERT INTO data_products(id, about, type_id, lifecycle_id) VALUES
  ('11111111-0000-4000-8000-000000000001', 'About revenue', '77777777-0000-4000-8000-000000000002', '77777777-0000-4000-8000-000000000003'),
  ('11111111-0000-4000-8000-000000000002', NULL, '77777777-0000-4000-8000-000000000002', NULL);
INSERT INTO explorations(id, owner_id) VALUES ('11111111-0000-4000-8000-000000000003', 'aaaaaaaa-0000-4000-8000-000000000004');
INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision) VALUES
  ('88888888-0000-4000-8000-000000000001', '11111111-0000-4000-8000-000000000001', 'aaaaaaaa-0000-4000-8000-000000000002', '66666666-0000-4000-8000-000000000001', 'APPROVED');
INSERT INTO datasets(id, namespace, name, description, status, access_type, data_product_id) VALUES
  ('22222222-0000-4000-8000-000000000001', 'revenue-daily', 'Revenue daily', 'One row per day', 'ACTIVE', 'RESTRICTED', '11111111-0000-4000-8000-000000000001');
INSERT INTO data_output_configurations(id, configuration_type) VALUES
  ('44444444-0000-4000-8000-000000000001', 'S3TechnicalAssetConfiguration');
INSERT INTO s3_technical_asset_configurations(id, bucket, suffix, path) VALUES
  ('44444444-0000-4000-8000-000000000001', 'datalake', 'revenue', 'daily');
INSERT INTO data_outputs(id, namespace, name, status, platform_id, service_id, owner_id, configuration_id) VALUES
  ('33333333-0000-4000-8000-000000000001', 'revenue-s3', 'Revenue on S3', 'ACTIVE', '77777777-0000-4000-8000-000000000004',
   '77777777-0000-4000-8000-000000000005', '11111111-0000-4000-8000-000000000001', '44444444-0000-4000-8000-000000000001');
INSERT INTO data_outputs_datasets(id, data_output_id, dataset_id, status) VALUES
  ('55555555-0000-4000-8000-000000000001', '33333333-0000-4000-8000-000000000001', '22222222-0000-4000-8000-000000000001', 'APPROVED');
";

pub struct Db {
    pub cluster: Cluster,
    pub client: Client,
    /// A second connection, for the enricher's lookups (statements prepared on it).
    pub lookups: LookupClient,
}

pub async fn connect(conninfo: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {conninfo}: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// A fresh cluster with a `portal` database, the schema (applied twice: it is
/// idempotent) and the fixture.
pub async fn start_with(options: ClusterOptions) -> Db {
    let cluster = tokio::task::spawn_blocking(move || {
        let bin = match std::env::var_os("OUTBOX_PG15_BIN") {
            Some(dir) => PgBinaries::in_dir(dir).expect("OUTBOX_PG15_BIN has no initdb/pg_ctl"),
            None => PgBinaries::find().expect("PostgreSQL binaries (scripts/install-deps.sh)"),
        };
        Cluster::start(&bin, options)
    })
    .await
    .unwrap()
    .expect("start PostgreSQL");
    let admin = connect(&cluster.conninfo("postgres")).await;
    admin.batch_execute("CREATE DATABASE portal").await.unwrap();
    let client = connect(&cluster.conninfo("portal")).await;
    client.batch_execute(SCHEMA).await.expect("portal schema");
    client
        .batch_execute(SCHEMA)
        .await
        .expect("portal schema is idempotent");
    client.batch_execute(FIXTURE).await.expect("fixture");
    let lookups = LookupClient::new(connect(&cluster.conninfo("portal")).await);
    Db {
        cluster,
        client,
        lookups,
    }
}

pub async fn start() -> Db {
    start_with(ClusterOptions::default()).await
}

static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// An audit row as the portal writes it.
pub fn rec(name: &str, subject: (&str, &str), target: Option<(&str, &str)>) -> AuditRecord {
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    AuditRecord {
        id: format!("eeeeeeee-0000-4000-8000-{n:012x}"),
        name: name.into(),
        subject_type: subject.0.into(),
        subject_id: Some(subject.1.into()),
        target_type: target.map(|t| t.0.into()),
        target_id: target.map(|t| t.1.into()),
        actor_id: ACTOR.into(),
        deleted_subject_identifier: None,
        deleted_target_identifier: None,
        created_on: Some("2026-11-29 08:35:06.629784".into()),
        link_id: None,
    }
}

/// Capture rows of `table` matching `filter` the way a WAL delete with REPLICA IDENTITY
/// FULL carries them (every column in text form), before the test deletes them.
pub async fn capture_deletes(
    client: &Client,
    tombstones: &mut Tombstones,
    table: &str,
    filter: &str,
) -> usize {
    let cols: Vec<String> = client
        .query(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let select: Vec<String> = cols.iter().map(|c| format!("\"{c}\"::text")).collect();
    let rows = client
        .query(
            &format!("SELECT {} FROM {table} WHERE {filter}", select.join(", ")),
            &[],
        )
        .await
        .unwrap();
    for row in &rows {
        let values: Vec<Option<String>> = (0..cols.len()).map(|i| row.get(i)).collect();
        assert!(tombstones.insert_old_tuple(table, cols.iter().map(String::as_str).zip(values)));
    }
    rows.len()
}

fn schemas() -> &'static HashMap<String, jsonschema::Validator> {
    static S: OnceLock<HashMap<String, jsonschema::Validator>> = OnceLock::new();
    S.get_or_init(|| {
        relay_catalog_docs::jsonschemas()
            .into_iter()
            .map(|(t, s)| {
                let v = jsonschema::draft202012::options()
                    .should_validate_formats(true)
                    .build(&s)
                    .unwrap_or_else(|e| panic!("{t}: invalid schema: {e}"));
                (t, v)
            })
            .collect()
    })
}

/// The event's CloudEvents envelope, validated against its type's JSON Schema.
pub fn envelope(ev: &BusinessEvent) -> Value {
    let enriched_at = relay_catalog::now_rfc3339();
    let ctx = EnvelopeContext {
        source: "/data-product-portal",
        time: "2026-11-29T08:35:06.702113Z",
        commit_lsn: 0x1962F70,
        enriched_at: &enriched_at,
    };
    let env = ev.to_cloudevent(&ctx);
    // What the relay sends is encoded without the Value: the same bytes.
    assert_eq!(
        String::from_utf8(ev.encode_cloudevent(&ctx)).unwrap(),
        serde_json::to_string(&env).unwrap(),
        "{}: the encoded envelope differs from the documented one",
        ev.event_type
    );
    let validator = schemas()
        .get(&ev.event_type)
        .unwrap_or_else(|| panic!("no JSON Schema for {}", ev.event_type));
    let errors: Vec<String> = validator
        .iter_errors(&env)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{}: {errors:?}\n{env:#}", ev.event_type);
    env
}

/// `data` at a dotted path (array indexes as numbers).
pub fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    let mut cur = v;
    for part in path.split('.') {
        cur = match part.parse::<usize>() {
            Ok(i) => &cur[i],
            Err(_) => &cur[part],
        };
    }
    cur
}

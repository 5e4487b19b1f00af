//! A backlog on the real portal schema for the benchmarks: thousands of distinct
//! entities (1,000 data products, 2,000 output ports, 2,000 technical assets of all eight
//! configuration types, 500 users, 4,000 role assignments, 2,000 access links with their
//! requests, 2,000 asset↔port links), made server-side with `generate_series`, and audit
//! rows of all 33 names naming them with the subject/target types the portal uses
//! (`PORTAL.md`).

use super::{seed, AUDIT_NAMES};
use crate::ACTOR;
use tokio_postgres::Client;

pub const PRODUCTS: usize = 1_000;
/// Output ports, technical assets, access links and asset links (one of each per index).
pub const PORTS: usize = 2_000;
pub const USERS: usize = 500;

/// The id of entity `n` of a kind (`prefix`), the same in SQL (`uid('prefix', n)`).
fn uid(prefix: &str, n: usize) -> String {
    format!("{prefix}-0000-4000-8000-{n:012}")
}

const P_PRODUCT: &str = "10000000";
const P_PORT: &str = "20000000";
const P_ASSET: &str = "30000000";
const P_CONFIG: &str = "31000000";
const P_USER: &str = "40000000";
const P_ACCESS: &str = "50000000";
const P_REQUEST: &str = "51000000";
const P_LINK: &str = "60000000";
const P_PRODUCT_RA: &str = "70000000";
const P_PORT_RA: &str = "71000000";

/// The entities, made server-side with `generate_series`.
pub fn entities_sql() -> String {
    use seed::*;
    let types = [
        (
            "S3TechnicalAssetConfiguration",
            "s3_technical_asset_configurations",
            "bucket, suffix, path",
            "'bucket-' || j, 'sfx', 'path/' || j",
            PLATFORM_AWS,
            SERVICE_S3,
        ),
        (
            "GlueTechnicalAssetConfiguration",
            "glue_technical_asset_configurations",
            "database, database_suffix, \"table\", bucket_identifier, database_path, table_path, access_granularity",
            "'db' || j, 'raw', 't' || j, 'bucket', 'db/path', 'db/path/t', 'table'",
            PLATFORM_AWS,
            SERVICE_GLUE,
        ),
        (
            "DatabricksTechnicalAssetConfiguration",
            "databricks_technical_asset_configurations",
            "catalog, schema, bucket_identifier, catalog_path, \"table\", table_path, access_granularity",
            "'main', 's' || j, 'bucket', 'main/s', 't' || j, 'main/s/t', 'schema'",
            PLATFORM_DATABRICKS,
            SERVICE_DATABRICKS,
        ),
        (
            "SnowflakeTechnicalAssetConfiguration",
            "snowflake_technical_asset_configurations",
            "database, schema, \"table\", bucket_identifier, database_path, table_path, access_granularity",
            "'DB', 'S' || j, 'T' || j, 'stage', 'db', 'db/s/t', 'table'",
            PLATFORM_SNOWFLAKE,
            SERVICE_SNOWFLAKE,
        ),
        (
            "RedshiftTechnicalAssetConfiguration",
            "redshift_technical_asset_configurations",
            "database, schema, \"table\", bucket_identifier, database_path, table_path, access_granularity",
            "'dw', 's' || j, 't' || j, 'bucket', 'dw', 'dw/s/t', 'schema'",
            PLATFORM_AWS,
            SERVICE_REDSHIFT,
        ),
        (
            "AzureBlobTechnicalAssetConfiguration",
            "azure_blob_technical_asset_configurations",
            "domain, container_name, path",
            "'finance', 'container-' || j, 'exports/' || j",
            PLATFORM_AZURE,
            SERVICE_AZURE_BLOB,
        ),
        (
            "PostgreSQLTechnicalAssetConfiguration",
            "postgresql_technical_asset_configurations",
            "database, schema, \"table\", access_granularity",
            "'ops', 's' || j, 't' || j, 'table'",
            PLATFORM_POSTGRESQL,
            SERVICE_POSTGRESQL,
        ),
        (
            "OSISemanticModelTechnicalAssetConfiguration",
            "osi_semantic_model_technical_asset_configurations",
            "model_name, location",
            "'model_' || j, 's3://models/' || j || '.yaml'",
            PLATFORM_OSI,
            SERVICE_OSI,
        ),
    ];
    let mut sql = format!(
        "CREATE FUNCTION pg_temp.uid(prefix text, n bigint) RETURNS uuid LANGUAGE sql IMMUTABLE
            AS $$ SELECT (prefix || '-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid $$;
         INSERT INTO abstract_data_products(id, name, abstract_data_product_type, description, namespace, domain_id, status)
            SELECT pg_temp.uid('{P_PRODUCT}', g), 'Product ' || g, 'data_products', 'About ' || g, 'product-' || g, '{DOMAIN}', 'active'
              FROM generate_series(0, {np}) g;
         INSERT INTO data_products(id, about, type_id, lifecycle_id, usage)
            SELECT id, '# about', '{PRODUCT_TYPE}', '{LIFECYCLE_DRAFT}', 'internal' FROM abstract_data_products;
         INSERT INTO users(id, email, external_id, first_name, last_name)
            SELECT pg_temp.uid('{P_USER}', g), 'user' || g || '@example.com', 'ext-' || g, 'First' || g, 'Last' || g
              FROM generate_series(0, {nu}) g;
         INSERT INTO datasets(id, namespace, name, description, status, access_type, data_product_id)
            SELECT pg_temp.uid('{P_PORT}', j), 'port-' || j, 'Port ' || j, 'Port ' || j, 'ACTIVE', 'RESTRICTED',
                   pg_temp.uid('{P_PRODUCT}', j % {PRODUCTS}) FROM generate_series(0, {nj}) j;
         INSERT INTO data_output_configurations(id, configuration_type)
            SELECT pg_temp.uid('{P_CONFIG}', j), (ARRAY[{type_names}])[1 + j % 8] FROM generate_series(0, {nj}) j;",
        np = PRODUCTS - 1,
        nu = USERS - 1,
        nj = PORTS - 1,
        type_names = types
            .iter()
            .map(|t| format!("'{}'", t.0))
            .collect::<Vec<_>>()
            .join(", "),
    );
    for (i, (_, table, cols, vals, _, _)) in types.iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO {table}(id, {cols}) SELECT pg_temp.uid('{P_CONFIG}', j), {vals}
               FROM generate_series(0, {nj}) j WHERE j % 8 = {i};",
            nj = PORTS - 1
        ));
    }
    let platforms: Vec<String> = types.iter().map(|t| format!("'{}'::uuid", t.4)).collect();
    let services: Vec<String> = types.iter().map(|t| format!("'{}'::uuid", t.5)).collect();
    sql.push_str(&format!(
        "INSERT INTO data_outputs(id, namespace, name, description, status, platform_id, service_id, owner_id, configuration_id, technical_mapping)
            SELECT pg_temp.uid('{P_ASSET}', j), 'asset-' || j, 'Asset ' || j, 'Asset', 'ACTIVE',
                   (ARRAY[{platforms}])[1 + j % 8], (ARRAY[{services}])[1 + j % 8],
                   pg_temp.uid('{P_PRODUCT}', j % {PRODUCTS}), pg_temp.uid('{P_CONFIG}', j), 'default'
              FROM generate_series(0, {nj}) j;
         INSERT INTO data_outputs_datasets(id, data_output_id, dataset_id, status, requested_by_id)
            SELECT pg_temp.uid('{P_LINK}', j), pg_temp.uid('{P_ASSET}', j), pg_temp.uid('{P_PORT}', j), 'APPROVED', '{ACTOR}'
              FROM generate_series(0, {nj}) j;
         INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status)
            SELECT pg_temp.uid('{P_ACCESS}', j), pg_temp.uid('{P_PRODUCT}', (j % {PRODUCTS} + 1) % {PRODUCTS}),
                   pg_temp.uid('{P_PORT}', j), 'APPROVED' FROM generate_series(0, {nj}) j;
         INSERT INTO input_port_requests(id, input_port_id, decision, justification, access_duration_type, requested_by_id, decided_by_id, valid_from)
            SELECT pg_temp.uid('{P_REQUEST}', j), pg_temp.uid('{P_ACCESS}', j), 'APPROVED', 'Reporting', 'PERMANENT',
                   '{ACTOR}', '{ACTOR}', current_date FROM generate_series(0, {nj}) j;
         INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision)
            SELECT pg_temp.uid('{P_PRODUCT_RA}', g), pg_temp.uid('{P_PRODUCT}', g), pg_temp.uid('{P_USER}', g % {USERS}),
                   '{ROLE_PRODUCT_OWNER}'::uuid, 'APPROVED'::decisionstatus FROM generate_series(0, {np}) g
            UNION ALL
            SELECT pg_temp.uid('{P_PRODUCT_RA}', {PRODUCTS} + g), pg_temp.uid('{P_PRODUCT}', g),
                   pg_temp.uid('{P_USER}', (g + 1) % {USERS}), '{ROLE_PRODUCT_MEMBER}'::uuid, 'APPROVED'::decisionstatus FROM generate_series(0, {np}) g;
         INSERT INTO role_assignments_dataset(id, dataset_id, user_id, role_id, decision, data_product_id)
            SELECT pg_temp.uid('{P_PORT_RA}', j), pg_temp.uid('{P_PORT}', j), pg_temp.uid('{P_USER}', j % {USERS}),
                   '{ROLE_PORT_CONSUMER}', 'APPROVED', pg_temp.uid('{P_PRODUCT}', j % {PRODUCTS}) FROM generate_series(0, {nj}) j;
         ANALYZE;",
        platforms = platforms.join(", "),
        services = services.join(", "),
        np = PRODUCTS - 1,
        nj = PORTS - 1,
    ));
    sql
}

/// Subject and target of audit row `g` (its name cycles over the 33): existing
/// entities, with the types the portal writes for that name.
pub fn audit_row(g: usize) -> (&'static str, String, String, Option<String>, Option<String>) {
    let name = AUDIT_NAMES[g % AUDIT_NAMES.len()];
    let k = (g.wrapping_mul(7919)) % PORTS;
    let product = uid(P_PRODUCT, k % PRODUCTS);
    let consumer = uid(P_PRODUCT, (k % PRODUCTS + 1) % PRODUCTS);
    let (port, asset) = (uid(P_PORT, k), uid(P_ASSET, k));
    let member = uid(P_USER, (k % PRODUCTS + 1) % USERS);
    let port_user = uid(P_USER, k % USERS);
    let s = |t: &str| t.to_string();
    let (st, si, target): (String, String, Option<(String, String)>) = match name {
        "data_output_created" | "data_output_removed" => {
            (s("DATA_OUTPUT"), asset, Some((s("DATA_PRODUCT"), product)))
        }
        "data_output_updated" => (s("DATA_OUTPUT"), asset, None),
        "data_output_dataset_link_requested" | "data_output_dataset_link_removed" => {
            (s("DATA_OUTPUT"), asset, Some((s("DATASET"), port)))
        }
        "data_output_dataset_link_approved" | "data_output_dataset_link_denied" => {
            (s("DATASET"), port, Some((s("DATA_OUTPUT"), asset)))
        }
        n if n.starts_with("data_product_role_assignment_") => {
            (s("DATA_PRODUCT"), product, Some((s("USER"), member)))
        }
        "data_product_dataset_link_requested" | "data_product_dataset_link_cancelled" => {
            (s("DATA_PRODUCT"), consumer, Some((s("DATASET"), port)))
        }
        "data_product_dataset_link_removed" | "data_product_dataset_link_revoked"
            if g.is_multiple_of(2) =>
        {
            (s("DATA_PRODUCT"), consumer, Some((s("DATASET"), port)))
        }
        n if n.starts_with("data_product_dataset_link_") => {
            (s("DATASET"), port, Some((s("DATA_PRODUCT"), consumer)))
        }
        n if n.starts_with("data_product_") => (s("DATA_PRODUCT"), product, None),
        n if n.starts_with("dataset_role_assignment_") => {
            (s("DATASET"), port, Some((s("USER"), port_user)))
        }
        "dataset_removed" => (s("DATASET"), port, Some((s("DATA_PRODUCT"), product))),
        _ => (s("DATASET"), port, None),
    };
    let (tt, ti) = target.map_or((None, None), |(t, i)| (Some(t), Some(i)));
    (name, st, si, tt, ti)
}

/// Insert `rows` audit rows (row `g` is [`audit_row`]`(first + g)`) in transactions of
/// `per_tx` rows.
pub async fn insert(client: &Client, rows: u64, per_tx: usize, first: usize) {
    let insert = client
        .prepare(
            "INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id)
             SELECT gen_random_uuid(), n, st, si::uuid, tt, ti::uuid, $6::text::uuid
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(n, st, si, tt, ti)",
        )
        .await
        .expect("prepare the audit row insert");
    let rows = usize::try_from(rows).expect("rows fit usize");
    let mut g = 0usize;
    while g < rows {
        let n = per_tx.max(1).min(rows - g);
        let (mut names, mut sts, mut sis, mut tts, mut tis) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in first + g..first + g + n {
            let (name, st, si, tt, ti) = audit_row(i);
            names.push(name.to_string());
            sts.push(st);
            sis.push(si);
            tts.push(tt);
            tis.push(ti);
        }
        client
            .execute(&insert, &[&names, &sts, &sis, &tts, &tis, &ACTOR])
            .await
            .expect("insert audit rows");
        g += n;
    }
}

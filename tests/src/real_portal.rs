//! The real Data Product Portal (release 0.7.0) as a test database, and the portal's
//! actions committed the way the portal commits them.
//!
//! [`Setup::real_portal`] loads `tests/fixtures/portal_schema.sql` (the portal's own
//! migrations, 57 tables, enum types, foreign keys) plus the DBA scripts `sql/01`–`04`, and
//! seeds the reference rows the portal's migrations and first start create (the audit
//! table's `event_reference_entities`, roles with their prototypes, a domain, a data
//! product type and lifecycles, platforms and their services, a product setting).
//!
//! [`Portal`] performs portal actions in the transaction pattern observed on the real
//! portal (`PORTAL.md`, "How rows reach the WAL"):
//!
//! | action | transactions |
//! |---|---|
//! | product / output port / technical asset create, update, remove | the change, then the audit row alone |
//! | product create | the product **and** its owner's role assignment with its `…_role_assignment_created` row; then `data_product_created` |
//! | product role request/approve/deny/add/update/remove | the change, then the audit row (deny and remove delete the assignment) |
//! | output port role request, output port member added | change and audit row in one transaction |
//! | output port role approve/deny/update/remove | the change, then the audit row |
//! | asset↔port link request | link insert, output port update and audit row in one transaction |
//! | asset↔port link approve/deny/remove | the change, then the audit row |
//! | access request/decisions/revoke/cancel/remove/renewal | change and audit row in one transaction |
//! | access to an output port open to everyone | approved at once: `…_link_approved` from the consumer side |
//! | product with finalizers | marked `deleting`, no audit row; removed (cascade + audit) when the last finalizer goes |
//! | exploration create / delete | never audited (access requests *by* an exploration are) |
//! | removal in cascade | every child deleted with the entity in one transaction, earlier audit rows' `deleted_*_identifier` filled; one audit row for the entity |
//!
//! Every audited action is logged in [`Portal::log`] with the CloudEvents subject the
//! event must carry (the aggregate: product, output port, technical asset, access link or
//! asset↔port link id as the portal's tables hold it at that moment).

use std::collections::HashMap;

use tokio_postgres::{Client, GenericClient};

use crate::{connect, Setup, TestDb, ACTOR};

/// The portal's schema as its migrations create it (pg_dump of release 0.7.0).
pub const REAL_PORTAL_SCHEMA: &str = include_str!("../fixtures/portal_schema.sql");

/// Fixed ids of the seeded reference rows.
pub mod seed {
    pub const DOMAIN: &str = "5eed0000-0000-4000-8000-000000000001";
    pub const PRODUCT_TYPE: &str = "5eed0000-0000-4000-8000-000000000002";
    pub const LIFECYCLE_DRAFT: &str = "5eed0000-0000-4000-8000-000000000003";
    pub const LIFECYCLE_PRODUCTION: &str = "5eed0000-0000-4000-8000-000000000004";
    pub const ROLE_EVERYONE: &str = "5eed0000-0000-4000-8000-000000000010";
    pub const ROLE_ADMIN: &str = "5eed0000-0000-4000-8000-000000000011";
    pub const ROLE_PRODUCT_OWNER: &str = "5eed0000-0000-4000-8000-000000000012";
    pub const ROLE_PRODUCT_MEMBER: &str = "5eed0000-0000-4000-8000-000000000013";
    pub const ROLE_PORT_OWNER: &str = "5eed0000-0000-4000-8000-000000000014";
    pub const ROLE_PORT_CONSUMER: &str = "5eed0000-0000-4000-8000-000000000015";
    pub const PLATFORM_AWS: &str = "5eed0000-0000-4000-8000-000000000020";
    pub const PLATFORM_AZURE: &str = "5eed0000-0000-4000-8000-000000000021";
    pub const PLATFORM_DATABRICKS: &str = "5eed0000-0000-4000-8000-000000000022";
    pub const PLATFORM_SNOWFLAKE: &str = "5eed0000-0000-4000-8000-000000000023";
    pub const PLATFORM_POSTGRESQL: &str = "5eed0000-0000-4000-8000-000000000024";
    pub const PLATFORM_OSI: &str = "5eed0000-0000-4000-8000-000000000025";
    pub const SERVICE_S3: &str = "5eed0000-0000-4000-8000-000000000030";
    pub const SERVICE_GLUE: &str = "5eed0000-0000-4000-8000-000000000031";
    pub const SERVICE_REDSHIFT: &str = "5eed0000-0000-4000-8000-000000000032";
    pub const SERVICE_DATABRICKS: &str = "5eed0000-0000-4000-8000-000000000033";
    pub const SERVICE_SNOWFLAKE: &str = "5eed0000-0000-4000-8000-000000000034";
    pub const SERVICE_AZURE_BLOB: &str = "5eed0000-0000-4000-8000-000000000035";
    pub const SERVICE_POSTGRESQL: &str = "5eed0000-0000-4000-8000-000000000036";
    pub const SERVICE_OSI: &str = "5eed0000-0000-4000-8000-000000000037";
    pub const PRODUCT_SETTING: &str = "5eed0000-0000-4000-8000-000000000040";
}

/// The reference rows the portal's migrations (and first start) create, which a
/// schema-only dump does not hold. `events.subject_type`/`target_type` reference
/// `event_reference_entities(key)`; `roles.prototype` is 0 custom, 1 everyone, 2 owner,
/// 3 admin (unique per scope when not 0).
pub fn reference_data() -> String {
    use seed::*;
    format!(
        "INSERT INTO alembic_version(version_num) VALUES ('44b3eff9ab38');
         INSERT INTO event_reference_entities(key) VALUES ('DATA_PRODUCT'), ('DATASET'), ('DATA_OUTPUT'), ('USER');
         INSERT INTO roles(id, name, scope, description, permissions, prototype) VALUES
            ('{ROLE_EVERYONE}', 'Everyone', 'global', 'Every user', '{{}}', 1),
            ('{ROLE_ADMIN}', 'Admin', 'global', 'Administrators', '{{101,102,103}}', 3),
            ('{ROLE_PRODUCT_OWNER}', 'Owner', 'data_product', 'Owns the data product', '{{301,302,303,304}}', 2),
            ('{ROLE_PRODUCT_MEMBER}', 'Member', 'data_product', 'Works on the data product', '{{303}}', 0),
            ('{ROLE_PORT_OWNER}', 'Owner', 'dataset', 'Owns the output port', '{{401,402,403}}', 2),
            ('{ROLE_PORT_CONSUMER}', 'Consumer', 'dataset', 'Reads the output port', '{{403}}', 0);
         INSERT INTO domains(id, name, description) VALUES ('{DOMAIN}', 'Finance', 'Money in, money out');
         INSERT INTO data_product_types(id, name, description, icon_key) VALUES
            ('{PRODUCT_TYPE}', 'Analytics', 'Dashboards and reports', 'ANALYTICS');
         INSERT INTO data_product_lifecycles(id, name, value, color, is_default) VALUES
            ('{LIFECYCLE_DRAFT}', 'Draft', 0, 'grey', true),
            ('{LIFECYCLE_PRODUCTION}', 'Production', 2, 'green', false);
         INSERT INTO platforms(id, name) VALUES
            ('{PLATFORM_AWS}', 'AWS'), ('{PLATFORM_AZURE}', 'Azure'), ('{PLATFORM_DATABRICKS}', 'Databricks'),
            ('{PLATFORM_SNOWFLAKE}', 'Snowflake'), ('{PLATFORM_POSTGRESQL}', 'PostgreSQL'), ('{PLATFORM_OSI}', 'OSI');
         INSERT INTO platform_services(id, name, platform_id) VALUES
            ('{SERVICE_S3}', 'S3', '{PLATFORM_AWS}'), ('{SERVICE_GLUE}', 'Glue', '{PLATFORM_AWS}'),
            ('{SERVICE_REDSHIFT}', 'Redshift', '{PLATFORM_AWS}'), ('{SERVICE_DATABRICKS}', 'Databricks', '{PLATFORM_DATABRICKS}'),
            ('{SERVICE_SNOWFLAKE}', 'Snowflake', '{PLATFORM_SNOWFLAKE}'), ('{SERVICE_AZURE_BLOB}', 'Blob Storage', '{PLATFORM_AZURE}'),
            ('{SERVICE_POSTGRESQL}', 'PostgreSQL', '{PLATFORM_POSTGRESQL}'), ('{SERVICE_OSI}', 'Semantic model', '{PLATFORM_OSI}');
         INSERT INTO data_product_settings(id, name, namespace, tooltip, type, category, \"default\", \"order\", scope) VALUES
            ('{PRODUCT_SETTING}', 'IAM role', 'iam_role', 'Role to assume', 'checkbox', 'AWS', 'false', 1, 'dataproduct');
         UPDATE users SET first_name = 'Ada', last_name = 'Actor', external_id = 'ext-actor' WHERE id = '{ACTOR}';"
    )
}

impl Setup {
    /// The real portal schema, its reference rows, `sql/01`–`04` (with enrichment).
    pub fn real_portal() -> Setup {
        Setup {
            schema: REAL_PORTAL_SCHEMA.to_string(),
            reference_data: reference_data(),
            ..Setup::default()
        }
    }
}

/// A fresh random (v4) id, as the portal's ORM sets them.
pub fn new_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Who acted on an access link or decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The consuming product's team (`DATA_PRODUCT → DATASET`).
    Consumer,
    /// The output port's owners (`DATASET → DATA_PRODUCT`).
    Producer,
}

/// A technical asset configuration: its `configuration_type`, its per-type table and the
/// values of that table's columns (all text in the real schema).
#[derive(Debug, Clone)]
pub struct TechConfig {
    pub configuration_type: String,
    /// `None`: a type the portal does not have (no per-type row).
    pub table: Option<&'static str>,
    pub fields: Vec<(&'static str, String)>,
    pub platform: &'static str,
    pub service: &'static str,
}

impl TechConfig {
    fn new(
        ty: &str,
        table: &'static str,
        platform: &'static str,
        service: &'static str,
        fields: &[(&'static str, &str)],
    ) -> TechConfig {
        TechConfig {
            configuration_type: ty.into(),
            table: Some(table),
            fields: fields.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            platform,
            service,
        }
    }

    /// One configuration of each of the eight types of the real schema; `tag` makes the
    /// values distinct per call.
    pub fn all_types(tag: &str) -> Vec<TechConfig> {
        use seed::*;
        let t = |s: &str| format!("{s}-{tag}");
        vec![
            TechConfig::new(
                "S3TechnicalAssetConfiguration",
                "s3_technical_asset_configurations",
                PLATFORM_AWS,
                SERVICE_S3,
                &[
                    ("bucket", &t("datalake")),
                    ("suffix", &t("revenue")),
                    ("path", &t("daily")),
                ],
            ),
            TechConfig::new(
                "GlueTechnicalAssetConfiguration",
                "glue_technical_asset_configurations",
                PLATFORM_AWS,
                SERVICE_GLUE,
                &[
                    ("database", &t("finance_db")),
                    ("database_suffix", &t("raw")),
                    ("table", &t("invoices")),
                    ("bucket_identifier", &t("glue-bucket")),
                    ("database_path", &t("finance/raw")),
                    ("table_path", &t("finance/raw/invoices")),
                    ("access_granularity", "table"),
                ],
            ),
            TechConfig::new(
                "DatabricksTechnicalAssetConfiguration",
                "databricks_technical_asset_configurations",
                PLATFORM_DATABRICKS,
                SERVICE_DATABRICKS,
                &[
                    ("catalog", &t("main")),
                    ("schema", &t("finance")),
                    ("bucket_identifier", &t("dbx-bucket")),
                    ("catalog_path", &t("main/finance")),
                    ("table", &t("ledger")),
                    ("table_path", &t("main/finance/ledger")),
                    ("access_granularity", "schema"),
                ],
            ),
            TechConfig::new(
                "SnowflakeTechnicalAssetConfiguration",
                "snowflake_technical_asset_configurations",
                PLATFORM_SNOWFLAKE,
                SERVICE_SNOWFLAKE,
                &[
                    ("database", &t("ANALYTICS")),
                    ("schema", &t("FINANCE")),
                    ("table", &t("REVENUE")),
                    ("bucket_identifier", &t("sf-stage")),
                    ("database_path", &t("analytics")),
                    ("table_path", &t("analytics/finance/revenue")),
                    ("access_granularity", "table"),
                ],
            ),
            TechConfig::new(
                "RedshiftTechnicalAssetConfiguration",
                "redshift_technical_asset_configurations",
                PLATFORM_AWS,
                SERVICE_REDSHIFT,
                &[
                    ("database", &t("warehouse")),
                    ("schema", &t("finance")),
                    ("table", &t("payments")),
                    ("bucket_identifier", &t("rs-bucket")),
                    ("database_path", &t("warehouse")),
                    ("table_path", &t("warehouse/finance/payments")),
                    ("access_granularity", "schema"),
                ],
            ),
            TechConfig::new(
                "AzureBlobTechnicalAssetConfiguration",
                "azure_blob_technical_asset_configurations",
                PLATFORM_AZURE,
                SERVICE_AZURE_BLOB,
                &[
                    ("domain", &t("finance")),
                    ("container_name", &t("revenue-container")),
                    ("path", &t("exports/daily")),
                ],
            ),
            TechConfig::new(
                "PostgreSQLTechnicalAssetConfiguration",
                "postgresql_technical_asset_configurations",
                PLATFORM_POSTGRESQL,
                SERVICE_POSTGRESQL,
                &[
                    ("database", &t("ops")),
                    ("schema", &t("billing")),
                    ("table", &t("accounts")),
                    ("access_granularity", "table"),
                ],
            ),
            TechConfig::new(
                "OSISemanticModelTechnicalAssetConfiguration",
                "osi_semantic_model_technical_asset_configurations",
                PLATFORM_OSI,
                SERVICE_OSI,
                &[
                    ("model_name", &t("revenue_model")),
                    ("location", &t("s3://models/revenue.yaml")),
                ],
            ),
        ]
    }

    /// A configuration type no portal release has (no per-type table, no row).
    pub fn unknown(ty: &str) -> TechConfig {
        TechConfig {
            configuration_type: ty.into(),
            table: None,
            fields: Vec::new(),
            platform: seed::PLATFORM_AWS,
            service: seed::SERVICE_S3,
        }
    }
}

/// One audited action: the audit row's id (the event id), its name, and the CloudEvents
/// subject its event must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audited {
    pub id: String,
    pub name: String,
    pub subject: String,
}

/// What a delete took with it, in one transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cascade {
    pub output_ports: Vec<String>,
    pub technical_assets: Vec<String>,
    pub access_links: Vec<String>,
    pub asset_links: Vec<String>,
    pub product_memberships: Vec<String>,
    pub port_memberships: Vec<String>,
}

/// A created data product.
#[derive(Debug, Clone)]
pub struct Product {
    pub id: String,
    pub name: String,
    /// The owner's role assignment, written with the product.
    pub owner_assignment: String,
}

/// A created technical asset.
#[derive(Debug, Clone)]
pub struct Asset {
    pub id: String,
    pub configuration_id: String,
}

/// The portal, acting through its database the way its API commits.
pub struct Portal {
    client: Client,
    /// Who acts (`events.actor_id`).
    pub actor: String,
    /// Every audit row committed so far, in commit order.
    pub log: Vec<Audited>,
    names: HashMap<String, String>,
    port_product: HashMap<String, String>,
    asset_product: HashMap<String, String>,
    asset_links: HashMap<String, (String, String)>,
    access: HashMap<String, (String, String)>,
    product_roles: HashMap<String, (String, String)>,
    port_roles: HashMap<String, (String, String)>,
    counter: u32,
}

type Ref<'a> = (&'a str, &'a str);

const DP: &str = "DATA_PRODUCT";
const DS: &str = "DATASET";
const DO: &str = "DATA_OUTPUT";
const US: &str = "USER";

impl Portal {
    pub async fn connect(db: &TestDb) -> Portal {
        Portal {
            client: connect(&db.cluster.conninfo("portal")).await,
            actor: ACTOR.to_string(),
            log: Vec::new(),
            names: HashMap::new(),
            port_product: HashMap::new(),
            asset_product: HashMap::new(),
            asset_links: HashMap::new(),
            access: HashMap::new(),
            product_roles: HashMap::new(),
            port_roles: HashMap::new(),
            counter: 0,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Ids of the audit rows committed so far.
    pub fn audit_ids(&self) -> Vec<String> {
        self.log.iter().map(|a| a.id.clone()).collect()
    }

    fn seq(&mut self) -> u32 {
        self.counter += 1;
        self.counter
    }

    /// An audit row in a transaction of its own (after the change committed).
    async fn audit_later(
        &mut self,
        name: &str,
        subject: Ref<'_>,
        target: Option<Ref<'_>>,
        aggregate: &str,
    ) -> String {
        let tx = self.client.transaction().await.unwrap();
        let id = new_id();
        let (tt, ti) = target.map_or((None, None), |(t, i)| (Some(t), Some(i)));
        tx.execute(
            "INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id)
             VALUES ($1::text::uuid, $2, $3, $4::text::uuid, $5, $6::text::uuid, $7::text::uuid)",
            &[&id, &name, &subject.0, &subject.1, &tt, &ti, &self.actor],
        )
        .await
        .unwrap_or_else(|e| panic!("audit row {name}: {e}"));
        tx.commit().await.unwrap();
        self.log.push(Audited {
            id: id.clone(),
            name: name.into(),
            subject: aggregate.into(),
        });
        id
    }

    /// Run `sql` (several statements, ids inlined) as one transaction.
    async fn change(&self, sql: &str) {
        self.client
            .batch_execute(&format!("BEGIN; {sql}; COMMIT;"))
            .await
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
    }

    // ---- users -------------------------------------------------------------------------

    /// A user (not audited). `email` may be `None`: the real column is nullable.
    pub async fn user(&mut self, email: Option<&str>, first: &str, last: &str) -> String {
        let id = new_id();
        self.client
            .execute(
                "INSERT INTO users(id, email, external_id, first_name, last_name)
                 VALUES ($1::text::uuid, $2, $3, $4, $5)",
                &[&id, &email, &format!("ext-{first}"), &first, &last],
            )
            .await
            .unwrap();
        self.names
            .insert(id.clone(), email.unwrap_or(first).to_string());
        id
    }

    // ---- data products -----------------------------------------------------------------

    /// Create a data product: the product and its owner's role assignment (with its
    /// `data_product_role_assignment_created` row) in one transaction, then
    /// `data_product_created`.
    pub async fn create_product(&mut self, name: &str) -> Product {
        self.create_product_with(name, &[]).await
    }

    /// A data product with finalizers (`abstract_data_products.finalizers`).
    pub async fn create_product_with(&mut self, name: &str, finalizers: &[&str]) -> Product {
        use seed::*;
        let id = new_id();
        let owner_ra = new_id();
        let namespace = name.to_ascii_lowercase().replace(' ', "-");
        let fin = format!(
            "ARRAY[{}]::varchar[]",
            finalizers
                .iter()
                .map(|f| format!("'{f}'"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let tx = self.client.transaction().await.unwrap();
        tx.batch_execute(&format!(
            "INSERT INTO abstract_data_products(id, name, abstract_data_product_type, description, namespace, domain_id, finalizers, status)
                VALUES ('{id}', '{name}', 'data_products', 'About {name}', '{namespace}', '{DOMAIN}', {fin}, 'active');
             INSERT INTO data_products(id, about, type_id, lifecycle_id, usage)
                VALUES ('{id}', '# {name}', '{PRODUCT_TYPE}', '{LIFECYCLE_DRAFT}', 'internal');
             INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision, requested_by_id, decided_by_id, decided_on)
                VALUES ('{owner_ra}', '{id}', '{actor}', '{ROLE_PRODUCT_OWNER}', 'APPROVED', '{actor}', '{actor}', timezone('utc', now()));",
            actor = self.actor
        ))
        .await
        .unwrap();
        let audit_id = new_id();
        tx.execute(
            "INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id)
             VALUES ($1::text::uuid, 'data_product_role_assignment_created', 'DATA_PRODUCT', $2::text::uuid, 'USER', $3::text::uuid, $3::text::uuid)",
            &[&audit_id, &id, &self.actor],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        self.log.push(Audited {
            id: audit_id,
            name: "data_product_role_assignment_created".into(),
            subject: id.clone(),
        });
        self.product_roles
            .insert(owner_ra.clone(), (id.clone(), self.actor.clone()));
        self.names.insert(id.clone(), name.to_string());
        self.audit_later("data_product_created", (DP, &id), None, &id)
            .await;
        Product {
            id,
            name: name.into(),
            owner_assignment: owner_ra,
        }
    }

    pub async fn update_product(&mut self, id: &str, about: &str) -> String {
        self.change(&format!(
            "UPDATE abstract_data_products SET description = '{about}', updated_on = timezone('utc', now()) WHERE id = '{id}';
             UPDATE data_products SET about = '{about}', lifecycle_id = '{}' WHERE id = '{id}'",
            seed::LIFECYCLE_PRODUCTION
        ))
        .await;
        self.audit_later("data_product_updated", (DP, id), None, id)
            .await
    }

    pub async fn update_product_setting(&mut self, id: &str, value: &str) -> String {
        self.change(&format!(
            "DELETE FROM data_products_settings_values WHERE data_product_id = '{id}';
             INSERT INTO data_products_settings_values(id, data_product_id, data_product_setting_id, value)
                VALUES ('{}', '{id}', '{}', '{value}')",
            new_id(),
            seed::PRODUCT_SETTING
        ))
        .await;
        self.audit_later("data_product_setting_updated", (DP, id), None, id)
            .await
    }

    /// Delete a data product with everything that goes with it (one transaction), then
    /// `data_product_removed` alone. Returns what the cascade deleted.
    pub async fn remove_product(&mut self, id: &str) -> Cascade {
        let cascade = self.delete_product_rows(id).await;
        self.audit_later("data_product_removed", (DP, id), None, id)
            .await;
        cascade
    }

    /// DELETE of a data product answered 202: it has finalizers, so it is only marked
    /// `deleting` (no audit row).
    pub async fn request_delete(&mut self, id: &str) {
        self.change(&format!(
            "UPDATE abstract_data_products SET status = 'deleting', updated_on = timezone('utc', now()) WHERE id = '{id}'"
        ))
        .await;
    }

    /// A finalizer is done (not audited). When it was the last one of a product marked
    /// `deleting`, the product is removed: cascade, then `data_product_removed`.
    pub async fn remove_finalizer(&mut self, id: &str, finalizer: &str) -> Option<Cascade> {
        let row = self
            .client
            .query_one(
                "UPDATE abstract_data_products SET finalizers = array_remove(finalizers, $2)
                 WHERE id = $1::text::uuid RETURNING cardinality(finalizers), status",
                &[&id, &finalizer],
            )
            .await
            .unwrap();
        let left: i32 = row.get(0);
        let status: String = row.get(1);
        if left == 0 && status == "deleting" {
            Some(self.remove_product(id).await)
        } else {
            None
        }
    }

    async fn delete_product_rows(&mut self, id: &str) -> Cascade {
        let name = self.names.get(id).cloned().unwrap_or_default();
        let tx = self.client.transaction().await.unwrap();
        let ids = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
            rows.iter().map(|r| r.get::<_, String>(0)).collect()
        };
        let ports = ids(tx
            .query(
                "SELECT id::text FROM datasets WHERE data_product_id = $1::text::uuid ORDER BY id",
                &[&id],
            )
            .await
            .unwrap());
        let assets = ids(tx
            .query(
                "SELECT id::text FROM data_outputs WHERE owner_id = $1::text::uuid ORDER BY id",
                &[&id],
            )
            .await
            .unwrap());
        let mut c = Cascade {
            access_links: ids(tx
                .query(
                    "DELETE FROM input_ports WHERE consuming_abstract_data_product_id = $1::text::uuid
                        OR dataset_id = ANY($2::text[]::uuid[]) RETURNING id::text",
                    &[&id, &ports],
                )
                .await
                .unwrap()),
            asset_links: ids(tx
                .query(
                    "DELETE FROM data_outputs_datasets WHERE data_output_id = ANY($1::text[]::uuid[])
                        OR dataset_id = ANY($2::text[]::uuid[]) RETURNING id::text",
                    &[&assets, &ports],
                )
                .await
                .unwrap()),
            port_memberships: ids(tx
                .query(
                    "DELETE FROM role_assignments_dataset WHERE dataset_id = ANY($2::text[]::uuid[])
                        OR data_product_id = $1::text::uuid RETURNING id::text",
                    &[&id, &ports],
                )
                .await
                .unwrap()),
            ..Cascade::default()
        };
        tx.execute(
            "DELETE FROM data_products_settings_values WHERE data_product_id = $1::text::uuid
                OR dataset_id = ANY($2::text[]::uuid[])",
            &[&id, &ports],
        )
        .await
        .unwrap();
        c.output_ports = ids(tx
            .query(
                "DELETE FROM datasets WHERE data_product_id = $1::text::uuid RETURNING id::text",
                &[&id],
            )
            .await
            .unwrap());
        let configs: Vec<String> = tx
            .query(
                "DELETE FROM data_outputs WHERE owner_id = $1::text::uuid RETURNING id::text, configuration_id::text",
                &[&id],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| {
                c.technical_assets.push(r.get(0));
                r.get::<_, Option<String>>(1).unwrap_or_default()
            })
            .collect();
        tx.execute(
            "DELETE FROM data_output_configurations WHERE id = ANY($1::text[]::uuid[])",
            &[&configs],
        )
        .await
        .unwrap();
        c.product_memberships = ids(tx
            .query(
                "DELETE FROM role_assignments_data_product WHERE data_product_id = $1::text::uuid RETURNING id::text",
                &[&id],
            )
            .await
            .unwrap());
        tx.execute(
            "DELETE FROM data_products WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
        tx.execute(
            "DELETE FROM abstract_data_products WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
        fill_deleted_identifiers(&tx, id, &name).await;
        tx.commit().await.unwrap();
        for p in &c.output_ports {
            self.port_product.remove(p);
        }
        c
    }

    // ---- output ports ------------------------------------------------------------------

    /// Create an output port of `product` (`access_type`: RESTRICTED, UNRESTRICTED, …):
    /// the insert, its search vector and embeddings right after, then `dataset_created`.
    pub async fn create_port(&mut self, product: &str, name: &str, access_type: &str) -> String {
        let id = new_id();
        let n = self.seq();
        let namespace = format!("{}-{n}", name.to_ascii_lowercase().replace(' ', "-"));
        self.change(&format!(
            "INSERT INTO datasets(id, namespace, name, description, about, status, access_type, lifecycle_id, usage, data_product_id)
                VALUES ('{id}', '{namespace}', '{name}', 'Port {name}', '# {name}', 'ACTIVE', '{access_type}', '{}', 'internal', '{product}')",
            seed::LIFECYCLE_DRAFT
        ))
        .await;
        self.change(&format!(
            "UPDATE datasets SET search_vector = to_tsvector('simple', '{name}'), embeddings = '[0.1,0.2]' WHERE id = '{id}'"
        ))
        .await;
        self.port_product.insert(id.clone(), product.to_string());
        self.names.insert(id.clone(), name.to_string());
        self.audit_later("dataset_created", (DS, &id), None, &id)
            .await;
        id
    }

    pub async fn update_port(&mut self, id: &str, description: &str) -> String {
        self.change(&format!(
            "UPDATE datasets SET description = '{description}', updated_on = timezone('utc', now()) WHERE id = '{id}'"
        ))
        .await;
        self.audit_later("dataset_updated", (DS, id), None, id)
            .await
    }

    pub async fn update_port_setting(&mut self, id: &str, value: &str) -> String {
        let product = self.port_product[id].clone();
        self.change(&format!(
            "DELETE FROM data_products_settings_values WHERE dataset_id = '{id}';
             INSERT INTO data_products_settings_values(id, data_product_id, data_product_setting_id, value, dataset_id)
                VALUES ('{}', '{product}', '{}', '{value}', '{id}')",
            new_id(),
            seed::PRODUCT_SETTING
        ))
        .await;
        self.audit_later("dataset_setting_updated", (DS, id), None, id)
            .await
    }

    /// Delete an output port with its links, access links and team (one transaction),
    /// then `dataset_removed` (`DATASET → DATA_PRODUCT`).
    pub async fn remove_port(&mut self, id: &str) -> Cascade {
        let product = self.port_product[id].clone();
        let name = self.names.get(id).cloned().unwrap_or_default();
        let tx = self.client.transaction().await.unwrap();
        let ids = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
            rows.iter().map(|r| r.get::<_, String>(0)).collect()
        };
        let c = Cascade {
            access_links: ids(tx
                .query(
                    "DELETE FROM input_ports WHERE dataset_id = $1::text::uuid RETURNING id::text",
                    &[&id],
                )
                .await
                .unwrap()),
            asset_links: ids(tx
                .query(
                    "DELETE FROM data_outputs_datasets WHERE dataset_id = $1::text::uuid RETURNING id::text",
                    &[&id],
                )
                .await
                .unwrap()),
            port_memberships: ids(tx
                .query(
                    "DELETE FROM role_assignments_dataset WHERE dataset_id = $1::text::uuid RETURNING id::text",
                    &[&id],
                )
                .await
                .unwrap()),
            output_ports: ids(tx
                .query(
                    "DELETE FROM datasets WHERE id = $1::text::uuid RETURNING id::text",
                    &[&id],
                )
                .await
                .unwrap()),
            ..Cascade::default()
        };
        fill_deleted_identifiers(&tx, id, &name).await;
        tx.commit().await.unwrap();
        self.audit_later("dataset_removed", (DS, id), Some((DP, &product)), id)
            .await;
        c
    }

    // ---- technical assets --------------------------------------------------------------

    /// Create a technical asset of `product` with `config`: configuration rows and the
    /// asset in one transaction, then `data_output_created` (`DATA_OUTPUT → DATA_PRODUCT`).
    pub async fn create_asset(&mut self, product: &str, name: &str, config: &TechConfig) -> Asset {
        let id = new_id();
        let cfg = new_id();
        let n = self.seq();
        let namespace = format!("{}-{n}", name.to_ascii_lowercase().replace(' ', "-"));
        let mut sql = format!(
            "INSERT INTO data_output_configurations(id, configuration_type) VALUES ('{cfg}', '{}');",
            config.configuration_type
        );
        if let Some(table) = config.table {
            let cols: Vec<String> = config
                .fields
                .iter()
                .map(|(k, _)| format!("\"{k}\""))
                .collect();
            let vals: Vec<String> = config
                .fields
                .iter()
                .map(|(_, v)| format!("'{}'", v.replace('\'', "''")))
                .collect();
            sql.push_str(&format!(
                "INSERT INTO {table}(id, {}) VALUES ('{cfg}', {});",
                cols.join(", "),
                vals.join(", ")
            ));
        }
        sql.push_str(&format!(
            "INSERT INTO data_outputs(id, namespace, name, description, status, platform_id, service_id, owner_id, configuration_id, technical_mapping)
                VALUES ('{id}', '{namespace}', '{name}', 'Asset {name}', 'ACTIVE', '{}', '{}', '{product}', '{cfg}', 'default')",
            config.platform, config.service
        ));
        self.change(&sql).await;
        self.asset_product.insert(id.clone(), product.to_string());
        self.names.insert(id.clone(), name.to_string());
        self.audit_later("data_output_created", (DO, &id), Some((DP, product)), &id)
            .await;
        Asset {
            id,
            configuration_id: cfg,
        }
    }

    pub async fn update_asset(&mut self, id: &str, description: &str) -> String {
        self.change(&format!(
            "UPDATE data_outputs SET description = '{description}', updated_on = timezone('utc', now()) WHERE id = '{id}'"
        ))
        .await;
        self.audit_later("data_output_updated", (DO, id), None, id)
            .await
    }

    /// Delete a technical asset with its links and configuration (one transaction), then
    /// `data_output_removed` (`DATA_OUTPUT → DATA_PRODUCT`).
    pub async fn remove_asset(&mut self, id: &str) -> Cascade {
        let product = self.asset_product[id].clone();
        let name = self.names.get(id).cloned().unwrap_or_default();
        let tx = self.client.transaction().await.unwrap();
        let links: Vec<String> = tx
            .query(
                "DELETE FROM data_outputs_datasets WHERE data_output_id = $1::text::uuid RETURNING id::text",
                &[&id],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let cfg: Option<String> = tx
            .query_one(
                "DELETE FROM data_outputs WHERE id = $1::text::uuid RETURNING configuration_id::text",
                &[&id],
            )
            .await
            .unwrap()
            .get(0);
        tx.execute(
            "DELETE FROM data_output_configurations WHERE id = $1::text::uuid",
            &[&cfg],
        )
        .await
        .unwrap();
        fill_deleted_identifiers(&tx, id, &name).await;
        tx.commit().await.unwrap();
        self.audit_later("data_output_removed", (DO, id), Some((DP, &product)), id)
            .await;
        Cascade {
            technical_assets: vec![id.to_string()],
            asset_links: links,
            ..Cascade::default()
        }
    }

    // ---- technical asset ↔ output port links -------------------------------------------

    /// Request a link: the link, an output port update and the audit row in one
    /// transaction (`DATA_OUTPUT → DATASET`). Returns the link id.
    pub async fn request_asset_link(&mut self, asset: &str, port: &str) -> String {
        let link = new_id();
        let tx = self.client.transaction().await.unwrap();
        tx.batch_execute(&format!(
            "INSERT INTO data_outputs_datasets(id, data_output_id, dataset_id, status, requested_by_id)
                VALUES ('{link}', '{asset}', '{port}', 'PENDING', '{actor}');
             UPDATE datasets SET updated_on = timezone('utc', now()) WHERE id = '{port}';",
            actor = self.actor
        ))
        .await
        .unwrap();
        let audit_id = new_id();
        tx.execute(
            "INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id)
             VALUES ($1::text::uuid, 'data_output_dataset_link_requested', 'DATA_OUTPUT', $2::text::uuid, 'DATASET', $3::text::uuid, $4::text::uuid)",
            &[&audit_id, &asset, &port, &self.actor],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        self.log.push(Audited {
            id: audit_id,
            name: "data_output_dataset_link_requested".into(),
            subject: link.clone(),
        });
        self.asset_links
            .insert(link.clone(), (asset.to_string(), port.to_string()));
        link
    }

    async fn decide_asset_link(&mut self, link: &str, status: &str, name: &str) -> String {
        let (asset, port) = self.asset_links[link].clone();
        let who = if status == "APPROVED" {
            "approved"
        } else {
            "denied"
        };
        self.change(&format!(
            "UPDATE data_outputs_datasets SET status = '{status}', {who}_by_id = '{actor}', {who}_on = timezone('utc', now())
              WHERE id = '{link}'",
            actor = self.actor
        ))
        .await;
        self.audit_later(name, (DS, &port), Some((DO, &asset)), link)
            .await
    }

    pub async fn approve_asset_link(&mut self, link: &str) -> String {
        self.decide_asset_link(link, "APPROVED", "data_output_dataset_link_approved")
            .await
    }

    pub async fn deny_asset_link(&mut self, link: &str) -> String {
        self.decide_asset_link(link, "DENIED", "data_output_dataset_link_denied")
            .await
    }

    /// Unlink: the delete, then `data_output_dataset_link_removed` (`DATA_OUTPUT → DATASET`).
    pub async fn remove_asset_link(&mut self, link: &str) -> String {
        let (asset, port) = self.asset_links[link].clone();
        self.change(&format!(
            "DELETE FROM data_outputs_datasets WHERE id = '{link}';
             UPDATE datasets SET updated_on = timezone('utc', now()) WHERE id = '{port}'"
        ))
        .await;
        self.audit_later(
            "data_output_dataset_link_removed",
            (DO, &asset),
            Some((DS, &port)),
            link,
        )
        .await
    }

    // ---- access (input ports) ----------------------------------------------------------

    async fn access_tx(&mut self, sql: String, name: &str, link: &str, side: Side) -> String {
        let (consumer, port) = self.access[link].clone();
        let (subject, target) = match side {
            Side::Consumer => ((DP, consumer.as_str()), (DS, port.as_str())),
            Side::Producer => ((DS, port.as_str()), (DP, consumer.as_str())),
        };
        let tx = self.client.transaction().await.unwrap();
        tx.batch_execute(&sql)
            .await
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
        let id = new_id();
        tx.execute(
            "INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id)
             VALUES ($1::text::uuid, $2, $3, $4::text::uuid, $5, $6::text::uuid, $7::text::uuid)",
            &[&id, &name, &subject.0, &subject.1, &target.0, &target.1, &self.actor],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        self.log.push(Audited {
            id: id.clone(),
            name: name.into(),
            subject: link.into(),
        });
        id
    }

    fn request_row(&self, link: &str, decision: &str) -> String {
        format!(
            "INSERT INTO input_port_requests(id, input_port_id, decision, justification, access_duration_type,
                requested_duration_days, requested_by_id, decided_by_id, decided_on, valid_from)
             VALUES ('{}', '{link}', '{decision}', 'Needed for the monthly report', 'PERMANENT', NULL, '{actor}',
                {decided}, {decided_on}, {valid_from});",
            new_id(),
            actor = self.actor,
            decided = if decision == "PENDING" { "NULL".to_string() } else { format!("'{}'", self.actor) },
            decided_on = if decision == "PENDING" { "NULL" } else { "timezone('utc', now())" },
            valid_from = if decision == "PENDING" { "NULL" } else { "current_date" },
        )
    }

    /// Request access from `consumer` (a data product or an exploration) to `port`: the
    /// link, its request and the audit row in one transaction (`DATA_PRODUCT → DATASET`).
    pub async fn request_access(&mut self, consumer: &str, port: &str) -> String {
        self.new_access(
            consumer,
            port,
            "PENDING",
            "data_product_dataset_link_requested",
        )
        .await
    }

    /// Request access to an output port open to everyone: approved at once, written as
    /// `data_product_dataset_link_approved` from the consumer side.
    pub async fn request_open_access(&mut self, consumer: &str, port: &str) -> String {
        self.new_access(
            consumer,
            port,
            "APPROVED",
            "data_product_dataset_link_approved",
        )
        .await
    }

    async fn new_access(&mut self, consumer: &str, port: &str, status: &str, name: &str) -> String {
        let link = new_id();
        self.access
            .insert(link.clone(), (consumer.to_string(), port.to_string()));
        let sql = format!(
            "INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status)
                VALUES ('{link}', '{consumer}', '{port}', '{status}');
             {}",
            self.request_row(&link, status)
        );
        self.access_tx(sql, name, &link, Side::Consumer).await;
        link
    }

    /// Renew access: a new request on the SAME link id, audited `…_requested` again
    /// (`open`: approved at once, audited `…_approved` from the consumer side).
    pub async fn renew_access(&mut self, link: &str, open: bool) -> String {
        let (decision, name) = if open {
            ("APPROVED", "data_product_dataset_link_approved")
        } else {
            ("PENDING", "data_product_dataset_link_requested")
        };
        let sql = format!(
            "UPDATE input_ports SET updated_on = timezone('utc', now()) WHERE id = '{link}';
             {}",
            self.request_row(link, decision)
        );
        self.access_tx(sql, name, link, Side::Consumer).await
    }

    fn decide_sql(link: &str, status: &str, decision: &str, extra: &str) -> String {
        format!(
            "UPDATE input_ports SET status = '{status}', updated_on = timezone('utc', now()) WHERE id = '{link}';
             UPDATE input_port_requests SET decision = '{decision}', decided_on = timezone('utc', now()){extra}
              WHERE id = (SELECT id FROM input_port_requests WHERE input_port_id = '{link}'
                          ORDER BY created_on DESC, id LIMIT 1);"
        )
    }

    /// The output port's owners approve the pending request (`DATASET → DATA_PRODUCT`).
    pub async fn approve_access(&mut self, link: &str) -> String {
        let sql = Self::decide_sql(
            link,
            "APPROVED",
            "APPROVED",
            &format!(
                ", decided_by_id = '{}', valid_from = current_date",
                self.actor
            ),
        );
        self.access_tx(
            sql,
            "data_product_dataset_link_approved",
            link,
            Side::Producer,
        )
        .await
    }

    pub async fn deny_access(&mut self, link: &str) -> String {
        let sql = Self::decide_sql(
            link,
            "DENIED",
            "DENIED",
            &format!(
                ", decided_by_id = '{}', decision_note = 'Not for this use'",
                self.actor
            ),
        );
        self.access_tx(
            sql,
            "data_product_dataset_link_denied",
            link,
            Side::Producer,
        )
        .await
    }

    pub async fn revoke_access(&mut self, link: &str, side: Side) -> String {
        let sql = Self::decide_sql(
            link,
            "REVOKED",
            "APPROVED",
            &format!(
                ", revoked_at = timezone('utc', now()), revoked_by_id = '{}'",
                self.actor
            ),
        );
        self.access_tx(sql, "data_product_dataset_link_revoked", link, side)
            .await
    }

    /// The consumer withdraws its pending request (`DATA_PRODUCT → DATASET`).
    pub async fn cancel_access(&mut self, link: &str) -> String {
        let sql = Self::decide_sql(link, "CANCELLED", "CANCELLED", "");
        self.access_tx(
            sql,
            "data_product_dataset_link_cancelled",
            link,
            Side::Consumer,
        )
        .await
    }

    /// Delete the link (its requests go with it), audit row in the same transaction.
    pub async fn remove_access(&mut self, link: &str, side: Side) -> String {
        let sql = format!("DELETE FROM input_ports WHERE id = '{link}';");
        self.access_tx(sql, "data_product_dataset_link_removed", link, side)
            .await
    }

    // ---- role assignments --------------------------------------------------------------

    /// A user asks for a role in a data product: the assignment, then the audit row.
    pub async fn request_product_role(&mut self, product: &str, user: &str) -> String {
        let ra = new_id();
        self.change(&format!(
            "INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision, requested_by_id)
                VALUES ('{ra}', '{product}', '{user}', '{}', 'PENDING', '{user}')",
            seed::ROLE_PRODUCT_MEMBER
        ))
        .await;
        self.product_roles
            .insert(ra.clone(), (product.to_string(), user.to_string()));
        self.audit_later(
            "data_product_role_assignment_requested",
            (DP, product),
            Some((US, user)),
            product,
        )
        .await;
        ra
    }

    /// An owner adds a member directly: the assignment, then `…_created`.
    pub async fn add_product_member(&mut self, product: &str, user: &str) -> String {
        let ra = new_id();
        self.change(&format!(
            "INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision, requested_by_id, decided_by_id, decided_on)
                VALUES ('{ra}', '{product}', '{user}', '{}', 'APPROVED', '{actor}', '{actor}', timezone('utc', now()))",
            seed::ROLE_PRODUCT_MEMBER,
            actor = self.actor
        ))
        .await;
        self.product_roles
            .insert(ra.clone(), (product.to_string(), user.to_string()));
        self.audit_later(
            "data_product_role_assignment_created",
            (DP, product),
            Some((US, user)),
            product,
        )
        .await;
        ra
    }

    async fn product_role_change(&mut self, ra: &str, sql: String, name: &str) -> String {
        let (product, user) = self.product_roles[ra].clone();
        self.change(&sql).await;
        self.audit_later(name, (DP, &product), Some((US, &user)), &product)
            .await
    }

    pub async fn approve_product_role(&mut self, ra: &str) -> String {
        let sql = format!(
            "UPDATE role_assignments_data_product SET decision = 'APPROVED', decided_by_id = '{}', decided_on = timezone('utc', now()) WHERE id = '{ra}'",
            self.actor
        );
        self.product_role_change(ra, sql, "data_product_role_assignment_approved")
            .await
    }

    /// Deny a role request: the assignment is deleted, then the audit row.
    pub async fn deny_product_role(&mut self, ra: &str) -> String {
        let sql = format!("DELETE FROM role_assignments_data_product WHERE id = '{ra}'");
        self.product_role_change(ra, sql, "data_product_role_assignment_denied")
            .await
    }

    pub async fn update_product_role(&mut self, ra: &str, role: &str) -> String {
        let sql = format!(
            "UPDATE role_assignments_data_product SET role_id = '{role}' WHERE id = '{ra}'"
        );
        self.product_role_change(ra, sql, "data_product_role_assignment_updated")
            .await
    }

    pub async fn remove_product_member(&mut self, ra: &str) -> String {
        let sql = format!("DELETE FROM role_assignments_data_product WHERE id = '{ra}'");
        self.product_role_change(ra, sql, "data_product_role_assignment_removed")
            .await
    }

    async fn port_role_same_tx(&mut self, sql: String, ra: &str, name: &str) -> String {
        let (port, user) = self.port_roles[ra].clone();
        let tx = self.client.transaction().await.unwrap();
        tx.batch_execute(&sql).await.unwrap();
        let id = new_id();
        tx.execute(
            "INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id)
             VALUES ($1::text::uuid, $2, 'DATASET', $3::text::uuid, 'USER', $4::text::uuid, $5::text::uuid)",
            &[&id, &name, &port, &user, &self.actor],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        self.log.push(Audited {
            id: id.clone(),
            name: name.into(),
            subject: port,
        });
        id
    }

    /// A user asks for a role on an output port: assignment and audit row in one
    /// transaction.
    pub async fn request_port_role(&mut self, port: &str, user: &str) -> String {
        let ra = new_id();
        let product = self.port_product[port].clone();
        self.port_roles
            .insert(ra.clone(), (port.to_string(), user.to_string()));
        let sql = format!(
            "INSERT INTO role_assignments_dataset(id, dataset_id, user_id, role_id, decision, requested_by_id, data_product_id)
                VALUES ('{ra}', '{port}', '{user}', '{}', 'PENDING', '{user}', '{product}')",
            seed::ROLE_PORT_CONSUMER
        );
        self.port_role_same_tx(sql, &ra, "dataset_role_assignment_requested")
            .await;
        ra
    }

    /// An owner adds an output port member through the role-assignment API: assignment
    /// and audit row in one transaction.
    pub async fn add_port_member(&mut self, port: &str, user: &str) -> String {
        let ra = new_id();
        let product = self.port_product[port].clone();
        self.port_roles
            .insert(ra.clone(), (port.to_string(), user.to_string()));
        let sql = format!(
            "INSERT INTO role_assignments_dataset(id, dataset_id, user_id, role_id, decision, requested_by_id, decided_by_id, decided_on, data_product_id)
                VALUES ('{ra}', '{port}', '{user}', '{}', 'APPROVED', '{actor}', '{actor}', timezone('utc', now()), '{product}')",
            seed::ROLE_PORT_CONSUMER,
            actor = self.actor
        );
        self.port_role_same_tx(sql, &ra, "dataset_role_assignment_created")
            .await;
        ra
    }

    async fn port_role_change(&mut self, ra: &str, sql: String, name: &str) -> String {
        let (port, user) = self.port_roles[ra].clone();
        self.change(&sql).await;
        self.audit_later(name, (DS, &port), Some((US, &user)), &port)
            .await
    }

    pub async fn approve_port_role(&mut self, ra: &str) -> String {
        let sql = format!(
            "UPDATE role_assignments_dataset SET decision = 'APPROVED', decided_by_id = '{}', decided_on = timezone('utc', now()) WHERE id = '{ra}'",
            self.actor
        );
        self.port_role_change(ra, sql, "dataset_role_assignment_approved")
            .await
    }

    pub async fn deny_port_role(&mut self, ra: &str) -> String {
        let sql = format!("DELETE FROM role_assignments_dataset WHERE id = '{ra}'");
        self.port_role_change(ra, sql, "dataset_role_assignment_denied")
            .await
    }

    pub async fn update_port_role(&mut self, ra: &str, role: &str) -> String {
        let sql =
            format!("UPDATE role_assignments_dataset SET role_id = '{role}' WHERE id = '{ra}'");
        self.port_role_change(ra, sql, "dataset_role_assignment_updated")
            .await
    }

    pub async fn remove_port_member(&mut self, ra: &str) -> String {
        let sql = format!("DELETE FROM role_assignments_dataset WHERE id = '{ra}'");
        self.port_role_change(ra, sql, "dataset_role_assignment_removed")
            .await
    }

    // ---- explorations (never audited) --------------------------------------------------

    /// Create an exploration owned by `owner` (no audit row).
    pub async fn create_exploration(&mut self, name: &str, owner: &str) -> String {
        let id = new_id();
        let namespace = name.to_ascii_lowercase().replace(' ', "-");
        self.change(&format!(
            "INSERT INTO abstract_data_products(id, name, abstract_data_product_type, description, namespace, domain_id, status)
                VALUES ('{id}', '{name}', 'explorations', 'Exploring', '{namespace}', '{}', 'active');
             INSERT INTO explorations(id, owner_id) VALUES ('{id}', '{owner}')",
            seed::DOMAIN
        ))
        .await;
        self.names.insert(id.clone(), name.to_string());
        id
    }

    /// Delete an exploration with its access links (one transaction, no audit row).
    /// Returns the access links that went with it.
    pub async fn delete_exploration(&mut self, id: &str) -> Vec<String> {
        let name = self.names.get(id).cloned().unwrap_or_default();
        let tx = self.client.transaction().await.unwrap();
        let links: Vec<String> = tx
            .query(
                "DELETE FROM input_ports WHERE consuming_abstract_data_product_id = $1::text::uuid RETURNING id::text",
                &[&id],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        tx.execute("DELETE FROM explorations WHERE id = $1::text::uuid", &[&id])
            .await
            .unwrap();
        tx.execute(
            "DELETE FROM abstract_data_products WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
        fill_deleted_identifiers(&tx, id, &name).await;
        tx.commit().await.unwrap();
        links
    }

    /// The consumer and output port of an access link.
    pub fn access_link(&self, link: &str) -> (String, String) {
        self.access[link].clone()
    }
}

/// What the portal does when it deletes an entity: earlier audit rows naming it get its
/// name in `deleted_*_identifier` (UPDATEs of `events`, not new events).
async fn fill_deleted_identifiers<C: GenericClient>(tx: &C, id: &str, name: &str) {
    tx.execute(
        "UPDATE events SET deleted_subject_identifier = $2 WHERE subject_id = $1::text::uuid",
        &[&id, &name],
    )
    .await
    .unwrap();
    tx.execute(
        "UPDATE events SET deleted_target_identifier = $2 WHERE target_id = $1::text::uuid",
        &[&id, &name],
    )
    .await
    .unwrap();
}

/// The CloudEvents type each of the 33 audit names becomes.
pub fn event_type_of(audit_name: &str) -> Option<&'static str> {
    Some(match audit_name {
        "data_output_created" => "portal.technical_asset.created.v1",
        "data_output_updated" => "portal.technical_asset.updated.v1",
        "data_output_removed" => "portal.technical_asset.removed.v1",
        "data_output_dataset_link_requested" => "portal.technical_asset_link.requested.v1",
        "data_output_dataset_link_approved" => "portal.technical_asset_link.approved.v1",
        "data_output_dataset_link_denied" => "portal.technical_asset_link.denied.v1",
        "data_output_dataset_link_removed" => "portal.technical_asset_link.removed.v1",
        "data_product_created" => "portal.data_product.created.v1",
        "data_product_updated" => "portal.data_product.updated.v1",
        "data_product_removed" => "portal.data_product.removed.v1",
        "data_product_setting_updated" => "portal.data_product.settings_updated.v1",
        "data_product_role_assignment_created" => "portal.data_product_membership.created.v1",
        "data_product_role_assignment_updated" => "portal.data_product_membership.updated.v1",
        "data_product_role_assignment_removed" => "portal.data_product_membership.removed.v1",
        "data_product_role_assignment_requested" => "portal.data_product_membership.requested.v1",
        "data_product_role_assignment_approved" => "portal.data_product_membership.approved.v1",
        "data_product_role_assignment_denied" => "portal.data_product_membership.denied.v1",
        "data_product_dataset_link_requested" => "portal.access.requested.v1",
        "data_product_dataset_link_approved" => "portal.access.approved.v1",
        "data_product_dataset_link_denied" => "portal.access.denied.v1",
        "data_product_dataset_link_removed" => "portal.access.removed.v1",
        "data_product_dataset_link_revoked" => "portal.access.revoked.v1",
        "data_product_dataset_link_cancelled" => "portal.access.cancelled.v1",
        "dataset_created" => "portal.output_port.created.v1",
        "dataset_updated" => "portal.output_port.updated.v1",
        "dataset_removed" => "portal.output_port.removed.v1",
        "dataset_setting_updated" => "portal.output_port.settings_updated.v1",
        "dataset_role_assignment_created" => "portal.output_port_membership.created.v1",
        "dataset_role_assignment_updated" => "portal.output_port_membership.updated.v1",
        "dataset_role_assignment_removed" => "portal.output_port_membership.removed.v1",
        "dataset_role_assignment_requested" => "portal.output_port_membership.requested.v1",
        "dataset_role_assignment_approved" => "portal.output_port_membership.approved.v1",
        "dataset_role_assignment_denied" => "portal.output_port_membership.denied.v1",
        _ => return None,
    })
}

/// The 33 audit names, grouped by the shape of their subject → target (`PORTAL.md`).
pub const AUDIT_NAMES: [&str; 33] = [
    "data_output_created",
    "data_output_updated",
    "data_output_removed",
    "data_output_dataset_link_requested",
    "data_output_dataset_link_approved",
    "data_output_dataset_link_denied",
    "data_output_dataset_link_removed",
    "data_product_created",
    "data_product_updated",
    "data_product_removed",
    "data_product_setting_updated",
    "data_product_role_assignment_created",
    "data_product_role_assignment_updated",
    "data_product_role_assignment_removed",
    "data_product_role_assignment_requested",
    "data_product_role_assignment_approved",
    "data_product_role_assignment_denied",
    "data_product_dataset_link_requested",
    "data_product_dataset_link_approved",
    "data_product_dataset_link_denied",
    "data_product_dataset_link_removed",
    "data_product_dataset_link_revoked",
    "data_product_dataset_link_cancelled",
    "dataset_created",
    "dataset_updated",
    "dataset_removed",
    "dataset_setting_updated",
    "dataset_role_assignment_created",
    "dataset_role_assignment_updated",
    "dataset_role_assignment_removed",
    "dataset_role_assignment_requested",
    "dataset_role_assignment_approved",
    "dataset_role_assignment_denied",
];

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

mod access;
mod assets;
mod audit_names;
pub mod backlog;
mod explorations;
mod members;
mod ports;
mod products;
pub mod seed;
mod tech_config;

pub use audit_names::{event_type_of, AUDIT_NAMES};
pub use tech_config::TechConfig;

use std::collections::HashMap;

use tokio_postgres::{Client, GenericClient};

use crate::{connect, Setup, TestDb, ACTOR};

/// The portal's schema as its migrations create it (pg_dump of release 0.7.0).
pub const REAL_PORTAL_SCHEMA: &str = include_str!("../../fixtures/portal_schema.sql");

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

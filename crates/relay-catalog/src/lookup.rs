//! Batched lookups: the catalog's named queries for one batch of records, in four stages.
//!
//! Each stage needs ids found by the one before; the queries of a stage run concurrently
//! (tokio-postgres pipelines them on the one connection). Every entity kind is queried
//! at most once per batch, for all records at once:
//!
//! 1. output ports, access links (by pair), asset↔port links (by pair and by port),
//!    product and port memberships;
//! 2. technical assets, access requests, users, roles;
//! 3. data products, technical asset configurations;
//! 4. reference names (domains, types, lifecycles, platforms, services), per-type
//!    configuration tables.

use futures::future::{try_join_all, BoxFuture};
use futures::FutureExt;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Statement;

use crate::catalog::{self, Entity, EventSpec, NamedQuery, CONFIGURATION_TYPES};
use crate::error::EnrichError;
use crate::model::{refs, AuditRecord, Refs};
use crate::store::{text, Store};
use crate::tombstones::{id_key, Row};

/// Ids to query, deduplicated, UUIDs only (anything else cannot match a uuid column).
#[derive(Default)]
struct Ids(BTreeSet<String>);

impl Ids {
    fn add(&mut self, id: Option<&str>) {
        if let Some(id) = id {
            if let Ok(u) = uuid::Uuid::parse_str(id.trim()) {
                self.0.insert(u.to_string());
            }
        }
    }

    fn extend(&mut self, ids: impl IntoIterator<Item = String>) {
        for id in ids {
            self.add(Some(&id));
        }
    }

    fn vec(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }
}

/// Pairs of ids to query (both UUIDs).
#[derive(Default)]
struct Pairs(BTreeSet<(String, String)>);

impl Pairs {
    fn add(&mut self, a: Option<&str>, b: Option<&str>) {
        let parse = |s: Option<&str>| s.and_then(|s| uuid::Uuid::parse_str(s.trim()).ok());
        if let (Some(a), Some(b)) = (parse(a), parse(b)) {
            self.0.insert((a.to_string(), b.to_string()));
        }
    }

    fn columns(&self) -> (Vec<String>, Vec<String>) {
        self.0.iter().cloned().unzip()
    }
}

type Job<'a> = BoxFuture<'a, Result<(&'static str, Vec<Row>), EnrichError>>;

/// A lookup connection with the catalog's statements prepared on it: each named query is
/// parsed and planned by the server once per connection, not once per batch (with
/// batches of hundreds of records, planning was a fifth of the server's lookup work).
/// A statement the schema has since invalidated is re-planned by the server itself.
pub struct LookupClient {
    client: tokio_postgres::Client,
    prepared: std::sync::Mutex<std::collections::HashMap<&'static str, Statement>>,
}

impl LookupClient {
    pub fn new(client: tokio_postgres::Client) -> Self {
        Self {
            client,
            prepared: std::sync::Mutex::default(),
        }
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// The named query's statement, prepared on first use (one extra round trip).
    async fn statement(
        &self,
        q: &'static NamedQuery,
        params: usize,
    ) -> Result<Statement, EnrichError> {
        let cached = self
            .prepared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(q.name)
            .cloned();
        if let Some(s) = cached {
            return Ok(s);
        }
        let types = vec![Type::TEXT_ARRAY; params];
        let s = self
            .client
            .prepare_typed(q.sql, &types)
            .await
            .map_err(|e| classify(q.name, e))?;
        self.prepared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(q.name, s.clone());
        Ok(s)
    }
}

impl From<tokio_postgres::Client> for LookupClient {
    fn from(client: tokio_postgres::Client) -> Self {
        Self::new(client)
    }
}

fn query_def(name: &str) -> &'static NamedQuery {
    catalog::QUERIES
        .iter()
        .find(|q| q.name == name)
        .unwrap_or_else(|| unreachable!("the catalog has no query named {name}"))
}

/// One named query as a job; `None` when there is nothing to look up.
fn job<'a>(client: &'a LookupClient, name: &str, params: Vec<Vec<String>>) -> Option<Job<'a>> {
    if params.iter().all(Vec::is_empty) {
        return None;
    }
    let q = query_def(name);
    Some(
        async move {
            let statement = client.statement(q, params.len()).await?;
            let params: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            let rows = client
                .client
                .query(&statement, &params)
                .await
                .map_err(|e| classify(q.name, e))?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let mut map = Map::new();
                for (i, col) in row.columns().iter().enumerate() {
                    let v: Option<String> = row.try_get(i).map_err(|e| classify(q.name, e))?;
                    map.insert(col.name().to_string(), v.map_or(Value::Null, Value::String));
                }
                out.push(map);
            }
            Ok((q.name, out))
        }
        .boxed(),
    )
}

/// Retryable: connection-level failures (closed, I/O), and the SQLSTATEs the one table
/// ([`relay_contracts::sqlstate::class`]) says are worth retrying (connection,
/// resources, shutdown, cancelled by `statement_timeout`, serialization, locks). Anything
/// else is a query that cannot work until someone fixes the schema or the grants.
fn classify(query: &'static str, e: tokio_postgres::Error) -> EnrichError {
    let code = e.code().map(|c| c.code().to_string());
    let retryable = match code.as_deref() {
        Some(c) => relay_contracts::sqlstate::class(c).is_retry(),
        None => {
            e.is_closed()
                || std::error::Error::source(&e)
                    .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some())
        }
    };
    // The server's own words (and SQLSTATE), or the client's error with its cause.
    let message = match e.as_db_error() {
        Some(d) => format!("{} (SQLSTATE {})", d.message(), d.code().code()),
        None => {
            let mut m = e.to_string();
            if let Some(cause) = std::error::Error::source(&e) {
                m.push_str(&format!(": {cause}"));
            }
            m
        }
    };
    if retryable {
        EnrichError::Unavailable {
            query,
            message,
            source: e,
        }
    } else {
        EnrichError::Query {
            query,
            code: code.unwrap_or_else(|| "client".into()),
            message,
            source: e,
        }
    }
}

/// Run the jobs of one stage concurrently and put their rows into the store.
async fn stage(jobs: Vec<Option<Job<'_>>>, store: &mut Store<'_>) -> Result<(), EnrichError> {
    let jobs: Vec<Job<'_>> = jobs.into_iter().flatten().collect();
    for (name, rows) in try_join_all(jobs).await? {
        let q = query_def(name);
        if q.name == catalog::Q_REFERENCE {
            for mut row in rows {
                let table = row
                    .remove("table_name")
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                store.put(&table, row);
            }
        } else if q.name.starts_with("configuration_") {
            // Key/value rows → one row per configuration id.
            let mut by_id: BTreeMap<String, Row> = BTreeMap::new();
            for row in rows {
                let (Some(id), Some(col)) = (text(&row, "id"), text(&row, "column_name")) else {
                    continue;
                };
                let entry = by_id.entry(id.to_string()).or_insert_with(|| {
                    let mut m = Map::new();
                    m.insert("id".into(), Value::String(id.to_string()));
                    m
                });
                entry.insert(
                    col.to_string(),
                    row.get("column_value").cloned().unwrap_or(Value::Null),
                );
            }
            for row in by_id.into_values() {
                store.put(q.table, row);
            }
        } else {
            for row in rows {
                store.put(q.table, row);
            }
        }
    }
    Ok(())
}

/// Fill `store` with everything the builders of these records will ask for.
pub(crate) async fn load(
    client: &LookupClient,
    records: &[(&'static EventSpec, &AuditRecord)],
    store: &mut Store<'_>,
) -> Result<(), EnrichError> {
    let batch: Vec<(Entity, Refs, &AuditRecord)> = records
        .iter()
        .map(|(s, r)| (s.entity, refs(r), *r))
        .collect();

    // Stage 1: what the records name directly.
    let mut ports = Ids::default();
    let mut access_pairs = Pairs::default();
    let mut link_pairs = Pairs::default();
    let mut links_by_port = Ids::default();
    let mut product_members = Ids::default();
    let mut port_members = Ids::default();
    for (entity, r, _) in &batch {
        ports.add(r.port.as_deref());
        match entity {
            Entity::Access => {
                access_pairs.add(r.product.as_deref(), r.port.as_deref());
                links_by_port.add(r.port.as_deref());
            }
            Entity::OutputPort => links_by_port.add(r.port.as_deref()),
            Entity::TechnicalAssetLink => link_pairs.add(r.asset.as_deref(), r.port.as_deref()),
            Entity::DataProduct | Entity::DataProductMembership => {
                product_members.add(r.product.as_deref())
            }
            Entity::OutputPortMembership => port_members.add(r.port.as_deref()),
            Entity::TechnicalAsset => {}
        }
    }
    let (ac, ap) = access_pairs.columns();
    let (la, lp) = link_pairs.columns();
    stage(
        vec![
            job(client, catalog::Q_OUTPUT_PORTS, vec![ports.vec()]),
            job(client, catalog::Q_ACCESS_BY_PAIR, vec![ac, ap]),
            job(client, catalog::Q_LINKS_BY_PAIR, vec![la, lp]),
            job(client, catalog::Q_LINKS_BY_PORT, vec![links_by_port.vec()]),
            job(
                client,
                catalog::Q_PRODUCT_MEMBERS,
                vec![product_members.vec()],
            ),
            job(client, catalog::Q_PORT_MEMBERS, vec![port_members.vec()]),
        ],
        store,
    )
    .await?;

    // Stage 2: technical assets, access requests, users, roles.
    let mut assets = Ids::default();
    let mut users = Ids::default();
    for (_, r, rec) in &batch {
        assets.add(r.asset.as_deref());
        users.add(r.user.as_deref());
        users.add(Some(&rec.actor_id));
    }
    assets.extend(store.column_values("data_outputs_datasets", "data_output_id"));
    let mut input_ports = Ids::default();
    input_ports.extend(store.column_values("input_ports", "id"));
    let mut roles = Ids::default();
    for table in ["role_assignments_data_product", "role_assignments_dataset"] {
        users.extend(store.column_values(table, "user_id"));
        roles.extend(store.column_values(table, "role_id"));
    }
    stage(
        vec![
            job(client, catalog::Q_TECHNICAL_ASSETS, vec![assets.vec()]),
            job(client, catalog::Q_ACCESS_REQUESTS, vec![input_ports.vec()]),
            job(client, catalog::Q_USERS, vec![users.vec()]),
            job(client, catalog::Q_ROLES, vec![roles.vec()]),
        ],
        store,
    )
    .await?;

    // Stage 3: data products, configurations.
    let mut products = Ids::default();
    for (_, r, _) in &batch {
        products.add(r.product.as_deref());
    }
    products.extend(store.column_values("datasets", "data_product_id"));
    products.extend(store.column_values("data_outputs", "owner_id"));
    products.extend(store.column_values("input_ports", "consuming_abstract_data_product_id"));
    let mut configurations = Ids::default();
    configurations.extend(store.column_values("data_outputs", "configuration_id"));
    stage(
        vec![
            job(client, catalog::Q_PRODUCTS, vec![products.vec()]),
            job(
                client,
                catalog::Q_CONFIGURATIONS,
                vec![configurations.vec()],
            ),
        ],
        store,
    )
    .await?;

    // Stage 4: reference names and per-type configuration tables.
    let mut domains = Ids::default();
    let mut types = Ids::default();
    let mut lifecycles = Ids::default();
    domains.extend(store.column_values("abstract_data_products", "domain_id"));
    for table in ["abstract_data_products", "data_products"] {
        types.extend(store.column_values(table, "type_id"));
        lifecycles.extend(store.column_values(table, "lifecycle_id"));
    }
    let mut platforms = Ids::default();
    let mut services = Ids::default();
    platforms.extend(store.column_values("data_outputs", "platform_id"));
    services.extend(store.column_values("data_outputs", "service_id"));
    let mut jobs = vec![job(
        client,
        catalog::Q_REFERENCE,
        vec![
            domains.vec(),
            types.vec(),
            lifecycles.vec(),
            platforms.vec(),
            services.vec(),
        ],
    )];
    for ct in CONFIGURATION_TYPES {
        let mut ids = Ids::default();
        for row in store.all_rows("data_output_configurations") {
            if text(row, "configuration_type") == Some(ct.configuration_type) {
                ids.add(text(row, "id").map(id_key).as_deref());
            }
        }
        jobs.push(job(client, ct.query, vec![ids.vec()]));
    }
    stage(jobs, store).await
}

//! Preflight checks behind `outbox-relay check`.
//!
//! Where this sits: before the operator starts the relay with
//! `outbox-relay run`, they run `outbox-relay check --config relay.toml`. The
//! binary opens an ordinary (non-replication) connection as the relay's own
//! role, calls [`run`] with the configured slot, publications and table, prints
//! [`render`]'s output — one line per [`Finding`] — and exits non-zero when any
//! finding failed. `run` uses the same connection, so every privilege question
//! is asked about `current_user`, i.e. the role the relay will stream as.
//!
//! What is checked (each check yields one finding per object, `ok` or not; a
//! failed finding carries the SQL — or, where SQL cannot fix it, the server
//! parameter instruction — that fixes it; see `sql/` for the full DBA scripts):
//!
//! 1. [`checks::WAL_LEVEL`]: `wal_level` is `logical`.
//! 2. [`checks::REPLICATION_ROLE`]: the role may replicate (`REPLICATION`
//!    attribute, superuser, or membership in Amazon RDS' `rds_replication`).
//! 3. The slot: [`checks::SLOT`] exists; and only if it does,
//!    [`checks::SLOT_PLUGIN`] (logical, expected plugin),
//!    [`checks::SLOT_DATABASE`] (created in this database),
//!    [`checks::SLOT_VALID`] (not invalidated) and [`checks::SLOT_ACTIVE`]
//!    (nobody else is reading it).
//! 4. [`checks::PUBLICATION`]: each publication exists; with a table,
//!    [`checks::PUBLICATION_TABLE`]: one of them covers it and publishes inserts.
//! 5. With a table: [`checks::TABLE`] exists and
//!    [`checks::TABLE_PRIVILEGE`]: the role can read it.
//!
//! Errors ([`CheckError`]) are for failures of the checking itself (a query
//! failed, the connection broke); a problem *found* is a failed [`Finding`].
//! Names are always sent as query parameters; the fix SQL quotes them with
//! [`quote_ident`] / [`quote_literal`].

mod quote;

pub use quote::{quote_ident, quote_literal, quote_qualified};

use tokio_postgres::Client;

/// The check names used in [`Finding::check`].
pub mod checks {
    /// `wal_level` is `logical`.
    pub const WAL_LEVEL: &str = "wal_level";
    /// `current_user` may open a replication connection.
    pub const REPLICATION_ROLE: &str = "replication_role";
    /// The replication slot exists.
    pub const SLOT: &str = "slot";
    /// The slot is logical and uses the expected output plugin.
    pub const SLOT_PLUGIN: &str = "slot_plugin";
    /// The slot belongs to the database the relay connects to.
    pub const SLOT_DATABASE: &str = "slot_database";
    /// The slot is not invalidated.
    pub const SLOT_VALID: &str = "slot_valid";
    /// No other consumer is streaming from the slot.
    pub const SLOT_ACTIVE: &str = "slot_active";
    /// A configured publication exists (one finding per publication).
    pub const PUBLICATION: &str = "publication";
    /// One of the publications covers the table and publishes inserts.
    pub const PUBLICATION_TABLE: &str = "publication_table";
    /// The audit/outbox table exists.
    pub const TABLE: &str = "table";
    /// `current_user` can read the table.
    pub const TABLE_PRIVILEGE: &str = "table_privilege";
    /// Enrichment: the captured domain tables log whole deleted rows.
    pub const REPLICA_IDENTITY: &str = "replica_identity";
    /// Enrichment: `current_user` can read the tables the lookups read.
    pub const LOOKUP_PRIVILEGES: &str = "lookup_privileges";
}

/// What the relay is configured to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Logical replication slot name.
    pub slot: String,
    /// Publication names passed to pgoutput (`publication_names`).
    pub publications: Vec<String>,
    /// The audit/outbox table as (schema, name), if the relay knows it.
    pub table: Option<(String, String)>,
    /// Output plugin the slot must use: `pgoutput`.
    pub plugin: String,
    /// What enrichment needs, when the relay enriches portal events.
    pub enrichment: Option<EnrichmentTarget>,
}

/// The tables enrichment captures deletes of and reads (tables that do not exist in
/// this portal version are skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrichmentTarget {
    pub schema: String,
    /// Tables whose deletes are captured: need `REPLICA IDENTITY FULL`.
    pub replica_identity_full: Vec<String>,
    /// Tables the lookups read: need SELECT.
    pub readable: Vec<String>,
}

impl Default for Target {
    /// The relay's defaults, matching `sql/`: slot and publication
    /// `outbox_relay`, table `public.events`, plugin `pgoutput`.
    fn default() -> Self {
        Target {
            slot: "outbox_relay".to_owned(),
            publications: vec!["outbox_relay".to_owned()],
            table: Some(("public".to_owned(), "events".to_owned())),
            plugin: "pgoutput".to_owned(),
            enrichment: None,
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone)]
pub struct Finding {
    /// Which check, one of [`checks`].
    pub check: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, naming the object (and, on failure, the problem).
    pub message: String,
    /// On failure: the exact SQL (or server-parameter instruction) that fixes it.
    pub fix: Option<String>,
}

impl Finding {
    fn pass(check: &'static str, message: impl Into<String>) -> Self {
        Finding {
            check,
            ok: true,
            message: message.into(),
            fix: None,
        }
    }

    fn fail(check: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding {
            check,
            ok: false,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The checking itself failed (as opposed to finding a problem).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A catalog query failed: connection lost, statement timeout, or a server
    /// too old for the catalogs used (PostgreSQL 10+ is required for pgoutput).
    ///
    /// The driver's error is the [`std::error::Error::source`], not repeated
    /// in the message: print the chain (e.g. anyhow's `{:#}`) to see it.
    #[error("preflight check {check}: catalog query failed")]
    Query {
        /// The check that was running.
        check: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
}

fn query_err(check: &'static str) -> impl FnOnce(tokio_postgres::Error) -> CheckError {
    move |source| CheckError::Query { check, source }
}

/// True when every finding passed (the CLI exits zero exactly then).
pub fn all_ok(findings: &[Finding]) -> bool {
    findings.iter().all(|f| f.ok)
}

/// Runs every check against `client` (an ordinary connection as the relay's
/// role) for `target` and returns the findings in check order.
pub async fn run(client: &Client, target: &Target) -> Result<Vec<Finding>, CheckError> {
    let server = server_info(client).await?;
    let mut findings = Vec::new();

    findings.push(check_wal_level(&server));
    findings.push(check_replication_role(client, &server).await?);
    check_slot(client, &server, target, &mut findings).await?;

    let table = match &target.table {
        Some((schema, name)) => Some(table_info(client, schema, name).await?),
        None => None,
    };
    check_publications(client, target, table.as_ref(), &mut findings).await?;
    if let Some(table) = &table {
        check_table(&server, table, &mut findings);
    }
    if let Some(e) = &target.enrichment {
        check_enrichment(client, e, &mut findings).await?;
    }
    Ok(findings)
}

async fn check_enrichment(
    client: &Client,
    e: &EnrichmentTarget,
    findings: &mut Vec<Finding>,
) -> Result<(), CheckError> {
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind IN ('r', 'p')
                AND c.relreplident <> 'f'
              ORDER BY 1",
            &[&e.schema, &e.replica_identity_full],
        )
        .await
        .map_err(query_err(checks::REPLICA_IDENTITY))?;
    let not_full: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    findings.push(if not_full.is_empty() {
        Finding::pass(
            checks::REPLICA_IDENTITY,
            "the domain tables whose deletes are captured have REPLICA IDENTITY FULL",
        )
    } else {
        Finding::fail(
            checks::REPLICA_IDENTITY,
            format!(
                "REPLICA IDENTITY is not FULL on {}: removal events would lack the deleted rows' last state",
                not_full.join(", ")
            ),
            not_full
                .iter()
                .map(|t| format!("ALTER TABLE {} REPLICA IDENTITY FULL;", quote_qualified(&e.schema, t)))
                .collect::<Vec<_>>()
                .join(" "),
        )
    });
    let rows = client
        .query(
            "SELECT t FROM unnest($2::text[]) AS t
              WHERE to_regclass(quote_ident($1) || '.' || quote_ident(t)) IS NOT NULL
                AND NOT has_table_privilege(to_regclass(quote_ident($1) || '.' || quote_ident(t)), 'SELECT')
              ORDER BY 1",
            &[&e.schema, &e.readable],
        )
        .await
        .map_err(query_err(checks::LOOKUP_PRIVILEGES))?;
    let unreadable: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    let role: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .map_err(query_err(checks::LOOKUP_PRIVILEGES))?
        .get(0);
    findings.push(if unreadable.is_empty() {
        Finding::pass(
            checks::LOOKUP_PRIVILEGES,
            "the enrichment lookups can read every table they need",
        )
    } else {
        Finding::fail(
            checks::LOOKUP_PRIVILEGES,
            format!(
                "role {} cannot SELECT {} (enrichment lookups)",
                quote_ident(&role),
                unreadable.join(", ")
            ),
            format!(
                "GRANT SELECT ON {} TO {};",
                unreadable
                    .iter()
                    .map(|t| quote_qualified(&e.schema, t))
                    .collect::<Vec<_>>()
                    .join(", "),
                quote_ident(&role)
            ),
        )
    });
    Ok(())
}

/// One line per finding:
/// `ok   wal_level: logical` or
/// `FAIL slot: replication slot "x" does not exist — fix: SELECT ...;`.
/// Line breaks inside messages or fixes are folded so each finding stays on
/// one line. Findings never contain connection strings or passwords.
pub fn render(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(if f.ok { "ok  " } else { "FAIL" });
        out.push(' ');
        out.push_str(f.check);
        out.push_str(": ");
        out.push_str(&one_line(&f.message));
        if let (false, Some(fix)) = (f.ok, &f.fix) {
            out.push_str(" — fix: ");
            out.push_str(&one_line(fix));
        }
        out.push('\n');
    }
    out
}

/// A name in a message: always in double quotes, like PostgreSQL's own messages.
fn dq(name: &str) -> String {
    format!("\"{name}\"")
}

fn one_line(s: &str) -> String {
    if s.contains(['\n', '\r']) {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        s.to_owned()
    }
}

struct ServerInfo {
    version_num: i32,
    role: String,
    database: String,
    wal_level: String,
}

async fn server_info(client: &Client) -> Result<ServerInfo, CheckError> {
    let row = client
        .query_one(
            "SELECT current_setting('server_version_num')::int4, current_user::text, \
                    current_database()::text, current_setting('wal_level')",
            &[],
        )
        .await
        .map_err(query_err("server"))?;
    Ok(ServerInfo {
        version_num: row.get(0),
        role: row.get(1),
        database: row.get(2),
        wal_level: row.get(3),
    })
}

fn check_wal_level(server: &ServerInfo) -> Finding {
    if server.wal_level == "logical" {
        Finding::pass(checks::WAL_LEVEL, "logical")
    } else {
        Finding::fail(
            checks::WAL_LEVEL,
            format!(
                "wal_level is {:?}, logical decoding needs \"logical\" (Amazon RDS/Aurora: set the \
                 parameter rds.logical_replication = 1 in the (cluster) parameter group and reboot; \
                 Azure flexible server: set the server parameter wal_level = logical and restart)",
                server.wal_level
            ),
            "ALTER SYSTEM SET wal_level = logical; -- then restart PostgreSQL",
        )
    }
}

async fn check_replication_role(
    client: &Client,
    server: &ServerInfo,
) -> Result<Finding, CheckError> {
    // pg_has_role() is called with the OID of rds_replication only when that
    // role exists (the name form would raise an error on non-RDS servers).
    let row = client
        .query_one(
            "SELECT r.rolsuper, r.rolreplication, \
                    EXISTS (SELECT 1 FROM pg_catalog.pg_roles g WHERE g.rolname = 'rds_replication'), \
                    COALESCE((SELECT pg_catalog.pg_has_role(r.oid, g.oid, 'MEMBER') \
                                FROM pg_catalog.pg_roles g WHERE g.rolname = 'rds_replication'), false) \
               FROM pg_catalog.pg_roles r WHERE r.rolname = current_user",
            &[],
        )
        .await
        .map_err(query_err(checks::REPLICATION_ROLE))?;
    let (superuser, replication, rds, rds_member): (bool, bool, bool, bool) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let who = dq(&server.role);
    let who_sql = quote_ident(&server.role);
    Ok(if replication {
        Finding::pass(
            checks::REPLICATION_ROLE,
            format!("role {who} has REPLICATION"),
        )
    } else if superuser {
        Finding::pass(
            checks::REPLICATION_ROLE,
            format!("role {who} is a superuser (a dedicated role with REPLICATION is recommended)"),
        )
    } else if rds_member {
        Finding::pass(
            checks::REPLICATION_ROLE,
            format!("role {who} is a member of rds_replication"),
        )
    } else if rds {
        Finding::fail(
            checks::REPLICATION_ROLE,
            format!(
                "role {who} may not replicate: on Amazon RDS/Aurora it needs membership in \
                 rds_replication (the REPLICATION attribute cannot be granted there)"
            ),
            format!("GRANT rds_replication TO {who_sql};"),
        )
    } else {
        Finding::fail(
            checks::REPLICATION_ROLE,
            format!("role {who} may not replicate: it has neither REPLICATION nor superuser"),
            format!("ALTER ROLE {who_sql} WITH REPLICATION;"),
        )
    })
}

fn create_slot_sql(target: &Target) -> String {
    format!(
        "SELECT pg_create_logical_replication_slot({}, {});",
        quote_literal(&target.slot),
        quote_literal(&target.plugin)
    )
}

fn recreate_slot_sql(target: &Target) -> String {
    format!(
        "SELECT pg_drop_replication_slot({}); {}",
        quote_literal(&target.slot),
        create_slot_sql(target)
    )
}

async fn check_slot(
    client: &Client,
    server: &ServerInfo,
    target: &Target,
    findings: &mut Vec<Finding>,
) -> Result<(), CheckError> {
    // How an invalidated slot shows depends on the version: PostgreSQL 17 added
    // invalidation_reason; 13-16 only show wal_status = 'lost' (16 also flags
    // slots invalidated by recovery conflicts on a standby as `conflicting`).
    let invalidation = match server.version_num {
        v if v >= 170000 => "s.invalidation_reason::text",
        v if v >= 160000 => {
            "CASE WHEN s.wal_status = 'lost' THEN 'wal_removed' \
                  WHEN s.conflicting THEN 'conflict with recovery' END"
        }
        v if v >= 130000 => "CASE WHEN s.wal_status = 'lost' THEN 'wal_removed' END",
        _ => "NULL::text",
    };
    let sql = format!(
        "SELECT s.slot_type::text, s.plugin::text, s.database::text, s.active, s.active_pid, \
                {invalidation} \
           FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = $1"
    );
    let rows = client
        .query(&sql, &[&target.slot])
        .await
        .map_err(query_err(checks::SLOT))?;
    let slot_q = dq(&target.slot);
    let Some(row) = rows.first() else {
        findings.push(Finding::fail(
            checks::SLOT,
            format!(
                "replication slot {slot_q} does not exist (create it in database {}, as the relay's \
                 role or a superuser; events are streamed from its creation on)",
                dq(&server.database)
            ),
            create_slot_sql(target),
        ));
        return Ok(());
    };
    findings.push(Finding::pass(
        checks::SLOT,
        format!("replication slot {slot_q} exists"),
    ));

    let slot_type: String = row.get(0);
    let plugin: Option<String> = row.get(1);
    let database: Option<String> = row.get(2);
    let active: bool = row.get(3);
    let active_pid: Option<i32> = row.get(4);
    let invalidation: Option<String> = row.get(5);

    let logical = slot_type == "logical";
    if !logical {
        findings.push(Finding::fail(
            checks::SLOT_PLUGIN,
            format!(
                "replication slot {slot_q} is a {slot_type} slot, the relay needs a logical slot \
                 with plugin {}; it may belong to another tool (a standby?): if so, configure \
                 another slot name instead",
                target.plugin
            ),
            recreate_slot_sql(target),
        ));
    } else if plugin.as_deref() != Some(target.plugin.as_str()) {
        findings.push(Finding::fail(
            checks::SLOT_PLUGIN,
            format!(
                "replication slot {slot_q} uses plugin {}, the relay needs {}; it may belong to \
                 another tool: if so, configure another slot name instead",
                plugin.as_deref().unwrap_or("(none)"),
                target.plugin
            ),
            recreate_slot_sql(target),
        ));
    } else {
        findings.push(Finding::pass(
            checks::SLOT_PLUGIN,
            format!(
                "replication slot {slot_q} is logical, plugin {}",
                target.plugin
            ),
        ));
    }

    if logical {
        let db = database.unwrap_or_default();
        if db == server.database {
            findings.push(Finding::pass(
                checks::SLOT_DATABASE,
                format!("replication slot {slot_q} belongs to database {}", dq(&db)),
            ));
        } else {
            findings.push(Finding::fail(
                checks::SLOT_DATABASE,
                format!(
                    "replication slot {slot_q} belongs to database {}, but the relay connects to {} \
                     (a logical slot serves one database; slot names are unique per server)",
                    dq(&db),
                    dq(&server.database)
                ),
                format!(
                    "point the relay at database {}, or configure another slot name and create it in \
                     {} with SELECT pg_create_logical_replication_slot('<new name>', {});",
                    dq(&db),
                    dq(&server.database),
                    quote_literal(&target.plugin)
                ),
            ));
        }
    }

    match invalidation {
        Some(reason) => {
            let replay = match &target.table {
                Some((schema, name)) => format!(" from {}", quote_qualified(schema, name)),
                None => String::new(),
            };
            findings.push(Finding::fail(
                checks::SLOT_VALID,
                format!(
                    "replication slot {slot_q} is invalidated ({reason}) and can never be read \
                     again; after recreating it, events committed since the relay last confirmed \
                     are lost from the stream and must be replayed{replay}"
                ),
                recreate_slot_sql(target),
            ));
        }
        None => findings.push(Finding::pass(
            checks::SLOT_VALID,
            format!("replication slot {slot_q} is not invalidated"),
        )),
    }

    if active {
        let (pid, fix) = match active_pid {
            Some(pid) => (
                pid.to_string(),
                format!("SELECT pg_terminate_backend({pid}); -- or stop the other consumer"),
            ),
            None => (
                "unknown".to_owned(),
                "stop the other consumer (see pg_stat_replication)".to_owned(),
            ),
        };
        findings.push(Finding {
            check: checks::SLOT_ACTIVE,
            ok: false,
            message: format!(
                "replication slot {slot_q} is in use by another consumer (active_pid {pid}): another \
                 relay instance or tool is streaming from it, and a slot has one reader at a time \
                 (a consumer that just died can still show as active for a few seconds: retry)"
            ),
            fix: Some(fix),
        });
    } else {
        findings.push(Finding::pass(
            checks::SLOT_ACTIVE,
            format!("replication slot {slot_q} is not in use"),
        ));
    }
    Ok(())
}

struct TableInfo {
    qualified: String,
    schema: String,
    /// `None` when the table does not exist.
    state: Option<TableState>,
}

struct TableState {
    relkind: String,
    schema_usage: bool,
    select: bool,
}

async fn table_info(client: &Client, schema: &str, name: &str) -> Result<TableInfo, CheckError> {
    let rows = client
        .query(
            "SELECT c.relkind::text, \
                    pg_catalog.has_schema_privilege(n.oid, 'USAGE'), \
                    pg_catalog.has_table_privilege(c.oid, 'SELECT') \
               FROM pg_catalog.pg_class c \
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname = $1 AND c.relname = $2",
            &[&schema, &name],
        )
        .await
        .map_err(query_err(checks::TABLE))?;
    Ok(TableInfo {
        qualified: quote_qualified(schema, name),
        schema: schema.to_owned(),
        state: rows.first().map(|row| TableState {
            relkind: row.get(0),
            schema_usage: row.get(1),
            select: row.get(2),
        }),
    })
}

impl TableInfo {
    /// An ordinary or partitioned table: something a publication can hold.
    fn publishable(&self) -> bool {
        matches!(&self.state, Some(s) if s.relkind == "r" || s.relkind == "p")
    }
}

async fn check_publications(
    client: &Client,
    target: &Target,
    table: Option<&TableInfo>,
    findings: &mut Vec<Finding>,
) -> Result<(), CheckError> {
    let table_sql = table.map_or_else(|| "<schema>.<table>".to_owned(), |t| t.qualified.clone());
    if target.publications.is_empty() {
        findings.push(Finding::fail(
            checks::PUBLICATION,
            "no publication configured: pgoutput needs at least one",
            "configure the publication(s) in the relay's settings (default: outbox_relay)",
        ));
        return Ok(());
    }

    let mut existing = Vec::new();
    for name in &target.publications {
        let rows = client
            .query(
                "SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = $1",
                &[name],
            )
            .await
            .map_err(query_err(checks::PUBLICATION))?;
        let ident = quote_ident(name);
        if rows.is_empty() {
            findings.push(Finding::fail(
                checks::PUBLICATION,
                format!(
                    "publication {} does not exist (create it as the table's owner)",
                    dq(name)
                ),
                format!(
                    "CREATE PUBLICATION {ident} FOR TABLE {table_sql} WITH (publish = 'insert');"
                ),
            ));
        } else {
            findings.push(Finding::pass(
                checks::PUBLICATION,
                format!("publication {} exists", dq(name)),
            ));
            existing.push(name.clone());
        }
    }

    // Whether the table is covered only makes sense for an existing table and
    // an existing publication; the other findings already name those problems.
    let (Some(table), Some(first)) = (table.filter(|t| t.publishable()), existing.first()) else {
        return Ok(());
    };
    let (schema, name) = target
        .table
        .as_ref()
        .expect("table info implies a configured table");
    // pg_publication_tables expands FOR ALL TABLES and FOR TABLES IN SCHEMA too.
    let rows = client
        .query(
            "SELECT p.pubname::text, p.pubinsert \
               FROM pg_catalog.pg_publication p \
              WHERE p.pubname::text = ANY($1::text[]) \
                AND EXISTS (SELECT 1 FROM pg_catalog.pg_publication_tables t \
                             WHERE t.pubname = p.pubname AND t.schemaname = $2 AND t.tablename = $3) \
              ORDER BY p.pubname",
            &[&existing, schema, name],
        )
        .await
        .map_err(query_err(checks::PUBLICATION_TABLE))?;
    let covering: Vec<(String, bool)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let t = &table.qualified;
    if let Some((pubname, _)) = covering.iter().find(|(_, insert)| *insert) {
        findings.push(Finding::pass(
            checks::PUBLICATION_TABLE,
            format!("table {t} is published with inserts by {}", dq(pubname)),
        ));
    } else if let Some((pubname, _)) = covering.first() {
        let ident = quote_ident(pubname);
        findings.push(Finding::fail(
            checks::PUBLICATION_TABLE,
            format!(
                "publication {} covers table {t} but does not publish inserts",
                dq(pubname)
            ),
            format!("ALTER PUBLICATION {ident} SET (publish = 'insert');"),
        ));
    } else {
        let names: Vec<String> = existing.iter().map(|n| dq(n)).collect();
        findings.push(Finding::fail(
            checks::PUBLICATION_TABLE,
            format!(
                "table {t} is in none of the publications ({})",
                names.join(", ")
            ),
            format!("ALTER PUBLICATION {} ADD TABLE {t};", quote_ident(first)),
        ));
    }
    Ok(())
}

fn check_table(server: &ServerInfo, table: &TableInfo, findings: &mut Vec<Finding>) {
    let t = &table.qualified;
    let who = dq(&server.role);
    let who_sql = quote_ident(&server.role);
    let Some(state) = &table.state else {
        findings.push(Finding::fail(
            checks::TABLE,
            format!(
                "table {t} does not exist in database {} (or is not visible to role {who})",
                dq(&server.database)
            ),
            "check the table (and database) in the relay's configuration; the portal's migrations \
             create public.events",
        ));
        return;
    };
    if !table.publishable() {
        findings.push(Finding::fail(
            checks::TABLE,
            format!(
                "{t} is not a table (relkind {:?}); only tables can be published",
                state.relkind
            ),
            "configure the table itself, not a view",
        ));
        return;
    }
    findings.push(Finding::pass(checks::TABLE, format!("table {t} exists")));

    if state.schema_usage && state.select {
        findings.push(Finding::pass(
            checks::TABLE_PRIVILEGE,
            format!("role {who} can read {t}"),
        ));
    } else {
        let mut fix = Vec::new();
        let mut missing = Vec::new();
        if !state.schema_usage {
            missing.push(format!("USAGE on schema {}", dq(&table.schema)));
            fix.push(format!(
                "GRANT USAGE ON SCHEMA {} TO {who_sql};",
                quote_ident(&table.schema)
            ));
        }
        if !state.select {
            missing.push("SELECT".to_owned());
            fix.push(format!("GRANT SELECT ON TABLE {t} TO {who_sql};"));
        }
        findings.push(Finding::fail(
            checks::TABLE_PRIVILEGE,
            format!(
                "role {who} cannot read {t} (missing {})",
                missing.join(" and ")
            ),
            fix.join(" "),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_one_line_per_finding() {
        let findings = vec![
            Finding::pass(checks::WAL_LEVEL, "logical"),
            Finding::fail(
                checks::SLOT,
                "replication slot \"x\" does not exist",
                "SELECT pg_create_logical_replication_slot('x', 'pgoutput');",
            ),
            Finding {
                check: checks::TABLE,
                ok: false,
                message: "multi\nline".into(),
                fix: None,
            },
        ];
        assert_eq!(
            render(&findings),
            "ok   wal_level: logical\n\
             FAIL slot: replication slot \"x\" does not exist — fix: \
             SELECT pg_create_logical_replication_slot('x', 'pgoutput');\n\
             FAIL table: multi line\n"
        );
        assert!(!all_ok(&findings));
        assert!(all_ok(&findings[..1]));
    }

    #[test]
    fn fix_sql_quotes_names() {
        let target = Target {
            slot: "it's".into(),
            plugin: "pgoutput".into(),
            ..Target::default()
        };
        assert_eq!(
            recreate_slot_sql(&target),
            "SELECT pg_drop_replication_slot('it''s'); \
             SELECT pg_create_logical_replication_slot('it''s', 'pgoutput');"
        );
    }
}

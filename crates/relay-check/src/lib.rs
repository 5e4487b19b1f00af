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
//! 6. With enrichment: [`checks::REPLICA_IDENTITY`] and [`checks::LOOKUP_PRIVILEGES`].
//! 7. With the portal-v2 profile: [`checks::PORTAL_V2_TABLES`],
//!    [`checks::PORTAL_V2_PUBLICATION`] (inserts, updates and deletes),
//!    [`checks::PORTAL_V2_REPLICA_IDENTITY`] and [`checks::PORTAL_V2_PRIVILEGES`].
//!
//! Errors ([`CheckError`]) are for failures of the checking itself (a query
//! failed, the connection broke); a problem *found* is a failed [`Finding`].
//! Names are always sent as query parameters; the fix SQL quotes them with
//! [`quote_ident`] / [`quote_literal`].

mod enrichment;
mod portal_v2;
mod publication;
mod quote;
mod render;
mod server;
mod slot;
mod table;

pub use quote::{quote_ident, quote_literal, quote_qualified};
pub use render::render;

use tokio_postgres::Client;

use enrichment::check_enrichment;
use portal_v2::check_portal_v2;
use publication::check_publications;
use server::{check_replication_role, check_wal_level, server_info};
use slot::check_slot;
use table::{check_table, table_info};

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
    /// PostgreSQL 17+: whether the slot is a failover slot (informational).
    pub const SLOT_FAILOVER: &str = "slot_failover";
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
    /// portal-v2: the portal's tables exist.
    pub const PORTAL_V2_TABLES: &str = "portal_v2_tables";
    /// portal-v2: the configured publications send their inserts, updates and deletes.
    pub const PORTAL_V2_PUBLICATION: &str = "portal_v2_publication";
    /// portal-v2: the tables whose deletes name related rows log whole old rows.
    pub const PORTAL_V2_REPLICA_IDENTITY: &str = "portal_v2_replica_identity";
    /// portal-v2: `current_user` can read the tables read at start.
    pub const PORTAL_V2_PRIVILEGES: &str = "portal_v2_privileges";
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
    /// What the portal-v2 profile needs, when it is configured.
    pub portal_v2: Option<PortalV2Target>,
}

/// The portal's tables the portal-v2 profile captures (all in `schema`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalV2Target {
    pub schema: String,
    /// Tables whose inserts, updates and deletes must be published.
    pub tables: Vec<String>,
    /// Tables that need `REPLICA IDENTITY FULL`.
    pub replica_identity_full: Vec<String>,
    /// Tables read at start: need SELECT.
    pub readable: Vec<String>,
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
            portal_v2: None,
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
    pub(crate) fn pass(check: &'static str, message: impl Into<String>) -> Self {
        Finding {
            check,
            ok: true,
            message: message.into(),
            fix: None,
        }
    }

    pub(crate) fn fail(
        check: &'static str,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
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

pub(crate) fn query_err(check: &'static str) -> impl FnOnce(tokio_postgres::Error) -> CheckError {
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
    if let Some(p) = &target.portal_v2 {
        check_portal_v2(client, &target.publications, p, &mut findings).await?;
    }
    Ok(findings)
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
}

//! The audit/outbox table: exists, and the relay's role can read it.

use tokio_postgres::Client;

use crate::render::dq;
use crate::server::ServerInfo;
use crate::{checks, query_err, quote_ident, quote_qualified, CheckError, Finding};

pub(crate) struct TableInfo {
    pub(crate) qualified: String,
    schema: String,
    /// `None` when the table does not exist.
    state: Option<TableState>,
}

pub(crate) struct TableState {
    relkind: String,
    schema_usage: bool,
    select: bool,
}

pub(crate) async fn table_info(
    client: &Client,
    schema: &str,
    name: &str,
) -> Result<TableInfo, CheckError> {
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
    pub(crate) fn publishable(&self) -> bool {
        matches!(&self.state, Some(s) if s.relkind == "r" || s.relkind == "p")
    }
}

pub(crate) fn check_table(server: &ServerInfo, table: &TableInfo, findings: &mut Vec<Finding>) {
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

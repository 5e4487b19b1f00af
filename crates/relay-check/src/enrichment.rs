//! What enrichment needs: `REPLICA IDENTITY FULL` on the domain tables whose deletes
//! are captured, and SELECT on every table the lookups read.

use tokio_postgres::Client;

use crate::{
    checks, query_err, quote_ident, quote_qualified, CheckError, EnrichmentTarget, Finding,
};

pub(crate) async fn check_enrichment(
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
            replica_identity_full_sql(&e.schema, &not_full),
        )
    });
    let (unreadable, role) =
        unreadable_tables(client, &e.schema, &e.readable, checks::LOOKUP_PRIVILEGES).await?;
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

/// The fix for tables without `REPLICA IDENTITY FULL`: one `ALTER TABLE` each.
pub(crate) fn replica_identity_full_sql(schema: &str, tables: &[String]) -> String {
    tables
        .iter()
        .map(|t| {
            format!(
                "ALTER TABLE {} REPLICA IDENTITY FULL;",
                quote_qualified(schema, t)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Which of `tables` (those that exist) the current role may not SELECT, and the role's
/// name; errors are reported under `check`.
pub(crate) async fn unreadable_tables(
    client: &Client,
    schema: &str,
    tables: &[String],
    check: &'static str,
) -> Result<(Vec<String>, String), CheckError> {
    let rows = client
        .query(
            "SELECT t FROM unnest($2::text[]) AS t
              WHERE to_regclass(quote_ident($1) || '.' || quote_ident(t)) IS NOT NULL
                AND NOT has_table_privilege(to_regclass(quote_ident($1) || '.' || quote_ident(t)), 'SELECT')
              ORDER BY 1",
            &[&schema, &tables],
        )
        .await
        .map_err(query_err(check))?;
    let role: String = client
        .query_one("SELECT current_user::text", &[])
        .await
        .map_err(query_err(check))?
        .get(0);
    Ok((rows.iter().map(|r| r.get(0)).collect(), role))
}

//! The publications: each exists, and one of them covers the table and publishes inserts.

use tokio_postgres::Client;

use crate::render::dq;
use crate::table::TableInfo;
use crate::{checks, query_err, quote_ident, CheckError, Finding, Target};

pub(crate) async fn check_publications(
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

//! `capture.profile = "portal-v2"`: the portal's tables exist, the configured
//! publications send their inserts, updates and deletes, the tables whose deletes must
//! carry whole rows have `REPLICA IDENTITY FULL`, and the relay's role can read the
//! tables it seeds its memory from. `sql/05_portal_v2.sql` makes all of it so.

use tokio_postgres::Client;

use crate::enrichment::{replica_identity_full_sql, unreadable_tables};
use crate::{checks, query_err, quote_ident, quote_qualified, CheckError, Finding, PortalV2Target};

const FIX_ALL: &str = "run sql/05_portal_v2.sql as the owner of the portal's tables, then recreate the slot (sql/04_slot.sql)";

pub(crate) async fn check_portal_v2(
    client: &Client,
    publications: &[String],
    t: &PortalV2Target,
    findings: &mut Vec<Finding>,
) -> Result<(), CheckError> {
    // Per table: exists, replica identity, and whether some configured publication
    // covering it publishes inserts / updates / deletes.
    let rows = client
        .query(
            "SELECT t.name,
                    c.oid IS NOT NULL,
                    coalesce(c.relreplident = 'f', false),
                    coalesce(bool_or(p.pubinsert), false),
                    coalesce(bool_or(p.pubupdate), false),
                    coalesce(bool_or(p.pubdelete), false)
               FROM unnest($2::text[]) AS t(name)
               LEFT JOIN pg_catalog.pg_namespace n ON n.nspname::text = $1::text
               LEFT JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname::text = t.name
                                              AND c.relkind IN ('r', 'p')
               LEFT JOIN pg_catalog.pg_publication_tables pt
                      ON pt.schemaname::text = $1::text AND pt.tablename::text = t.name
                     AND pt.pubname::text = ANY($3::text[])
               LEFT JOIN pg_catalog.pg_publication p ON p.pubname = pt.pubname
              GROUP BY t.name, c.oid, c.relreplident
              ORDER BY t.name",
            &[&t.schema, &t.tables, &publications],
        )
        .await
        .map_err(query_err(checks::PORTAL_V2_TABLES))?;
    let mut missing = Vec::new();
    let mut unpublished = Vec::new();
    let mut not_full = Vec::new();
    for row in &rows {
        let name: String = row.get(0);
        if !row.get::<_, bool>(1) {
            missing.push(name);
            continue;
        }
        let (full, ins, upd, del): (bool, bool, bool, bool) =
            (row.get(2), row.get(3), row.get(4), row.get(5));
        if !(ins && upd && del) {
            unpublished.push(name.clone());
        }
        if !full && t.replica_identity_full.contains(&name) {
            not_full.push(name);
        }
    }
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| quote_qualified(&t.schema, n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    findings.push(if missing.is_empty() {
        Finding::pass(
            checks::PORTAL_V2_TABLES,
            format!("the portal's {} tables exist in schema {}", t.tables.len(), quote_ident(&t.schema)),
        )
    } else {
        Finding::fail(
            checks::PORTAL_V2_TABLES,
            format!("portal-v2 needs {}, which do not exist (or are not visible)", list(&missing)),
            "check the database in source.url and the schema of capture.table (portal-v2 reads the portal's tables there)",
        )
    });
    findings.push(if unpublished.is_empty() {
        Finding::pass(
            checks::PORTAL_V2_PUBLICATION,
            "the portal's tables are published with inserts, updates and deletes",
        )
    } else {
        let fix = match publications.first() {
            Some(p) if !publications.iter().any(|p| p == "outbox_relay_portal_v2") => format!(
                "{FIX_ALL}, and add \"outbox_relay_portal_v2\" to source.publication (or ALTER PUBLICATION {} ADD TABLE …; SET (publish = 'insert, update, delete'))",
                quote_ident(p)
            ),
            _ => FIX_ALL.to_string(),
        };
        Finding::fail(
            checks::PORTAL_V2_PUBLICATION,
            format!(
                "no configured publication sends the inserts, updates and deletes of {}",
                list(&unpublished)
            ),
            fix,
        )
    });
    findings.push(if not_full.is_empty() {
        Finding::pass(
            checks::PORTAL_V2_REPLICA_IDENTITY,
            "the portal's tables whose deletes name related rows have REPLICA IDENTITY FULL",
        )
    } else {
        Finding::fail(
            checks::PORTAL_V2_REPLICA_IDENTITY,
            format!(
                "REPLICA IDENTITY is not FULL on {}: their deletes would lack the ids the events carry",
                list(&not_full)
            ),
            replica_identity_full_sql(&t.schema, &not_full),
        )
    });
    let (unreadable, role) =
        unreadable_tables(client, &t.schema, &t.readable, checks::PORTAL_V2_PRIVILEGES).await?;
    findings.push(if unreadable.is_empty() {
        Finding::pass(
            checks::PORTAL_V2_PRIVILEGES,
            format!(
                "the relay's role can read {} (read once at start)",
                t.readable.join(", ")
            ),
        )
    } else {
        Finding::fail(
            checks::PORTAL_V2_PRIVILEGES,
            format!(
                "the relay's role cannot SELECT {} (read at start for consumer types and owners)",
                list(&unreadable)
            ),
            format!(
                "GRANT SELECT ON {} TO {};",
                list(&unreadable),
                quote_ident(&role)
            ),
        )
    });
    Ok(())
}

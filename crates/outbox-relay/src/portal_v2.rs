//! `capture.profile = "portal-v2"` at the binary's edge: before streaming, read the
//! relationships the profile names but a changed row does not hold (a consumer's type, a
//! technical asset's owner, …) into the capture's memory, from the portal's tables and
//! from the WAL the slot is about to replay (peeked, not consumed: rows deleted since the
//! slot's position still say what they were); and what `check` verifies for the profile.
//!
//! ```text
//! Relay::run ─► **peek the slot + read the tables (facts)** ─► [PgSource ─► Pipeline(capture portal-v2 ─► sinks)]
//! ```

use relay_capture::portal_v2::{self, Facts};
use relay_contracts::{sqlstate, Backoff, ErrorClass};
use relay_source::ConnectionSettings;
use std::time::Duration;

/// What `check` verifies for the profile, in `schema`.
pub fn check_target(schema: &str) -> relay_check::PortalV2Target {
    let names = |list: &[&str]| list.iter().map(|t| t.to_string()).collect();
    relay_check::PortalV2Target {
        schema: schema.to_string(),
        tables: names(portal_v2::TABLES),
        replica_identity_full: names(portal_v2::REPLICA_IDENTITY_FULL),
        readable: names(portal_v2::SEED_TABLES),
    }
}

/// Where the facts are read from.
pub struct Sources<'a> {
    pub schema: &'a str,
    pub slot: &'a str,
    pub publications: &'a [String],
}

/// Read the facts, retrying connection trouble (and a slot still held by a previous
/// relay) with `backoff`; a missing table or privilege is an error naming the fix.
pub async fn seed(
    conn: &ConnectionSettings,
    facts: &Facts,
    from: &Sources<'_>,
    backoff: Backoff,
) -> anyhow::Result<usize> {
    let mut retry = backoff.retry();
    loop {
        match seed_once(conn, facts, from).await {
            Ok(n) => {
                tracing::info!(facts = n, "portal-v2: read consumer types, owners and access links from the portal's tables");
                return Ok(n);
            }
            Err((ErrorClass::Retry, message)) => {
                let delay = retry.next_delay().min(Duration::from_secs(10));
                tracing::warn!(%message, retry_in = ?delay, "portal-v2: cannot read the portal's tables yet; retrying");
                tokio::time::sleep(delay).await;
            }
            Err((_, message)) => {
                anyhow::bail!(
                    "portal-v2: {message} (the relay's role needs SELECT on {}; run sql/05_portal_v2.sql)",
                    portal_v2::SEED_TABLES.join(", ")
                )
            }
        }
    }
}

async fn seed_once(
    conn: &ConnectionSettings,
    facts: &Facts,
    from: &Sources<'_>,
) -> Result<usize, (ErrorClass, String)> {
    let client = conn
        .connect_query()
        .await
        .map_err(|e| (ErrorClass::Retry, e.to_string()))?;
    let peeked = match look_ahead(&client, facts, from).await {
        Ok(n) => n,
        // Another relay's session may still hold the slot for a moment: retry.
        Err((ErrorClass::Retry, message)) => return Err((ErrorClass::Retry, message)),
        Err((_, message)) => {
            // Not fatal: the stream itself reports a missing slot or publication with
            // its fix; without the look-ahead only rows deleted since the slot's
            // position lack their facts.
            tracing::warn!(%message, "portal-v2: cannot peek the slot's pending changes");
            0
        }
    };
    let sql = portal_v2::seed_query(&relay_check::quote_ident(from.schema));
    let rows = client.query(sql.as_str(), &[]).await.map_err(classify)?;
    for row in &rows {
        let (label, id, value): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        facts.seed(&label, &id, &value);
    }
    Ok(rows.len() + peeked)
}

fn classify(e: tokio_postgres::Error) -> (ErrorClass, String) {
    let class = e
        .code()
        .map_or(ErrorClass::Retry, |c| sqlstate::class(c.code()));
    let text = e
        .as_db_error()
        .map_or_else(|| e.to_string(), |db| db.message().to_string());
    (class, text)
}

/// Learn from every change the slot holds for us (decoded by pgoutput, as the stream
/// will be, but peeked: nothing is consumed and the slot does not move). Streams the rows.
async fn look_ahead(
    client: &tokio_postgres::Client,
    facts: &Facts,
    from: &Sources<'_>,
) -> Result<usize, (ErrorClass, String)> {
    use futures::TryStreamExt;
    let publications = from
        .publications
        .iter()
        .map(|p| relay_check::quote_ident(p))
        .collect::<Vec<_>>()
        .join(",");
    let sql = "SELECT data FROM pg_catalog.pg_logical_slot_peek_binary_changes($1, NULL, NULL, \
               'proto_version', '1', 'publication_names', $2)";
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&from.slot, &publications];
    let rows = client.query_raw(sql, params).await.map_err(classify)?;
    futures::pin_mut!(rows);
    let mut relations = pgoutput::RelationCache::default();
    let mut changes = 0;
    while let Some(row) = rows.try_next().await.map_err(classify)? {
        let data: Vec<u8> = row.get(0);
        match pgoutput::decode(&bytes::Bytes::from(data)) {
            Ok(pgoutput::LogicalMessage::Relation(rel)) => {
                relations.insert(rel);
            }
            Ok(change) => {
                let id = match &change {
                    pgoutput::LogicalMessage::Insert(c) => c.relation_id,
                    pgoutput::LogicalMessage::Update(c) => c.relation_id,
                    pgoutput::LogicalMessage::Delete(c) => c.relation_id,
                    _ => continue,
                };
                if let Some(rel) = relations.get(id) {
                    portal_v2::learn_change(facts, rel, &change);
                    changes += 1;
                }
            }
            // The stream will meet the same bytes and say what is wrong.
            Err(_) => {}
        }
    }
    Ok(changes)
}

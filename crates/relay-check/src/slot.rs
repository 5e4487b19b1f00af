//! The replication slot: exists, logical with the right plugin, in this database, not
//! invalidated, not held by another consumer.

use tokio_postgres::Client;

use crate::render::dq;
use crate::server::ServerInfo;
use crate::{checks, query_err, quote_literal, quote_qualified, CheckError, Finding, Target};

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

pub(crate) async fn check_slot(
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

    if server.version_num >= 170000 {
        check_failover(client, target, findings).await?;
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

/// PostgreSQL 17 failover slots: a slot created with `failover => true` is copied to
/// physical standbys that run `sync_replication_slots = on`, so the relay continues
/// after a failover; `synchronized_standby_slots` on the primary keeps the relay from
/// confirming past what those standbys have. Either way this is information, not a
/// failure: a database without standbys needs neither.
async fn check_failover(
    client: &Client,
    target: &Target,
    findings: &mut Vec<Finding>,
) -> Result<(), CheckError> {
    let row = client
        .query_one(
            "SELECT s.failover, current_setting('synchronized_standby_slots', true) \
               FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = $1",
            &[&target.slot],
        )
        .await
        .map_err(query_err(checks::SLOT_FAILOVER))?;
    let failover: bool = row.get(0);
    let synchronized: Option<String> = row.get(1);
    let slot_q = dq(&target.slot);
    let message = match (failover, synchronized.as_deref().unwrap_or("")) {
        (true, "") => format!(
            "replication slot {slot_q} is a failover slot; synchronized_standby_slots is empty, so \
             after a failover the relay may have delivered events of transactions the promoted \
             standby never received: list the standbys' physical slots there (sql/04_slot.sql)"
        ),
        (true, standbys) => format!(
            "replication slot {slot_q} is a failover slot, synchronized to the standbys of \
             synchronized_standby_slots = {standbys}"
        ),
        (false, _) => format!(
            "replication slot {slot_q} is not a failover slot: a promoted standby will not have it; \
             with standbys, create it with failover => true (sql/04_slot.sql)"
        ),
    };
    findings.push(Finding::pass(checks::SLOT_FAILOVER, message));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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

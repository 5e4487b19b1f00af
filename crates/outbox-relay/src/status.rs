//! `outbox-relay status`: what an on-call engineer asks first — is the slot there and
//! healthy, how far behind is it, do the publications cover the tables, can every sink
//! be reached, are dead letters waiting — as lines for people or `--json` for scripts.
//! The exit code is non-zero when something needs action.

use serde_json::{json, Value};
use std::path::Path;

use crate::config::Config;
use crate::relay::connection_settings;

/// Gather the status; print it; `Ok(true)` when nothing needs action.
pub async fn run(cfg: &Config, as_json: bool) -> anyhow::Result<bool> {
    relay_sinks::install_crypto_provider();
    let conn = connection_settings(cfg)?;
    let mut problems: Vec<String> = Vec::new();
    let (slot, publications) = match conn.connect_query().await {
        Ok(client) => (
            slot_status(&client, cfg, &mut problems).await?,
            publication_status(&client, cfg, &mut problems).await?,
        ),
        Err(e) => {
            problems.push(format!(
                "cannot connect to {}: {e} (check source.url and the password)",
                conn.display()
            ));
            (Value::Null, Value::Null)
        }
    };
    let mut sinks = Vec::new();
    for f in crate::check::sink_findings(cfg).await {
        if !f.ok {
            problems.push(f.message.clone());
        }
        sinks.push(json!({ "ok": f.ok, "detail": f.message }));
    }
    let dead_letters = match &cfg.dead_letter {
        Some(d) => {
            let pending = pending_lines(&d.path);
            if pending > 0 {
                problems.push(format!(
                    "{pending} dead letter(s) in {}: inspect them, fix the cause, re-publish or discard",
                    d.path.display()
                ));
            }
            json!({ "path": d.path.display().to_string(), "pending": pending })
        }
        None => Value::Null,
    };
    let report = json!({
        "slot": slot,
        "publications": publications,
        "sinks": sinks,
        "dead_letters": dead_letters,
        "needs_action": problems,
    });
    if as_json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(problems.is_empty())
}

fn pending_lines(path: &Path) -> u64 {
    std::fs::read(path)
        .map(|b| b.iter().filter(|c| **c == b'\n').count() as u64)
        .unwrap_or(0)
}

async fn slot_status(
    client: &tokio_postgres::Client,
    cfg: &Config,
    problems: &mut Vec<String>,
) -> anyhow::Result<Value> {
    let slot = &cfg.source.slot;
    // to_jsonb(s) reads columns that only newer servers have (invalidation_reason,
    // failover: 17) as null on older ones.
    let row = client
        .query_opt(
            "SELECT s.plugin::text, s.database::text, s.active, s.active_pid,
                    s.restart_lsn::text, s.confirmed_flush_lsn::text,
                    (pg_current_wal_lsn() - s.confirmed_flush_lsn)::bigint,
                    s.wal_status::text, s.safe_wal_size::bigint,
                    to_jsonb(s) ->> 'invalidation_reason', to_jsonb(s) ->> 'failover',
                    current_database()::text
               FROM pg_catalog.pg_replication_slots s WHERE s.slot_name = $1",
            &[slot],
        )
        .await?;
    let Some(r) = row else {
        problems.push(format!(
            "replication slot \"{slot}\" does not exist: create it with sql/04_slot.sql (after the publications)"
        ));
        return Ok(json!({ "name": slot, "exists": false }));
    };
    let plugin: Option<String> = r.get(0);
    let database: Option<String> = r.get(1);
    let wal_status: Option<String> = r.get(7);
    let invalidation: Option<String> = r.get(9);
    let here: String = r.get(11);
    if wal_status.as_deref() == Some("lost") || invalidation.is_some() {
        problems.push(format!(
            "replication slot \"{slot}\" is invalidated ({}): the server removed WAL it still needed, so events committed \
             while the relay was behind may be lost; recreate the slot (sql/04_slot.sql) and re-deliver the gap from the \
             audit table (README, \"Recovery\")",
            invalidation.clone().unwrap_or_else(|| "wal_status lost".into())
        ));
    } else if wal_status.as_deref() == Some("unreserved") {
        problems.push(format!(
            "replication slot \"{slot}\" is about to lose WAL it needs (wal_status unreserved): the relay must catch up \
             now, or raise max_slot_wal_keep_size"
        ));
    }
    if plugin.as_deref() != Some("pgoutput") {
        problems.push(format!(
            "replication slot \"{slot}\" uses plugin {plugin:?}, not pgoutput: recreate it"
        ));
    }
    if database.as_deref() != Some(here.as_str()) {
        problems.push(format!(
            "replication slot \"{slot}\" belongs to database {database:?}, not {here:?}"
        ));
    }
    Ok(json!({
        "name": slot,
        "exists": true,
        "plugin": plugin,
        "database": database,
        "active": r.get::<_, Option<bool>>(2),
        "active_pid": r.get::<_, Option<i32>>(3),
        "restart_lsn": r.get::<_, Option<String>>(4),
        "confirmed_flush_lsn": r.get::<_, Option<String>>(5),
        "lag_bytes": r.get::<_, Option<i64>>(6),
        "wal_status": wal_status,
        "safe_wal_size": r.get::<_, Option<i64>>(8),
        "invalidation_reason": invalidation,
        "failover": r.get::<_, Option<String>>(10).map(|f| f == "true"),
    }))
}

async fn publication_status(
    client: &tokio_postgres::Client,
    cfg: &Config,
    problems: &mut Vec<String>,
) -> anyhow::Result<Value> {
    let names = cfg.source.publication.to_vec();
    let rows = client
        .query(
            "SELECT p.pubname::text, p.pubinsert, p.pubupdate, p.pubdelete, p.puballtables,
                    coalesce((SELECT array_agg(t.schemaname || '.' || t.tablename ORDER BY 1)
                                FROM pg_catalog.pg_publication_tables t
                               WHERE t.pubname = p.pubname), '{}')::text[]
               FROM pg_catalog.pg_publication p WHERE p.pubname = ANY($1)",
            &[&names],
        )
        .await?;
    let mut out = Vec::new();
    let mut covered = false;
    let (schema, table) = cfg.capture.schema_table();
    let captured = format!("{schema}.{table}");
    for name in &names {
        let Some(r) = rows.iter().find(|r| r.get::<_, String>(0) == *name) else {
            problems.push(format!(
                "publication \"{name}\" does not exist: create it (sql/02_publication.sql, sql/03_enrichment.sql)"
            ));
            out.push(json!({ "name": name, "exists": false }));
            continue;
        };
        let tables: Vec<String> = r.get(5);
        let all: bool = r.get(4);
        let insert: bool = r.get(1);
        covered |= insert && (all || tables.contains(&captured));
        out.push(json!({
            "name": name,
            "exists": true,
            "publish": { "insert": insert, "update": r.get::<_, bool>(2), "delete": r.get::<_, bool>(3) },
            "all_tables": all,
            "tables": tables,
        }));
    }
    let needs_table = cfg.capture.profile != crate::config::ProfileName::LogicalMessage;
    if needs_table && !covered && !rows.is_empty() {
        problems.push(format!(
            "no publication publishes inserts of {captured}: ALTER PUBLICATION \"{}\" ADD TABLE {captured};",
            names.first().cloned().unwrap_or_default()
        ));
    }
    Ok(Value::Array(out))
}

fn print_human(report: &Value) {
    let s = &report["slot"];
    if s["exists"] == json!(true) {
        println!(
            "slot {}: {} (pid {}), confirmed {} restart {}, lag {} bytes, wal_status {}, safe_wal_size {}",
            s["name"].as_str().unwrap_or("?"),
            if s["active"] == json!(true) { "active" } else { "inactive" },
            s["active_pid"],
            s["confirmed_flush_lsn"].as_str().unwrap_or("?"),
            s["restart_lsn"].as_str().unwrap_or("?"),
            s["lag_bytes"],
            s["wal_status"].as_str().unwrap_or("?"),
            s["safe_wal_size"],
        );
    }
    for p in report["publications"].as_array().into_iter().flatten() {
        if p["exists"] == json!(true) {
            println!(
                "publication {}: {} table(s) {}",
                p["name"].as_str().unwrap_or("?"),
                p["tables"].as_array().map_or(0, Vec::len),
                p["tables"]
            );
        }
    }
    for s in report["sinks"].as_array().into_iter().flatten() {
        println!(
            "{} {}",
            if s["ok"] == json!(true) {
                "ok  "
            } else {
                "FAIL"
            },
            s["detail"].as_str().unwrap_or("?")
        );
    }
    if let Some(n) = report["dead_letters"]["pending"].as_u64() {
        println!("dead letters pending: {n}");
    }
    let problems = report["needs_action"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if problems.is_empty() {
        println!("status: ok");
    }
    for p in problems {
        println!("NEEDS ACTION: {}", p.as_str().unwrap_or("?"));
    }
}

//! Relay configuration, waiting until a run settled, and what one run must deliver
//! (expected derived removals, per-run checks), plus `outbox-relay check`.

use outbox_relay_tests::events_diff::{label, removed_twice};
use outbox_relay_tests::real_portal::{event_type_of, Cascade, Portal};
use outbox_relay_tests::*;
use serde_json::Value;
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A relay config reading `slot`, writing `out`, with `capture` lines.
pub fn relay_config(db: &TestDb, name: &str, slot: &str, out: &Path, capture: &str) -> PathBuf {
    let path = db.config(
        name,
        &format!(
            "[capture]\n{capture}\n\n[[sinks]]\nname = \"archive\"\ntype = \"file\"\npath = \"{}\"\n",
            out.display()
        ),
    );
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("slot = \"outbox_relay\"", &format!("slot = \"{slot}\""));
    std::fs::write(&path, text).unwrap();
    path
}

pub async fn confirmed(db: &TestDb, slot: &str) -> u64 {
    let row = db
        .admin
        .query_one(
            "SELECT coalesce(confirmed_flush_lsn, '0/0')::text FROM pg_replication_slots WHERE slot_name = $1",
            &[&slot],
        )
        .await
        .unwrap();
    parse_lsn(&row.get::<_, String>(0))
}

pub fn has_all(out: &Path, ids: &[String]) -> bool {
    let present: HashSet<String> = ids_of(&read_jsonl(out)).into_iter().collect();
    ids.iter().all(|id| present.contains(id))
}

/// Wait until `out` holds every audit id and `slot` is confirmed past `end` (everything
/// read was resolved). `false` after the deadline: the caller reports it and compares
/// what arrived.
pub async fn settled(db: &TestDb, out: &Path, ids: &[String], slot: &str, end: u64) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        if has_all(out, ids) && confirmed(db, slot).await >= end {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) => &v[i],
        Err(_) => &v[k],
    })
}

pub fn warn_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains(" WARN ")).collect()
}

/// The derived removals a cascade must produce: exactly its access links, technical
/// assets and output ports (rows removed earlier under their own audit rows are not in
/// it, so never announced again).
pub fn expected_derived(cascades: &[Cascade]) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for c in cascades {
        for l in &c.access_links {
            out.insert(("portal.access.removed.v1".to_string(), l.clone()));
        }
        for a in &c.technical_assets {
            out.insert(("portal.technical_asset.removed.v1".to_string(), a.clone()));
        }
        for p in &c.output_ports {
            out.insert(("portal.output_port.removed.v1".to_string(), p.clone()));
        }
    }
    out
}

/// What one run must deliver whatever the timing: each audit row once, with the type of
/// its name and the subject the portal's tables gave it; exactly the expected derived
/// events; no removal announced twice.
pub fn check_run(
    run_name: &str,
    run: &[Value],
    portal: &Portal,
    derived: &BTreeSet<(String, String)>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for a in &portal.log {
        let found: Vec<&Value> = run.iter().filter(|e| e["id"] == a.id.as_str()).collect();
        match found.as_slice() {
            [] => problems.push(format!(
                "{run_name}: no event for audit row {} ({})",
                a.id, a.name
            )),
            [e] => {
                let ty = event_type_of(&a.name).unwrap();
                if e["type"] != ty {
                    problems.push(format!("{run_name}: {}: type should be {ty}", label(e)));
                }
                if e["subject"] != a.subject.as_str() {
                    problems.push(format!(
                        "{run_name}: {}: subject should be {} (the id the portal's tables held)",
                        label(e),
                        a.subject
                    ));
                }
            }
            many => problems.push(format!(
                "{run_name}: audit row {} delivered {} times",
                a.id,
                many.len()
            )),
        }
    }
    let audited: HashSet<&str> = portal.log.iter().map(|a| a.id.as_str()).collect();
    let got: BTreeSet<(String, String)> = run
        .iter()
        .filter(|e| !audited.contains(e["id"].as_str().unwrap_or_default()))
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_string(),
                e["subject"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    for extra in got.difference(derived) {
        let e = run
            .iter()
            .find(|e| {
                e["type"] == extra.0.as_str()
                    && e["subject"] == extra.1.as_str()
                    && !audited.contains(e["id"].as_str().unwrap_or_default())
            })
            .unwrap();
        problems.push(format!(
            "{run_name}: unexpected derived event {} (reason {})",
            label(e),
            at(e, "data.derived.reason")
        ));
    }
    for missing in derived.difference(&got) {
        problems.push(format!(
            "{run_name}: no derived {} for {} (it went in a cascade)",
            missing.0, missing.1
        ));
    }
    problems.extend(removed_twice(run_name, run));
    problems
}

pub fn check(db: &TestDb) -> (i32, String) {
    let cfg = db.config("check", "[[sinks]]\nname = \"n\"\ntype = \"null\"\n");
    let (code, stdout, stderr) = run_to_end(&["check", "--config", cfg.to_str().unwrap()]);
    (code, format!("{stdout}{stderr}"))
}

//! Helpers over findings: run the checks, pick failed ones and their fixes, and wait for
//! server state.

use std::time::{Duration, Instant};

use relay_check::{checks, render, run, Finding, Target};
use tokio_postgres::Client;

// ---------------------------------------------------------------------------
// Helpers over findings
// ---------------------------------------------------------------------------

pub async fn check(client: &Client, target: &Target) -> Vec<Finding> {
    let findings = run(client, target).await.expect("checks ran");
    // What the CLI prints; visible with --nocapture.
    print!("{}", render(&findings));
    findings
}

pub fn failed(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().filter(|f| !f.ok).map(|f| f.check).collect()
}

pub fn names(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.check).collect()
}

pub fn get<'a>(findings: &'a [Finding], check: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.check == check)
        .unwrap_or_else(|| panic!("no {check} finding in {findings:?}"))
}

/// The fix of the (first) failed finding of `check`.
pub fn fix<'a>(findings: &'a [Finding], check: &str) -> &'a str {
    let f = findings
        .iter()
        .find(|f| f.check == check && !f.ok)
        .unwrap_or_else(|| panic!("{check} should have failed: {findings:?}"));
    f.fix.as_deref().expect("a failed finding carries a fix")
}

pub const ALL_CHECKS: &[&str] = &[
    checks::WAL_LEVEL,
    checks::REPLICATION_ROLE,
    checks::SLOT,
    checks::SLOT_PLUGIN,
    checks::SLOT_DATABASE,
    checks::SLOT_VALID,
    checks::SLOT_ACTIVE,
    checks::PUBLICATION,
    checks::PUBLICATION_TABLE,
    checks::TABLE,
    checks::TABLE_PRIVILEGE,
];

pub fn assert_all_ok(findings: &[Finding]) {
    assert_eq!(failed(findings), Vec::<&str>::new(), "{}", render(findings));
    assert_eq!(names(findings), ALL_CHECKS);
}

pub async fn wait_until(client: &Client, sql: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let row = client.query_one(sql, &[]).await.unwrap();
        if row.get::<_, bool>(0) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

//! The secrets, relay configuration and sink sections, audit rows, graceful stop, test
//! events, and signature verification with the reference library.

use bytes::Bytes;
use outbox_relay_tests::webhook::{standardwebhooks_python, Recorded, Reply, Script};
use outbox_relay_tests::*;
use relay_contracts::OutboundEvent;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

pub const SECRET_A: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const SECRET_B: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

pub fn setup() -> Setup {
    Setup {
        enrichment: false,
        ..Setup::default()
    }
}

/// `[capture]` without enrichment (raw audit events, id = the audit row's id), a short
/// retry policy, and the given `[[sinks]]` sections.
pub fn config(db: &TestDb, name: &str, sinks: &str, extra: &str) -> std::path::PathBuf {
    db.config(
        name,
        &format!(
            "[capture]\nenrich = false\n\n{sinks}\n[pipeline]\nretry_initial = \"20ms\"\nretry_max = \"200ms\"\n{extra}"
        ),
    )
}

pub fn webhook_sink(name: &str, url: &str, secret: &str, timeout: &str) -> String {
    format!(
        "[[sinks]]\nname = \"{name}\"\ntype = \"webhook\"\nurl = \"{url}\"\nsecret = {secret}\ntimeout = \"{timeout}\"\nmax_in_flight = 32\n\n"
    )
}

/// `per_tx` audit rows in one transaction over `aggregates` subjects; every third row is
/// a `dataset_updated` (the others `data_product_updated`).
pub async fn insert_mixed(db: &TestDb, per_tx: i64, aggregates: i64, salt: i64) {
    db.admin
        .execute(
            "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
             SELECT gen_random_uuid(),
                    CASE WHEN (g + $3) % 3 = 0 THEN 'dataset_updated' ELSE 'data_product_updated' END,
                    CASE WHEN (g + $3) % 3 = 0 THEN 'DATASET' ELSE 'DATA_PRODUCT' END,
                    ('00000000-0000-4000-8000-' || lpad(((g + $3) % $2)::text, 12, '0'))::uuid,
                    $1::text::uuid
             FROM generate_series(1::bigint, $4::bigint) g",
            &[&ACTOR, &aggregates, &salt, &per_tx],
        )
        .await
        .unwrap();
}

pub async fn stop_gracefully(relay: &mut RelayProcess) {
    relay.terminate();
    wait_until(Duration::from_secs(60), "graceful exit on SIGTERM", || {
        let exited = relay.exited();
        async move { exited.is_some() }
    })
    .await;
    assert!(relay.exited().unwrap().success(), "{}", relay.log_text());
}

pub fn ok_script() -> Script {
    Arc::new(|_, _| Reply::ok())
}

/// Verify each (secret, request) with the reference library; `Ok` or the error text.
pub fn verify_with_python(cases: &[(&str, &Recorded)]) -> Vec<String> {
    use base64::Engine;
    let input: Vec<serde_json::Value> = cases
        .iter()
        .map(|(secret, r)| {
            serde_json::json!({
                "secret": secret,
                "headers": r.headers,
                "body_b64": base64::engine::general_purpose::STANDARD.encode(&r.body),
            })
        })
        .collect();
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("webhook/verify_signatures.py");
    let mut child = std::process::Command::new(standardwebhooks_python())
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run the standardwebhooks verifier");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&input).unwrap().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn event(id: &str, kind: &str) -> Arc<OutboundEvent> {
    let body = serde_json::json!({
        "specversion": "1.0", "id": id, "source": "/test", "type": kind, "subject": "s1",
        "time": "2026-01-01T00:00:00.000000Z", "datacontenttype": "application/json",
        "commitlsn": "0/1", "data": { "id": "s1" }
    });
    Arc::new(OutboundEvent {
        id: id.into(),
        aggregate: "s1".into(),
        kind: kind.into(),
        route: "test".into(),
        commit_lsn: 1,
        body: Bytes::from(serde_json::to_vec(&body).unwrap()),
    })
}

//! Issue 11: `capture.profile = "portal-v2"` on the portal's real schema (release 0.7.0,
//! tests/fixtures), delivered by the webhook sink with `format = "portal-v2"` to a real
//! receiver on loopback.
//!
//! A scripted series of inserts, updates and deletes on the nine tables and the related
//! ones (abstract_data_products, input_port_requests): for every change, the receiver
//! gets an event for each object the portal would announce, with the right `data`, in
//! commit order; across a SIGKILL (forced to land after an event of a transaction was
//! delivered and before the transaction was), after deduplication by id, each expected
//! event exactly once. And `check` knows what the profile needs.

use outbox_relay_tests::webhook::{Receiver, Recorded, Reply};
use outbox_relay_tests::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SCHEMA: &str = include_str!("../fixtures/portal_schema.sql");
const SQL_PORTAL_V2: &str = include_str!("../../sql/05_portal_v2.sql");

const DOM: &str = "d0000000-0000-4000-8000-000000000001";
const ROLE: &str = "d0000000-0000-4000-8000-000000000002";
const SETTING: &str = "d0000000-0000-4000-8000-000000000003";
const P1: &str = "10000000-0000-4000-8000-000000000001";
const P2: &str = "10000000-0000-4000-8000-000000000002";
const E1: &str = "10000000-0000-4000-8000-000000000003";
const D1: &str = "20000000-0000-4000-8000-000000000001";
const A1: &str = "30000000-0000-4000-8000-000000000001";
const L1: &str = "40000000-0000-4000-8000-000000000001";
const IP1: &str = "50000000-0000-4000-8000-000000000001";
const IP2: &str = "50000000-0000-4000-8000-000000000002";
const R1: &str = "60000000-0000-4000-8000-000000000001";
const M1: &str = "70000000-0000-4000-8000-000000000001";
const M2: &str = "70000000-0000-4000-8000-000000000002";
const SV1: &str = "80000000-0000-4000-8000-000000000001";

fn dp(id: &str) -> (&'static str, Value) {
    ("data_product.event", json!({ "id": id }))
}
fn ex(id: &str) -> (&'static str, Value) {
    ("exploration.event", json!({ "id": id }))
}
fn op(id: &str, product: &str) -> (&'static str, Value) {
    (
        "output_port.event",
        json!({ "id": id, "data_product_id": product }),
    )
}
fn ta(id: &str, product: &str) -> (&'static str, Value) {
    (
        "technical_asset.event",
        json!({ "id": id, "data_product_id": product }),
    )
}
fn link() -> (&'static str, Value) {
    (
        "output_port_technical_asset_link.event",
        json!({ "id": L1, "data_product_id": P1, "output_port_id": D1, "technical_asset_id": A1 }),
    )
}
fn ip(id: &str, consumer: &str, kind: &str) -> (&'static str, Value) {
    (
        "input_port.event",
        json!({ "id": id, "consuming_abstract_data_product_id": consumer,
                "consuming_abstract_data_product_type": kind }),
    )
}
fn dpra() -> (&'static str, Value) {
    (
        "data_product_role_assignment.event",
        json!({ "id": M1, "data_product_id": P1, "user_id": ACTOR }),
    )
}
fn opra() -> (&'static str, Value) {
    (
        "output_port_role_assignment.event",
        json!({ "id": M2, "output_port_id": D1, "data_product_id": P1, "user_id": ACTOR }),
    )
}
fn sv() -> (&'static str, Value) {
    (
        "data_product_setting_value.event",
        json!({ "id": SV1, "data_product_id": P1 }),
    )
}

fn adp(id: &str, name: &str, kind: &str) -> String {
    format!(
        "INSERT INTO abstract_data_products(id, name, abstract_data_product_type, namespace, domain_id, status) \
         VALUES ('{id}', '{name}', '{kind}', '{name}', '{DOM}', 'active');"
    )
}

/// One transaction of the script and what the portal would announce for it, in order.
type Step = (String, Vec<(&'static str, Value)>);

/// The first part runs while the relay streams; the second while it is dead.
fn script() -> (Vec<Step>, Vec<Step>) {
    let s =
        |sql: &str, events: Vec<(&'static str, Value)>| (format!("BEGIN; {sql} COMMIT;"), events);
    let first = vec![
        // Not captured: reference rows.
        s(
            &format!(
                "INSERT INTO domains(id, name) VALUES ('{DOM}', 'dom'); \
                 INSERT INTO roles(id, name, scope, description, permissions, prototype) VALUES ('{ROLE}', 'owner', 'data_product', 'o', '{{}}', 0); \
                 INSERT INTO data_product_settings(id, name) VALUES ('{SETTING}', 'gdpr');"
            ),
            vec![],
        ),
        s(&format!("{} INSERT INTO data_products(id) VALUES ('{P1}');", adp(P1, "p1", "data_products")), vec![dp(P1), dp(P1)]),
        s(
            &format!(
                "{} INSERT INTO data_products(id) VALUES ('{P2}'); {} INSERT INTO explorations(id, owner_id) VALUES ('{E1}', '{ACTOR}');",
                adp(P2, "p2", "data_products"),
                adp(E1, "e1", "explorations")
            ),
            vec![dp(P2), dp(P2), ex(E1), ex(E1)],
        ),
        // An output port, then (as the portal does) its search vector.
        s(
            &format!(
                "INSERT INTO datasets(id, data_product_id, name, namespace, status, access_type) VALUES ('{D1}', '{P1}', 'd1', 'd1', 'ACTIVE', 'restricted'); \
                 UPDATE datasets SET search_vector = to_tsvector('d1') WHERE id = '{D1}';"
            ),
            vec![op(D1, P1), op(D1, P1)],
        ),
        s(
            &format!(
                "INSERT INTO data_outputs(id, owner_id, name, namespace, status, technical_mapping) VALUES ('{A1}', '{P1}', 'a1', 'a1', 'ACTIVE', 'default');"
            ),
            vec![ta(A1, P1)],
        ),
        // Link request: the link, the asset (its parent), and the output port's update.
        s(
            &format!(
                "INSERT INTO data_outputs_datasets(id, data_output_id, dataset_id, status) VALUES ('{L1}', '{A1}', '{D1}', 'PENDING'); \
                 UPDATE datasets SET search_vector = to_tsvector('d1 a1') WHERE id = '{D1}';"
            ),
            vec![link(), ta(A1, P1), op(D1, P1)],
        ),
        s(&format!("UPDATE data_outputs_datasets SET status = 'APPROVED' WHERE id = '{L1}';"), vec![link(), ta(A1, P1)]),
        // Access request: the link to the consumer, the consumer itself, and (from the
        // request row) the link again. It starts with a change of a table with an enum
        // column (datasets.status): a replay in a new session gets pgoutput's Type
        // message before it, which must not shift the positions in the ids.
        s(
            &format!(
                "UPDATE datasets SET status = 'ACTIVE' WHERE id = '{D1}'; \
                 INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status) VALUES ('{IP1}', '{P2}', '{D1}', 'PENDING'); \
                 INSERT INTO input_port_requests(id, input_port_id, decision, justification, access_duration_type, requested_by_id) \
                 VALUES ('{R1}', '{IP1}', 'PENDING', 'need it', 'PERMANENT', '{ACTOR}');"
            ),
            vec![op(D1, P1), ip(IP1, P2, "data_products"), dp(P2), ip(IP1, P2, "data_products")],
        ),
    ];
    let second = vec![
        // Only the request row changes (a renewal): the input port is announced.
        s(&format!("UPDATE input_port_requests SET justification = 'renewed' WHERE id = '{R1}';"), vec![ip(IP1, P2, "data_products")]),
        s(
            &format!(
                "UPDATE input_ports SET status = 'APPROVED' WHERE id = '{IP1}'; \
                 UPDATE input_port_requests SET decision = 'APPROVED', decided_by_id = '{ACTOR}' WHERE id = '{R1}';"
            ),
            vec![ip(IP1, P2, "data_products"), ip(IP1, P2, "data_products")],
        ),
        s(
            &format!(
                "INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status) VALUES ('{IP2}', '{E1}', '{D1}', 'APPROVED');"
            ),
            vec![ip(IP2, E1, "explorations"), ex(E1)],
        ),
        s(
            &format!(
                "INSERT INTO role_assignments_data_product(id, data_product_id, user_id, role_id, decision) VALUES ('{M1}', '{P1}', '{ACTOR}', '{ROLE}', 'PENDING'); \
                 INSERT INTO role_assignments_dataset(id, dataset_id, user_id, role_id, decision, data_product_id) VALUES ('{M2}', '{D1}', '{ACTOR}', '{ROLE}', 'PENDING', '{P1}');"
            ),
            vec![dpra(), opra()],
        ),
        s(
            &format!(
                "UPDATE role_assignments_data_product SET decision = 'APPROVED' WHERE id = '{M1}'; \
                 UPDATE role_assignments_dataset SET decision = 'APPROVED' WHERE id = '{M2}';"
            ),
            vec![dpra(), opra()],
        ),
        s(
            &format!(
                "INSERT INTO data_products_settings_values(id, data_product_id, data_product_setting_id, value) VALUES ('{SV1}', '{P1}', '{SETTING}', 'false'); \
                 UPDATE data_products_settings_values SET value = 'true' WHERE id = '{SV1}';"
            ),
            vec![sv(), sv()],
        ),
        // Only the product's abstract row changes.
        s(&format!("UPDATE abstract_data_products SET description = 'new' WHERE id = '{P1}';"), vec![dp(P1)]),
        // Unlink.
        s(
            &format!(
                "DELETE FROM data_outputs_datasets WHERE id = '{L1}'; \
                 UPDATE datasets SET search_vector = to_tsvector('d1') WHERE id = '{D1}';"
            ),
            vec![link(), ta(A1, P1), op(D1, P1)],
        ),
        s(
            &format!(
                "DELETE FROM role_assignments_data_product WHERE id = '{M1}'; DELETE FROM role_assignments_dataset WHERE id = '{M2}';"
            ),
            vec![dpra(), opra()],
        ),
        s(
            &format!("DELETE FROM input_port_requests WHERE id = '{R1}'; DELETE FROM input_ports WHERE id = '{IP1}';"),
            vec![ip(IP1, P2, "data_products"), ip(IP1, P2, "data_products"), dp(P2)],
        ),
        // The exploration goes, with its access.
        s(
            &format!(
                "DELETE FROM input_ports WHERE id = '{IP2}'; DELETE FROM explorations WHERE id = '{E1}'; \
                 DELETE FROM abstract_data_products WHERE id = '{E1}';"
            ),
            vec![ip(IP2, E1, "explorations"), ex(E1), ex(E1), ex(E1)],
        ),
        s(
            &format!("DELETE FROM data_products WHERE id = '{P2}'; DELETE FROM abstract_data_products WHERE id = '{P2}';"),
            vec![dp(P2), dp(P2)],
        ),
        s(
            &format!(
                "DELETE FROM data_products_settings_values WHERE id = '{SV1}'; DELETE FROM data_outputs WHERE id = '{A1}'; \
                 DELETE FROM datasets WHERE id = '{D1}';"
            ),
            vec![sv(), ta(A1, P1), op(D1, P1)],
        ),
    ];
    (first, second)
}

async fn portal_db() -> TestDb {
    TestDb::start(Setup {
        schema: SCHEMA.to_string(),
        create_slot: false,
        create_publication: false,
        enrichment: false,
        ..Setup::default()
    })
    .await
}

fn relay_config(db: &TestDb, sink_url: &str) -> std::path::PathBuf {
    let path = db.path("portal-v2.toml");
    let text = format!(
        "[source]\nurl = \"{}\"\nslot = \"outbox_relay\"\npublication = \"outbox_relay_portal_v2\"\nstatus_interval = \"200ms\"\n\n\
         [capture]\nprofile = \"portal-v2\"\n\n\
         [[sinks]]\nname = \"portal-v2\"\ntype = \"webhook\"\nurl = \"{sink_url}\"\nformat = \"portal-v2\"\ntimeout = \"5s\"\n\n\
         [pipeline]\nretry_initial = \"20ms\"\nretry_max = \"200ms\"\n",
        db.relay_url()
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// The first 2xx delivery of each id, in arrival order.
fn first_deliveries(receiver: &Receiver) -> Vec<Recorded> {
    let mut seen = std::collections::HashSet::new();
    receiver
        .requests()
        .into_iter()
        .filter(|r| r.delivered() && seen.insert(r.id()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn portal_v2_announces_every_object_in_commit_order_and_exactly_once_across_sigkill() {
    let db = portal_db().await;
    db.admin
        .batch_execute(SQL_PORTAL_V2)
        .await
        .expect("sql/05_portal_v2.sql");
    db.admin
        .batch_execute(SQL_SLOT)
        .await
        .expect("sql/04_slot.sql");
    // The consumer's data_product.event of the access request is refused while `block`
    // is set, once its input_port.event (the same transaction's first event) has been
    // delivered: the kill then lands between two events of one transaction.
    let block = Arc::new(AtomicBool::new(true));
    let seen_ip = Arc::new(AtomicBool::new(false));
    let receiver = {
        let (block, seen_ip) = (Arc::clone(&block), Arc::clone(&seen_ip));
        Receiver::start(Arc::new(move |_, r: &Recorded| {
            let v = r.json();
            if v["type"] == "input_port.event" {
                seen_ip.store(true, Ordering::SeqCst);
            } else if v["type"] == "data_product.event"
                && v["data"]["id"] == P2
                && seen_ip.load(Ordering::SeqCst)
                && block.load(Ordering::SeqCst)
            {
                return Reply::Status(503, "not now".into());
            }
            Reply::ok()
        }))
        .await
    };
    let cfg = relay_config(&db, &receiver.url("/portal/webhooks/v2"));
    let log = db.path("relay.log");
    let mut relay = RelayProcess::run(&cfg, &log);

    let (first, second) = script();
    let mut after_creations = 0;
    for (i, (sql, _)) in first.iter().enumerate() {
        db.admin.batch_execute(sql).await.unwrap();
        if i == 2 {
            after_creations = db.current_wal_lsn().await;
        }
    }
    wait_until(
        Duration::from_secs(120),
        "the access request's first event delivered, the second refused",
        || {
            let refused = receiver.requests().iter().any(|r| r.status == Some(503));
            async move { refused }
        },
    )
    .await;
    // The slot is past the creation of the products and the exploration: after the
    // kill nothing replays them, and the second part deletes them before the restart,
    // so their types come from the look-ahead over the slot's pending changes.
    wait_until(
        Duration::from_secs(60),
        "the slot confirmed past the products' creation",
        || async { db.confirmed_flush_lsn().await >= after_creations },
    )
    .await;
    relay.kill9();
    wait_until(
        Duration::from_secs(30),
        "slot released after SIGKILL",
        || async { !db.slot_active().await },
    )
    .await;
    block.store(false, Ordering::SeqCst);
    for (sql, _) in &second {
        db.admin.batch_execute(sql).await.unwrap();
    }
    let mut relay = RelayProcess::run(&cfg, &log);
    let expected: Vec<(&str, Value)> = first
        .iter()
        .chain(&second)
        .flat_map(|(_, e)| e.clone())
        .collect();
    let want_n = expected.len();
    wait_until(
        Duration::from_secs(120),
        "every expected event delivered",
        || {
            let n = first_deliveries(&receiver).len();
            async move { n >= want_n }
        },
    )
    .await;

    let delivered = first_deliveries(&receiver);
    let got: Vec<(String, Value)> = delivered
        .iter()
        .map(|r| {
            (
                r.json()["type"].as_str().unwrap().to_string(),
                r.json()["data"].clone(),
            )
        })
        .collect();
    let want: Vec<(String, Value)> = expected
        .iter()
        .map(|(t, d)| (t.to_string(), d.clone()))
        .collect();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "event {i} (commit order)");
    }
    assert_eq!(
        got.len(),
        want.len(),
        "each expected event exactly once after dedup by id"
    );
    // The replay re-sent what was delivered before the kill, under the same ids.
    let requests = receiver.requests();
    let mut bodies: HashMap<String, bytes::Bytes> = HashMap::new();
    let mut redelivered = 0;
    for r in requests.iter().filter(|r| r.delivered()) {
        match bodies.get(&r.id()) {
            Some(body) => {
                assert_eq!(body, &r.body, "a replayed event is the same event");
                redelivered += 1;
            }
            None => {
                bodies.insert(r.id(), r.body.clone());
            }
        }
    }
    assert!(
        redelivered >= 1,
        "the kill landed inside a transaction, so something was replayed"
    );
    // The portal's body: plain JSON with its six keys, source data-product-portal, and
    // one commit time per transaction.
    for r in &delivered {
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(r.header("webhook-signature").is_none());
        let v = r.json();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 6, "{v}");
        assert_eq!(v["source"], "data-product-portal");
        assert_eq!(v["specversion"], "1.0");
        assert_eq!(v["id"], json!(r.id()));
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }
    let mut offset = 0;
    for (_, events) in first.iter().chain(&second) {
        let tx: Vec<String> = delivered[offset..offset + events.len()]
            .iter()
            .map(|r| r.json()["time"].as_str().unwrap().to_string())
            .collect();
        assert!(
            tx.windows(2).all(|w| w[0] == w[1]),
            "one commit time per transaction"
        );
        offset += events.len();
    }
    let last_end = db.current_wal_lsn().await;
    wait_until(
        Duration::from_secs(60),
        "slot confirmed past the script",
        || async { db.confirmed_flush_lsn().await >= last_end },
    )
    .await;
    relay.terminate();
    wait_until(Duration::from_secs(30), "graceful exit", || {
        let exited = relay.exited();
        async move { exited.is_some() }
    })
    .await;
    let text = relay.log_text();
    assert!(text.contains("portal-v2: read consumer types"), "{text}");
    assert!(
        !text.contains("an announcement left out"),
        "every fact was known: {text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_knows_what_the_portal_v2_profile_needs() {
    let db = portal_db().await;
    // `check` also probes every sink: a receiver that answers, so only the database decides.
    let receiver = Receiver::start(Arc::new(|_, _: &Recorded| Reply::ok())).await;
    let cfg = relay_config(&db, &receiver.url("/unused"));
    let (code, out, _) = run_to_end(&["check", "--config", cfg.to_str().unwrap()]);
    assert_ne!(code, 0, "{out}");
    for check in [
        "portal_v2_publication",
        "portal_v2_replica_identity",
        "portal_v2_privileges",
    ] {
        assert!(out.contains(&format!("FAIL {check}")), "{check}: {out}");
    }
    assert!(out.contains("ok   portal_v2_tables"), "{out}");
    assert!(out.contains("sql/05_portal_v2.sql"), "{out}");
    assert!(
        !out.lines()
            .any(|l| l.starts_with("ok   table:") || l.starts_with("FAIL table:")),
        "no audit table is checked for portal-v2: {out}"
    );

    db.admin.batch_execute(SQL_PORTAL_V2).await.unwrap();
    db.admin
        .batch_execute(SQL_PORTAL_V2)
        .await
        .expect("idempotent");
    db.admin.batch_execute(SQL_SLOT).await.unwrap();
    let (code, out, err) = run_to_end(&["check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    for check in [
        "portal_v2_tables",
        "portal_v2_publication",
        "portal_v2_replica_identity",
        "portal_v2_privileges",
    ] {
        assert!(out.contains(&format!("ok   {check}")), "{check}: {out}");
    }
    assert!(out.contains("ok   sink: sink `portal-v2`"), "{out}");
    assert!(receiver.requests().is_empty(), "a probe sends no event");
}

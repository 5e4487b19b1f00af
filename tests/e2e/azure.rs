//! Issue 10: Azure Storage Queue delivery against Azurite, end to end through the
//! `outbox-relay` binary, read back by Microsoft's Python SDK
//! (tests/cloud/read_azure_queue.py) and parsed with the CloudEvents SDK.

use outbox_relay_tests::azure::{read_queue, Azurite};
use outbox_relay_tests::*;
use relay_sinks::azure_queue::sas::{self, AccountKey, QueueSas, DEVSTORE_ACCOUNT, DEVSTORE_KEY};
use std::collections::HashSet;
use std::time::{Duration, SystemTime};

fn azure_sink(name: &str, queue: &str, auth: &str, extra: &str) -> String {
    format!("[[sinks]]\nname = \"{name}\"\ntype = \"azure-queue\"\nqueue = \"{queue}\"\n{auth}\n{extra}\n")
}

fn by_connection_string(server: &Azurite) -> String {
    format!("connection_string = \"{}\"", server.connection_string())
}

async fn wait_confirmed_all(db: &TestDb) {
    let end = db.current_wal_lsn().await;
    wait_until(
        Duration::from_secs(120),
        "slot confirmed everything",
        || async { db.confirmed_flush_lsn().await >= end },
    )
    .await;
}

fn ids(read: &serde_json::Value) -> HashSet<String> {
    read["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn five_thousand_events_read_back_by_the_python_sdk_as_cloudevents() {
    let azurite = Azurite::start();
    azurite.create_queue("portal-events");
    let db = TestDb::start(Setup::default()).await;
    db.create_witness_slot().await;
    let cfg = db.config(
        "relay",
        &azure_sink(
            "azure",
            "portal-events",
            &by_connection_string(&azurite),
            "",
        ),
    );
    let relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    for t in 0..50 {
        db.insert_events(100, 200, t * 100).await;
    }
    wait_until(
        Duration::from_secs(300),
        "5,000 messages in the queue",
        || {
            let n = azurite.messages("portal-events").unwrap_or(0);
            async move { n >= 5000 }
        },
    )
    .await;
    wait_confirmed_all(&db).await;
    let read = read_queue(&azurite, "portal-events", 5000, &[]);
    assert_eq!(read["count"], 5000, "{}", relay.log_text());
    assert_eq!(read["unique_ids"], 5000);
    let witness: HashSet<String> = db
        .witness_transactions("public.events")
        .await
        .into_iter()
        .flat_map(|t| t.ids)
        .collect();
    assert_eq!(ids(&read), witness, "exactly the committed events");
    assert!(read["events"][0]["type"]
        .as_str()
        .unwrap()
        .starts_with("portal.data_product."));
    assert!(relay.log_text().contains("Azure queue verified"));
}

/// A data product whose `about` makes its enriched event `about_bytes` larger.
async fn product_created(db: &TestDb, n: usize, about_bytes: usize) -> (String, String) {
    let product = format!("0a000000-0000-4000-8000-{n:012}");
    let audit = format!("1a000000-0000-4000-8000-{n:012}");
    db.admin
        .batch_execute(&format!(
            "INSERT INTO abstract_data_products(id, name, namespace) VALUES ('{product}', 'P{n}', 'p{n}');
             INSERT INTO data_products(id, about) VALUES ('{product}', repeat('a', {about_bytes}));
             INSERT INTO events(id, name, subject_type, subject_id, actor_id)
             VALUES ('{audit}', 'data_product_created', 'DATA_PRODUCT', '{product}', '{ACTOR}');"
        ))
        .await
        .unwrap();
    (audit, product)
}

#[tokio::test(flavor = "multi_thread")]
async fn events_over_64_kib_are_dead_lettered_or_trimmed_as_each_sink_says() {
    let azurite = Azurite::start();
    azurite.create_queue("strict");
    azurite.create_queue("trimmed");
    let db = TestDb::start(Setup::default()).await;
    let dlq = db.path("dead-letters.jsonl");
    let key_auth = format!(
        "account = \"{DEVSTORE_ACCOUNT}\"\naccess_key = \"{DEVSTORE_KEY}\"\nendpoint = \"{}\"",
        azurite.endpoint()
    );
    let cfg = db.config(
        "relay",
        &format!(
            "{}{}\n[dead_letter]\npath = \"{}\"\n",
            azure_sink("strict", "strict", &by_connection_string(&azurite), ""),
            azure_sink(
                "trimmed",
                "trimmed",
                &key_auth,
                "oversize = \"trim\"\ntrim = [\"data_product.about\", \"data_product.members\"]"
            ),
            dlq.display()
        ),
    );
    let relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    let (small, _) = product_created(&db, 1, 100).await;
    // Between 48 and 64 KiB of envelope: fits as text, not once base64-encoded.
    let (mid, _) = product_created(&db, 2, 52_000).await;
    // Over 64 KiB of envelope.
    let (big, _) = product_created(&db, 3, 70_000).await;
    let (last, _) = product_created(&db, 4, 10).await;
    wait_until(
        Duration::from_secs(120),
        "both queues filled, two dead letters",
        || {
            let strict = azurite.messages("strict").unwrap_or(0);
            let trimmed = azurite.messages("trimmed").unwrap_or(0);
            let dead = read_jsonl(&dlq).len();
            async move { strict >= 2 && trimmed >= 4 && dead >= 2 }
        },
    )
    .await;
    wait_confirmed_all(&db).await;

    // Sink "strict" (the default policy): the two big events are dead letters, whole.
    let dead = read_jsonl(&dlq);
    assert_eq!(dead.len(), 2, "{dead:?}");
    let mut dead_ids: Vec<&str> = dead.iter().map(|d| d["id"].as_str().unwrap()).collect();
    dead_ids.sort();
    assert_eq!(dead_ids, vec![mid.as_str(), big.as_str()]);
    for d in &dead {
        assert_eq!(d["stage"], "sink:strict");
        let reason = d["reason"].as_str().unwrap();
        assert!(
            reason.contains("over Azure Queue Storage's limit of 65536 bytes"),
            "{reason}"
        );
        assert!(
            d["event"]["data"]["data_product"]["about"]
                .as_str()
                .unwrap()
                .len()
                >= 52_000
        );
    }
    let mid_reason = dead.iter().find(|d| d["id"] == mid.as_str()).unwrap()["reason"]
        .as_str()
        .unwrap()
        .to_string();
    let envelope: usize = mid_reason
        .split('(')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!((49_152..65_536).contains(&envelope), "{mid_reason}");
    let read = read_queue(&azurite, "strict", 2, &[]);
    assert_eq!(ids(&read), HashSet::from([small.clone(), last.clone()]));

    // Sink "trimmed": every event, the big ones without `about`, and saying so.
    let read = read_queue(&azurite, "trimmed", 4, &["--with-data"]);
    assert_eq!(read["count"], 4);
    for e in read["events"].as_array().unwrap() {
        let id = e["id"].as_str().unwrap();
        assert!(e["bytes"].as_u64().unwrap() <= 65_536);
        let product = &e["data"]["data_product"];
        if id == mid || id == big {
            assert_eq!(
                e["data_enrichment"]["trimmed"],
                serde_json::json!(["data_product.about"])
            );
            assert!(product.get("about").is_none(), "{e}");
            assert_eq!(e["data_enrichment"]["status"], "complete");
        } else {
            assert!(e["data_enrichment"].get("trimmed").is_none(), "{e}");
            assert!(product["about"].is_string());
        }
    }
    let log = relay.log_text();
    assert!(
        log.contains("rejected permanently") && log.contains("data.enrichment.trimmed"),
        "{log}"
    );
}

fn error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "one error line:\n{stderr}");
    lines[0].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_key_missing_queue_or_no_endpoint_stop_at_start_then_a_sas_token_delivers_all() {
    let azurite = Azurite::start();
    let db = TestDb::start(Setup::default()).await;
    let start = db.confirmed_flush_lsn().await;
    for t in 0..3 {
        db.insert_events(10, 5, t * 10).await;
    }
    let run = |name: &str, sink: String| {
        let cfg = db.config(name, &sink);
        run_to_end(&["run", "--config", cfg.to_str().unwrap()])
    };
    azurite.create_queue("events");
    // 1. A wrong (well-formed) key: Azurite checks the signature.
    let wrong = sas_key_of(&[7u8; 64]);
    let auth = format!(
        "connection_string = \"{}\"",
        azurite.connection_string_with_key(&wrong)
    );
    let (code, _, stderr) = run("wrong", azure_sink("azure", "events", &auth, ""));
    assert_ne!(code, 0);
    let line = error_line(&stderr);
    assert!(
        line.contains("403") && line.contains("AuthenticationFailed") && line.contains("SAS"),
        "{line}"
    );
    assert!(
        !line.contains("sig="),
        "no signature in the message: {line}"
    );

    // 2. A missing queue.
    let (code, _, stderr) = run(
        "missing",
        azure_sink("azure", "later", &by_connection_string(&azurite), ""),
    );
    assert_ne!(code, 0);
    let line = error_line(&stderr);
    assert!(
        line.contains("QueueNotFound") && line.contains("later") && line.contains("queue create"),
        "{line}"
    );

    // 3. Nothing listening at the endpoint.
    let dead = format!(
        "account = \"{DEVSTORE_ACCOUNT}\"\naccess_key = \"{DEVSTORE_KEY}\"\nendpoint = \"http://127.0.0.1:{}/{DEVSTORE_ACCOUNT}\"",
        relay_tempdb::free_port().unwrap()
    );
    let (code, _, stderr) = run("dead", azure_sink("azure", "events", &dead, ""));
    assert_ne!(code, 0);
    let line = error_line(&stderr);
    assert!(line.contains("unreachable"), "{line}");

    assert_eq!(
        db.confirmed_flush_lsn().await,
        start,
        "the slot did not move"
    );

    // Fixed, with a SAS token (add + read) made by our SAS module: all 30 arrive.
    azurite.create_queue("later");
    let token = QueueSas {
        account: DEVSTORE_ACCOUNT,
        queue: "later",
        permissions: "ra",
        expiry: sas::sas_time(SystemTime::now() + Duration::from_secs(3600)),
        protocol: None,
    }
    .sign(&AccountKey::from_base64(DEVSTORE_KEY).unwrap());
    let auth = format!(
        "sas_token = \"?{token}\"\nendpoint = \"{}\"",
        azurite.endpoint()
    );
    let cfg = db.config(
        "fixed",
        &azure_sink("azure", "later", &auth, "encoding = \"none\""),
    );
    let relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    wait_until(Duration::from_secs(120), "30 messages", || {
        let n = azurite.messages("later").unwrap_or(0);
        async move { n >= 30 }
    })
    .await;
    wait_confirmed_all(&db).await;
    let read = read_queue(&azurite, "later", 30, &["--encoding", "none"]);
    assert_eq!(read["unique_ids"], 30);
    assert!(
        !relay.log_text().contains(&token),
        "the SAS never reaches the log"
    );
}

fn sas_key_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_deleted_while_running_holds_the_lsn_until_it_is_back() {
    let azurite = Azurite::start();
    azurite.create_queue("events");
    let db = TestDb::start(Setup::default()).await;
    db.create_witness_slot().await;
    let cfg = db.config(
        "relay",
        &azure_sink("azure", "events", &by_connection_string(&azurite), ""),
    );
    let relay = RelayProcess::run(&cfg, &db.path("relay.log"));
    db.insert_events(10, 5, 0).await;
    wait_confirmed_all(&db).await;
    azurite.delete_queue("events");
    db.insert_events(10, 5, 10).await;
    let held = db
        .witness_transactions("public.events")
        .await
        .last()
        .unwrap()
        .end_lsn;
    wait_until(
        Duration::from_secs(60),
        "the missing queue in the log",
        || {
            let log = relay.log_text();
            async move { log.contains("QueueNotFound") }
        },
    )
    .await;
    assert!(db.confirmed_flush_lsn().await < held, "the slot waits");
    let line = relay
        .log_text()
        .lines()
        .find(|l| l.contains("QueueNotFound"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("retrying") && line.contains("queue create"),
        "{line}"
    );
    azurite.create_queue("events");
    wait_until(Duration::from_secs(120), "the 10 held events", || {
        let n = azurite.messages("events").unwrap_or(0);
        async move { n >= 10 }
    })
    .await;
    wait_confirmed_all(&db).await;
    let read = read_queue(&azurite, "events", 10, &[]);
    assert_eq!(read["count"], 10, "nothing lost, nothing doubled");
}

//! Issue 10: Amazon SQS delivery against ministack, end to end through the
//! `outbox-relay` binary, read back by boto3 (tests/cloud/read_sqs.py).

use outbox_relay_tests::sqs::{aws_env, aws_env_with_key, read_queue, Ministack, SqsProxy};
use outbox_relay_tests::*;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

fn sqs_sink(name: &str, queue_url: &str, endpoint: &str, extra: &str) -> String {
    format!(
        "[[sinks]]\nname = \"{name}\"\ntype = \"sqs\"\nqueue_url = \"{queue_url}\"\nregion = \"us-east-1\"\nendpoint_url = \"{endpoint}\"\n{extra}\n"
    )
}

/// One transaction of audit rows with chosen (id, subject).
async fn audit_tx(db: &TestDb, rows: &[(String, String)]) {
    let values: Vec<String> = rows
        .iter()
        .map(|(id, subject)| {
            format!("('{id}', 'data_product_updated', 'DATA_PRODUCT', '{subject}', '{ACTOR}')")
        })
        .collect();
    db.admin
        .batch_execute(&format!(
            "INSERT INTO events(id, name, subject_type, subject_id, actor_id) VALUES {}",
            values.join(", ")
        ))
        .await
        .unwrap();
}

/// `end_lsn` of the last committed transaction that inserted audit rows.
async fn last_tx_end(db: &TestDb) -> u64 {
    db.witness_transactions("public.events")
        .await
        .last()
        .expect("a transaction")
        .end_lsn
}

fn uuid(prefix: &str, n: usize) -> String {
    format!("{prefix}-0000-4000-8000-{n:012}")
}

/// Position of every event id in commit order (from the witness slot).
async fn commit_positions(db: &TestDb) -> HashMap<String, usize> {
    db.witness_transactions("public.events")
        .await
        .into_iter()
        .flat_map(|t| t.ids)
        .enumerate()
        .map(|(i, id)| (id, i))
        .collect()
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

#[tokio::test(flavor = "multi_thread")]
async fn five_thousand_events_reach_a_standard_queue_each_once() {
    let sqs = Ministack::start();
    let queue = sqs.create_queue("portal-events");
    let db = TestDb::start(Setup::default()).await;
    db.create_witness_slot().await;
    let cfg = db.config("relay", &sqs_sink("sqs", &queue, &sqs.endpoint(), ""));
    let relay = RelayProcess::run_with_env(&cfg, &db.path("relay.log"), &aws_env());
    for t in 0..50 {
        db.insert_events(100, 200, t * 100).await;
    }
    wait_until(
        Duration::from_secs(300),
        "5,000 messages in the queue",
        || {
            let n = sqs.messages(&queue);
            async move { n >= 5000 }
        },
    )
    .await;
    wait_confirmed_all(&db).await;
    let read = read_queue(&sqs, &queue, 5000);
    assert_eq!(read["count"], 5000, "{}", relay.log_text());
    assert_eq!(read["unique_ids"], 5000);
    let witness: HashSet<String> = commit_positions(&db).await.into_keys().collect();
    let got: HashSet<String> = read["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, witness, "exactly the committed events");
    assert!(relay_alive(&relay), "{}", relay.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn fifo_keeps_each_subject_in_commit_order_and_sigkills_add_no_duplicates() {
    let seed: u64 = std::env::var("OUTBOX_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("sqs fifo test seed: {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let sqs = Ministack::start();
    let queue = sqs.create_queue("portal-events.fifo");
    let db = TestDb::start(Setup::default()).await;
    db.create_witness_slot().await;
    let cfg = db.config("relay", &sqs_sink("fifo", &queue, &sqs.endpoint(), ""));
    let log = db.path("relay.log");
    let producer_db = connect(&db.cluster.conninfo("portal")).await;
    let producer = tokio::spawn(async move {
        for t in 0..250i64 {
            producer_db
                .execute(
                    "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
                     SELECT gen_random_uuid(), 'data_product_updated', 'DATA_PRODUCT',
                            ('00000000-0000-4000-8000-' || lpad(((g + $2::bigint) % 37)::text, 12, '0'))::uuid,
                            $1::text::uuid
                     FROM generate_series(1::bigint, 20::bigint) g",
                    &[&ACTOR, &(t * 20)],
                )
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(40)).await;
        }
    });
    let mut relay = RelayProcess::run_with_env(&cfg, &log, &aws_env());
    // Events in the queue but not yet confirmed when the relay died: the restart sends
    // them again, and only SQS's deduplication keeps them single.
    let mut resent = 0;
    for _ in 0..2 {
        wait_until(Duration::from_secs(60), "some messages", || {
            let n = sqs.messages(&queue);
            async move { n > 0 }
        })
        .await;
        tokio::time::sleep(Duration::from_millis(rng.gen_range(500..2500))).await;
        relay.kill9();
        wait_until(Duration::from_secs(30), "slot released", || async {
            !db.slot_active().await
        })
        .await;
        let confirmed = db.confirmed_flush_lsn().await;
        let stored = sqs.messages(&queue) as usize;
        let confirmed_events: usize = db
            .witness_transactions("public.events")
            .await
            .iter()
            .filter(|t| t.end_lsn <= confirmed)
            .map(|t| t.ids.len())
            .sum();
        println!("killed with {stored} messages stored, {confirmed_events} events confirmed");
        resent += stored.saturating_sub(confirmed_events);
        relay = RelayProcess::run_with_env(&cfg, &log, &aws_env());
    }
    assert!(
        resent > 0,
        "no kill left stored-but-unconfirmed events (seed {seed}): deduplication untested"
    );
    producer.await.unwrap();
    wait_until(
        Duration::from_secs(300),
        "5,000 messages in the queue",
        || {
            let n = sqs.messages(&queue);
            async move { n >= 5000 }
        },
    )
    .await;
    wait_confirmed_all(&db).await;
    let read = read_queue(&sqs, &queue, 5000);
    assert_eq!(read["unique_ids"], 5000, "nothing lost");
    assert_eq!(
        read["count"], 5000,
        "the replays after SIGKILL were deduplicated by MessageDeduplicationId"
    );
    let position = commit_positions(&db).await;
    let mut per_subject: HashMap<String, Vec<usize>> = HashMap::new();
    for e in read["events"].as_array().unwrap() {
        assert_eq!(e["group"], e["subject"], "MessageGroupId = subject");
        per_subject
            .entry(e["subject"].as_str().unwrap().to_string())
            .or_default()
            .push(position[e["id"].as_str().unwrap()]);
    }
    assert_eq!(per_subject.len(), 37);
    for (subject, positions) in per_subject {
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "subject {subject} out of commit order: {positions:?}"
        );
    }
    assert!(relay_alive(&relay), "{}", relay.log_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_entries_are_retried_or_dead_lettered_on_their_own_and_hold_the_lsn() {
    let sqs = Ministack::start();
    let proxy = SqsProxy::start(sqs.port).await;
    let queue = sqs.create_queue("portal-events");
    let db = TestDb::start(Setup::default()).await;
    db.create_witness_slot().await;
    let dlq = db.path("dead-letters.jsonl");
    let cfg = db.config(
        "relay",
        &format!(
            "{}\n[dead_letter]\npath = \"{}\"\n",
            sqs_sink("sqs", &queue, &proxy.endpoint(), ""),
            dlq.display()
        ),
    );
    let retry_subject = uuid("0e000000", 1);
    let perm_subject = uuid("0e000000", 2);
    let retry_id = uuid("1e000000", 1);
    let perm_id = uuid("1e000000", 2);
    proxy.fail_retryable(&retry_subject);
    proxy.fail_permanent(&perm_subject);
    let relay = RelayProcess::run_with_env(&cfg, &db.path("relay.log"), &aws_env());
    // Four transactions of ten; the second holds the retried entry, the third the refused one.
    for t in 0..4usize {
        let rows: Vec<(String, String)> = (0..10usize)
            .map(|i| match (t, i) {
                (1, 5) => (retry_id.clone(), retry_subject.clone()),
                (2, 5) => (perm_id.clone(), perm_subject.clone()),
                _ => (uuid("2e000000", t * 10 + i), uuid("3e000000", t * 10 + i)),
            })
            .collect();
        audit_tx(&db, &rows).await;
    }
    let txns = db.witness_transactions("public.events").await;
    let held_tx = txns
        .iter()
        .find(|t| t.ids.contains(&retry_id))
        .unwrap()
        .end_lsn;
    wait_until(
        Duration::from_secs(120),
        "the other 38 events delivered, the refused one dead-lettered, the retried one failed thrice",
        || {
            let n = sqs.messages(&queue);
            let d = read_jsonl(&dlq).len();
            let injected = proxy.injected(&retry_subject);
            async move { n >= 38 && d >= 1 && injected >= 3 }
        },
    )
    .await;
    // While the entry keeps failing, the slot never passes its transaction.
    for _ in 0..10 {
        let confirmed = db.confirmed_flush_lsn().await;
        assert!(
            confirmed < held_tx,
            "confirmed {} passed {} (transaction of the unresolved entry)",
            relay_contracts::format_lsn(confirmed),
            relay_contracts::format_lsn(held_tx)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        sqs.messages(&queue),
        38,
        "only the failed entries are missing"
    );
    proxy.release(&retry_subject);
    wait_until(
        Duration::from_secs(120),
        "the retried entry delivered",
        || {
            let n = sqs.messages(&queue);
            async move { n >= 39 }
        },
    )
    .await;
    wait_confirmed_all(&db).await;
    let dead = read_jsonl(&dlq);
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["id"], perm_id.as_str());
    assert_eq!(dead[0]["stage"], "sink:sqs");
    assert!(
        dead[0]["reason"]
            .as_str()
            .unwrap()
            .contains("InvalidMessageContents"),
        "{}",
        dead[0]
    );
    let read = read_queue(&sqs, &queue, 39);
    assert_eq!(read["count"], 39);
    assert_eq!(read["unique_ids"], 39);
    let ids: HashSet<&str> = read["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(retry_id.as_str()) && !ids.contains(perm_id.as_str()));
    let log = relay.log_text();
    assert!(
        log.contains("InternalError") && log.contains("retrying"),
        "{log}"
    );
    assert!(log.contains("rejected permanently"), "{log}");
}

fn error_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "one error line:\n{stderr}");
    lines[0].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_a_missing_queue_or_no_endpoint_stop_at_start_and_lose_nothing() {
    let sqs = Ministack::start_with_auth();
    let db = TestDb::start(Setup::default()).await;
    let start = db.confirmed_flush_lsn().await;
    for t in 0..3 {
        db.insert_events(10, 5, t * 10).await;
    }
    let queue_url = sqs.queue_url("later");
    let cfg = db.config("relay", &sqs_sink("sqs", &queue_url, &sqs.endpoint(), ""));
    let run = |env: &[(String, String)], cfg: &std::path::Path| {
        run_to_end_with_env(&["run", "--config", cfg.to_str().unwrap()], env)
    };

    // 1. Wrong credentials: the emulator (AUTH=true) refuses the key.
    let (code, _, stderr) = run(&aws_env_with_key("AKIAWRONGWRONGWRONG0"), &cfg);
    assert_ne!(code, 0);
    let line = error_line(&stderr);
    assert!(
        line.contains("InvalidClientTokenId") && line.contains("credentials"),
        "{line}"
    );

    // 2. A missing queue: named, with the fix.
    let (code, _, stderr) = run(&aws_env(), &cfg);
    assert_ne!(code, 0);
    let line = error_line(&stderr);
    assert!(
        line.contains("later")
            && line.contains("NonExistentQueue")
            && line.contains("create-queue"),
        "{line}"
    );

    // 3. Nothing listening at the endpoint.
    let dead = format!("http://127.0.0.1:{}", relay_tempdb::free_port().unwrap());
    let unreachable = db.config("unreachable", &sqs_sink("sqs", &queue_url, &dead, ""));
    let (code, _, stderr) = run(&aws_env(), &unreachable);
    assert_ne!(code, 0);
    let line = error_line(&stderr);
    assert!(
        line.contains("unreachable") && line.contains("endpoint"),
        "{line}"
    );

    assert_eq!(
        db.confirmed_flush_lsn().await,
        start,
        "the slot did not move"
    );

    // Fixed: all 30 events arrive.
    sqs.create_queue("later");
    let relay = RelayProcess::run_with_env(&cfg, &db.path("relay.log"), &aws_env());
    wait_until(Duration::from_secs(120), "30 messages", || {
        let n = sqs.messages(&queue_url);
        async move { n >= 30 }
    })
    .await;
    wait_confirmed_all(&db).await;
    assert_eq!(sqs.messages(&queue_url), 30);
    assert!(relay_alive(&relay));
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_refused_or_the_queue_deleted_while_running_hold_the_lsn_until_fixed() {
    let sqs = Ministack::start();
    let proxy = SqsProxy::start(sqs.port).await;
    let queue = sqs.create_queue("portal-events");
    let db = TestDb::start(Setup::default()).await;
    db.create_witness_slot().await;
    let cfg = db.config("relay", &sqs_sink("sqs", &queue, &proxy.endpoint(), ""));
    let relay = RelayProcess::run_with_env(&cfg, &db.path("relay.log"), &aws_env());
    db.insert_events(10, 5, 0).await;
    wait_confirmed_all(&db).await;

    // Credentials refused (403 InvalidClientTokenId) while running.
    proxy.reject_all("InvalidClientTokenId");
    db.insert_events(10, 5, 10).await;
    let held = last_tx_end(&db).await;
    wait_until(Duration::from_secs(60), "the refusal in the log", || {
        let log = relay.log_text();
        async move { log.contains("InvalidClientTokenId") }
    })
    .await;
    assert!(db.confirmed_flush_lsn().await < held, "the slot waits");
    let line = relay
        .log_text()
        .lines()
        .find(|l| l.contains("InvalidClientTokenId"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("retrying") && line.contains("credentials"),
        "{line}"
    );
    proxy.accept_all();
    wait_until(Duration::from_secs(120), "20 messages", || {
        let n = sqs.messages(&queue);
        async move { n >= 20 }
    })
    .await;
    wait_confirmed_all(&db).await;

    // The queue deleted while running, then created again.
    let r = sqs.call("DeleteQueue", serde_json::json!({"QueueUrl": queue}));
    assert_eq!(r.status, 200, "{}", r.text());
    db.insert_events(10, 5, 20).await;
    let held = last_tx_end(&db).await;
    wait_until(
        Duration::from_secs(60),
        "the missing queue in the log",
        || {
            let log = relay.log_text();
            async move { log.contains("NonExistentQueue") }
        },
    )
    .await;
    assert!(db.confirmed_flush_lsn().await < held, "the slot waits");
    sqs.create_queue("portal-events");
    wait_until(
        Duration::from_secs(120),
        "10 messages in the new queue",
        || {
            let n = sqs.messages(&queue);
            async move { n >= 10 }
        },
    )
    .await;
    wait_confirmed_all(&db).await;
    assert_eq!(sqs.messages(&queue), 10, "nothing lost, nothing doubled");
    assert!(relay_alive(&relay));
}

/// A data product whose `about` makes its enriched event `about_bytes` larger.
async fn product_created(db: &TestDb, n: usize, about_bytes: usize) -> String {
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
    audit
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_with_a_small_maximum_message_size_caps_the_limit_trim_or_dead_letter() {
    let sqs = Ministack::start();
    let mut urls = Vec::new();
    for name in ["strict", "trimmed"] {
        let r = sqs.call(
            "CreateQueue",
            serde_json::json!({"QueueName": name, "Attributes": {"MaximumMessageSize": "4096"}}),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        urls.push(sqs.queue_url(name));
    }
    let db = TestDb::start(Setup::default()).await;
    let dlq = db.path("dead-letters.jsonl");
    let cfg = db.config(
        "relay",
        &format!(
            "{}{}\n[dead_letter]\npath = \"{}\"\n",
            sqs_sink("strict", &urls[0], &sqs.endpoint(), ""),
            sqs_sink(
                "trimmed",
                &urls[1],
                &sqs.endpoint(),
                "oversize = \"trim\"\ntrim = [\"data_product.about\"]"
            ),
            dlq.display()
        ),
    );
    let relay = RelayProcess::run_with_env(&cfg, &db.path("relay.log"), &aws_env());
    let small = product_created(&db, 1, 10).await;
    let big = product_created(&db, 2, 8000).await;
    wait_until(
        Duration::from_secs(120),
        "1 + 2 messages, 1 dead letter",
        || {
            let (a, b) = (sqs.messages(&urls[0]), sqs.messages(&urls[1]));
            let d = read_jsonl(&dlq).len();
            async move { a >= 1 && b >= 2 && d >= 1 }
        },
    )
    .await;
    wait_confirmed_all(&db).await;
    let dead = read_jsonl(&dlq);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["id"], big.as_str());
    let reason = dead[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("over this queue's limit of 4096 bytes"),
        "{reason}"
    );
    let strict = read_queue(&sqs, &urls[0], 1);
    assert_eq!(strict["events"][0]["id"], small.as_str());
    let trimmed = read_queue(&sqs, &urls[1], 2);
    for e in trimmed["events"].as_array().unwrap() {
        let marker = &e["data_enrichment"]["trimmed"];
        if e["id"] == big.as_str() {
            assert_eq!(marker, &serde_json::json!(["data_product.about"]), "{e}");
        } else {
            assert!(marker.is_null(), "{e}");
        }
    }
    assert!(relay.log_text().contains("data.enrichment.trimmed"));
}

fn relay_alive(relay: &RelayProcess) -> bool {
    std::path::Path::new(&format!("/proc/{}", relay.pid())).exists()
}

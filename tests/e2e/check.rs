//! Issue 2, proof 5: `outbox-relay check` gives one clear line per problem, with the
//! SQL that fixes it, and a non-zero exit.

use outbox_relay_tests::*;

fn check(db: &TestDb) -> (i32, String) {
    let cfg = db.config("check", "[[sinks]]\nname = \"n\"\ntype = \"null\"\n");
    let (code, stdout, stderr) = run_to_end(&["check", "--config", cfg.to_str().unwrap()]);
    (code, format!("{stdout}{stderr}"))
}

fn fail_lines(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("FAIL")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn check_passes_on_a_prepared_database() {
    let db = TestDb::start(Setup::default()).await;
    let (code, out) = check(&db);
    assert_eq!(code, 0, "{out}");
    assert!(fail_lines(&out).is_empty(), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("ok") && l.contains("wal_level")),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_wal_level_replica() {
    let db = TestDb::start(Setup {
        options: relay_tempdb::ClusterOptions::default().set("wal_level", "replica"),
        create_slot: false,
        ..Setup::default()
    })
    .await;
    let (code, out) = check(&db);
    assert_ne!(code, 0, "{out}");
    let fails = fail_lines(&out);
    assert!(
        fails
            .iter()
            .any(|l| l.contains("wal_level") && l.contains("ALTER SYSTEM SET wal_level = logical")),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_missing_slot_publication_and_replication_privilege() {
    let db = TestDb::start(Setup {
        create_slot: false,
        create_publication: false,
        ..Setup::default()
    })
    .await;
    db.admin
        .batch_execute("ALTER ROLE outbox_relay NOREPLICATION")
        .await
        .unwrap();
    let (code, out) = check(&db);
    assert_ne!(code, 0, "{out}");
    // One FAIL line per problem, each naming its check and carrying its fix.
    assert_eq!(
        failed_checks(&out),
        [
            "replication_role",
            "slot",
            "publication",
            "replica_identity",
            "lookup_privileges"
        ],
        "{out}"
    );
    assert_eq!(
        fix_of(&out, "replication_role"),
        r#"ALTER ROLE "outbox_relay" WITH REPLICATION;"#
    );
    assert_eq!(
        fix_of(&out, "slot"),
        "SELECT pg_create_logical_replication_slot('outbox_relay', 'pgoutput');"
    );
    assert_eq!(
        fix_of(&out, "publication"),
        r#"CREATE PUBLICATION "outbox_relay" FOR TABLE "public"."events" WITH (publish = 'insert');"#
    );

    // Fix each with the SQL printed, one at a time: each fix removes exactly its line.
    db.admin
        .batch_execute(&fix_of(&out, "replication_role"))
        .await
        .unwrap();
    let (_, out) = check(&db);
    assert_eq!(
        failed_checks(&out),
        [
            "slot",
            "publication",
            "replica_identity",
            "lookup_privileges"
        ],
        "{out}"
    );
    db.admin.batch_execute(SQL_PUBLICATION).await.unwrap();
    db.admin.batch_execute(SQL_ENRICHMENT).await.unwrap();
    let (_, out) = check(&db);
    assert_eq!(failed_checks(&out), ["slot"], "{out}");
    db.admin.batch_execute(SQL_SLOT).await.unwrap();
    let (code, out) = check(&db);
    assert_eq!(code, 0, "{out}");
    assert!(failed_checks(&out).is_empty(), "{out}");
}

/// The check names of the FAIL lines, in order; each FAIL line must carry one fix.
fn failed_checks(out: &str) -> Vec<String> {
    fail_lines(out)
        .iter()
        .map(|l| {
            assert_eq!(l.matches(" — fix: ").count(), 1, "one fix per line: {l}");
            l.trim_start_matches("FAIL")
                .trim()
                .split(':')
                .next()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// The fix printed on the FAIL line of `check`.
fn fix_of(out: &str, check: &str) -> String {
    let prefix = format!("FAIL {check}:");
    let line = out
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no FAIL line for {check}: {out}"));
    line.split(" — fix: ").nth(1).unwrap().trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn run_without_a_slot_exits_with_the_fix() {
    let db = TestDb::start(Setup {
        create_slot: false,
        ..Setup::default()
    })
    .await;
    let cfg = db.config("run", "[[sinks]]\nname = \"n\"\ntype = \"null\"\n");
    let (code, _stdout, stderr) = run_to_end(&["run", "--config", cfg.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("does not exist") && stderr.contains("pg_create_logical_replication_slot"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_is_one_clear_error() {
    let db = TestDb::start(Setup::default()).await;
    let path = db.path("bad.toml");
    std::fs::write(
        &path,
        format!(
            "[source]\nurl = \"postgres://outbox_relay:Wr0ngPassw0rd-xyz@127.0.0.1:{}/portal\"\n\n[[sinks]]\nname = \"n\"\ntype = \"null\"\n",
            db.cluster.port()
        ),
    )
    .unwrap();
    let (code, _out, stderr) = run_to_end(&["run", "--config", path.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("authentication failed") || stderr.contains("password"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Wr0ngPassw0rd-xyz"),
        "the password must not be logged: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_what_enrichment_lacks() {
    let db = TestDb::start(Setup::default()).await;
    db.admin
        .batch_execute(
            "ALTER TABLE datasets REPLICA IDENTITY DEFAULT; REVOKE SELECT ON domains FROM outbox_relay;",
        )
        .await
        .unwrap();
    let (code, out) = check(&db);
    assert_ne!(code, 0, "{out}");
    let fails = fail_lines(&out);
    assert!(
        fails.iter().any(|l| l.contains("replica_identity")
            && l.contains("ALTER TABLE \"public\".\"datasets\" REPLICA IDENTITY FULL;")),
        "{out}"
    );
    assert!(
        fails.iter().any(|l| l.contains("lookup_privileges")
            && l.contains("GRANT SELECT ON \"public\".\"domains\" TO \"outbox_relay\";")),
        "{out}"
    );
    assert_eq!(fails.len(), 2, "{out}");
    db.admin.batch_execute(SQL_ENRICHMENT).await.unwrap();
    let (code, out) = check(&db);
    assert_eq!(code, 0, "sql/03_enrichment.sql fixes both:\n{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_probes_every_sink_without_sending() {
    use outbox_relay_tests::{azure::Azurite, sqs::Ministack};
    let sqs = Ministack::start();
    let queue = sqs.create_queue("checked");
    let azurite = Azurite::start();
    let db = TestDb::start(Setup::default()).await;
    let sinks = format!(
        "[[sinks]]\nname = \"n\"\ntype = \"null\"\n\n\
         [[sinks]]\nname = \"aws\"\ntype = \"sqs\"\nqueue_url = \"{queue}\"\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n\n\
         [[sinks]]\nname = \"azure\"\ntype = \"azure-queue\"\nqueue = \"not-there\"\nconnection_string = \"{}\"\n",
        sqs.endpoint(),
        azurite.connection_string()
    );
    let cfg = db.config("check", &sinks);
    let (code, stdout, stderr) = run_to_end_with_env(
        &["check", "--config", cfg.to_str().unwrap()],
        &outbox_relay_tests::sqs::aws_env(),
    );
    let out = format!("{stdout}{stderr}");
    assert_ne!(code, 0, "the Azure queue is missing: {out}");
    let sink_lines: Vec<&str> = out.lines().filter(|l| l.contains(" sink: ")).collect();
    assert_eq!(sink_lines.len(), 3, "one line per sink: {out}");
    assert!(
        sink_lines[0].starts_with("ok") && sink_lines[0].contains("sink `n`"),
        "{out}"
    );
    assert!(
        sink_lines[1].starts_with("ok")
            && sink_lines[1].contains("arn:aws:sqs")
            && sink_lines[1].contains("cannot be proven without sending"),
        "{out}"
    );
    assert!(
        sink_lines[2].starts_with("FAIL") && sink_lines[2].contains("QueueNotFound"),
        "{out}"
    );
    assert_eq!(sqs.messages(&queue), 0, "the probe sent nothing");
    assert!(fail_lines(&out).len() == 1, "{out}");
}

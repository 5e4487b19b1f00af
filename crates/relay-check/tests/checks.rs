//! Every check against a real, throwaway PostgreSQL 15 cluster (one per test).
//!
//! Each test sets the database up with the DBA scripts from `sql/` — sent
//! verbatim through `batch_execute`, as the demo does — breaks one thing,
//! asserts that exactly the expected checks FAIL, then runs the finding's own
//! fix SQL and asserts that everything passes: so the fixes are proven too.
//!
//! Needs the PostgreSQL 15 server binaries (Debian: `postgresql-15`; override
//! the directory with `PG_BIN`). Runs the server as `postgres` via `runuser`
//! when the tests run as root.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use relay_check::{checks, render, run, Finding, Target};
use tokio_postgres::{Client, NoTls};

const ROLE_SQL: &str = include_str!("../../../sql/01_role.sql");
const PUBLICATION_SQL: &str = include_str!("../../../sql/02_publication.sql");
const SLOT_SQL: &str = include_str!("../../../sql/04_slot.sql");

/// Minimal portal schema (see PORTAL.md): the audit table and its FKs.
const PORTAL_SCHEMA: &str = "
CREATE TABLE event_reference_entities (key varchar PRIMARY KEY);
INSERT INTO event_reference_entities VALUES ('DATA_PRODUCT'), ('DATASET'), ('DATA_OUTPUT'), ('USER');
CREATE TABLE users (id uuid PRIMARY KEY, email varchar NOT NULL);
CREATE TABLE events (
    id uuid PRIMARY KEY,
    name varchar NOT NULL,
    subject_type varchar NOT NULL REFERENCES event_reference_entities (key),
    subject_id uuid,
    target_type varchar REFERENCES event_reference_entities (key),
    target_id uuid,
    deleted_subject_identifier varchar,
    deleted_target_identifier varchar,
    actor_id uuid NOT NULL REFERENCES users (id),
    created_on timestamp without time zone,
    updated_on timestamp without time zone,
    deleted_at timestamp without time zone
);";

// ---------------------------------------------------------------------------
// A throwaway cluster: initdb + pg_ctl start in /tmp, stopped and removed on
// drop (also when the test panics).
// ---------------------------------------------------------------------------

struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    options: String,
    as_postgres: bool,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Cluster {
    /// Starts a cluster with `settings` (`-c` options) on a free port.
    fn start(settings: &[&str]) -> Cluster {
        let bin = PathBuf::from(
            std::env::var("PG_BIN").unwrap_or_else(|_| "/usr/lib/postgresql/15/bin".to_owned()),
        );
        assert!(
            bin.join("initdb").exists(),
            "PostgreSQL server binaries not found in {} (apt-get install postgresql-15, or set PG_BIN)",
            bin.display()
        );
        // /proc/self belongs to the effective uid of this process.
        let as_postgres = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        let dir = PathBuf::from(format!(
            "/tmp/relay-check-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut cluster = Cluster {
            dir,
            bin,
            port: 0,
            options: String::new(),
            as_postgres,
        };
        if as_postgres {
            run_ok(
                Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(&cluster.dir),
            );
        }
        let data = cluster.data();
        run_ok(
            cluster
                .pg("initdb")
                .args(["-A", "trust", "-U", "postgres", "-N", "-E", "UTF8", "-D"])
                .arg(&data),
        );
        let mut extra: Vec<String> = [
            "fsync=off",
            "full_page_writes=off",
            "max_replication_slots=10",
            "max_wal_senders=10",
        ]
        .iter()
        .chain(settings)
        .map(|s| format!("-c {s}"))
        .collect();
        extra.push(format!(
            "-k {} -c listen_addresses=127.0.0.1",
            cluster.dir.display()
        ));
        let extra = extra.join(" ");
        // A port picked by binding to :0 can be taken again before the
        // server binds it; try a few.
        for attempt in 0..5 {
            cluster.port = free_port();
            cluster.options = format!("-p {} {extra}", cluster.port);
            if cluster.pg_ctl(&["start"]) {
                return cluster;
            }
            eprintln!("cluster start attempt {attempt} failed:\n{}", cluster.log());
        }
        panic!("could not start PostgreSQL in {}", cluster.dir.display());
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    /// A server program, run as `postgres` when we are root.
    fn pg(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn pg_ctl(&self, action: &[&str]) -> bool {
        let status = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "60", "-o", &self.options])
            .args(action)
            .stdout(Stdio::null())
            .status()
            .expect("run pg_ctl");
        status.success()
    }

    fn restart(&self) {
        assert!(
            self.pg_ctl(&["-m", "fast", "restart"]),
            "restart failed:\n{}",
            self.log()
        );
    }

    async fn connect(&self, user: &str, dbname: &str) -> Client {
        let (client, connection) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(user)
            .dbname(dbname)
            .connect(NoTls)
            .await
            .unwrap_or_else(|e| panic!("connect as {user} to {dbname}: {e}"));
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Creates database `portal` with the portal's audit table, then runs the
    /// given DBA scripts (each verbatim, as one batch) as `postgres`.
    /// Returns a superuser connection to `portal`.
    async fn portal(&self, scripts: &[&str]) -> Client {
        let admin = self.connect("postgres", "postgres").await;
        admin.batch_execute("CREATE DATABASE portal").await.unwrap();
        let portal = self.connect("postgres", "portal").await;
        portal.batch_execute(PORTAL_SCHEMA).await.unwrap();
        for script in scripts {
            portal.batch_execute(script).await.unwrap();
        }
        portal
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .pg("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run_ok(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Kills a background process on drop.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---------------------------------------------------------------------------
// Helpers over findings
// ---------------------------------------------------------------------------

async fn check(client: &Client, target: &Target) -> Vec<Finding> {
    let findings = run(client, target).await.expect("checks ran");
    // What the CLI prints; visible with --nocapture.
    print!("{}", render(&findings));
    findings
}

fn failed(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().filter(|f| !f.ok).map(|f| f.check).collect()
}

fn names(findings: &[Finding]) -> Vec<&'static str> {
    findings.iter().map(|f| f.check).collect()
}

fn get<'a>(findings: &'a [Finding], check: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.check == check)
        .unwrap_or_else(|| panic!("no {check} finding in {findings:?}"))
}

/// The fix of the (first) failed finding of `check`.
fn fix<'a>(findings: &'a [Finding], check: &str) -> &'a str {
    let f = findings
        .iter()
        .find(|f| f.check == check && !f.ok)
        .unwrap_or_else(|| panic!("{check} should have failed: {findings:?}"));
    f.fix.as_deref().expect("a failed finding carries a fix")
}

const ALL_CHECKS: &[&str] = &[
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

fn assert_all_ok(findings: &[Finding]) {
    assert_eq!(failed(findings), Vec::<&str>::new(), "{}", render(findings));
    assert_eq!(names(findings), ALL_CHECKS);
}

async fn wait_until(client: &Client, sql: &str, what: &str) {
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

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn all_ok_after_the_dba_scripts_run_twice() {
    let pg = Cluster::start(&["wal_level=logical"]);
    let admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL, SLOT_SQL]).await;
    // Idempotent: a second run changes nothing and fails nowhere.
    for script in [ROLE_SQL, PUBLICATION_SQL, SLOT_SQL] {
        admin.batch_execute(script).await.unwrap();
    }
    let relay = pg.connect("outbox_relay", "portal").await;
    let findings = check(&relay, &Target::default()).await;
    assert_all_ok(&findings);
    assert_eq!(get(&findings, checks::WAL_LEVEL).message, "logical");
    let text = render(&findings);
    assert_eq!(text.lines().count(), ALL_CHECKS.len());
    assert!(text.lines().all(|l| l.starts_with("ok   ")), "{text}");
    assert!(text.contains("ok   wal_level: logical\n"), "{text}");

    // The publication is insert-only: the portal's UPDATEs of old audit rows
    // (filling deleted_*_identifier) are not streamed.
    admin
        .batch_execute(
            "INSERT INTO users VALUES ('00000000-0000-0000-0000-000000000001', 'a@example.com');
             INSERT INTO events (id, name, subject_type, actor_id)
                  VALUES (gen_random_uuid(), 'data_product_created', 'DATA_PRODUCT',
                          '00000000-0000-0000-0000-000000000001');
             UPDATE events SET deleted_subject_identifier = 'gone';",
        )
        .await
        .unwrap();
    let rows = admin
        .query(
            "SELECT chr(get_byte(data, 0)) FROM pg_logical_slot_peek_binary_changes(
                 'outbox_relay', NULL, NULL, 'proto_version', '1', 'publication_names', 'outbox_relay')",
            &[],
        )
        .await
        .unwrap();
    let kinds: String = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    assert_eq!(
        kinds, "BRIC",
        "Begin, Relation, Insert, Commit and no Update"
    );

    // Our quoting means to the server exactly what was quoted, for every keyword and
    // some odd names: a literal reads back as itself, an identifier names a column so.
    let words = admin
        .query("SELECT word FROM pg_get_keywords()", &[])
        .await
        .unwrap();
    let mut samples: Vec<String> = words.iter().map(|r| r.get(0)).collect();
    samples.extend(
        [
            "events",
            "Events",
            "a b",
            "9a",
            "_a9",
            "x\"y",
            "it's",
            "back\\slash",
            "é",
        ]
        .map(String::from),
    );
    for s in &samples {
        let sql = format!(
            "SELECT {} AS {}",
            relay_check::quote_literal(s),
            relay_check::quote_ident(s)
        );
        let row = admin.query_one(sql.as_str(), &[]).await.unwrap();
        assert_eq!(row.get::<_, String>(0), *s, "literal {s:?}");
        assert_eq!(row.columns()[0].name(), s, "ident {s:?}");
    }
    assert_eq!(relay_check::quote_literal(""), "''");
}

#[tokio::test]
async fn wal_level_replica_fails_and_alter_system_fixes_it() {
    // No wal_level on the command line: PostgreSQL 15's default is replica,
    // and a -c option would override ALTER SYSTEM after the restart.
    let pg = Cluster::start(&[]);
    // The slot cannot be created with wal_level = replica.
    let admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL]).await;
    let err = admin.batch_execute(SLOT_SQL).await.unwrap_err();
    assert!(
        err.as_db_error()
            .is_some_and(|e| e.message().contains("wal_level")),
        "{err:?}"
    );

    let relay = pg.connect("outbox_relay", "portal").await;
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::WAL_LEVEL, checks::SLOT]);
    let wal = get(&findings, checks::WAL_LEVEL);
    assert!(wal.message.contains("\"replica\""), "{wal:?}");
    assert!(wal.message.contains("rds.logical_replication"), "{wal:?}");
    let wal_fix = fix(&findings, checks::WAL_LEVEL).to_owned();
    assert!(wal_fix.starts_with("ALTER SYSTEM SET wal_level = logical;"));
    let slot_fix = fix(&findings, checks::SLOT).to_owned();
    drop((admin, relay));

    // Apply the fixes: ALTER SYSTEM (as superuser) + restart, then the slot.
    pg.connect("postgres", "portal")
        .await
        .batch_execute(&wal_fix)
        .await
        .unwrap();
    pg.restart();
    let relay = pg.connect("outbox_relay", "portal").await;
    relay.batch_execute(&slot_fix).await.unwrap();
    assert_all_ok(&check(&relay, &Target::default()).await);
}

#[tokio::test]
async fn missing_slot_fails_alone_and_its_fix_creates_it() {
    let pg = Cluster::start(&["wal_level=logical"]);
    let _admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL]).await;
    let relay = pg.connect("outbox_relay", "portal").await;
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::SLOT]);
    // No findings that depend on the slot.
    for dependent in [
        checks::SLOT_PLUGIN,
        checks::SLOT_DATABASE,
        checks::SLOT_VALID,
        checks::SLOT_ACTIVE,
    ] {
        assert!(!names(&findings).contains(&dependent), "{findings:?}");
    }
    let text = render(&findings);
    assert!(
        text.contains(
            "FAIL slot: replication slot \"outbox_relay\" does not exist (create it in database \
             \"portal\", as the relay's role or a superuser; events are streamed from its creation \
             on) — fix: SELECT pg_create_logical_replication_slot('outbox_relay', 'pgoutput');\n"
        ),
        "{text}"
    );
    // The relay's role may create its own slot.
    relay
        .batch_execute(fix(&findings, checks::SLOT))
        .await
        .unwrap();
    assert_all_ok(&check(&relay, &Target::default()).await);
}

#[tokio::test]
async fn missing_publication_and_publication_without_table_or_inserts() {
    let pg = Cluster::start(&["wal_level=logical"]);
    let admin = pg.portal(&[ROLE_SQL]).await;
    admin.batch_execute(SLOT_SQL).await.unwrap();
    let relay = pg.connect("outbox_relay", "portal").await;
    let target = Target::default();

    // 1. Missing: one FAIL, and no coverage finding on top of it.
    let findings = check(&relay, &target).await;
    assert_eq!(failed(&findings), [checks::PUBLICATION]);
    assert!(!names(&findings).contains(&checks::PUBLICATION_TABLE));
    let create = fix(&findings, checks::PUBLICATION);
    assert_eq!(
        create,
        "CREATE PUBLICATION \"outbox_relay\" FOR TABLE \"public\".\"events\" WITH (publish = 'insert');"
    );
    admin.batch_execute(create).await.unwrap(); // as the table's owner
    assert_all_ok(&check(&relay, &target).await);

    // 2. Exists but does not include the table.
    admin
        .batch_execute("ALTER PUBLICATION outbox_relay DROP TABLE public.events")
        .await
        .unwrap();
    let findings = check(&relay, &target).await;
    assert_eq!(failed(&findings), [checks::PUBLICATION_TABLE]);
    let add = fix(&findings, checks::PUBLICATION_TABLE);
    assert_eq!(
        add,
        "ALTER PUBLICATION \"outbox_relay\" ADD TABLE \"public\".\"events\";"
    );
    admin.batch_execute(add).await.unwrap();
    assert_all_ok(&check(&relay, &target).await);

    // 3. Includes the table but does not publish inserts.
    admin
        .batch_execute("ALTER PUBLICATION outbox_relay SET (publish = 'update, delete')")
        .await
        .unwrap();
    let findings = check(&relay, &target).await;
    assert_eq!(failed(&findings), [checks::PUBLICATION_TABLE]);
    admin
        .batch_execute(fix(&findings, checks::PUBLICATION_TABLE))
        .await
        .unwrap();
    assert_all_ok(&check(&relay, &target).await);

    // 4. Several publications: one missing fails on its own; the table is
    //    still covered by the other.
    let two = Target {
        publications: vec!["outbox_relay".into(), "Extra Pub".into()],
        ..Target::default()
    };
    let findings = check(&relay, &two).await;
    assert_eq!(failed(&findings), [checks::PUBLICATION]);
    let create = fix(&findings, checks::PUBLICATION);
    assert!(create.starts_with("CREATE PUBLICATION \"Extra Pub\" FOR TABLE"));
    admin.batch_execute(create).await.unwrap();
    let findings = check(&relay, &two).await;
    assert_eq!(
        failed(&findings),
        Vec::<&str>::new(),
        "{}",
        render(&findings)
    );
}

#[tokio::test]
async fn role_without_replication_fails_and_both_fixes_work() {
    let pg = Cluster::start(&["wal_level=logical"]);
    let admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL, SLOT_SQL]).await;
    admin
        .batch_execute("ALTER ROLE outbox_relay NOREPLICATION")
        .await
        .unwrap();
    let relay = pg.connect("outbox_relay", "portal").await;
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::REPLICATION_ROLE]);
    let alter = fix(&findings, checks::REPLICATION_ROLE);
    assert_eq!(alter, "ALTER ROLE \"outbox_relay\" WITH REPLICATION;");
    admin.batch_execute(alter).await.unwrap();
    assert_all_ok(&check(&relay, &Target::default()).await);

    // Amazon RDS: the REPLICATION attribute is not grantable there, membership
    // in rds_replication is. Simulate the role's presence.
    admin
        .batch_execute(
            "ALTER ROLE outbox_relay NOREPLICATION; CREATE ROLE rds_replication NOLOGIN;",
        )
        .await
        .unwrap();
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::REPLICATION_ROLE]);
    let grant = fix(&findings, checks::REPLICATION_ROLE);
    assert_eq!(grant, "GRANT rds_replication TO \"outbox_relay\";");
    admin.batch_execute(grant).await.unwrap();
    let findings = check(&relay, &Target::default()).await;
    assert_all_ok(&findings);
    assert!(get(&findings, checks::REPLICATION_ROLE)
        .message
        .contains("member of rds_replication"));
}

#[tokio::test]
async fn active_slot_fails_naming_the_pid_and_terminating_it_frees_the_slot() {
    let pg = Cluster::start(&["wal_level=logical"]);
    let admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL, SLOT_SQL]).await;
    // Another consumer holds the slot (as the relay's role, like a second relay).
    let consumer = Background(
        Command::new(pg.bin.join("pg_recvlogical"))
            .args(["-h", "127.0.0.1", "-p", &pg.port.to_string()])
            .args([
                "-U",
                "outbox_relay",
                "-d",
                "portal",
                "--slot",
                "outbox_relay",
            ])
            .args(["--start", "--no-loop", "-f", "/dev/null"])
            .args([
                "-o",
                "proto_version=1",
                "-o",
                "publication_names=outbox_relay",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn pg_recvlogical"),
    );
    wait_until(
        &admin,
        "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = 'outbox_relay' AND active)",
        "pg_recvlogical to hold the slot",
    )
    .await;
    let pid: i32 = admin
        .query_one(
            "SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'outbox_relay'",
            &[],
        )
        .await
        .unwrap()
        .get(0);

    let relay = pg.connect("outbox_relay", "portal").await;
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::SLOT_ACTIVE]);
    let active = get(&findings, checks::SLOT_ACTIVE);
    assert!(
        active.message.contains(&format!("active_pid {pid}")),
        "{active:?}"
    );
    let terminate = fix(&findings, checks::SLOT_ACTIVE);
    assert!(
        terminate.starts_with(&format!("SELECT pg_terminate_backend({pid});")),
        "{terminate}"
    );

    // The relay's role may terminate a walsender of its own role.
    relay.batch_execute(terminate).await.unwrap();
    wait_until(
        &admin,
        "SELECT NOT active FROM pg_replication_slots WHERE slot_name = 'outbox_relay'",
        "the slot to be released",
    )
    .await;
    drop(consumer);
    assert_all_ok(&check(&relay, &Target::default()).await);
}

#[tokio::test]
async fn invalidated_slot_fails_and_recreating_it_fixes_it() {
    // A tiny max_slot_wal_keep_size: a few WAL switches and a checkpoint
    // invalidate an unread slot (wal_status = 'lost' on PostgreSQL 15).
    let pg = Cluster::start(&["wal_level=logical", "max_slot_wal_keep_size=1MB"]);
    let admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL, SLOT_SQL]).await;
    for _ in 0..3 {
        admin
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS filler (x int); INSERT INTO filler VALUES (1); \
                 SELECT pg_switch_wal();",
            )
            .await
            .unwrap();
    }
    admin.batch_execute("CHECKPOINT").await.unwrap();
    wait_until(
        &admin,
        "SELECT wal_status = 'lost' FROM pg_replication_slots WHERE slot_name = 'outbox_relay'",
        "the slot to be invalidated",
    )
    .await;

    let relay = pg.connect("outbox_relay", "portal").await;
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::SLOT_VALID]);
    let invalid = get(&findings, checks::SLOT_VALID);
    assert!(invalid.message.contains("wal_removed"), "{invalid:?}");
    assert!(
        invalid
            .message
            .contains("replayed from \"public\".\"events\""),
        "{invalid:?}"
    );
    let recreate = fix(&findings, checks::SLOT_VALID);
    assert_eq!(
        recreate,
        "SELECT pg_drop_replication_slot('outbox_relay'); \
         SELECT pg_create_logical_replication_slot('outbox_relay', 'pgoutput');"
    );
    // Two statements, so not one batch (the drop writes): run them one by one.
    for statement in recreate.split_inclusive(';') {
        relay.batch_execute(statement).await.unwrap();
    }
    assert_all_ok(&check(&relay, &Target::default()).await);
}

#[tokio::test]
async fn slot_with_wrong_plugin_or_in_another_database_fails() {
    let pg = Cluster::start(&["wal_level=logical"]);
    let admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL]).await;
    let relay = pg.connect("outbox_relay", "portal").await;

    // test_decoding instead of pgoutput
    admin
        .batch_execute("SELECT pg_create_logical_replication_slot('outbox_relay', 'test_decoding')")
        .await
        .unwrap();
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::SLOT_PLUGIN]);
    assert!(get(&findings, checks::SLOT_PLUGIN)
        .message
        .contains("uses plugin test_decoding"));
    assert!(fix(&findings, checks::SLOT_PLUGIN)
        .starts_with("SELECT pg_drop_replication_slot('outbox_relay');"));

    // a physical slot of the same name
    admin
        .batch_execute(
            "SELECT pg_drop_replication_slot('outbox_relay'); \
             SELECT pg_create_physical_replication_slot('outbox_relay');",
        )
        .await
        .unwrap();
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::SLOT_PLUGIN]);
    assert!(get(&findings, checks::SLOT_PLUGIN)
        .message
        .contains("physical slot"));
    assert!(!names(&findings).contains(&checks::SLOT_DATABASE));

    // a pgoutput slot created in another database
    admin
        .batch_execute("SELECT pg_drop_replication_slot('outbox_relay')")
        .await
        .unwrap();
    admin.batch_execute("CREATE DATABASE other").await.unwrap();
    pg.connect("postgres", "other")
        .await
        .batch_execute(SLOT_SQL)
        .await
        .unwrap();
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::SLOT_DATABASE]);
    let wrong_db = get(&findings, checks::SLOT_DATABASE);
    assert!(
        wrong_db.message.contains("belongs to database \"other\""),
        "{wrong_db:?}"
    );
}

#[tokio::test]
async fn missing_table_or_select_privilege_fails() {
    let pg = Cluster::start(&["wal_level=logical"]);
    let admin = pg.portal(&[ROLE_SQL, PUBLICATION_SQL, SLOT_SQL]).await;
    let relay = pg.connect("outbox_relay", "portal").await;

    admin
        .batch_execute("REVOKE SELECT ON public.events FROM outbox_relay")
        .await
        .unwrap();
    let findings = check(&relay, &Target::default()).await;
    assert_eq!(failed(&findings), [checks::TABLE_PRIVILEGE]);
    let grant = fix(&findings, checks::TABLE_PRIVILEGE);
    assert_eq!(
        grant,
        "GRANT SELECT ON TABLE \"public\".\"events\" TO \"outbox_relay\";"
    );
    admin.batch_execute(grant).await.unwrap();
    assert_all_ok(&check(&relay, &Target::default()).await);

    // A table that is not there: one FAIL; neither its privilege nor its
    // publication coverage is reported on top.
    let elsewhere = Target {
        table: Some(("public".into(), "Outbox".into())),
        ..Target::default()
    };
    let findings = check(&relay, &elsewhere).await;
    assert_eq!(failed(&findings), [checks::TABLE]);
    assert!(get(&findings, checks::TABLE)
        .message
        .contains("\"public\".\"Outbox\" does not exist"));
    assert!(!names(&findings).contains(&checks::TABLE_PRIVILEGE));
    assert!(!names(&findings).contains(&checks::PUBLICATION_TABLE));

    // No table configured: table checks are skipped entirely.
    let no_table = Target {
        table: None,
        ..Target::default()
    };
    let findings = check(&relay, &no_table).await;
    assert_eq!(failed(&findings), Vec::<&str>::new());
    assert_eq!(names(&findings), &ALL_CHECKS[..8]);
    assert_eq!(ALL_CHECKS[7], checks::PUBLICATION);
}

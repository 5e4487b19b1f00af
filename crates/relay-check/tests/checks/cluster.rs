//! A throwaway PostgreSQL cluster with the portal's audit table, and the DBA scripts
//! from `sql/` the tests run on it.

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::{Client, NoTls};

pub const ROLE_SQL: &str = include_str!("../../../../sql/01_role.sql");
pub const PUBLICATION_SQL: &str = include_str!("../../../../sql/02_publication.sql");
pub const SLOT_SQL: &str = include_str!("../../../../sql/04_slot.sql");

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

pub struct Cluster {
    dir: PathBuf,
    pub bin: PathBuf,
    pub port: u16,
    options: String,
    as_postgres: bool,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Cluster {
    /// Starts a cluster with `settings` (`-c` options) on a free port.
    pub fn start(settings: &[&str]) -> Cluster {
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

    pub fn restart(&self) {
        assert!(
            self.pg_ctl(&["-m", "fast", "restart"]),
            "restart failed:\n{}",
            self.log()
        );
    }

    pub async fn connect(&self, user: &str, dbname: &str) -> Client {
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
    pub async fn portal(&self, scripts: &[&str]) -> Client {
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
pub struct Background(pub Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

//! Test harness for the end-to-end tests: a real PostgreSQL cluster per test (so tests
//! run in parallel and never see each other's data), the DBA scripts from `sql/`, the
//! real `outbox-relay` binary as a child process, and readers for what it delivered.
//!
//! Waiting is done by polling real state with a deadline (`wait_until`), never by sleeping
//! for a fixed time and hoping.

pub mod azure;
pub mod bench;
pub mod compare;
pub mod events_diff;
pub mod http;
pub mod nats;
mod process;
pub mod proxy;
pub mod real_portal;
pub mod sqs;
pub mod webhook;

pub use process::{relay_binary, run_to_end, run_to_end_with_env, RelayProcess};

use relay_tempdb::{Cluster, ClusterOptions, PgBinaries};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio_postgres::Client;

pub use outbox_relay::demo::{
    PORTAL_PUBLICATIONS, PORTAL_SCHEMA, SQL_ENRICHMENT, SQL_PUBLICATION, SQL_ROLE, SQL_SLOT,
};

/// The actor every test audit row names.
pub const ACTOR: &str = "aaaaaaaa-0000-4000-8000-000000000001";
pub const RELAY_PASSWORD: &str = "relay-test-password";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// PostgreSQL 15 binaries: `$OUTBOX_PG15_BIN`, else whatever `relay_tempdb` finds.
pub fn pg15() -> PgBinaries {
    match std::env::var_os("OUTBOX_PG15_BIN") {
        Some(dir) => {
            PgBinaries::in_dir(PathBuf::from(dir)).expect("OUTBOX_PG15_BIN has no initdb/pg_ctl")
        }
        None => PgBinaries::find().expect("PostgreSQL binaries (run scripts/install-deps.sh)"),
    }
}

/// PostgreSQL 17 binaries from `$OUTBOX_PG17_BIN` (set by scripts/test.sh).
pub fn pg17() -> PgBinaries {
    let dir = std::env::var_os("OUTBOX_PG17_BIN")
        .expect("OUTBOX_PG17_BIN is not set: run the suite through scripts/test.sh, which installs PostgreSQL 17");
    PgBinaries::in_dir(PathBuf::from(dir)).expect("OUTBOX_PG17_BIN has no initdb/pg_ctl")
}

/// What a test database looks like.
pub struct Setup {
    pub bin: PgBinaries,
    pub options: ClusterOptions,
    /// SQL creating the tables (default: the portal-like schema).
    pub schema: String,
    /// SQL run right after the schema and the test actor (reference rows).
    pub reference_data: String,
    /// The captured table, substituted for `public.events` in the DBA scripts.
    pub table: String,
    /// Run sql/04_slot.sql.
    pub create_slot: bool,
    /// Run sql/02_publication.sql.
    pub create_publication: bool,
    /// `CREATE DATABASE` options, e.g. an encoding.
    pub database_options: String,
    /// Run sql/03_enrichment.sql (REPLICA IDENTITY FULL, the deletes/expiry
    /// publications, lookup grants); the default with the portal schema.
    pub enrichment: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            bin: pg15(),
            options: ClusterOptions::default(),
            schema: PORTAL_SCHEMA.to_string(),
            reference_data: String::new(),
            table: "public.events".into(),
            create_slot: true,
            create_publication: true,
            database_options: String::new(),
            enrichment: true,
        }
    }
}

/// A cluster with a `portal` database prepared the way a DBA would.
pub struct TestDb {
    /// Whether the enrichment publications exist (configs then list them).
    pub enrichment: bool,
    pub cluster: Cluster,
    pub dir: PathBuf,
    pub admin: Client,
}

pub async fn connect(conninfo: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {conninfo}: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

impl TestDb {
    pub async fn start(setup: Setup) -> TestDb {
        let bin = setup.bin.clone();
        let options = setup.options.clone();
        let cluster = tokio::task::spawn_blocking(move || Cluster::start(&bin, options))
            .await
            .unwrap()
            .expect("start PostgreSQL");
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("outbox-e2e-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let postgres = connect(&cluster.conninfo("postgres")).await;
        postgres
            .batch_execute(&format!(
                "CREATE DATABASE portal {}",
                setup.database_options
            ))
            .await
            .unwrap();
        let admin = connect(&cluster.conninfo("portal")).await;
        admin.batch_execute(&setup.schema).await.expect("schema");
        admin
            .execute(
                "INSERT INTO users(id, email) VALUES ($1::text::uuid, 'actor@example.com') ON CONFLICT DO NOTHING",
                &[&ACTOR],
            )
            .await
            .ok();
        if !setup.reference_data.is_empty() {
            admin
                .batch_execute(&setup.reference_data)
                .await
                .expect("reference data");
        }
        let table = |sql: &str| {
            sql.replace("public.events", &setup.table).replace(
                "schemaname = 'public'\n                  AND tablename = 'events'",
                &{
                    let (s, t) = setup.table.split_once('.').unwrap();
                    format!("schemaname = '{s}'\n                  AND tablename = '{t}'")
                },
            )
        };
        admin
            .batch_execute(&table(SQL_ROLE))
            .await
            .expect("sql/01_role.sql");
        admin
            .batch_execute(&format!(
                "ALTER ROLE outbox_relay PASSWORD '{RELAY_PASSWORD}'"
            ))
            .await
            .unwrap();
        if setup.create_publication {
            admin
                .batch_execute(&table(SQL_PUBLICATION))
                .await
                .expect("sql/02_publication.sql");
        }
        let portal_schema =
            setup.schema == PORTAL_SCHEMA || setup.schema == real_portal::REAL_PORTAL_SCHEMA;
        let enrichment = setup.enrichment && portal_schema && setup.create_publication;
        if enrichment {
            admin
                .batch_execute(SQL_ENRICHMENT)
                .await
                .expect("sql/03_enrichment.sql");
        }
        if setup.create_slot {
            admin
                .batch_execute(SQL_SLOT)
                .await
                .expect("sql/04_slot.sql");
        }
        TestDb {
            enrichment,
            cluster,
            dir,
            admin,
        }
    }

    pub fn relay_url(&self) -> String {
        format!(
            "postgres://outbox_relay:{RELAY_PASSWORD}@127.0.0.1:{}/portal",
            self.cluster.port()
        )
    }

    /// Write a config file: `[source]` for this database, then `rest` verbatim.
    pub fn config(&self, name: &str, rest: &str) -> PathBuf {
        let path = self.dir.join(format!("{name}.toml"));
        let publications = if self.enrichment {
            PORTAL_PUBLICATIONS.to_string()
        } else {
            "\"outbox_relay\"".to_string()
        };
        let text = format!(
            "[source]\nurl = \"{}\"\nslot = \"outbox_relay\"\npublication = {publications}\nstatus_interval = \"200ms\"\n\n{rest}",
            self.relay_url()
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Create a second slot with `test_decoding` that records the WAL order of every
    /// transaction, for checking what the relay did against the truth.
    pub async fn create_witness_slot(&self) {
        self.admin
            .batch_execute("SELECT pg_create_logical_replication_slot('witness', 'test_decoding')")
            .await
            .unwrap();
    }

    /// Transactions in commit order with their `end_lsn` and the ids of the rows they
    /// inserted into `table` (from the witness slot).
    pub async fn witness_transactions(&self, table: &str) -> Vec<Txn> {
        Self::witness_transactions_on(&self.admin, table).await
    }

    /// [`TestDb::witness_transactions`] through any client (e.g. a fresh one after the
    /// server was restarted).
    pub async fn witness_transactions_on(client: &Client, table: &str) -> Vec<Txn> {
        let rows = client
            .query(
                "SELECT lsn::text, data FROM pg_logical_slot_peek_changes('witness', NULL, NULL)",
                &[],
            )
            .await
            .unwrap();
        let marker = format!("table {table}: INSERT: ");
        let mut txns = Vec::new();
        let mut current: Vec<String> = Vec::new();
        for row in rows {
            let lsn: String = row.get(0);
            let data: String = row.get(1);
            if data.starts_with("BEGIN") {
                current.clear();
            } else if data.starts_with("COMMIT") {
                txns.push(Txn {
                    end_lsn: parse_lsn(&lsn),
                    ids: std::mem::take(&mut current),
                });
            } else if let Some(rest) = data.strip_prefix(&marker) {
                if let Some(id) = rest.strip_prefix("id[uuid]:'").and_then(|r| r.get(..36)) {
                    current.push(id.to_string());
                }
            }
        }
        txns.retain(|t| !t.ids.is_empty());
        txns
    }

    /// All ids the witness slot saw inserted into `public.events`, through any client.
    pub async fn witness_on(client: &Client) -> Vec<String> {
        client
            .query(
                "SELECT data FROM pg_logical_slot_peek_changes('witness', NULL, NULL)",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .filter_map(|r| {
                let data: String = r.get(0);
                data.strip_prefix("table public.events: INSERT: id[uuid]:'")
                    .and_then(|rest| rest.get(..36))
                    .map(str::to_string)
            })
            .collect()
    }

    pub async fn confirmed_flush_lsn(&self) -> u64 {
        let row = self
            .admin
            .query_one(
                "SELECT coalesce(confirmed_flush_lsn, '0/0')::text FROM pg_replication_slots WHERE slot_name = 'outbox_relay'",
                &[],
            )
            .await
            .unwrap();
        parse_lsn(&row.get::<_, String>(0))
    }

    pub async fn slot_active(&self) -> bool {
        self.admin
            .query_one(
                "SELECT active FROM pg_replication_slots WHERE slot_name = 'outbox_relay'",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    }

    pub async fn current_wal_lsn(&self) -> u64 {
        let row = self
            .admin
            .query_one("SELECT pg_current_wal_lsn()::text", &[])
            .await
            .unwrap();
        parse_lsn(&row.get::<_, String>(0))
    }

    /// Insert `per_tx` audit rows in one transaction; subjects cycle over `aggregates`.
    pub async fn insert_events(&self, per_tx: usize, aggregates: usize, salt: usize) {
        self.admin
            .execute(
                "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
                 SELECT gen_random_uuid(), 'data_product_updated', 'DATA_PRODUCT',
                        ('00000000-0000-4000-8000-' || lpad(((g + $3::bigint) % $2::bigint)::text, 12, '0'))::uuid,
                        $1::text::uuid
                 FROM generate_series(1::bigint, $4::bigint) g",
                &[
                    &ACTOR,
                    &(aggregates as i64),
                    &(salt as i64),
                    &(per_tx as i64),
                ],
            )
            .await
            .unwrap();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::env::var_os("OUTBOX_KEEP_CLUSTERS").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One committed transaction as the witness slot saw it.
#[derive(Debug, Clone)]
pub struct Txn {
    pub end_lsn: u64,
    pub ids: Vec<String>,
}

/// Run a venv's install script (it installs what is missing, then prints the venv's
/// python as its last line) and return that python.
pub fn venv_python(install_script: &str) -> String {
    let out = Command::new("bash")
        .arg(install_script)
        .output()
        .unwrap_or_else(|e| panic!("{install_script}: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

pub fn parse_lsn(s: &str) -> u64 {
    let (hi, lo) = s.split_once('/').expect("an LSN like 0/16B3748");
    (u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap()
}

/// Lines of a JSON-lines file; a torn last line (a killed writer) is ignored.
pub fn read_jsonl(path: &Path) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("bad line in {}: {e}", path.display()))
        })
        .collect()
}

/// [`read_jsonl`] of a file that must exist: for "nothing was delivered" checks, which
/// would pass vacuously if the sink never created its file.
pub fn read_jsonl_required(path: &Path) -> Vec<serde_json::Value> {
    assert!(
        path.is_file(),
        "{} does not exist: the sink never opened it, so \"nothing delivered\" proves nothing",
        path.display()
    );
    read_jsonl(path)
}

/// The `id` field of each line.
pub fn ids_of(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .map(|v| v["id"].as_str().expect("id").to_string())
        .collect()
}

/// The first transaction (commit order) with an id not in `present`.
pub fn first_incomplete<'a>(
    txns: &'a [Txn],
    present: &std::collections::HashSet<String>,
) -> Option<&'a Txn> {
    txns.iter()
        .find(|t| t.ids.iter().any(|id| !present.contains(id)))
}

/// Each aggregate's event ids, in the order they appear.
pub fn per_aggregate(lines: &[serde_json::Value]) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for v in lines {
        map.entry(v["subject"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(v["id"].as_str().unwrap_or_default().to_string());
    }
    map
}

/// Poll `check` until it returns true; panic naming `what` after `timeout` (a deadlock
/// guard, not a performance assertion).
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A GET on loopback (the relay's metrics listener): status and body, `None` when
/// nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    http::request(port, "GET", path, &[], b"").map(|r| (r.status, r.text()))
}

/// The sum of a metric's samples in a Prometheus text exposition whose labels contain
/// every `key="value"` of `labels`; `None` when no sample matches.
pub fn metric(exposition: &str, name: &str, labels: &[&str]) -> Option<f64> {
    let mut sum = None;
    for line in exposition.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = match line.rsplit_once(' ') {
            Some(p) => p,
            None => continue,
        };
        let (metric_name, label_text) = match series.split_once('{') {
            Some((n, rest)) => (n, rest),
            None => (series, ""),
        };
        if metric_name != name || !labels.iter().all(|l| label_text.contains(l)) {
            continue;
        }
        if let Ok(v) = value.parse::<f64>() {
            *sum.get_or_insert(0.0) += v;
        }
    }
    sum
}

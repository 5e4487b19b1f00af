//! The operator's HTTP listener (`[metrics] listen`): `/metrics` (OpenMetrics text),
//! `/health/live` (the process answers), `/health/ready` (streaming, and every sink's
//! side-effect-free `probe()` succeeded within the last probe interval; else 503 with
//! the reasons in the body). HTTP/1.1, one small hyper server.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use relay_contracts::Sink;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

use super::{RelayState, StateCell, Telemetry};

/// How often sinks are probed for readiness.
const PROBE_EVERY: Duration = Duration::from_secs(5);
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The last probe of each sink: `Err` carries why it is not reachable.
type Probes = Arc<Mutex<Vec<(String, Result<String, String>)>>>;

struct Shared {
    telemetry: Arc<Telemetry>,
    state: StateCell,
    probes: Probes,
}

/// Bind `listen` and serve until the process ends; probes `sinks` in the background.
/// Fails at once when the address cannot be bound (a clear start-up error).
pub async fn serve(
    listen: &str,
    telemetry: Arc<Telemetry>,
    state: StateCell,
    sinks: Vec<Arc<dyn Sink>>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let probes: Probes = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(probe_loop(sinks, Arc::clone(&probes)));
    let shared = Arc::new(Shared {
        telemetry,
        state,
        probes,
    });
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                let svc = service_fn(move |req| route(req, Arc::clone(&shared)));
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(5))
                    .serve_connection(TokioIo::new(tcp), svc)
                    .await;
            });
        }
    });
    tracing::info!(%addr, "serving /metrics, /health/live and /health/ready");
    Ok(addr)
}

async fn probe_loop(sinks: Vec<Arc<dyn Sink>>, probes: Probes) {
    loop {
        let mut results = Vec::with_capacity(sinks.len());
        for s in &sinks {
            let r = match tokio::time::timeout(PROBE_EVERY, s.probe()).await {
                Ok(Ok(p)) => Ok(p.detail),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("sink `{}`: probe timed out", s.name())),
            };
            results.push((s.name().to_string(), r));
        }
        *probes.lock().unwrap_or_else(|e| e.into_inner()) = results;
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

/// Ready, or the reasons it is not.
fn readiness(shared: &Shared) -> Result<(), Vec<String>> {
    let mut why = Vec::new();
    match shared.state.get() {
        RelayState::Streaming => {}
        RelayState::Standby => why.push("standby: another relay holds the slot".to_string()),
        RelayState::Waiting(reason) => why.push(format!("waiting: {reason}")),
        other => why.push(format!("state: {}", other.name())),
    }
    let probes = shared.probes.lock().unwrap_or_else(|e| e.into_inner());
    if probes.is_empty() {
        why.push("sinks not probed yet".to_string());
    }
    for (name, r) in probes.iter() {
        if let Err(e) = r {
            why.push(format!("sink `{name}` not reachable: {e}"));
        }
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why)
    }
}

async fn route(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |code: StatusCode, ct: &str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = code;
        if let Ok(v) = hyper::header::HeaderValue::from_str(ct) {
            r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
        }
        r
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n".into(),
        ));
    }
    Ok(match req.uri().path() {
        "/metrics" => {
            shared.telemetry.set_state(shared.state.get().name());
            reply(StatusCode::OK, OPENMETRICS, shared.telemetry.render())
        }
        "/health/live" => reply(StatusCode::OK, "text/plain", "live\n".into()),
        "/health/ready" => match readiness(&shared) {
            Ok(()) => reply(StatusCode::OK, "text/plain", "ready\n".into()),
            Err(why) => reply(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                format!("not ready\n{}\n", why.join("\n")),
            ),
        },
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    })
}

//! The HTTP side: one reqwest client per endpoint (connection pool, HTTP/1.1 keep-alive,
//! HTTP/2 by ALPN over TLS), rustls from [`crate::tls`] with the ring provider and the
//! optional CA file, a per-request timeout, a concurrency limit; and the probe.

use bytes::Bytes;
use relay_contracts::SinkErrorKind;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::config::WebhookConfig;

/// Most response-body bytes read: enough for an error excerpt, and draining a short 2xx
/// body keeps an HTTP/1.1 connection reusable.
const BODY_READ_LIMIT: usize = 16 * 1024;

/// What one request got back.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    /// The start of the response body (at most [`BODY_READ_LIMIT`] bytes).
    pub body: Bytes,
}

/// Why a request got no answer.
#[derive(Debug)]
pub(crate) enum SendError {
    /// `timeout` passed (connecting, sending or reading).
    Timeout,
    /// No connection (refused, DNS, TLS handshake or certificate).
    Connect(String),
    /// The connection broke, or the request could not be built.
    Other(String),
}

pub(crate) struct Client {
    http: reqwest::Client,
    url: reqwest::Url,
    timeout: Duration,
    permits: Semaphore,
    tls: Option<Arc<rustls::ClientConfig>>,
    connect_timeout: Duration,
}

impl Client {
    pub(crate) fn new(cfg: &WebhookConfig) -> Result<Self, (SinkErrorKind, String)> {
        let config = |m: String| (SinkErrorKind::Config, m);
        let url = cfg.parsed_url().map_err(config)?;
        let mut headers = HeaderMap::new();
        for (name, value) in &cfg.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| config(format!("`headers`: {name:?} is not a header name")))?;
            let mut value = HeaderValue::from_str(value.expose())
                .map_err(|_| config(format!("`headers`: the value of {name} is invalid")))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let tls = if url.scheme() == "https" {
            let client_cert = cfg
                .tls_cert_file
                .as_deref()
                .zip(cfg.tls_key_file.as_deref());
            let mut tls = crate::tls::client_config(cfg.tls_ca_file.as_deref(), client_cert)
                .map_err(config)?;
            tls.alpn_protocols = if cfg.http2 {
                vec![b"h2".to_vec(), b"http/1.1".to_vec()]
            } else {
                vec![b"http/1.1".to_vec()]
            };
            Some(Arc::new(tls))
        } else {
            None
        };
        let mut builder = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("outbox-relay/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(cfg.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            // A receiver must answer, not redirect: never re-POST an event elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(tls) = &tls {
            builder = builder.tls_backend_preconfigured(rustls::ClientConfig::clone(tls));
        } else {
            crate::tls::install_crypto_provider();
        }
        if !cfg.http2 {
            builder = builder.http1_only();
        }
        let http = builder
            .build()
            .map_err(|e| (SinkErrorKind::Config, format!("HTTP client: {}", chain(&e))))?;
        Ok(Self {
            http,
            url,
            timeout: cfg.timeout,
            permits: Semaphore::new(cfg.max_in_flight),
            tls,
            connect_timeout: cfg.connect_timeout,
        })
    }

    /// Wait for one of the `max_in_flight` request slots.
    pub(crate) async fn permit(&self) -> Option<SemaphorePermit<'_>> {
        self.permits.acquire().await.ok()
    }

    /// POST one body with its headers; the whole exchange is bounded by `timeout`.
    ///
    /// # Cancel safety
    /// Dropping the future abandons the request; the receiver may still have it.
    pub(crate) async fn post(
        &self,
        body: Bytes,
        content_type: &'static str,
        headers: &[(&'static str, String)],
    ) -> Result<Answer, SendError> {
        let mut request = self
            .http
            .post(self.url.clone())
            .timeout(self.timeout)
            .header(CONTENT_TYPE, content_type)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let exchange = async {
            let mut response = request.send().await?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut body = Vec::new();
            while body.len() < BODY_READ_LIMIT {
                match response.chunk().await? {
                    Some(chunk) => body.extend_from_slice(&chunk),
                    None => break,
                }
            }
            body.truncate(BODY_READ_LIMIT);
            Ok::<_, reqwest::Error>(Answer {
                status,
                retry_after,
                body: Bytes::from(body),
            })
        };
        exchange.await.map_err(|e| {
            if e.is_timeout() {
                SendError::Timeout
            } else if e.is_connect() {
                SendError::Connect(chain(&e))
            } else {
                SendError::Other(chain(&e))
            }
        })
    }

    /// Open a TCP connection to the endpoint and, for `https`, complete a TLS handshake
    /// that verifies its certificate; then close it. No HTTP request is sent, so the
    /// receiver sees at most a connection that ends without a request. Proves: the host
    /// resolves, the port accepts connections, and (https) the certificate is trusted
    /// and the ALPN protocol offered. Does not prove the path exists or the secret is
    /// right: only a delivery can.
    pub(crate) async fn probe(&self) -> Result<String, (SinkErrorKind, String)> {
        let host = self.url.host_str().unwrap_or_default().to_string();
        let port = self.url.port_or_known_default().unwrap_or(443);
        let unreachable = |m: String| (SinkErrorKind::Unreachable, m);
        let tcp = tokio::time::timeout(
            self.connect_timeout,
            tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port)),
        )
        .await
        .map_err(|_| {
            unreachable(format!(
                "no TCP connection to {host}:{port} within {:?}",
                self.connect_timeout
            ))
        })?
        .map_err(|e| unreachable(format!("cannot connect to {host}:{port}: {e}")))?;
        let Some(tls) = &self.tls else {
            return Ok(format!(
                "{host}:{port} accepts TCP connections (http, no request sent)"
            ));
        };
        let name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                .map_err(|e| (SinkErrorKind::Config, format!("`url` host {host}: {e}")))?;
        let connector = tokio_rustls::TlsConnector::from(Arc::clone(tls));
        let stream = tokio::time::timeout(self.connect_timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| {
                unreachable(format!(
                    "no TLS handshake with {host}:{port} within {:?}",
                    self.connect_timeout
                ))
            })?
            .map_err(|e| {
                (
                    SinkErrorKind::Unreachable,
                    format!(
                        "TLS handshake with {host}:{port} failed: {e} (check tls_ca_file and the \
                         receiver's certificate)"
                    ),
                )
            })?;
        let alpn = stream
            .get_ref()
            .1
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_else(|| "none".into());
        Ok(format!(
            "{host}:{port} completed a verified TLS handshake (ALPN {alpn}; no request sent)"
        ))
    }
}

/// An error and its causes on one line, without the URL (its query may hold a token).
fn chain(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(url) = e.url() {
        s = s.replace(url.as_str(), "<url>");
    }
    let mut cur = std::error::Error::source(e);
    while let Some(inner) = cur {
        let text = inner.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = inner.source();
    }
    s
}

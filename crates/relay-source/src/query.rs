//! Ordinary (non-replication) connections for lookups and `check`, with the same URL,
//! password source and TLS settings as the replication session.
//!
//! `sslmode=disable|prefer` connect in plain text; `require`, `verify-ca` and
//! `verify-full` use TLS and verify the server certificate against `sslrootcert` (or the
//! public web roots) including its host name: stricter than libpq's `require`, never
//! weaker.

use relay_contracts::{sqlstate, Classify, ErrorClass};
use std::sync::Arc;
use std::time::Duration;

use crate::settings::{ConnectionSettings, TlsMode};

/// Limits of an ordinary connection (the lookups'): none of its waits is unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Connecting, TLS and authentication together.
    pub connect_timeout: Duration,
    /// TCP keepalive idle time (a partitioned server is noticed).
    pub keepalive_idle: Duration,
    /// `statement_timeout` of every query.
    pub statement_timeout: Duration,
    /// `lock_timeout` of every query (a table locked by `ALTER TABLE` or `LOCK TABLE`).
    pub lock_timeout: Duration,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            keepalive_idle: Duration::from_secs(30),
            statement_timeout: Duration::from_secs(10),
            lock_timeout: Duration::from_secs(5),
        }
    }
}

impl Classify for QueryConnectError {
    /// Refusals the server repeats until someone acts (authentication, `pg_hba.conf`,
    /// a missing database, certificates) are fatal; an unreachable server is retryable.
    fn class(&self) -> ErrorClass {
        match self {
            QueryConnectError::Connect { source, .. } => match source.code() {
                Some(code) => sqlstate::class(code.code()),
                None => ErrorClass::Retry,
            },
            _ => ErrorClass::Fatal,
        }
    }
}

/// Why an ordinary connection could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueryConnectError {
    #[error("cannot read sslrootcert {path}: {message}")]
    RootCert { path: String, message: String },
    #[error("cannot read the client certificate or key: {0}")]
    ClientCert(String),
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("cannot connect to {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: tokio_postgres::Error,
    },
}

impl ConnectionSettings {
    /// Open an ordinary connection; its I/O runs on a spawned task.
    pub async fn connect_query(&self) -> Result<tokio_postgres::Client, QueryConnectError> {
        self.connect_query_config(self.query_config()).await
    }

    /// [`ConnectionSettings::connect_query`] with bounded waits ([`QueryLimits`]).
    pub async fn connect_query_limited(
        &self,
        limits: &QueryLimits,
    ) -> Result<tokio_postgres::Client, QueryConnectError> {
        let mut cfg = self.query_config();
        cfg.connect_timeout(limits.connect_timeout)
            .keepalives(true)
            .keepalives_idle(limits.keepalive_idle)
            .options(format!(
                "-c statement_timeout={} -c lock_timeout={}",
                limits.statement_timeout.as_millis(),
                limits.lock_timeout.as_millis()
            ));
        self.connect_query_config(cfg).await
    }

    async fn connect_query_config(
        &self,
        mut cfg: tokio_postgres::Config,
    ) -> Result<tokio_postgres::Client, QueryConnectError> {
        let target = self.display();
        let connect_err = |source| QueryConnectError::Connect {
            target: target.clone(),
            source,
        };
        match self.tls {
            TlsMode::Disable | TlsMode::Prefer => {
                let (client, conn) = cfg
                    .connect(tokio_postgres::NoTls)
                    .await
                    .map_err(connect_err)?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(client)
            }
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => {
                cfg.ssl_mode(tokio_postgres::config::SslMode::Require);
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(self.rustls_config()?);
                let (client, conn) = cfg.connect(tls).await.map_err(connect_err)?;
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                Ok(client)
            }
        }
    }

    fn rustls_config(&self) -> Result<rustls::ClientConfig, QueryConnectError> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let mut roots = rustls::RootCertStore::empty();
        match &self.root_cert {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
                    QueryConnectError::RootCert {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    }
                })?;
                for cert in certs {
                    let cert = cert.map_err(|e| QueryConnectError::RootCert {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    })?;
                    roots.add(cert).map_err(|e| QueryConnectError::RootCert {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .ok_or_else(|| QueryConnectError::Tls("no rustls crypto provider installed".into()))?;
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| QueryConnectError::Tls(e.to_string()))?
            .with_root_certificates(Arc::new(roots));
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                let chain: Result<Vec<_>, _> = CertificateDer::pem_file_iter(cert)
                    .map_err(|e| QueryConnectError::ClientCert(e.to_string()))?
                    .collect();
                let chain = chain.map_err(|e| QueryConnectError::ClientCert(e.to_string()))?;
                let key = PrivateKeyDer::from_pem_file(key)
                    .map_err(|e| QueryConnectError::ClientCert(e.to_string()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| QueryConnectError::ClientCert(e.to_string()))
            }
            _ => Ok(builder.with_no_client_auth()),
        }
    }
}

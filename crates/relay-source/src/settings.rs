//! Connection settings from a libpq-style URL, with the password optionally taken from a
//! file or an environment variable so that URLs need no percent-escaping.

use pgwire_replication::{SslMode, TlsConfig};
use std::path::PathBuf;

/// libpq `sslmode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// Where and how to connect (shared by the replication session and ordinary queries).
#[derive(Clone)]
pub struct ConnectionSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
    pub tls: TlsMode,
    pub root_cert: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl std::fmt::Debug for ConnectionSettings {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("database", &self.database)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// A URL or password source that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    #[error("source.url is not a valid postgres:// URL: {0}")]
    Url(String),
    #[error("source.url: unsupported parameter `{0}` (supported: sslmode, sslrootcert, sslcert, sslkey, host, port, user, password, dbname, application_name)")]
    UnknownParameter(String),
    #[error(
        "source.url: sslmode `{0}` is not one of disable, prefer, require, verify-ca, verify-full"
    )]
    SslMode(String),
    #[error("cannot read the password file {path}: {source}")]
    PasswordFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the password environment variable {0} is not set")]
    PasswordEnv(String),
}

impl ConnectionSettings {
    /// Parse `postgres://user:password@host:port/db?sslmode=...`. Defaults follow libpq:
    /// host `localhost`, port 5432, user `postgres`, database = user, sslmode `prefer`.
    pub fn from_url(text: &str) -> Result<Self, SettingsError> {
        let url = url::Url::parse(text).map_err(|e| SettingsError::Url(e.to_string()))?;
        if url.scheme() != "postgres" && url.scheme() != "postgresql" {
            return Err(SettingsError::Url(format!(
                "scheme `{}` (expected postgres:// or postgresql://)",
                url.scheme()
            )));
        }
        let decode = |s: &str| {
            relay_contracts::config::percent_decode(s)
                .map_err(|e| SettingsError::Url(format!("invalid percent-encoding: {e}")))
        };
        let mut s = ConnectionSettings {
            host: url
                .host_str()
                .unwrap_or("localhost")
                .trim_matches(['[', ']'])
                .to_string(),
            port: url.port().unwrap_or(5432),
            user: if url.username().is_empty() {
                "postgres".into()
            } else {
                decode(url.username())?
            },
            password: decode(url.password().unwrap_or(""))?,
            database: String::new(),
            tls: TlsMode::Prefer,
            root_cert: None,
            client_cert: None,
            client_key: None,
        };
        if s.host.is_empty() {
            s.host = "localhost".into();
        }
        s.database = decode(url.path().trim_start_matches('/'))?;
        for (k, v) in url.query_pairs() {
            match k.as_ref() {
                "sslmode" => {
                    s.tls = match v.as_ref() {
                        "disable" => TlsMode::Disable,
                        "allow" | "prefer" => TlsMode::Prefer,
                        "require" => TlsMode::Require,
                        "verify-ca" => TlsMode::VerifyCa,
                        "verify-full" => TlsMode::VerifyFull,
                        other => return Err(SettingsError::SslMode(other.into())),
                    }
                }
                "sslrootcert" => s.root_cert = Some(PathBuf::from(v.as_ref())),
                "sslcert" => s.client_cert = Some(PathBuf::from(v.as_ref())),
                "sslkey" => s.client_key = Some(PathBuf::from(v.as_ref())),
                "host" => s.host = v.into_owned(),
                "port" => {
                    s.port = v
                        .parse()
                        .map_err(|_| SettingsError::Url(format!("port `{v}` is not a number")))?
                }
                "user" => s.user = v.into_owned(),
                "password" => s.password = v.into_owned(),
                "dbname" => s.database = v.into_owned(),
                "application_name" | "connect_timeout" => {}
                other => return Err(SettingsError::UnknownParameter(other.into())),
            }
        }
        if s.database.is_empty() {
            s.database = s.user.clone();
        }
        Ok(s)
    }

    /// Take the password from a file (trailing newline removed) instead of the URL.
    pub fn password_from_file(&mut self, path: &std::path::Path) -> Result<(), SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::PasswordFile {
            path: path.display().to_string(),
            source,
        })?;
        self.password = text.trim_end_matches(['\n', '\r']).to_string();
        Ok(())
    }

    /// Take the password from an environment variable instead of the URL.
    pub fn password_from_env(&mut self, var: &str) -> Result<(), SettingsError> {
        self.password = std::env::var(var).map_err(|_| SettingsError::PasswordEnv(var.into()))?;
        Ok(())
    }

    /// TLS settings for the replication client.
    pub fn replication_tls(&self) -> TlsConfig {
        let mode = match self.tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require => SslMode::Require,
            TlsMode::VerifyCa => SslMode::VerifyCa,
            TlsMode::VerifyFull => SslMode::VerifyFull,
        };
        let mut tls = TlsConfig::disabled();
        tls.mode = mode;
        tls.ca_pem_path = self.root_cert.clone();
        tls.client_cert_pem_path = self.client_cert.clone();
        tls.client_key_pem_path = self.client_key.clone();
        tls
    }

    /// Settings for an ordinary (non-replication) connection, e.g. `check`.
    pub fn query_config(&self) -> tokio_postgres::Config {
        let mut c = tokio_postgres::Config::new();
        c.host(&self.host)
            .port(self.port)
            .user(&self.user)
            .password(&self.password)
            .dbname(&self.database)
            .application_name("outbox-relay");
        c
    }

    /// `user@host:port/database`, for logs.
    pub fn display(&self) -> String {
        format!(
            "{}@{}:{}/{}",
            self.user, self.host, self.port, self.database
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_url() {
        let s = ConnectionSettings::from_url(
            "postgres://relay:p%40ss@db.example:6543/portal?sslmode=verify-full&sslrootcert=/ca.pem",
        )
        .unwrap();
        assert_eq!(s.host, "db.example");
        assert_eq!(s.port, 6543);
        assert_eq!(s.user, "relay");
        assert_eq!(s.password, "p@ss");
        assert_eq!(s.database, "portal");
        assert_eq!(s.tls, TlsMode::VerifyFull);
        assert_eq!(s.root_cert, Some(PathBuf::from("/ca.pem")));
        assert!(
            !format!("{s:?}").contains("p@ss"),
            "Debug must not print the password"
        );
    }

    #[test]
    fn libpq_defaults() {
        let s = ConnectionSettings::from_url("postgresql://relay@localhost").unwrap();
        assert_eq!(s.port, 5432);
        assert_eq!(s.database, "relay");
        assert_eq!(s.tls, TlsMode::Prefer);
    }

    #[test]
    fn rejects_unknown_parameters_and_modes() {
        assert!(matches!(
            ConnectionSettings::from_url("postgres://a@b/c?sslmod=require"),
            Err(SettingsError::UnknownParameter(_))
        ));
        assert!(matches!(
            ConnectionSettings::from_url("postgres://a@b/c?sslmode=always"),
            Err(SettingsError::SslMode(_))
        ));
        assert!(ConnectionSettings::from_url("mysql://a@b/c").is_err());
    }
}

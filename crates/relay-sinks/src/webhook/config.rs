//! `[[sinks]] type = "webhook"`: the settings of one endpoint, their defaults and their
//! validation. Several endpoints are several `[[sinks]]` entries (each its own lane,
//! retries and failures).

use relay_contracts::config::{duration, OneOrMany, Secret};
use relay_contracts::{Sink, SinkError, SinkErrorKind};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::encode::{EventFilter, Format};
use super::signing::Signer;

impl crate::SinkSpec for WebhookConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn build(&self) -> futures::future::BoxFuture<'_, Result<Arc<dyn Sink>, SinkError>> {
        Box::pin(async move { Ok(Arc::new(super::WebhookSink::new(self).await?) as Arc<dyn Sink>) })
    }
}

/// Most concurrent requests `max_in_flight` accepts.
pub const MAX_IN_FLIGHT_LIMIT: usize = 4096;

/// Headers the sink sets itself; `headers` may not override them.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

/// Settings of one webhook endpoint (the `[[sinks]]` table with `type = "webhook"`).
///
/// Unknown keys are rejected. Durations are strings like `"5s"` or `"500ms"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The sink's name (logs, dead letters).
    pub name: String,
    /// Where events are POSTed (`http://` or `https://`).
    pub url: String,
    /// Standard Webhooks secret(s), `whsec_<base64>`; a list signs with each (rotation:
    /// put the new one first, drop the old one once every receiver has the new one).
    /// Required for `format = "cloudevents"`, optional for `"portal-v2"`.
    #[serde(default)]
    pub secret: Option<OneOrMany<Secret>>,
    /// Only events whose type equals an entry, or starts with an entry ending in `*`,
    /// are sent; the others are acknowledged at once (they are not for this endpoint).
    #[serde(default)]
    pub event_types: Option<OneOrMany<String>>,
    /// How long one request may take, connect to last body byte, before it is retried.
    #[serde(default = "default_timeout", with = "duration")]
    pub timeout: Duration,
    /// How long the TCP + TLS connect may take (within `timeout`).
    #[serde(default = "default_connect_timeout", with = "duration")]
    pub connect_timeout: Duration,
    /// Requests to this endpoint at once.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Extra headers on every request (e.g. `Authorization`); values never printed.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// `"cloudevents"`: the envelope as `application/cloudevents+json` (structured mode);
    /// `"portal-v2"`: the portal's own V2 webhook body as `application/json`.
    #[serde(default)]
    pub format: Format,
    /// The longest `Retry-After` honoured; longer requests wait this long.
    #[serde(default = "default_max_retry_after", with = "duration")]
    pub max_retry_after: Duration,
    /// PEM file of CA certificates to trust instead of the web PKI roots.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// PEM client certificate (mutual TLS; needs `tls_key_file`).
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
    /// Offer HTTP/2 over TLS (ALPN); the receiver picks. Plain `http://` is HTTP/1.1.
    #[serde(default = "default_true")]
    pub http2: bool,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_max_in_flight() -> usize {
    64
}
fn default_max_retry_after() -> Duration {
    Duration::from_secs(60)
}
fn default_true() -> bool {
    true
}

impl WebhookConfig {
    /// Settings with every default, for `name` posting to `url` signed with `secret`.
    pub fn new(name: impl Into<String>, url: impl Into<String>, secret: Option<&str>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            secret: secret.map(|s| OneOrMany(vec![Secret::from(s)])),
            event_types: None,
            timeout: default_timeout(),
            connect_timeout: default_connect_timeout(),
            max_in_flight: default_max_in_flight(),
            headers: BTreeMap::new(),
            format: Format::default(),
            max_retry_after: default_max_retry_after(),
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            http2: true,
        }
    }

    pub(crate) fn error(&self, kind: SinkErrorKind, message: impl Into<String>) -> SinkError {
        SinkError::new(&self.name, kind, message)
    }

    /// The parsed URL. Only `http` and `https` with a host.
    pub fn parsed_url(&self) -> Result<reqwest::Url, String> {
        let url = reqwest::Url::parse(self.url.trim())
            .map_err(|e| format!("`url` is not a URL ({e})"))?;
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(format!("`url` must be http:// or https://, not {other}://")),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("`url` has no host".into());
        }
        Ok(url)
    }

    /// The URL for messages: scheme, host, port and path; never credentials or a query
    /// (either may carry a token).
    pub fn redacted_url(&self) -> String {
        match self.parsed_url() {
            Ok(u) => {
                let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
                format!(
                    "{}://{}{port}{}",
                    u.scheme(),
                    u.host_str().unwrap_or_default(),
                    u.path()
                )
            }
            Err(_) => "<invalid url>".into(),
        }
    }

    /// The signer for `secret`, if one is configured.
    pub fn signer(&self) -> Result<Option<Signer>, String> {
        match &self.secret {
            None => Ok(None),
            Some(list) => {
                let secrets: Vec<&str> = list.as_slice().iter().map(Secret::expose).collect();
                Signer::new(&secrets).map(Some)
            }
        }
    }

    /// The `event_types` filter (everything when unset).
    pub fn filter(&self) -> Result<EventFilter, String> {
        EventFilter::new(self.event_types.as_ref().map(OneOrMany::to_vec))
    }

    /// Check what can be checked without the endpoint. Messages name the key at fault
    /// and never contain a secret.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("`name` must not be empty".into());
        }
        let url = self.parsed_url()?;
        match (self.format, &self.secret) {
            (Format::CloudEvents, None) => {
                return Err(
                    "`secret` is required with format = \"cloudevents\" (a Standard \
                            Webhooks secret: `whsec_` followed by base64 of 24–64 random bytes)"
                        .into(),
                )
            }
            _ => {
                self.signer()?;
            }
        }
        self.filter()?;
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err("`timeout` and `connect_timeout` must be longer than 0s".into());
        }
        if self.max_retry_after.is_zero() {
            return Err("`max_retry_after` must be longer than 0s".into());
        }
        if self.max_in_flight == 0 || self.max_in_flight > MAX_IN_FLIGHT_LIMIT {
            return Err(format!(
                "`max_in_flight` must be between 1 and {MAX_IN_FLIGHT_LIMIT}"
            ));
        }
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return Err(format!("`headers`: {name} is set by the sink itself"));
            }
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`headers`: {name:?} is not a header name"))?;
            reqwest::header::HeaderValue::from_str(value.expose())
                .map_err(|_| format!("`headers`: the value of {name} is not a header value"))?;
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err("`tls_cert_file` and `tls_key_file` go together".into());
        }
        let tls_keys = self.tls_ca_file.is_some() || self.tls_cert_file.is_some();
        if tls_keys && url.scheme() != "https" {
            return Err("`tls_*` keys are set but `url` is not https://".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn parse(text: &str) -> Result<WebhookConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn the_documented_keys_parse() {
        let cfg = parse(&format!(
            r#"name = "provisioner"
url = "https://hooks.example.com/portal?token=abc"
secret = ["{SECRET}", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"]
event_types = ["portal.data_product.*", "portal.access.approved.v1"]
timeout = "5s"
max_in_flight = 16
format = "cloudevents"
headers = {{ Authorization = "Bearer hunter2" }}
"#
        ))
        .unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.secret.as_ref().unwrap().as_slice().len(), 2);
        assert_eq!(cfg.timeout, Duration::from_secs(5));
        assert_eq!(cfg.redacted_url(), "https://hooks.example.com/portal");
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains(SECRET),
            "{shown}"
        );
        let filter = cfg.filter().unwrap();
        assert!(filter.matches("portal.data_product.created.v1"));
        assert!(filter.matches("portal.access.approved.v1"));
        assert!(!filter.matches("portal.access.denied.v1"));
    }

    #[test]
    fn one_secret_defaults_and_portal_v2_without_secret() {
        let cfg = parse(&format!(
            "name = \"w\"\nurl = \"http://127.0.0.1:8080/\"\nsecret = \"{SECRET}\"\n"
        ))
        .unwrap();
        assert_eq!(
            cfg,
            WebhookConfig::new("w", "http://127.0.0.1:8080/", Some(SECRET))
        );
        assert_eq!(cfg.format, Format::CloudEvents);
        assert_eq!(cfg.max_in_flight, 64);
        cfg.validate().unwrap();
        let cfg = parse("name = \"w\"\nurl = \"http://h/\"\nformat = \"portal-v2\"\n").unwrap();
        assert_eq!(cfg.format, Format::PortalV2);
        cfg.validate().unwrap();
    }

    #[test]
    fn validation_names_the_key() {
        let base = WebhookConfig::new("w", "https://h/hook", Some(SECRET));
        let check = |f: &dyn Fn(&mut WebhookConfig), want: &str| {
            let mut cfg = base.clone();
            f(&mut cfg);
            let err = cfg.validate().unwrap_err();
            assert!(err.contains(want), "{err} should mention {want}");
        };
        check(&|c| c.secret = None, "`secret` is required");
        check(
            &|c| c.secret = Some(OneOrMany(vec!["whsec_!!".into()])),
            "`secret` #1",
        );
        check(&|c| c.url = "ftp://h/".into(), "`url`");
        check(&|c| c.url = "not a url".into(), "`url`");
        check(&|c| c.max_in_flight = 0, "`max_in_flight`");
        check(&|c| c.timeout = Duration::ZERO, "`timeout`");
        check(
            &|c| c.event_types = Some(OneOrMany(vec!["a*b".into()])),
            "`event_types`",
        );
        check(
            &|c| {
                c.headers.insert("webhook-id".into(), "x".into());
            },
            "`headers`",
        );
        check(
            &|c| {
                c.headers.insert("X-Token".into(), "a\nb".into());
            },
            "`headers`",
        );
        check(
            &|c| c.tls_cert_file = Some("c.pem".into()),
            "`tls_key_file`",
        );
        check(
            &|c| {
                c.url = "http://h/".into();
                c.tls_ca_file = Some("ca.pem".into());
            },
            "https://",
        );
        let err = parse("name = \"w\"\nurl = \"http://h\"\nsecrett = \"x\"\n").unwrap_err();
        assert!(err.contains("secrett"), "{err}");
        let err = parse("name = \"w\"\nurl = \"http://h\"\nformat = \"xml\"\n").unwrap_err();
        assert!(err.contains("xml"), "{err}");
    }
}

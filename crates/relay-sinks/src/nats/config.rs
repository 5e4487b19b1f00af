//! `[[sinks]] type = "nats"`: the settings, their defaults and their validation.

use relay_contracts::config::{duration, percent_decode, OneOrMany, Secret};
use serde::Deserialize;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::encode;

impl crate::SinkSpec for NatsConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn build(
        &self,
    ) -> futures::future::BoxFuture<
        '_,
        Result<std::sync::Arc<dyn relay_contracts::Sink>, relay_contracts::SinkError>,
    > {
        Box::pin(async move {
            Ok(std::sync::Arc::new(super::NatsSink::connect(self).await?)
                as std::sync::Arc<dyn relay_contracts::Sink>)
        })
    }
}

/// Largest `max_pending_acks` accepted (and the room of the sink's ack subscription);
/// beyond this the window only costs memory.
pub const MAX_PENDING_ACKS_LIMIT: usize = 65_536;

/// Settings of one NATS JetStream sink (the `[[sinks]]` table with `type = "nats"`).
///
/// Unknown keys are rejected. Durations are strings like `"5s"` or `"2m"`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    /// The sink's name (logs, dead letters).
    pub name: String,
    /// One server URL or a list (`nats://host:4222`, `tls://host:4222`, `host:4222`).
    pub url: OneOrMany<String>,
    /// The JetStream stream that must capture `<subject_prefix>.>`.
    #[serde(default = "default_stream")]
    pub stream: String,
    /// Subjects are `<subject_prefix>.<event route>`.
    #[serde(default = "default_subject_prefix")]
    pub subject_prefix: String,
    /// Create the stream if it is missing (file storage, `<subject_prefix>.>`,
    /// `duplicate_window`), or add the subjects / window to an existing one.
    #[serde(default)]
    pub create_stream: bool,
    /// The deduplication window a stream made or updated by `create_stream = true` gets
    /// (an existing longer window is kept); with `create_stream = false`, a stream with a
    /// shorter window gets a warning.
    #[serde(default = "default_duplicate_window", with = "duration")]
    pub duplicate_window: Duration,
    /// User for user/password authentication (needs `password`).
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    /// Token authentication.
    #[serde(default)]
    pub token: Option<Secret>,
    /// NKey authentication: the user's seed (`SU…`).
    #[serde(default)]
    pub nkey_seed: Option<Secret>,
    /// JWT + NKey authentication from a `.creds` file.
    #[serde(default)]
    pub creds_file: Option<PathBuf>,
    /// PEM file of CA certificates to trust instead of the system roots.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// PEM client certificate (mutual TLS; needs `tls_key_file`).
    #[serde(default)]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    #[serde(default)]
    pub tls_key_file: Option<PathBuf>,
    /// Refuse to connect without TLS. Implied by any `tls_*_file`.
    #[serde(default)]
    pub tls_required: bool,
    /// Shown in the server's connection list (`/connz`).
    #[serde(default = "default_connection_name")]
    pub connection_name: String,
    /// How long one publish may wait for the stream's ack before it counts as retryable.
    #[serde(default = "default_ack_timeout", with = "duration")]
    pub ack_timeout: Duration,
    /// Publishes awaiting their ack at once (the pipelining window).
    #[serde(default = "default_max_pending_acks")]
    pub max_pending_acks: usize,
}

fn default_stream() -> String {
    "PORTAL_EVENTS".into()
}
fn default_subject_prefix() -> String {
    "portal.events".into()
}
fn default_duplicate_window() -> Duration {
    Duration::from_secs(120)
}
fn default_connection_name() -> String {
    "outbox-relay".into()
}
fn default_ack_timeout() -> Duration {
    Duration::from_secs(5)
}
/// Deep enough that the server gets large writes: in the nats bench (100,000 events,
/// 2 cores) 1,024 gave 0.62–0.63x of the raw broker, 4,096 0.66–0.80x, 8,192 0.73–0.76x.
fn default_max_pending_acks() -> usize {
    8192
}

impl NatsConfig {
    /// Settings with every default, for `name` publishing to `url`.
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: OneOrMany(vec![url.into()]),
            stream: default_stream(),
            subject_prefix: default_subject_prefix(),
            create_stream: false,
            duplicate_window: default_duplicate_window(),
            user: None,
            password: None,
            token: None,
            nkey_seed: None,
            creds_file: None,
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
            tls_required: false,
            connection_name: default_connection_name(),
            ack_timeout: default_ack_timeout(),
            max_pending_acks: default_max_pending_acks(),
        }
    }

    /// The subject filter the stream must capture: `<subject_prefix>.>`.
    pub fn stream_subject(&self) -> String {
        format!("{}.>", self.subject_prefix)
    }

    /// Check what can be checked without a server. The message names the key at fault
    /// and never contains a secret.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("`name` must not be empty".into());
        }
        if self.url.0.is_empty() {
            return Err("`url` needs at least one server URL".into());
        }
        for url in &self.url.0 {
            let addr = async_nats::ServerAddr::from_str(url)
                .map_err(|e| format!("`url`: cannot parse {}: {e}", redact_url(url)))?;
            let user_info = [addr.username(), addr.password()];
            if user_info
                .into_iter()
                .flatten()
                .any(|s| percent_decode(s).is_err())
            {
                return Err(format!(
                    "`url`: the credentials in {} have an invalid percent-escape (write `%` as `%25`)",
                    redact_url(url)
                ));
            }
        }
        if !valid_stream_name(&self.stream) {
            return Err(format!(
                "`stream` {:?} is not a valid stream name (non-empty, no spaces, `.`, `*` or `>`)",
                self.stream
            ));
        }
        encode::check_prefix(&self.subject_prefix)
            .map_err(|e| format!("`subject_prefix` {:?}: {e}", self.subject_prefix))?;
        if self.duplicate_window.is_zero() {
            return Err("`duplicate_window` must be longer than 0s".into());
        }
        if self.ack_timeout.is_zero() {
            return Err("`ack_timeout` must be longer than 0s".into());
        }
        if self.max_pending_acks == 0 || self.max_pending_acks > MAX_PENDING_ACKS_LIMIT {
            return Err(format!(
                "`max_pending_acks` must be between 1 and {MAX_PENDING_ACKS_LIMIT}"
            ));
        }
        match (&self.user, &self.password) {
            (Some(_), None) => return Err("`user` is set but `password` is not".into()),
            (None, Some(_)) => return Err("`password` is set but `user` is not".into()),
            _ => {}
        }
        let methods: Vec<&str> = [
            ("credentials in `url`", self.url_credentials().is_some()),
            ("user/password", self.user.is_some()),
            ("token", self.token.is_some()),
            ("nkey_seed", self.nkey_seed.is_some()),
            ("creds_file", self.creds_file.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect();
        if methods.len() > 1 {
            return Err(format!(
                "choose one authentication method, not {}",
                methods.join(" and ")
            ));
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            return Err("`tls_cert_file` and `tls_key_file` go together".into());
        }
        Ok(())
    }

    /// Credentials written into a URL (`nats://user:password@host`, `nats://token@host`),
    /// percent-decoded: `(user, Some(password))` or `(token, None)`. The client library
    /// ignores them, so the sink passes them on itself.
    pub fn url_credentials(&self) -> Option<(String, Option<String>)> {
        self.url.0.iter().find_map(|url| {
            let addr = async_nats::ServerAddr::from_str(url).ok()?;
            let user = addr.username()?;
            let user = percent_decode(user).ok()?;
            let password = match addr.password() {
                Some(p) => Some(percent_decode(p).ok()?),
                None => None,
            };
            Some((user, password))
        })
    }

    /// Whether the connection must use TLS.
    pub fn requires_tls(&self) -> bool {
        self.tls_required
            || self.tls_ca_file.is_some()
            || self.tls_cert_file.is_some()
            || self
                .url
                .0
                .iter()
                .any(|u| u.trim_start().to_ascii_lowercase().starts_with("tls://"))
    }

    /// The configured URLs with any `user:password@` removed, for messages.
    pub fn redacted_urls(&self) -> String {
        self.url
            .0
            .iter()
            .map(|u| redact_url(u))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A JetStream stream name: non-empty, no whitespace, `.`, `*` or `>`.
fn valid_stream_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| !c.is_whitespace() && c != '.' && c != '*' && c != '>')
}

/// `nats://user:pass@host:4222` → `nats://***@host:4222`.
pub(crate) fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}***{}", &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<NatsConfig, String> {
        toml::from_str(toml_text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults() {
        let cfg = parse("name = \"n\"\nurl = \"nats://127.0.0.1:4222\"\n").unwrap();
        assert_eq!(cfg, NatsConfig::new("n", "nats://127.0.0.1:4222"));
        assert_eq!(cfg.stream, "PORTAL_EVENTS");
        assert_eq!(cfg.subject_prefix, "portal.events");
        assert_eq!(cfg.stream_subject(), "portal.events.>");
        assert!(!cfg.create_stream);
        assert_eq!(cfg.duplicate_window, Duration::from_secs(120));
        assert_eq!(cfg.ack_timeout, Duration::from_secs(5));
        assert_eq!(cfg.max_pending_acks, 8192);
        assert_eq!(cfg.connection_name, "outbox-relay");
        assert!(!cfg.requires_tls());
        cfg.validate().unwrap();
    }

    #[test]
    fn url_list_and_durations() {
        let cfg = parse(
            "name = \"n\"\nurl = [\"nats://a:4222\", \"tls://b:4222\"]\nduplicate_window = \"10m\"\nack_timeout = \"750ms\"\n",
        )
        .unwrap();
        assert_eq!(cfg.url.as_slice(), ["nats://a:4222", "tls://b:4222"]);
        assert_eq!(cfg.duplicate_window, Duration::from_secs(600));
        assert_eq!(cfg.ack_timeout, Duration::from_millis(750));
        assert!(cfg.requires_tls());
        cfg.validate().unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_durations_are_named() {
        let err = parse("name = \"n\"\nurl = \"nats://a\"\nsubjet_prefix = \"x\"\n").unwrap_err();
        assert!(err.contains("subjet_prefix"), "{err}");
        let err = parse("name = \"n\"\nurl = \"nats://a\"\nack_timeout = \"soon\"\n").unwrap_err();
        assert!(err.contains("`soon` is not a duration"), "{err}");
        let err = parse("name = \"n\"\nurl = 4222\n").unwrap_err();
        assert!(err.contains("a string or a list of strings"), "{err}");
    }

    #[test]
    fn secrets_are_not_printed() {
        let cfg =
            parse("name = \"n\"\nurl = \"nats://a\"\nuser = \"relay\"\npassword = \"hunter2\"\n")
                .unwrap();
        assert_eq!(cfg.password.as_ref().unwrap().expose(), "hunter2");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("Secret(***)"), "{shown}");
    }

    #[test]
    fn validation_names_the_key() {
        let base = NatsConfig::new("n", "nats://127.0.0.1:4222");
        let check = |f: &dyn Fn(&mut NatsConfig), want: &str| {
            let mut cfg = base.clone();
            f(&mut cfg);
            let err = cfg.validate().unwrap_err();
            assert!(err.contains(want), "{err} should mention {want}");
        };
        check(&|c| c.url = OneOrMany(vec![]), "`url`");
        check(&|c| c.stream = "A.B".into(), "`stream`");
        check(
            &|c| c.subject_prefix = "portal.*".into(),
            "`subject_prefix`",
        );
        check(
            &|c| c.subject_prefix = "portal..x".into(),
            "`subject_prefix`",
        );
        check(&|c| c.subject_prefix = String::new(), "`subject_prefix`");
        check(&|c| c.max_pending_acks = 0, "`max_pending_acks`");
        check(&|c| c.ack_timeout = Duration::ZERO, "`ack_timeout`");
        check(&|c| c.user = Some("u".into()), "`password`");
        check(
            &|c| {
                c.token = Some("t".into());
                c.nkey_seed = Some("SU".into());
            },
            "token and nkey_seed",
        );
        check(
            &|c| c.tls_cert_file = Some("c.pem".into()),
            "`tls_key_file`",
        );
    }

    #[test]
    fn credentials_in_the_url() {
        let cfg = NatsConfig::new("n", "nats://relay:p%40ss%2Fw0rd@h:4222");
        assert_eq!(
            cfg.url_credentials(),
            Some(("relay".into(), Some("p@ss/w0rd".into())))
        );
        let cfg = NatsConfig::new("n", "nats://s3cr%3At@h:4222");
        assert_eq!(cfg.url_credentials(), Some(("s3cr:t".into(), None)));
        assert_eq!(
            NatsConfig::new("n", "nats://h:4222").url_credentials(),
            None
        );
        let mut cfg = NatsConfig::new("n", "nats://relay:pw@h:4222");
        cfg.token = Some("t".into());
        let err = cfg.validate().unwrap_err();
        assert!(err.contains("credentials in `url` and token"), "{err}");
        assert!(!err.contains("pw"), "{err}");
        // One rule for every URL: a malformed escape is refused, not passed through.
        let err = NatsConfig::new("n", "nats://relay:p%zz@h:4222")
            .validate()
            .unwrap_err();
        assert!(
            err.contains("invalid percent-escape") && !err.contains("p%zz"),
            "{err}"
        );
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact_url("nats://u:p@h:4222"), "nats://***@h:4222");
        assert_eq!(redact_url("tok@h:4222"), "***@h:4222");
        assert_eq!(redact_url("nats://h:4222"), "nats://h:4222");
        let mut cfg = NatsConfig::new("n", "nats://a:b@h:1");
        cfg.url.0.push("nats://h2:2".into());
        assert_eq!(cfg.redacted_urls(), "nats://***@h:1, nats://h2:2");
    }
}

//! `[[sinks]] type = "azure-queue"`: the settings, their defaults and their validation.

use futures::future::BoxFuture;
use relay_contracts::config::{duration, parse_duration, Secret};
use relay_contracts::{Sink, SinkError};
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::oversize::{self, Oversize};

impl crate::SinkSpec for AzureQueueConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn Sink>, SinkError>> {
        Box::pin(async move {
            Ok(Arc::new(super::AzureQueueSink::connect(self).await?) as Arc<dyn Sink>)
        })
    }
}

/// How the message text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Encoding {
    /// Base64 of the envelope: what the Azure Functions queue trigger expects by default.
    #[default]
    Base64,
    /// The envelope as text (XML-escaped on the wire by the SDK).
    None,
}

/// Which Entra ID credential, when no key or SAS is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Credential {
    /// An app registration's client secret (`tenant_id`, `client_id`, `client_secret`).
    ClientSecret,
    /// Kubernetes workload identity: a federated token file (`AZURE_FEDERATED_TOKEN_FILE`,
    /// `AZURE_TENANT_ID`, `AZURE_CLIENT_ID` unless configured).
    WorkloadIdentity,
    /// The host's managed identity (system-assigned, or user-assigned with `client_id`).
    ManagedIdentity,
}

/// `message_ttl`: seconds (`-1`: never expire), a duration like `"7d"`, or `"never"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ttl(pub i32);

impl<'de> Deserialize<'de> for Ttl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(i64),
            Text(String),
        }
        let seconds = match Raw::deserialize(d)? {
            Raw::Seconds(s) => s,
            Raw::Text(t) if t == "never" => -1,
            Raw::Text(t) => parse_duration(&t)
                .map_err(serde::de::Error::custom)?
                .as_secs()
                .try_into()
                .unwrap_or(i64::MAX),
        };
        match i32::try_from(seconds) {
            Ok(s) if s == -1 || s >= 1 => Ok(Ttl(s)),
            _ => Err(serde::de::Error::custom(
                "`message_ttl` is -1 or \"never\" (never expire), or 1 s to 68 years",
            )),
        }
    }
}

/// Settings of one Azure Storage Queue sink (`[[sinks]]` with `type = "azure-queue"`).
///
/// Authentication, exactly one of: `connection_string`; `account` + `access_key`;
/// `sas_token`; or none of these, which means Entra ID (`credential`, or the first of
/// client secret, workload identity, managed identity whose settings are present).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureQueueConfig {
    /// The sink's name (logs, dead letters).
    pub name: String,
    /// The queue (3–63 lower-case letters, digits and single hyphens).
    pub queue: String,
    /// The queue service endpoint, e.g. `https://acct.queue.core.windows.net` or
    /// `http://127.0.0.1:10001/devstoreaccount1`; default from the connection string or
    /// `account`.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub connection_string: Option<Secret>,
    /// The storage account name.
    #[serde(default)]
    pub account: Option<String>,
    /// The account's access key (base64); a queue SAS is derived from it.
    #[serde(default)]
    pub access_key: Option<Secret>,
    /// A SAS token (with or without the leading `?`); needs permission `a` (add), and
    /// `r` for the start-up check and `outbox-relay check`.
    #[serde(default)]
    pub sas_token: Option<Secret>,
    /// Entra ID credential (only without a key or SAS).
    #[serde(default)]
    pub credential: Option<Credential>,
    #[serde(default)]
    pub tenant_id: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<Secret>,
    #[serde(default)]
    pub federated_token_file: Option<PathBuf>,
    /// `base64` (default) or `none`.
    #[serde(default)]
    pub encoding: Encoding,
    /// How long a message lives in the queue; default never expire.
    #[serde(default = "default_ttl")]
    pub message_ttl: Ttl,
    /// Messages being sent at once (one HTTP request each: the service has no batch send).
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// How long one request may take before it counts as a retryable failure.
    #[serde(default = "default_request_timeout", with = "duration")]
    pub request_timeout: Duration,
    /// PEM CA certificates to trust for the endpoint instead of the system roots.
    #[serde(default)]
    pub tls_ca_file: Option<PathBuf>,
    /// `x-ms-version` to send instead of the SDK's (e.g. for an older Azurite).
    #[serde(default)]
    pub api_version: Option<String>,
    /// An event over 64 KiB once encoded: `"dead-letter"` (default) or `"trim"`.
    #[serde(default)]
    pub oversize: Oversize,
    /// With `oversize = "trim"`: parts of `data` that may be dropped, in order.
    #[serde(default)]
    pub trim: Vec<String>,
}

fn default_ttl() -> Ttl {
    Ttl(-1)
}
fn default_max_in_flight() -> usize {
    32
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(10)
}

impl AzureQueueConfig {
    /// Settings with every default and no authentication, for `name` sending to `queue`.
    pub fn new(name: impl Into<String>, queue: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            queue: queue.into(),
            endpoint: None,
            connection_string: None,
            account: None,
            access_key: None,
            sas_token: None,
            credential: None,
            tenant_id: None,
            client_id: None,
            client_secret: None,
            federated_token_file: None,
            encoding: Encoding::Base64,
            message_ttl: default_ttl(),
            max_in_flight: default_max_in_flight(),
            request_timeout: default_request_timeout(),
            tls_ca_file: None,
            api_version: None,
            oversize: Oversize::DeadLetter,
            trim: Vec::new(),
        }
    }

    /// Check what can be checked without Azure. The message names the key at fault and
    /// never contains a secret.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("`name` must not be empty".into());
        }
        valid_queue_name(&self.queue)?;
        let methods: Vec<&str> = [
            ("connection_string", self.connection_string.is_some()),
            ("account + access_key", self.access_key.is_some()),
            ("sas_token", self.sas_token.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, set)| set.then_some(n))
        .collect();
        if methods.len() > 1 {
            return Err(format!(
                "use one way to authenticate, not {}",
                methods.join(" and ")
            ));
        }
        if self.access_key.is_some() && self.account.is_none() {
            return Err("`access_key` needs `account`".into());
        }
        if !methods.is_empty() && (self.credential.is_some() || self.client_secret.is_some()) {
            return Err(format!(
                "`credential`/`client_secret` (Entra ID) cannot be combined with {}",
                methods[0]
            ));
        }
        if methods.is_empty() && self.endpoint.is_none() && self.account.is_none() {
            return Err(
                "set `connection_string`, `account` + `access_key`, `sas_token`, or (for Entra ID) `account` or `endpoint`"
                    .into(),
            );
        }
        if let Some(e) = &self.endpoint {
            if !(e.starts_with("https://") || e.starts_with("http://")) {
                return Err(format!(
                    "`endpoint` {e:?} must start with https:// or http://"
                ));
            }
        }
        if self.max_in_flight == 0 || self.max_in_flight > 1024 {
            return Err("`max_in_flight` must be between 1 and 1024".into());
        }
        if self.request_timeout.is_zero() {
            return Err("`request_timeout` must be longer than 0s".into());
        }
        oversize::validate(self.oversize, &self.trim)
    }
}

/// Queue names: 3–63 characters of `a-z`, `0-9` and `-`, starting and ending with a
/// letter or digit, no `--`.
pub fn valid_queue_name(name: &str) -> Result<(), String> {
    let chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if (3..=63).contains(&name.len())
        && chars
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
    {
        Ok(())
    } else {
        Err(format!(
            "`queue` {name:?} is not a queue name: 3-63 of a-z, 0-9 and single hyphens, not at either end"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AzureQueueConfig, String> {
        toml::from_str::<AzureQueueConfig>(&format!(
            "name = \"az\"\nqueue = \"portal-events\"\n{text}"
        ))
        .map_err(|e| e.to_string())
        .and_then(|c| c.validate().map(|()| c))
    }

    #[test]
    fn defaults() {
        let c = parse("connection_string = \"UseDevelopmentStorage=true\"").unwrap();
        assert_eq!(c.encoding, Encoding::Base64);
        assert_eq!(c.message_ttl, Ttl(-1));
        assert_eq!(c.oversize, Oversize::DeadLetter);
        assert!(format!("{c:?}").contains("Secret(***)"));
    }

    #[test]
    fn ttl_forms() {
        let ttl = |v: &str| {
            parse(&format!("sas_token = \"x\"\nendpoint = \"https://a.queue.core.windows.net\"\nmessage_ttl = {v}")).map(|c| c.message_ttl)
        };
        assert_eq!(ttl("-1").unwrap(), Ttl(-1));
        assert_eq!(ttl("\"never\"").unwrap(), Ttl(-1));
        assert_eq!(ttl("3600").unwrap(), Ttl(3600));
        assert_eq!(ttl("\"7d\"").unwrap(), Ttl(604_800));
        assert!(ttl("0").is_err());
        assert!(ttl("-5").is_err());
    }

    #[test]
    fn one_way_to_authenticate() {
        assert!(parse("account = \"a\"\naccess_key = \"a2V5\"").is_ok());
        assert!(parse("account = \"a\"").is_ok(), "Entra ID");
        assert!(parse("").unwrap_err().contains("connection_string"));
        assert!(parse("access_key = \"k\"").unwrap_err().contains("account"));
        let e = parse("sas_token = \"s\"\nconnection_string = \"c\"").unwrap_err();
        assert!(e.contains("one way"), "{e}");
        let e = parse("sas_token = \"s\"\ncredential = \"managed-identity\"").unwrap_err();
        assert!(e.contains("cannot be combined"), "{e}");
        assert!(parse("account = \"a\"\ncredential = \"federated\"")
            .unwrap_err()
            .contains("credential"));
    }

    #[test]
    fn queue_names() {
        assert!(valid_queue_name("orders-1").is_ok());
        for bad in ["ab", "Orders", "-ab", "ab-", "a--b", "a_b"] {
            assert!(valid_queue_name(bad).is_err(), "{bad}");
        }
        assert!(parse("account = \"a\"\nencoding = \"none\"\noversize = \"trim\"\ntrim = [\"data_product.about\"]").is_ok());
    }
}

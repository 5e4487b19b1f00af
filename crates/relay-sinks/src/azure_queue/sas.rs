//! Shared Access Signatures for Azure Queue Storage, derived from an account key, and the
//! storage connection-string parser.
//!
//! Hand-written because no crate does it for us: `azure_storage_queue` 1.x takes an
//! Entra ID token credential or a SAS already in the queue URL, and cannot sign with an
//! account key. The algorithm is Microsoft's documented one:
//!
//! * Queue service SAS, `sv` ≥ 2015-04-05 ("Create a service SAS"), string to sign
//!   `sp\nst\nse\n/queue/{account}/{queue}\nsi\nsip\nspr\nsv` (no trailing newline).
//! * Account SAS, `sv` ≥ 2020-12-06 ("Create an account SAS"), string to sign
//!   `account\nsp\nss\nsrt\nst\nse\nsip\nspr\nsv\nses\n` (`ses`, the encryption scope, is
//!   empty for queues); before 2020-12-06 without the `ses` line.
//! * Signature `base64(HMAC-SHA256(base64decode(key), utf8(string_to_sign)))`; query
//!   values percent-encoded (RFC 3986 unreserved characters kept).
//!
//! The unit tests check signatures produced by Microsoft's Python SDK
//! (`azure-storage-queue` 12.18) and by Azurite 3.35's own verifier for the same inputs;
//! the end-to-end tests use the derived SAS against Azurite, which checks it.

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::Sha256;
use std::fmt;
use std::time::SystemTime;

/// `sv` we sign with: accepted by Azure and by Azurite 3.35. Independent of the
/// `x-ms-version` header the SDK sends.
pub const SAS_VERSION: &str = "2022-11-02";

/// The storage emulator's well-known account (public, documented by Microsoft).
pub const DEVSTORE_ACCOUNT: &str = "devstoreaccount1";
pub const DEVSTORE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const DEVSTORE_QUEUE_ENDPOINT: &str = "http://127.0.0.1:10001/devstoreaccount1";

/// Why a key or connection string cannot be used. Never contains the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SasError {
    #[error("the storage account key is not valid base64 ({0})")]
    InvalidKey(String),
    #[error("invalid connection string: {0}")]
    InvalidConnectionString(String),
}

/// A decoded storage account key. `Debug` does not print it.
#[derive(Clone)]
pub struct AccountKey(Vec<u8>);

impl fmt::Debug for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccountKey(***)")
    }
}

impl AccountKey {
    /// The key as the portal and connection strings show it (base64).
    pub fn from_base64(s: &str) -> Result<Self, SasError> {
        let bytes = B64
            .decode(s.trim())
            .map_err(|e| SasError::InvalidKey(e.to_string()))?;
        if bytes.is_empty() {
            return Err(SasError::InvalidKey("empty".into()));
        }
        Ok(Self(bytes))
    }

    /// `base64(HMAC-SHA256(key, data))`.
    pub fn sign(&self, data: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(data.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    }
}

/// SAS time format, `YYYY-MM-DDThh:mm:ssZ`.
pub fn sas_time(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn pairs(fields: &[(&str, Option<&str>)]) -> String {
    fields
        .iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, VALUE)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A queue service SAS (`sp`: `r` read metadata and peek, `a` add, `u` update,
/// `p` process), without a start time (no clock-skew trouble).
#[derive(Debug, Clone)]
pub struct QueueSas<'a> {
    pub account: &'a str,
    pub queue: &'a str,
    pub permissions: &'a str,
    /// `se`, as [`sas_time`] writes it.
    pub expiry: String,
    /// `spr`: `https` or `https,http`; `None` allows both.
    pub protocol: Option<&'a str>,
}

impl QueueSas<'_> {
    pub fn string_to_sign(&self) -> String {
        format!(
            "{}\n\n{}\n/queue/{}/{}\n\n\n{}\n{SAS_VERSION}",
            self.permissions,
            self.expiry,
            self.account,
            self.queue,
            self.protocol.unwrap_or_default(),
        )
    }

    /// The SAS token (query string without `?`).
    pub fn sign(&self, key: &AccountKey) -> String {
        let sig = key.sign(&self.string_to_sign());
        pairs(&[
            ("sv", Some(SAS_VERSION)),
            ("se", Some(&self.expiry)),
            ("sp", Some(self.permissions)),
            ("spr", self.protocol),
            ("sig", Some(&sig)),
        ])
    }
}

/// An account SAS for the queue service (tests use one to create and read queues).
#[derive(Debug, Clone)]
pub struct AccountSas<'a> {
    pub account: &'a str,
    /// `srt`, e.g. `sco`.
    pub resource_types: &'a str,
    /// `sp`, e.g. `rwdlacup`.
    pub permissions: &'a str,
    pub expiry: String,
    /// `sv`; `None` is [`SAS_VERSION`].
    pub version: Option<&'a str>,
}

impl AccountSas<'_> {
    pub fn string_to_sign(&self) -> String {
        let sv = self.version.unwrap_or(SAS_VERSION);
        let mut s = format!(
            "{}\n{}\nq\n{}\n\n{}\n\n\n{sv}\n",
            self.account, self.permissions, self.resource_types, self.expiry
        );
        // Versions compare as dates; from 2020-12-06 the (empty) encryption scope follows.
        if sv >= "2020-12-06" {
            s.push('\n');
        }
        s
    }

    pub fn sign(&self, key: &AccountKey) -> String {
        let sig = key.sign(&self.string_to_sign());
        pairs(&[
            ("sv", Some(self.version.unwrap_or(SAS_VERSION))),
            ("ss", Some("q")),
            ("srt", Some(self.resource_types)),
            ("sp", Some(self.permissions)),
            ("se", Some(&self.expiry)),
            ("sig", Some(&sig)),
        ])
    }
}

/// What a storage connection string says about the queue service.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionString {
    /// E.g. `https://acct.queue.core.windows.net`, or path-style
    /// `http://127.0.0.1:10001/devstoreaccount1` (Azurite); no trailing slash.
    pub queue_endpoint: String,
    pub account_name: Option<String>,
    /// The base64 account key.
    pub account_key: Option<String>,
    /// A SAS token without the leading `?`.
    pub sas: Option<String>,
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionString")
            .field("queue_endpoint", &self.queue_endpoint)
            .field("account_name", &self.account_name)
            .field("account_key", &self.account_key.as_ref().map(|_| "***"))
            .field("sas", &self.sas.as_ref().map(|_| "***"))
            .finish()
    }
}

impl ConnectionString {
    /// Parse `Key=Value;…`: keys case-insensitive (as the Microsoft SDKs), values may
    /// contain `=`. Read: `DefaultEndpointsProtocol`, `AccountName`, `AccountKey`,
    /// `EndpointSuffix`, `QueueEndpoint` (wins), `SharedAccessSignature`,
    /// `UseDevelopmentStorage=true`; other keys (`BlobEndpoint`, …) are ignored.
    pub fn parse(s: &str) -> Result<Self, SasError> {
        let bad = |m: &str| SasError::InvalidConnectionString(m.to_string());
        let (mut protocol, mut name, mut key, mut suffix, mut endpoint, mut sas) =
            (None, None, None, None, None, None);
        let mut dev = false;
        for seg in s.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = seg
                .split_once('=')
                .ok_or_else(|| bad("a segment without `=`"))?;
            let v = v.trim().to_string();
            match k.trim().to_ascii_lowercase().as_str() {
                "defaultendpointsprotocol" => protocol = Some(v),
                "accountname" => name = Some(v),
                "accountkey" => key = Some(v),
                "endpointsuffix" => suffix = Some(v),
                "queueendpoint" => endpoint = Some(v),
                "sharedaccesssignature" => sas = Some(v.trim_start_matches('?').to_string()),
                "usedevelopmentstorage" => dev = v.eq_ignore_ascii_case("true"),
                _ => {}
            }
        }
        if dev {
            return Ok(Self {
                queue_endpoint: endpoint
                    .unwrap_or_else(|| DEVSTORE_QUEUE_ENDPOINT.into())
                    .trim_end_matches('/')
                    .to_string(),
                account_name: Some(DEVSTORE_ACCOUNT.into()),
                account_key: Some(DEVSTORE_KEY.into()),
                sas: None,
            });
        }
        if key.is_some() && name.is_none() {
            return Err(bad("AccountKey without AccountName"));
        }
        if key.is_none() && sas.is_none() {
            return Err(bad(
                "needs AccountName and AccountKey, or SharedAccessSignature",
            ));
        }
        let endpoint = match endpoint {
            Some(e) => e,
            None => {
                let name = name
                    .as_deref()
                    .ok_or_else(|| bad("neither QueueEndpoint nor AccountName"))?;
                let protocol = protocol.as_deref().unwrap_or("https");
                if protocol != "https" && protocol != "http" {
                    return Err(bad("DefaultEndpointsProtocol must be https or http"));
                }
                let suffix = suffix.as_deref().unwrap_or("core.windows.net");
                format!("{protocol}://{name}.queue.{suffix}")
            }
        };
        let url = azure_core::http::Url::parse(&endpoint)
            .map_err(|e| bad(&format!("QueueEndpoint is not a URL: {e}")))?;
        if url.scheme() != "https" && url.scheme() != "http" {
            return Err(bad("QueueEndpoint must be https or http"));
        }
        let name = name.or_else(|| account_from_endpoint(&url));
        Ok(Self {
            queue_endpoint: endpoint.trim_end_matches('/').to_string(),
            account_name: name,
            account_key: key,
            sas,
        })
    }
}

/// `acct.queue.core.windows.net` → `acct`; path-style
/// `http://127.0.0.1:10001/devstoreaccount1` → `devstoreaccount1`.
pub fn account_from_endpoint(url: &azure_core::http::Url) -> Option<String> {
    match url.host_str() {
        Some(h) if h.contains(".queue.") => h.split('.').next().map(str::to_string),
        _ => url
            .path_segments()
            .and_then(|mut s| s.next())
            .filter(|s| !s.is_empty())
            .map(str::to_string),
    }
}

/// Replace the value of every `sig=` query parameter: error texts of the HTTP stack
/// carry the request URL, and a SAS signature there is a bearer secret.
pub fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("sig=") {
        let at_param = i == 0 || matches!(rest.as_bytes()[i - 1], b'?' | b'&');
        out.push_str(&rest[..i + 4]);
        rest = &rest[i + 4..];
        if at_param {
            let end = rest
                .find(|c: char| c == '&' || c == ')' || c == '"' || c.is_whitespace())
                .unwrap_or(rest.len());
            out.push_str("REDACTED");
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Signatures from Microsoft's Python SDK (azure-storage-queue 12.18.1) and Azurite
    // 3.35.0's verifier, for account devstoreaccount1, its well-known key, expiry
    // 2030-01-01T00:00:00Z.
    //   queue SAS, queue "orders", sp=ra, spr=https,http, sv=2022-11-02
    const PY_QUEUE_SIG: &str = "SV0sK0opX6nV9S6B01ZvO7Jezv5hoF1Y8T5KvSchZII=";
    //   account SAS, ss=q, srt=sco, sp=rwdlacup, sv=2022-11-02 / 2019-12-12
    const PY_ACCOUNT_SIG: &str = "O6g2m3d+vsNC8P1hbM1cv2yETxxGDqn7DxrTx5tJurc=";
    const AZURITE_ACCOUNT_SIG_2019: &str = "ISOqsP0NHiOsGl9k0+EpTjzIrD2+B9QkTDxF0vvZS+o=";

    fn key() -> AccountKey {
        AccountKey::from_base64(DEVSTORE_KEY).unwrap()
    }

    fn sig(token: &str) -> String {
        let enc = token.rsplit_once("sig=").unwrap().1;
        percent_encoding::percent_decode_str(enc)
            .decode_utf8()
            .unwrap()
            .into_owned()
    }

    #[test]
    fn queue_sas_matches_the_python_sdk() {
        let sas = QueueSas {
            account: DEVSTORE_ACCOUNT,
            queue: "orders",
            permissions: "ra",
            expiry: "2030-01-01T00:00:00Z".into(),
            protocol: Some("https,http"),
        };
        assert_eq!(
            sas.string_to_sign(),
            "ra\n\n2030-01-01T00:00:00Z\n/queue/devstoreaccount1/orders\n\n\nhttps,http\n2022-11-02"
        );
        let token = sas.sign(&key());
        assert_eq!(sig(&token), PY_QUEUE_SIG);
        assert!(token
            .starts_with("sv=2022-11-02&se=2030-01-01T00%3A00%3A00Z&sp=ra&spr=https%2Chttp&sig="));
    }

    #[test]
    fn account_sas_matches_the_python_sdk_and_azurite() {
        let mk = |v| AccountSas {
            account: DEVSTORE_ACCOUNT,
            resource_types: "sco",
            permissions: "rwdlacup",
            expiry: "2030-01-01T00:00:00Z".into(),
            version: Some(v),
        };
        let s = mk("2022-11-02");
        assert_eq!(
            s.string_to_sign(),
            "devstoreaccount1\nrwdlacup\nq\nsco\n\n2030-01-01T00:00:00Z\n\n\n2022-11-02\n\n"
        );
        assert_eq!(sig(&s.sign(&key())), PY_ACCOUNT_SIG);
        let s = mk("2019-12-12");
        assert!(s.string_to_sign().ends_with("2019-12-12\n"));
        assert_eq!(sig(&s.sign(&key())), AZURITE_ACCOUNT_SIG_2019);
    }

    #[test]
    fn hmac_rfc4231_case_2() {
        let k = AccountKey::from_base64(&B64.encode(b"Jefe")).unwrap();
        let mac = B64.decode(k.sign("what do ya want for nothing?")).unwrap();
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(AccountKey::from_base64("not base64!").is_err());
        assert_eq!(format!("{:?}", key()), "AccountKey(***)");
    }

    #[test]
    fn times_are_second_precision_utc() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_893_456_000_678);
        assert_eq!(sas_time(t), "2030-01-01T00:00:00Z");
    }

    #[test]
    fn connection_strings() {
        let c = ConnectionString::parse(
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.chinacloudapi.cn",
        )
        .unwrap();
        assert_eq!(c.queue_endpoint, "https://acct.queue.core.chinacloudapi.cn");
        assert_eq!(c.account_key.as_deref(), Some("a2V5"));
        let c = ConnectionString::parse("AccountName=acct;AccountKey=a2V5==").unwrap();
        assert_eq!(c.queue_endpoint, "https://acct.queue.core.windows.net");
        assert_eq!(c.account_key.as_deref(), Some("a2V5=="), "`=` in values");
        let c = ConnectionString::parse(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;QueueEndpoint=http://127.0.0.1:41234/devstoreaccount1/;",
        )
        .unwrap();
        assert_eq!(c.queue_endpoint, "http://127.0.0.1:41234/devstoreaccount1");
        let c = ConnectionString::parse(
            "QueueEndpoint=https://acct.queue.core.windows.net;SharedAccessSignature=?sv=2022-11-02&sp=a&sig=x%3D",
        )
        .unwrap();
        assert_eq!(c.account_name.as_deref(), Some("acct"));
        assert_eq!(c.sas.as_deref(), Some("sv=2022-11-02&sp=a&sig=x%3D"));
        let c = ConnectionString::parse("usedevelopmentstorage=true").unwrap();
        assert_eq!(c.queue_endpoint, DEVSTORE_QUEUE_ENDPOINT);
        for bad in [
            "",
            "AccountName=a",
            "AccountKey=a2V5",
            "garbage",
            "DefaultEndpointsProtocol=ftp;AccountName=a;AccountKey=a2V5",
        ] {
            assert!(ConnectionString::parse(bad).is_err(), "{bad}");
        }
        let dbg = format!(
            "{:?}",
            ConnectionString::parse("AccountName=a;AccountKey=c2VjcmV0").unwrap()
        );
        assert!(!dbg.contains("c2VjcmV0"), "{dbg}");
    }

    #[test]
    fn signatures_are_redacted() {
        let m = "error sending request for url (http://h/q?comp=metadata&se=2026&sig=sWh%2BlZ8R%3D&sp=ra): refused";
        assert_eq!(
            redact(m),
            "error sending request for url (http://h/q?comp=metadata&se=2026&sig=REDACTED&sp=ra): refused"
        );
        assert_eq!(redact("http://h/q?sig=abc"), "http://h/q?sig=REDACTED");
        assert_eq!(redact("xsig=1"), "xsig=1");
    }
}

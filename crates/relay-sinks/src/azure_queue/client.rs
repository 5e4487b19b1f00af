//! Connecting: one `QueueClient` per authentication mode, our HTTP transport (rustls with
//! ring, optional CA file), the derived SAS and its renewal, and the probe.

use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport, Url};
use azure_identity::{
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use azure_storage_queue::{QueueClient, QueueClientOptions};
use relay_contracts::{SinkError, SinkErrorKind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::config::{AzureQueueConfig, Credential};
use super::error::{classify, AzureError};
use super::sas::{self, AccountKey, ConnectionString, QueueSas};

/// Lifetime of a SAS derived from an account key; the client is rebuilt at half of it.
const DERIVED_SAS_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// `r`: read metadata (the probe); `a`: add messages.
const DERIVED_SAS_PERMISSIONS: &str = "ra";

/// How requests are authorized.
enum Auth {
    /// A SAS derived from the account key, renewed before it expires.
    Key { account: String, key: AccountKey },
    /// A SAS given as such (`sas_token`, or in the connection string).
    Sas(Secret),
    /// Entra ID: a bearer token for `https://storage.azure.com/.default`.
    Token(Arc<dyn TokenCredential>, &'static str),
}

impl Auth {
    fn describe(&self) -> String {
        match self {
            Auth::Key { account, .. } => format!("account key of {account} (derived SAS)"),
            Auth::Sas(_) => "SAS token".into(),
            Auth::Token(_, kind) => format!("Entra ID ({kind})"),
        }
    }
}

struct Current {
    client: Arc<QueueClient>,
    renew_at: Option<SystemTime>,
}

/// A queue client that renews its derived SAS by itself.
pub struct Queue {
    cfg: AzureQueueConfig,
    /// `<endpoint>/<queue>` without a query.
    url: String,
    auth: Auth,
    transport: Transport,
    current: Mutex<Current>,
}

fn config_error(cfg: &AzureQueueConfig, message: impl Into<String>) -> SinkError {
    SinkError::new(&cfg.name, SinkErrorKind::Config, message)
}

impl Queue {
    /// Build the client for `cfg` (no request is made).
    pub fn new(cfg: &AzureQueueConfig) -> Result<Self, SinkError> {
        cfg.validate().map_err(|m| config_error(cfg, m))?;
        crate::tls::install_crypto_provider();
        let transport = transport(cfg)?;
        let (endpoint, auth) = auth(cfg, &transport)?;
        let url = format!("{}/{}", endpoint.trim_end_matches('/'), cfg.queue);
        Url::parse(&url).map_err(|e| config_error(cfg, format!("`endpoint` {endpoint:?}: {e}")))?;
        let first = build(cfg, &url, &auth, &transport)?;
        Ok(Self {
            cfg: cfg.clone(),
            url,
            auth,
            transport,
            current: Mutex::new(first),
        })
    }

    /// The client to use now (with a fresh SAS past half its lifetime).
    pub fn client(&self) -> Result<Arc<QueueClient>, SinkError> {
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if current.renew_at.is_some_and(|t| SystemTime::now() >= t) {
            *current = build(&self.cfg, &self.url, &self.auth, &self.transport)?;
        }
        Ok(Arc::clone(&current.client))
    }

    /// `<endpoint>/<queue>`, no secrets.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn describe_auth(&self) -> String {
        self.auth.describe()
    }

    /// Get Queue Metadata (`GET ?comp=metadata`): no side effects. Proves the endpoint
    /// answers, the credentials are accepted and the queue exists. Needs read permission
    /// (SAS `r`, or an Entra role with `queues/metadata/read` such as Storage Queue Data
    /// Reader/Contributor). It cannot prove permission to add messages (SAS `a`,
    /// Storage Queue Data Message Sender) without sending one.
    pub async fn probe(&self) -> Result<String, AzureError> {
        let client = self.client().map_err(|e| AzureError::local(e.message))?;
        let props = client
            .get_properties(None)
            .await
            .map_err(|e| classify("Get Queue Metadata", &e))?;
        use azure_storage_queue::models::QueueClientGetPropertiesResultHeaders;
        let count = props
            .approximate_messages_count()
            .ok()
            .flatten()
            .map_or_else(|| "unknown".into(), |n| n.to_string());
        Ok(format!(
            "queue {} exists and its metadata is readable with the {} (about {count} messages); \
             permission to add messages cannot be proven without sending one",
            self.url,
            self.auth.describe()
        ))
    }
}

/// The queue service endpoint and how to authorize, from the configuration.
fn auth(cfg: &AzureQueueConfig, transport: &Transport) -> Result<(String, Auth), SinkError> {
    let account_endpoint = |account: &str| format!("https://{account}.queue.core.windows.net");
    let key = |account: &str, key: &str| {
        AccountKey::from_base64(key)
            .map(|key| Auth::Key {
                account: account.to_string(),
                key,
            })
            .map_err(|e| config_error(cfg, e.to_string()))
    };
    if let Some(cs) = &cfg.connection_string {
        let cs = ConnectionString::parse(cs.expose())
            .map_err(|e| config_error(cfg, format!("`connection_string`: {e}")))?;
        let endpoint = cfg.endpoint.clone().unwrap_or(cs.queue_endpoint);
        let auth = match (cs.account_key, cs.sas) {
            (Some(k), _) => {
                let account = cs
                    .account_name
                    .ok_or_else(|| config_error(cfg, "`connection_string`: AccountName missing"))?;
                key(&account, &k)?
            }
            (None, Some(s)) => Auth::Sas(Secret::new(s)),
            (None, None) => {
                return Err(config_error(
                    cfg,
                    "`connection_string` has neither AccountKey nor SharedAccessSignature",
                ))
            }
        };
        return Ok((endpoint, auth));
    }
    let endpoint = match (&cfg.endpoint, &cfg.account) {
        (Some(e), _) => e.clone(),
        (None, Some(a)) => account_endpoint(a),
        (None, None) => return Err(config_error(cfg, "set `endpoint` or `account`")),
    };
    if let (Some(account), Some(k)) = (&cfg.account, &cfg.access_key) {
        return Ok((endpoint, key(account, k.expose())?));
    }
    if let Some(token) = &cfg.sas_token {
        let token = token.expose().trim_start_matches('?').to_string();
        return Ok((endpoint, Auth::Sas(Secret::new(token))));
    }
    Ok((endpoint, entra(cfg, transport)?))
}

/// The Entra ID credential `credential` names, or the first whose settings are present:
/// a client secret, a federated token file (workload identity), else the managed identity.
fn entra(cfg: &AzureQueueConfig, transport: &Transport) -> Result<Auth, SinkError> {
    let options = || ClientOptions {
        transport: Some(transport.clone()),
        ..Default::default()
    };
    let kind = cfg.credential.unwrap_or(if cfg.client_secret.is_some() {
        Credential::ClientSecret
    } else if cfg.federated_token_file.is_some()
        || std::env::var_os("AZURE_FEDERATED_TOKEN_FILE").is_some()
    {
        Credential::WorkloadIdentity
    } else {
        Credential::ManagedIdentity
    });
    let failed = |what: &str, e: azure_core::Error| {
        config_error(
            cfg,
            format!(
                "cannot set up the {what} credential: {}",
                sas::redact(&e.to_string())
            ),
        )
    };
    let credential: (Arc<dyn TokenCredential>, &'static str) = match kind {
        Credential::ClientSecret => {
            let (Some(tenant), Some(client), Some(secret)) =
                (&cfg.tenant_id, &cfg.client_id, &cfg.client_secret)
            else {
                return Err(config_error(cfg, "`credential = \"client-secret\"` needs `tenant_id`, `client_id` and `client_secret`"));
            };
            let c = ClientSecretCredential::new(
                tenant,
                client.clone(),
                Secret::new(secret.expose().to_string()),
                Some(ClientSecretCredentialOptions {
                    client_options: options(),
                }),
            )
            .map_err(|e| failed("client secret", e))?;
            (c, "client secret")
        }
        Credential::WorkloadIdentity => {
            let mut o = WorkloadIdentityCredentialOptions {
                tenant_id: cfg.tenant_id.clone(),
                client_id: cfg.client_id.clone(),
                token_file_path: cfg.federated_token_file.clone(),
                ..Default::default()
            };
            o.credential_options.client_options = options();
            let c = WorkloadIdentityCredential::new(Some(o))
                .map_err(|e| failed("workload identity", e))?;
            (c, "workload identity")
        }
        Credential::ManagedIdentity => {
            let o = ManagedIdentityCredentialOptions {
                user_assigned_id: cfg.client_id.clone().map(UserAssignedId::ClientId),
                client_options: options(),
            };
            let c = ManagedIdentityCredential::new(Some(o))
                .map_err(|e| failed("managed identity", e))?;
            (c, "managed identity")
        }
    };
    Ok(Auth::Token(credential.0, credential.1))
}

/// Our reqwest client: rustls with ring (installed process-wide), the platform's roots
/// or `tls_ca_file`, no redirects, `request_timeout` per request.
fn transport(cfg: &AzureQueueConfig) -> Result<Transport, SinkError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(cfg.request_timeout)
        .redirect(reqwest::redirect::Policy::none());
    if let Some(path) = &cfg.tls_ca_file {
        let pem = std::fs::read(path).map_err(|e| {
            config_error(
                cfg,
                format!("cannot read tls_ca_file {}: {e}", path.display()),
            )
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| config_error(cfg, format!("tls_ca_file {}: {e}", path.display())))?;
        builder = builder.tls_certs_only(certs);
    }
    let client = builder
        .build()
        .map_err(|e| config_error(cfg, format!("cannot build the HTTP client: {e}")))?;
    Ok(Transport::new(Arc::new(client)))
}

/// The SDK's own retries, short: the pipeline lane retries for as long as it takes with
/// its backoff (the SDK's default, 8 retries up to 30 s apart, kept one refused
/// connection busy for over a minute).
fn retry() -> RetryOptions {
    RetryOptions::exponential(ExponentialRetryOptions {
        initial_delay: azure_core::time::Duration::milliseconds(200),
        max_retries: 2,
        max_total_elapsed: azure_core::time::Duration::seconds(5),
        max_delay: azure_core::time::Duration::seconds(1),
    })
}

fn build(
    cfg: &AzureQueueConfig,
    url: &str,
    auth: &Auth,
    transport: &Transport,
) -> Result<Current, SinkError> {
    let mut options = QueueClientOptions {
        client_options: ClientOptions {
            transport: Some(transport.clone()),
            retry: retry(),
            ..Default::default()
        },
        ..Default::default()
    };
    if let Some(v) = &cfg.api_version {
        options.version = v.clone();
    }
    let (query, credential, renew_at) = match auth {
        Auth::Key { account, key } => {
            let now = SystemTime::now();
            let token = QueueSas {
                account,
                queue: &cfg.queue,
                permissions: DERIVED_SAS_PERMISSIONS,
                expiry: sas::sas_time(now + DERIVED_SAS_LIFETIME),
                protocol: None,
            }
            .sign(key);
            (Some(token), None, Some(now + DERIVED_SAS_LIFETIME / 2))
        }
        Auth::Sas(token) => (Some(token.secret().to_string()), None, None),
        Auth::Token(c, _) => (None, Some(Arc::clone(c)), None),
    };
    let full = match &query {
        Some(q) => format!("{url}?{q}"),
        None => url.to_string(),
    };
    let parsed = Url::parse(&full)
        .map_err(|e| config_error(cfg, format!("queue URL: {}", sas::redact(&e.to_string()))))?;
    let client = QueueClient::new(parsed, credential, Some(options)).map_err(|e| {
        config_error(
            cfg,
            format!(
                "{} (Entra ID needs an https endpoint)",
                sas::redact(&e.to_string())
            ),
        )
    })?;
    Ok(Current {
        client: Arc::new(client),
        renew_at,
    })
}

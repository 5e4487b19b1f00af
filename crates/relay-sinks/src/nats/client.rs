//! Connecting: authentication, TLS, and making sure the stream exists and captures our
//! subjects before the first event is sent.

use async_nats::connection::State;
use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::stream::{Config as StreamConfig, StorageType};
use async_nats::jetstream::Context;
use async_nats::jetstream::ErrorCode;
use async_nats::{Client, ConnectError, ConnectErrorKind, ConnectOptions, Event, ServerAddr};
use std::str::FromStr;

use relay_contracts::{SinkError, SinkErrorKind};

use super::config::NatsConfig;
use super::encode;

/// A connected client, with the stream verified (or created).
pub(crate) struct Connection {
    pub client: Client,
}

fn error(cfg: &NatsConfig, kind: SinkErrorKind, message: impl Into<String>) -> SinkError {
    SinkError::new(&cfg.name, kind, message)
}

/// Connect with the configured authentication and TLS, then verify (or create) the stream.
///
/// Fails when no server is reachable (the client only reconnects by itself once it has
/// been connected), when authentication fails, and when the stream is missing or does not
/// capture `<subject_prefix>.>`. Messages name the URLs without credentials.
pub(crate) async fn connect(cfg: &NatsConfig) -> Result<Connection, SinkError> {
    cfg.validate()
        .map_err(|m| error(cfg, SinkErrorKind::Config, m))?;
    crate::tls::install_crypto_provider();

    let addrs = cfg
        .url
        .as_slice()
        .iter()
        .map(|u| ServerAddr::from_str(u))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(cfg, SinkErrorKind::Config, format!("`url`: {e}")))?;

    let options = options(cfg).await?;
    let client = options.connect(addrs).await.map_err(|e| {
        let hint = connect_hint(&e);
        let kind = match e.kind() {
            ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
                SinkErrorKind::Auth
            }
            ConnectErrorKind::Tls => SinkErrorKind::Config,
            _ => SinkErrorKind::Unreachable,
        };
        error(
            cfg,
            kind,
            format!(
                "cannot connect to NATS at {}: {e}{hint}",
                cfg.redacted_urls()
            ),
        )
    })?;

    // Stream management with the client's request timeout (10 s), independent of a short
    // ack_timeout (which bounds publishing, in the sink).
    ensure_stream(cfg, &async_nats::jetstream::new(client.clone())).await?;
    tracing::info!(
        sink = %cfg.name,
        url = %cfg.redacted_urls(),
        stream = %cfg.stream,
        subjects = %cfg.stream_subject(),
        max_payload = client.server_info().max_payload,
        "connected to NATS JetStream"
    );
    Ok(Connection { client })
}

/// What to check after a failed connect.
fn connect_hint(e: &ConnectError) -> &'static str {
    const TLS: &str =
        " (check tls_ca_file, tls_cert_file, tls_key_file and the server's certificate)";
    let text = e.to_string().to_ascii_lowercase();
    match e.kind() {
        ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
            " (check user/password, token, nkey_seed, creds_file or credentials in `url`)"
        }
        ConnectErrorKind::Tls => TLS,
        // Certificate verification failures arrive as I/O errors.
        _ if text.contains("certificate") || text.contains("tls") => TLS,
        ConnectErrorKind::ServerParse => "",
        _ => " (is the server running and reachable from here?)",
    }
}

async fn options(cfg: &NatsConfig) -> Result<ConnectOptions, SinkError> {
    let sink = cfg.name.clone();
    let mut options = ConnectOptions::new()
        .name(&cfg.connection_name)
        // The sink's ack subscription holds at most `max_pending_acks` unread acks; a
        // full subscription would drop acks (slow consumer), so make room for the largest.
        .subscription_capacity(super::MAX_PENDING_ACKS_LIMIT)
        .event_callback(move |event| {
            let sink = sink.clone();
            async move { log_event(&sink, event) }
        });
    match cfg.url_credentials() {
        Some((user, Some(password))) => options = options.user_and_password(user, password),
        Some((token, None)) => options = options.token(token),
        None => {}
    }
    if let (Some(user), Some(password)) = (&cfg.user, &cfg.password) {
        options = options.user_and_password(user.clone(), password.expose().to_string());
    }
    if let Some(token) = &cfg.token {
        options = options.token(token.expose().to_string());
    }
    if let Some(seed) = &cfg.nkey_seed {
        options = options.nkey(seed.expose().to_string());
    }
    if let Some(path) = &cfg.creds_file {
        options = options.credentials_file(path).await.map_err(|e| {
            error(
                cfg,
                SinkErrorKind::Config,
                format!("cannot read creds_file {}: {e}", path.display()),
            )
        })?;
    }
    if let Some(ca) = &cfg.tls_ca_file {
        readable(cfg, "tls_ca_file", ca)?;
        options = options.add_root_certificates(ca.clone());
    }
    if let (Some(cert), Some(key)) = (&cfg.tls_cert_file, &cfg.tls_key_file) {
        readable(cfg, "tls_cert_file", cert)?;
        readable(cfg, "tls_key_file", key)?;
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    if cfg.requires_tls() {
        options = options.require_tls(true);
    }
    Ok(options)
}

/// Fail early, naming the key, rather than with the client's bare I/O error.
fn readable(cfg: &NatsConfig, key: &str, path: &std::path::Path) -> Result<(), SinkError> {
    std::fs::File::open(path).map(drop).map_err(|e| {
        error(
            cfg,
            SinkErrorKind::Config,
            format!("cannot read {key} {}: {e}", path.display()),
        )
    })
}

fn log_event(sink: &str, event: Event) {
    match event {
        Event::Connected => tracing::info!(sink, "NATS connection (re)established"),
        Event::Disconnected => {
            tracing::warn!(
                sink,
                "NATS connection lost; reconnecting (publishes wait and retry)"
            )
        }
        Event::LameDuckMode => {
            tracing::warn!(
                sink,
                "NATS server entered lame duck mode; it will close the connection soon"
            )
        }
        Event::Closed => tracing::warn!(sink, "NATS connection closed"),
        other => tracing::warn!(sink, event = %other, "NATS client event"),
    }
}

/// The one line that tells an operator how to make the stream we need.
fn fix(cfg: &NatsConfig) -> String {
    format!(
        "create it with `nats stream add {} --subjects '{}' --storage file --dupe-window {}` \
         (or add the subject to the stream), or set `create_stream = true` on this sink",
        cfg.stream,
        cfg.stream_subject(),
        humantime::format_duration(cfg.duplicate_window),
    )
}

pub(crate) async fn ensure_stream(cfg: &NatsConfig, js: &Context) -> Result<(), SinkError> {
    let wanted = cfg.stream_subject();
    let existing = match js.get_stream(&cfg.stream).await {
        Ok(stream) => stream.cached_info().config.clone(),
        Err(e) => {
            return match e.kind() {
                GetStreamErrorKind::JetStream(api)
                    if api.error_code() == ErrorCode::STREAM_NOT_FOUND =>
                {
                    if cfg.create_stream {
                        create_stream(cfg, js).await
                    } else {
                        Err(error(
                            cfg,
                            SinkErrorKind::Missing,
                            format!(
                                "stream {} does not exist (it must capture {wanted}); {}",
                                cfg.stream,
                                fix(cfg)
                            ),
                        ))
                    }
                }
                GetStreamErrorKind::Request => Err(error(
                    cfg,
                    SinkErrorKind::Missing,
                    format!(
                        "cannot look up stream {}: {e}; is JetStream enabled on the server \
                         (`nats-server -js`) and for this account?",
                        cfg.stream
                    ),
                )),
                _ => Err(error(
                    cfg,
                    SinkErrorKind::Other,
                    format!("cannot look up stream {}: {e}", cfg.stream),
                )),
            };
        }
    };
    if existing.storage == StorageType::Memory {
        tracing::warn!(
            sink = %cfg.name,
            stream = %cfg.stream,
            "the stream keeps messages in memory: events it acked are lost if the server \
             restarts, after the relay has confirmed them; use file storage"
        );
    }
    if cfg.create_stream {
        return update_stream(cfg, js, existing).await;
    }
    if !encode::covers(&existing.subjects, &wanted) {
        return Err(error(
            cfg,
            SinkErrorKind::Missing,
            format!(
                "stream {} captures {:?}, which does not cover {wanted}: events would not be \
                 stored; {}",
                cfg.stream,
                existing.subjects,
                fix(cfg)
            ),
        ));
    }
    if existing.duplicate_window < cfg.duplicate_window {
        tracing::warn!(
            sink = %cfg.name,
            stream = %cfg.stream,
            stream_duplicate_window = %humantime::format_duration(existing.duplicate_window),
            "the stream deduplicates redelivered events only inside its duplicate_window; \
             after a longer outage consumers may see duplicates"
        );
    }
    Ok(())
}

/// `create_stream = true` and the stream exists: add our subjects if it does not capture
/// them and lengthen a shorter duplicate window; every other setting stays as it is.
async fn update_stream(
    cfg: &NatsConfig,
    js: &Context,
    mut config: StreamConfig,
) -> Result<(), SinkError> {
    let wanted = cfg.stream_subject();
    let mut changed = Vec::new();
    if !encode::covers(&config.subjects, &wanted) {
        config.subjects.push(wanted.clone());
        changed.push(format!("subjects += {wanted}"));
    }
    if config.duplicate_window < cfg.duplicate_window {
        config.duplicate_window = cfg.duplicate_window;
        changed.push(format!(
            "duplicate_window = {}",
            humantime::format_duration(cfg.duplicate_window)
        ));
    }
    if changed.is_empty() {
        return Ok(());
    }
    let changes = changed.join(", ");
    js.update_stream(&config).await.map_err(|e| {
        error(
            cfg,
            SinkErrorKind::Other,
            format!("cannot update stream {} ({changes}): {e}", cfg.stream),
        )
    })?;
    tracing::info!(sink = %cfg.name, stream = %cfg.stream, %changes, "updated the stream");
    Ok(())
}

async fn create_stream(cfg: &NatsConfig, js: &Context) -> Result<(), SinkError> {
    let config = StreamConfig {
        name: cfg.stream.clone(),
        subjects: vec![cfg.stream_subject()],
        storage: StorageType::File,
        duplicate_window: cfg.duplicate_window,
        description: Some("CloudEvents from outbox-relay".into()),
        ..Default::default()
    };
    js.create_stream(config).await.map_err(|e| {
        error(
            cfg,
            SinkErrorKind::Other,
            format!(
                "cannot create stream {} with subjects {}: {e}",
                cfg.stream,
                cfg.stream_subject()
            ),
        )
    })?;
    tracing::info!(
        sink = %cfg.name,
        stream = %cfg.stream,
        subjects = %cfg.stream_subject(),
        "created the stream (file storage, 1 replica; see the README for production settings)"
    );
    Ok(())
}

/// Whether the client is connected right now (for log messages).
pub(crate) fn is_connected(client: &Client) -> bool {
    client.connection_state() == State::Connected
}

/// Side-effect-free check for `probe()`: connected, and the stream exists and captures
/// `<subject_prefix>.>` (never creates or updates anything, whatever `create_stream` says).
pub(crate) async fn probe(cfg: &NatsConfig, client: &Client) -> Result<String, SinkError> {
    if !is_connected(client) {
        return Err(error(
            cfg,
            SinkErrorKind::Unreachable,
            format!(
                "not connected to NATS at {} (reconnecting)",
                cfg.redacted_urls()
            ),
        ));
    }
    let js = async_nats::jetstream::new(client.clone());
    let wanted = cfg.stream_subject();
    let stream = js.get_stream(&cfg.stream).await.map_err(|e| {
        let kind = match e.kind() {
            GetStreamErrorKind::JetStream(api)
                if api.error_code() == ErrorCode::STREAM_NOT_FOUND =>
            {
                SinkErrorKind::Missing
            }
            _ => SinkErrorKind::Unreachable,
        };
        error(
            cfg,
            kind,
            format!("cannot look up stream {}: {e}", cfg.stream),
        )
    })?;
    let info = stream.cached_info();
    if !encode::covers(&info.config.subjects, &wanted) {
        return Err(error(
            cfg,
            SinkErrorKind::Missing,
            format!(
                "stream {} captures {:?}, which does not cover {wanted}; {}",
                cfg.stream,
                info.config.subjects,
                fix(cfg)
            ),
        ));
    }
    Ok(format!(
        "stream {} captures {wanted} ({} messages)",
        cfg.stream, info.state.messages
    ))
}

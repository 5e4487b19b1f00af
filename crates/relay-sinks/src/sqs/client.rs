//! Connecting: the AWS credential and region chains, our HTTP client, and what the
//! queue says about itself (`GetQueueAttributes`) before the first event is sent.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_sqs::config::retry::RetryConfig;
use aws_sdk_sqs::config::timeout::TimeoutConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_sqs::Client;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use relay_contracts::{SinkError, SinkErrorKind};
use std::time::Duration;

use super::config::{SqsConfig, SQS_MAX_BYTES};
use super::error::{classify, SqsError};

/// Attempts per call inside the SDK (standard mode: 5xx, throttling and I/O errors,
/// with jittered backoff). Short on purpose: the pipeline lane retries for as long as
/// it takes, with its own backoff, and says so in the log.
const SDK_MAX_ATTEMPTS: u32 = 3;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// What `GetQueueAttributes` told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueInfo {
    pub arn: String,
    pub fifo: bool,
    pub max_message_size: usize,
    pub kms: bool,
}

impl QueueInfo {
    /// One line for logs and `check`.
    pub fn describe(&self) -> String {
        format!(
            "queue {} ({}, MaximumMessageSize {}{}): its attributes are readable with these credentials; \
             sending (sqs:SendMessage{}) cannot be proven without sending",
            if self.arn.is_empty() { "(no ARN reported)" } else { &self.arn },
            if self.fifo { "FIFO" } else { "standard" },
            self.max_message_size,
            if self.kms { ", SSE-KMS" } else { "" },
            if self.kms { ", kms:GenerateDataKey" } else { "" },
        )
    }
}

/// The SQS client for `cfg`: standard credential chain (environment, profile, web
/// identity, ECS, IMDS), region from `region` or the chain, our rustls (ring) HTTP
/// client — without one the SDK cannot send at all in this trimmed build.
pub async fn client(cfg: &SqsConfig) -> Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::standard().with_max_attempts(SDK_MAX_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(cfg.request_timeout)
                .build(),
        );
    if let Some(region) = &cfg.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(url) = &cfg.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    if let Some(profile) = &cfg.profile {
        loader = loader.profile_name(profile.clone());
    }
    Client::new(&loader.load().await)
}

/// `GetQueueAttributes(All)`: no side effects. Proves the endpoint answers, the
/// credentials are accepted, the queue exists in this account and region, and the
/// principal may `sqs:GetQueueAttributes`. It cannot prove `sqs:SendMessage` (a
/// separate permission; SQS has no dry run) nor KMS permissions for encrypted queues.
pub async fn queue_info(client: &Client, queue_url: &str) -> Result<QueueInfo, SqsError> {
    let out = client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| classify("GetQueueAttributes", &e))?;
    let get = |name: QueueAttributeName| out.attributes().and_then(|a| a.get(&name)).cloned();
    Ok(QueueInfo {
        arn: get(QueueAttributeName::QueueArn).unwrap_or_default(),
        fifo: get(QueueAttributeName::FifoQueue).is_some_and(|v| v == "true"),
        max_message_size: get(QueueAttributeName::MaximumMessageSize)
            .and_then(|v| v.parse().ok())
            .unwrap_or(SQS_MAX_BYTES),
        kms: get(QueueAttributeName::KmsMasterKeyId).is_some_and(|v| !v.is_empty()),
    })
}

/// A start-up or probe failure as the contracts' [`SinkError`].
pub fn sink_error(cfg: &SqsConfig, e: SqsError) -> SinkError {
    SinkError::new(
        &cfg.name,
        e.kind,
        format!("queue {}: {}", cfg.queue_url, e.message),
    )
}

/// Connect and verify the queue; fail with the fix when it cannot work.
pub async fn connect(cfg: &SqsConfig) -> Result<(Client, QueueInfo), SinkError> {
    cfg.validate()
        .map_err(|m| SinkError::new(&cfg.name, SinkErrorKind::Config, m))?;
    let client = client(cfg).await;
    let info = queue_info(&client, &cfg.queue_url)
        .await
        .map_err(|e| sink_error(cfg, e))?;
    if info.fifo != cfg.is_fifo() {
        return Err(SinkError::new(
            &cfg.name,
            SinkErrorKind::Config,
            format!(
                "queue {} is {} but its URL {} end in .fifo; check queue_url",
                cfg.queue_url,
                if info.fifo {
                    "a FIFO queue"
                } else {
                    "a standard queue"
                },
                if cfg.is_fifo() { "does" } else { "does not" },
            ),
        ));
    }
    tracing::info!(sink = %cfg.name, queue = %cfg.queue_url, detail = %info.describe(), "SQS queue verified");
    Ok((client, info))
}

//! `[[sinks]] type = "sqs"`: the settings, their defaults and their validation.

use futures::future::BoxFuture;
use relay_contracts::config::duration;
use relay_contracts::{Sink, SinkError};
use serde::{Deserialize, Deserializer};
use std::sync::Arc;
use std::time::Duration;

use crate::oversize::{self, Oversize};

/// SQS's limit for one message and for one `SendMessageBatch` request (1 MiB since 2025;
/// a queue can be configured lower with `MaximumMessageSize`).
pub const SQS_MAX_BYTES: usize = 1_048_576;
/// Entries one `SendMessageBatch` takes.
pub const SQS_MAX_ENTRIES: usize = 10;

impl crate::SinkSpec for SqsConfig {
    fn name(&self) -> &str {
        &self.name
    }

    fn build(&self) -> BoxFuture<'_, Result<Arc<dyn Sink>, SinkError>> {
        Box::pin(async move { Ok(Arc::new(super::SqsSink::connect(self).await?) as Arc<dyn Sink>) })
    }
}

/// `MessageGroupId` of FIFO queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageGroup {
    /// The event's aggregate (CloudEvents `subject`): one aggregate's events in commit
    /// order, different aggregates in parallel.
    Subject,
    /// One group for every event: a single ordered stream (and SQS's per-group
    /// throughput limit for all of it).
    Fixed(String),
}

impl<'de> Deserialize<'de> for MessageGroup {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(if s == "subject" {
            MessageGroup::Subject
        } else {
            MessageGroup::Fixed(s)
        })
    }
}

/// Settings of one Amazon SQS sink (the `[[sinks]]` table with `type = "sqs"`).
///
/// Credentials come from the standard AWS chain (environment, shared profile, web
/// identity, ECS container credentials, EC2 instance role): none are configured here.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsConfig {
    /// The sink's name (logs, dead letters).
    pub name: String,
    /// `https://sqs.<region>.amazonaws.com/<account>/<queue>`; a name ending in `.fifo`
    /// is a FIFO queue.
    pub queue_url: String,
    /// The AWS region; default: the chain's (`AWS_REGION`, the profile).
    #[serde(default)]
    pub region: Option<String>,
    /// Another endpoint: a VPC endpoint, or an emulator.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// A named profile of the shared AWS config/credentials files (default: `AWS_PROFILE`
    /// or `default`).
    #[serde(default)]
    pub profile: Option<String>,
    /// FIFO queues: `"subject"` (default) or a fixed group id.
    #[serde(default = "default_message_group")]
    pub message_group: MessageGroup,
    /// Bytes one message may have (body and attributes, as SQS counts them); also capped
    /// by the queue's `MaximumMessageSize`.
    #[serde(default = "default_max_bytes")]
    pub max_message_bytes: usize,
    /// Bytes one `SendMessageBatch` may carry.
    #[serde(default = "default_max_bytes")]
    pub max_batch_bytes: usize,
    /// `SendMessageBatch` requests awaiting their answer at once.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// How long one request attempt may take (connect included) before it counts as a
    /// retryable failure.
    #[serde(default = "default_request_timeout", with = "duration")]
    pub request_timeout: Duration,
    /// An event over `max_message_bytes`: `"dead-letter"` (default) or `"trim"`.
    #[serde(default)]
    pub oversize: Oversize,
    /// With `oversize = "trim"`: parts of `data` that may be dropped, in order.
    #[serde(default)]
    pub trim: Vec<String>,
}

fn default_message_group() -> MessageGroup {
    MessageGroup::Subject
}
fn default_max_bytes() -> usize {
    SQS_MAX_BYTES
}
fn default_max_in_flight() -> usize {
    8
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(10)
}

impl SqsConfig {
    /// Settings with every default, for `name` sending to `queue_url`.
    pub fn new(name: impl Into<String>, queue_url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            queue_url: queue_url.into(),
            region: None,
            endpoint_url: None,
            profile: None,
            message_group: default_message_group(),
            max_message_bytes: default_max_bytes(),
            max_batch_bytes: default_max_bytes(),
            max_in_flight: default_max_in_flight(),
            request_timeout: default_request_timeout(),
            oversize: Oversize::DeadLetter,
            trim: Vec::new(),
        }
    }

    /// A queue whose name ends in `.fifo`.
    pub fn is_fifo(&self) -> bool {
        self.queue_name().ends_with(".fifo")
    }

    /// The last path segment of `queue_url`.
    pub fn queue_name(&self) -> &str {
        self.queue_url
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default()
    }

    /// Check what can be checked without AWS. The message names the key at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() {
            return Err("`name` must not be empty".into());
        }
        let url = &self.queue_url;
        let shaped = (url.starts_with("https://") || url.starts_with("http://"))
            && url.trim_end_matches('/').matches('/').count() >= 4
            && !self.queue_name().is_empty();
        if !shaped {
            return Err(format!(
                "`queue_url` {url:?} is not a queue URL like https://sqs.eu-west-1.amazonaws.com/123456789012/portal-events"
            ));
        }
        if let Some(e) = &self.endpoint_url {
            if !(e.starts_with("https://") || e.starts_with("http://")) {
                return Err(format!(
                    "`endpoint_url` {e:?} must start with https:// or http://"
                ));
            }
        }
        if let MessageGroup::Fixed(g) = &self.message_group {
            if !super::encode::valid_fifo_id(g) {
                return Err(format!(
                    "`message_group` {g:?}: \"subject\", or 1-128 letters, digits and punctuation"
                ));
            }
        }
        if !(1024..=SQS_MAX_BYTES).contains(&self.max_message_bytes) {
            return Err(format!(
                "`max_message_bytes` must be between 1024 and {SQS_MAX_BYTES}"
            ));
        }
        if !(1024..=SQS_MAX_BYTES).contains(&self.max_batch_bytes) {
            return Err(format!(
                "`max_batch_bytes` must be between 1024 and {SQS_MAX_BYTES}"
            ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &str) -> Result<SqsConfig, String> {
        toml::from_str::<SqsConfig>(&format!(
            "name = \"q\"\nqueue_url = \"https://sqs.eu-west-1.amazonaws.com/123456789012/events\"\n{extra}"
        ))
        .map_err(|e| e.to_string())
        .and_then(|c| c.validate().map(|()| c))
    }

    #[test]
    fn defaults_and_fifo() {
        let c = parse("").unwrap();
        assert!(!c.is_fifo());
        assert_eq!(c.message_group, MessageGroup::Subject);
        assert_eq!(c.max_batch_bytes, 1_048_576);
        let c: SqsConfig = toml::from_str(
            "name = \"q\"\nqueue_url = \"http://127.0.0.1:4566/000000000000/e.fifo\"\nmessage_group = \"all\"",
        )
        .unwrap();
        assert!(c.is_fifo());
        assert_eq!(c.message_group, MessageGroup::Fixed("all".into()));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (extra, key) in [
            ("max_in_flight = 0", "max_in_flight"),
            ("max_batch_bytes = 2000000", "max_batch_bytes"),
            ("message_group = \"with space\"", "message_group"),
            ("endpoint_url = \"localhost:4566\"", "endpoint_url"),
            ("oversize = \"trim\"", "trim"),
        ] {
            let e = parse(extra).unwrap_err();
            assert!(e.contains(key), "{extra}: {e}");
        }
        assert!(parse("queue = \"x\"")
            .unwrap_err()
            .contains("unknown field"));
        let e = toml::from_str::<SqsConfig>("name = \"q\"\nqueue_url = \"events\"")
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(e.contains("queue_url"), "{e}");
    }
}

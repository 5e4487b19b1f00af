//! Every SQS failure sorted in one place: what class it is (retry, dead-letter, fatal),
//! what kind of trouble for start-up errors, and one line naming the fix.

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use relay_contracts::{Classify, ErrorClass, Outcome, SinkErrorKind};

/// A failed SQS call or batch entry, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SqsError {
    pub class: ErrorClass,
    pub kind: SinkErrorKind,
    /// The error code SQS (or the SDK) reported, e.g. `InvalidClientTokenId`.
    pub code: Option<String>,
    /// One line: what failed and what to check. Never a secret or a payload.
    pub message: String,
}

impl Classify for SqsError {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

impl SqsError {
    /// The outcome of an event this failure hit. `Fatal` (credentials, a missing queue)
    /// is retried: the confirmed LSN waits until an operator fixes it, nothing is lost.
    pub fn outcome(&self) -> Outcome {
        Outcome::failed(self.class, self.message.clone())
    }
}

const THROTTLING: &[&str] = &[
    "RequestThrottled",
    "ThrottlingException",
    "Throttling",
    "KmsThrottled",
    "KMS.ThrottlingException",
    "OverLimit",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "RequestTimeout",
    "RequestTimeoutException",
    "TooManyRequestsException",
];

const CREDENTIALS: &[&str] = &[
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredToken",
    "ExpiredTokenException",
    "AccessDenied",
    "AccessDeniedException",
    "InvalidSecurity",
    "RequestExpired",
];

/// SQS reports the legacy query code (from `x-amzn-query-error`); the JSON `__type`
/// spelling is accepted too.
const MISSING_QUEUE: &[&str] = &[
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "InvalidAddress",
    "AWS.SimpleQueueService.QueueDeletedRecently",
];

/// This one message can never be sent.
const MESSAGE: &[&str] = &[
    "InvalidMessageContents",
    "MessageTooLong",
    "InvalidParameterValue",
    "MissingParameter",
    "InvalidAttributeName",
    "InvalidAttributeValue",
];

const BATCH_SHAPE: &[&str] = &[
    "AWS.SimpleQueueService.BatchRequestTooLong",
    "BatchRequestTooLong",
    "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "TooManyEntriesInBatchRequest",
    "AWS.SimpleQueueService.EmptyBatchRequest",
    "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "AWS.SimpleQueueService.InvalidBatchEntryId",
];

const FIX_CREDENTIALS: &str = "check the AWS credentials the relay finds (environment, profile, web identity, container or instance role) and that they may sqs:SendMessage and sqs:GetQueueAttributes on this queue";
const FIX_QUEUE: &str = "check queue_url and region: the queue must exist in that account and region (aws sqs create-queue --queue-name …)";
const FIX_KMS: &str = "the queue is encrypted with a KMS key these credentials cannot use: allow kms:GenerateDataKey and kms:Decrypt on it";
const FIX_ENDPOINT: &str =
    "is the SQS endpoint reachable from here? (network, proxy, VPC endpoint, endpoint_url)";

/// Sort by error code and HTTP status (`None` for a batch entry).
fn by_code(code: &str, status: Option<u16>) -> (ErrorClass, SinkErrorKind, &'static str) {
    use ErrorClass::*;
    if THROTTLING.contains(&code) {
        return (Retry, SinkErrorKind::Other, "");
    }
    if CREDENTIALS.contains(&code) {
        return (Fatal, SinkErrorKind::Auth, FIX_CREDENTIALS);
    }
    if MISSING_QUEUE.contains(&code) {
        return (Fatal, SinkErrorKind::Missing, FIX_QUEUE);
    }
    if code.starts_with("Kms") || code.starts_with("KMS.") {
        return (Fatal, SinkErrorKind::Auth, FIX_KMS);
    }
    if MESSAGE.contains(&code) || BATCH_SHAPE.contains(&code) {
        return (DeadLetter, SinkErrorKind::Other, "");
    }
    match status {
        Some(s) if s >= 500 || s == 429 => (Retry, SinkErrorKind::Other, ""),
        Some(401 | 403) => (Fatal, SinkErrorKind::Auth, FIX_CREDENTIALS),
        // An unknown 4xx: never dead-letter on a code we do not know; wait and say so.
        _ => (Fatal, SinkErrorKind::Other, ""),
    }
}

fn with_fix(line: String, fix: &str) -> String {
    if fix.is_empty() {
        line
    } else {
        format!("{line} ({fix})")
    }
}

/// Classify a failed SQS call. `what` names the operation for the message.
pub fn classify<E>(what: &str, err: &SdkError<E, HttpResponse>) -> SqsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let plain = |class, kind, code: &str, message: String| SqsError {
        class,
        kind,
        code: Some(code.to_string()),
        message,
    };
    match err {
        SdkError::ServiceError(se) => {
            let status = se.raw().status().as_u16();
            let code = err.code().unwrap_or("Unknown").to_string();
            let text = err.message().unwrap_or_default().replace('\n', " ");
            let (class, kind, fix) = by_code(&code, Some(status));
            plain(
                class,
                kind,
                &code,
                with_fix(format!("SQS {what} failed: HTTP {status} {code}: {text}"), fix),
            )
        }
        SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => plain(
            ErrorClass::Retry,
            SinkErrorKind::Unreachable,
            if d.is_timeout() { "timeout" } else { "io" },
            with_fix(
                format!("SQS {what} failed: endpoint unreachable: {}", innermost(err)),
                FIX_ENDPOINT,
            ),
        ),
        // No credentials in the chain, no region, a TLS setup problem: before any request.
        SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => plain(
            ErrorClass::Fatal,
            SinkErrorKind::Config,
            "setup",
            format!(
                "SQS {what} failed before reaching the endpoint: {} (set credentials and region: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a web identity or role; `region` or AWS_REGION)",
                innermost(err)
            ),
        ),
        SdkError::TimeoutError(_) => plain(
            ErrorClass::Retry,
            SinkErrorKind::Unreachable,
            "timeout",
            with_fix(format!("SQS {what} timed out"), FIX_ENDPOINT),
        ),
        SdkError::ResponseError(r) => plain(
            ErrorClass::Retry,
            SinkErrorKind::Other,
            "response",
            format!(
                "SQS {what}: unreadable response (HTTP {}): {}",
                r.raw().status().as_u16(),
                innermost(err)
            ),
        ),
        _ => plain(
            ErrorClass::Retry,
            SinkErrorKind::Other,
            "unknown",
            format!("SQS {what} failed: {}", innermost(err)),
        ),
    }
}

/// Classify one failed entry of a `SendMessageBatch` that succeeded as a whole.
/// SQS says with `SenderFault` whose fault it was: not ours means try again.
pub fn classify_entry(code: &str, sender_fault: bool, text: Option<&str>) -> SqsError {
    let (class, kind, fix) = if !sender_fault {
        (ErrorClass::Retry, SinkErrorKind::Other, "")
    } else {
        by_code(code, None)
    };
    SqsError {
        class,
        kind,
        code: Some(code.to_string()),
        message: with_fix(
            format!(
                "SQS refused the message: {code} (SenderFault={sender_fault}): {}",
                text.unwrap_or_default().replace('\n', " ")
            ),
            fix,
        ),
    }
}

/// The deepest message of the source chain ("Connection refused (os error 111)"):
/// the SDK's own Display is only "dispatch failure".
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = err;
    while let Some(s) = cur.source() {
        cur = s;
    }
    cur.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries() {
        let c = |code, fault| classify_entry(code, fault, Some("m")).class;
        assert_eq!(c("InternalError", false), ErrorClass::Retry);
        assert_eq!(
            c("Whatever", false),
            ErrorClass::Retry,
            "not the sender's fault"
        );
        assert_eq!(c("InvalidMessageContents", true), ErrorClass::DeadLetter);
        assert_eq!(c("InvalidParameterValue", true), ErrorClass::DeadLetter);
        assert_eq!(c("RequestThrottled", true), ErrorClass::Retry);
        assert_eq!(c("KmsAccessDenied", true), ErrorClass::Fatal);
        assert_eq!(
            c("SomethingNew", true),
            ErrorClass::Fatal,
            "unknown: wait, do not drop"
        );
        let e = classify_entry("InvalidMessageContents", true, Some("bad chars"));
        assert!(e.message.contains("InvalidMessageContents") && e.message.contains("bad chars"));
        assert!(matches!(e.outcome(), Outcome::Rejected(_)));
        assert!(matches!(
            classify_entry("AccessDenied", true, None).outcome(),
            Outcome::Retryable(_)
        ));
    }

    #[test]
    fn codes_and_statuses() {
        assert_eq!(
            by_code("InvalidClientTokenId", Some(403)).1,
            SinkErrorKind::Auth
        );
        assert_eq!(
            by_code("AWS.SimpleQueueService.NonExistentQueue", Some(400)).1,
            SinkErrorKind::Missing
        );
        assert_eq!(
            by_code("QueueDoesNotExist", Some(400)).1,
            SinkErrorKind::Missing
        );
        assert_eq!(by_code("Anything", Some(503)).0, ErrorClass::Retry);
        assert_eq!(by_code("Anything", Some(429)).0, ErrorClass::Retry);
        assert_eq!(by_code("Anything", Some(403)).1, SinkErrorKind::Auth);
        assert_eq!(by_code("Anything", Some(400)).0, ErrorClass::Fatal);
        assert_eq!(
            by_code("AWS.SimpleQueueService.BatchRequestTooLong", Some(400)).0,
            ErrorClass::DeadLetter,
            "the sink splits the batch; one entry alone is this message's fault"
        );
    }
}

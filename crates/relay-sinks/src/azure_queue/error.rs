//! Every Azure Queue Storage failure sorted in one place: its class (retry, dead-letter,
//! fatal), its kind for start-up errors, and one line naming the fix, with any SAS
//! signature removed (the HTTP stack's error texts carry the request URL).

use azure_core::error::ErrorKind;
use relay_contracts::{Classify, ErrorClass, Outcome, SinkErrorKind};

use super::sas;

/// A failed Azure call, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AzureError {
    pub class: ErrorClass,
    pub kind: SinkErrorKind,
    pub status: Option<u16>,
    /// `x-ms-error-code`, e.g. `AuthenticationFailed`, `QueueNotFound`.
    pub code: Option<String>,
    /// One line, no secret, no payload.
    pub message: String,
}

impl Classify for AzureError {
    fn class(&self) -> ErrorClass {
        self.class
    }
}

impl AzureError {
    /// A failure before any request (configuration).
    pub fn local(message: String) -> Self {
        Self {
            class: ErrorClass::Fatal,
            kind: SinkErrorKind::Config,
            status: None,
            code: None,
            message,
        }
    }

    /// The outcome of the event this failure hit: `Fatal` (credentials, a missing
    /// queue) is retried, so the LSN waits until it is fixed and nothing is lost.
    pub fn outcome(&self) -> Outcome {
        Outcome::failed(self.class, self.message.clone())
    }
}

const FIX_AUTH: &str = "check the connection string, access key, SAS token (expiry, permissions `a` and `r`) or the Entra ID role (Storage Queue Data Message Sender, and Reader for the check)";
const FIX_QUEUE: &str =
    "check `queue` and `endpoint`: the queue must exist (az storage queue create --name …)";
const FIX_ENDPOINT: &str =
    "is the endpoint reachable from here? (network, proxy, private endpoint, `endpoint`)";

/// Sort an HTTP answer: (class, kind, fix).
pub fn by_status(status: u16, code: &str) -> (ErrorClass, SinkErrorKind, &'static str) {
    use ErrorClass::*;
    match (status, code) {
        (413, _) | (_, "RequestBodyTooLarge" | "MessageTooLarge") => {
            (DeadLetter, SinkErrorKind::Other, "")
        }
        (408 | 429 | 500 | 502 | 503 | 504, _)
        | (_, "ServerBusy" | "InternalError" | "OperationTimedOut") => {
            (Retry, SinkErrorKind::Other, "")
        }
        (409, "QueueBeingDeleted") => (Retry, SinkErrorKind::Missing, FIX_QUEUE),
        (401 | 403, _) => (Fatal, SinkErrorKind::Auth, FIX_AUTH),
        (404, _) | (409, "QueueDisabled") => (Fatal, SinkErrorKind::Missing, FIX_QUEUE),
        // The message itself is malformed for the service: only this event.
        (400, "InvalidXmlDocument" | "InvalidXmlNodeValue") => {
            (DeadLetter, SinkErrorKind::Other, "")
        }
        (s, _) if s >= 500 => (Retry, SinkErrorKind::Other, ""),
        // Any other 4xx (a bad TTL, an API version the service does not know, …) fails
        // every event alike: wait, with the reason in the log.
        _ => (Fatal, SinkErrorKind::Config, ""),
    }
}

/// Classify a failed call. `what` names the operation.
pub fn classify(what: &str, err: &azure_core::Error) -> AzureError {
    let text = sas::redact(&chain(err));
    match err.kind() {
        ErrorKind::HttpResponse {
            status, error_code, ..
        } => {
            let status = u16::from(*status);
            let code = error_code.clone().unwrap_or_default();
            let (class, kind, fix) = by_status(status, &code);
            let detail = service_message(&text);
            let mut message = format!("Azure Queue {what} failed: HTTP {status} {code}");
            if !detail.is_empty() {
                message.push_str(": ");
                message.push_str(&detail);
            }
            if !fix.is_empty() {
                message.push_str(&format!(" ({fix})"));
            }
            AzureError {
                class,
                kind,
                status: Some(status),
                code: (!code.is_empty()).then_some(code),
                message,
            }
        }
        ErrorKind::Connection | ErrorKind::Io => {
            // The cause alone ("Connection refused (os error 111)"): the layers above it
            // repeat the request URL and the SDK's retry wrapping.
            let text = sas::redact(&innermost(err));
            // An untrusted server certificate arrives as a connection error, but waiting
            // does not fix it.
            let tls = text.contains("certificate");
            AzureError {
                class: if tls {
                    ErrorClass::Fatal
                } else {
                    ErrorClass::Retry
                },
                kind: if tls {
                    SinkErrorKind::Config
                } else {
                    SinkErrorKind::Unreachable
                },
                status: None,
                code: None,
                message: if tls {
                    format!("Azure Queue {what} failed: TLS: {text} (check the endpoint's certificate or tls_ca_file)")
                } else {
                    format!(
                        "Azure Queue {what} failed: endpoint unreachable: {text} ({FIX_ENDPOINT})"
                    )
                },
            }
        }
        // No token from Entra ID: the identity endpoint may be down, or the setup wrong.
        ErrorKind::Credential => AzureError {
            class: ErrorClass::Fatal,
            kind: SinkErrorKind::Auth,
            status: None,
            code: None,
            message: format!("Azure Queue {what}: no Entra ID token: {text} ({FIX_AUTH})"),
        },
        // The answer could not be read: not the message's fault.
        ErrorKind::DataConversion => AzureError {
            class: ErrorClass::Retry,
            kind: SinkErrorKind::Other,
            status: None,
            code: None,
            message: format!("Azure Queue {what}: unreadable answer: {text}"),
        },
        _ => AzureError {
            class: ErrorClass::Fatal,
            kind: SinkErrorKind::Config,
            status: None,
            code: None,
            message: format!("Azure Queue {what} failed: {text}"),
        },
    }
}

/// The error and its sources, each once ("failed to execute `reqwest` request" alone
/// hides the cause).
fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let m = e.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = e.source();
    }
    s
}

/// The deepest message of the source chain, on one line.
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

/// The `<Message>` of the service's XML error body, first line (the rest is a request
/// id and a time); empty when there is none.
fn service_message(text: &str) -> String {
    text.split_once("<Message>")
        .and_then(|(_, rest)| rest.split_once("</Message>"))
        .map(|(m, _)| m.lines().next().unwrap_or_default().trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        use ErrorClass::*;
        let c = |s, code| by_status(s, code).0;
        assert_eq!(c(413, "RequestBodyTooLarge"), DeadLetter);
        assert_eq!(c(503, "ServerBusy"), Retry);
        assert_eq!(c(500, "OperationTimedOut"), Retry);
        assert_eq!(c(429, ""), Retry);
        assert_eq!(c(403, "AuthenticationFailed"), Fatal);
        assert_eq!(
            by_status(403, "AuthorizationPermissionMismatch").1,
            SinkErrorKind::Auth
        );
        assert_eq!(by_status(404, "QueueNotFound").1, SinkErrorKind::Missing);
        assert_eq!(c(409, "QueueBeingDeleted"), Retry);
        assert_eq!(c(400, "InvalidQueryParameterValue"), Fatal);
        assert_eq!(c(400, "InvalidXmlDocument"), DeadLetter);
    }

    #[test]
    fn service_messages_are_one_line() {
        let t = "HttpResponse(Forbidden, \"AuthenticationFailed\"): <?xml version=\"1.0\"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request.\nRequestId:1\nTime:2</Message></Error>";
        assert_eq!(
            service_message(t),
            "Server failed to authenticate the request."
        );
        assert_eq!(service_message("no body"), "");
    }
}

//! What goes on the wire: the subject of an event, its headers, and the subject
//! wildcard matching used to check that the stream captures our subjects.
//!
//! CloudEvents NATS protocol binding, structured mode: the payload is the JSON envelope
//! exactly as capture encoded it, with `Content-Type: application/cloudevents+json`.

use async_nats::header::{NATS_EXPECTED_STREAM, NATS_MESSAGE_ID};
use async_nats::HeaderMap;
use relay_contracts::OutboundEvent;

/// The `Content-Type` of a structured-mode CloudEvent.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// `<prefix>.<route>`, or why the event's route cannot be a subject.
pub fn subject(prefix: &str, route: &str) -> Result<String, String> {
    let subject = format!("{prefix}.{route}");
    check_tokens(&subject).map_err(|e| format!("route {route:?} does not make a subject: {e}"))?;
    Ok(subject)
}

/// The headers every message of a sink carries: the CloudEvents content type, and
/// `Nats-Expected-Stream` so a subject captured by some other stream fails instead of
/// landing there. Built once per sink; [`headers`] adds each event's own.
pub fn fixed_headers(stream: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("Content-Type", CONTENT_TYPE);
    headers.insert(NATS_EXPECTED_STREAM, stream);
    headers
}

/// The headers of `event`'s message (its payload is the envelope, `event.body`): the
/// sink's [`fixed_headers`] and `Nats-Msg-Id` = event id (JetStream dedup).
pub fn headers(fixed: &HeaderMap, event: &OutboundEvent) -> HeaderMap {
    let mut headers = fixed.clone();
    headers.insert(NATS_MESSAGE_ID, event.id.as_str());
    headers
}

/// Bytes the headers of [`headers`] add on the wire (`NATS/1.0\r\n`, `Name: value\r\n`
/// per header, the closing `\r\n`): with the payload, what `max_payload` limits.
pub fn header_len(event: &OutboundEvent, stream: &str) -> usize {
    let line = |name: &str, value: &str| name.len() + 2 + value.len() + 2;
    "NATS/1.0\r\n".len()
        + line("Nats-Msg-Id", &event.id)
        + line("Content-Type", CONTENT_TYPE)
        + line("Nats-Expected-Stream", stream)
        + 2
}

/// A subject prefix: one or more literal tokens.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    check_tokens(prefix)
}

/// Literal tokens only: non-empty, no whitespace or wildcards.
fn check_tokens(subject: &str) -> Result<(), String> {
    if subject.is_empty() {
        return Err("empty".into());
    }
    for token in subject.split('.') {
        if token.is_empty() {
            return Err("empty token (leading, trailing or double `.`)".into());
        }
        if token == "*" || token == ">" || token.contains(['*', '>']) {
            return Err("wildcards (`*`, `>`) are not allowed".into());
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("whitespace is not allowed".into());
        }
    }
    Ok(())
}

/// Whether the subject filters together capture every subject `pattern` matches
/// (NATS wildcards: `*` is one token, a final `>` one or more tokens).
///
/// `covers(["portal.>"], "portal.events.>")` and
/// `covers(["portal.events.*", "portal.events.*.>"], "portal.events.>")` hold;
/// `covers(["portal.events.*"], "portal.events.>")` does not.
pub fn covers<S: AsRef<str>>(filters: &[S], pattern: &str) -> bool {
    let filters: Vec<Vec<&str>> = filters
        .iter()
        .map(|f| f.as_ref().split('.').collect())
        .collect();
    let refs: Vec<&[&str]> = filters.iter().map(Vec::as_slice).collect();
    let pattern: Vec<&str> = pattern.split('.').collect();
    covers_tokens(&refs, &pattern)
}

fn covers_tokens(filters: &[&[&str]], pattern: &[&str]) -> bool {
    let Some((&first, rest)) = pattern.split_first() else {
        // The pattern is used up: covered if some filter ends here too.
        return filters.iter().any(|f| f.is_empty());
    };
    if filters.iter().any(|f| f.first() == Some(&">")) {
        return true;
    }
    // Filters that match every value of this token: `*`, or the same literal.
    let tails = |literal: Option<&str>| -> Vec<&[&str]> {
        filters
            .iter()
            .filter_map(|f| match f.split_first() {
                Some((&"*", tail)) => Some(tail),
                Some((&t, tail)) if Some(t) == literal => Some(tail),
                _ => None,
            })
            .collect()
    };
    match first {
        // `>`: exactly one more token, or one token followed by one or more.
        ">" => {
            let tails = tails(None);
            !tails.is_empty() && covers_tokens(&tails, &[]) && covers_tokens(&tails, &[">"])
        }
        // `*`: any token, so only `*` filters can cover it.
        "*" => covers_tokens(&tails(None), rest),
        literal => covers_tokens(&tails(Some(literal)), rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn event(id: &str, route: &str) -> OutboundEvent {
        OutboundEvent {
            id: id.into(),
            aggregate: "agg".into(),
            kind: "portal.audit.x.v1".into(),
            route: route.into(),
            commit_lsn: 1,
            body: Bytes::from_static(b"{\"specversion\":\"1.0\"}"),
        }
    }

    #[test]
    fn subjects() {
        assert_eq!(
            subject("portal.events", "audit.data_product_created").unwrap(),
            "portal.events.audit.data_product_created"
        );
        assert!(subject("portal.events", "").is_err());
        assert!(subject("portal.events", "a..b").is_err());
        assert!(subject("portal.events", "a.*").is_err());
        assert!(subject("portal.events", "a b").is_err());
        assert!(subject("portal.events", "a.>").is_err());
    }

    #[test]
    fn prefixes() {
        assert!(check_prefix("portal.events").is_ok());
        assert!(check_prefix("x").is_ok());
        for bad in ["", ".x", "x.", "x..y", "x.*", "x.>", "x y", "x\t"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn message_headers() {
        let ev = event("456a352e-12f6-4eb2-9859-e0a3ff7ceb88", "audit.x");
        let headers = headers(&fixed_headers("PORTAL_EVENTS"), &ev);
        assert_eq!(
            headers.get("Nats-Msg-Id").map(|v| v.as_str()),
            Some("456a352e-12f6-4eb2-9859-e0a3ff7ceb88")
        );
        assert_eq!(
            headers.get("Content-Type").map(|v| v.as_str()),
            Some(CONTENT_TYPE)
        );
        assert_eq!(
            headers.get("Nats-Expected-Stream").map(|v| v.as_str()),
            Some("PORTAL_EVENTS")
        );
        let block = format!(
            "NATS/1.0\r\nNats-Msg-Id: {}\r\nContent-Type: {CONTENT_TYPE}\r\nNats-Expected-Stream: PORTAL_EVENTS\r\n\r\n",
            ev.id
        );
        assert_eq!(header_len(&ev, "PORTAL_EVENTS"), block.len());
    }

    #[test]
    fn single_filter_coverage() {
        let yes = [
            ("portal.events.>", "portal.events.>"),
            ("portal.>", "portal.events.>"),
            (">", "portal.events.>"),
            ("*.events.>", "portal.events.>"),
            ("portal.*.>", "portal.events.>"),
            ("portal.events.*", "portal.events.x"),
            ("portal.events.x", "portal.events.x"),
        ];
        for (f, p) in yes {
            assert!(covers(&[f], p), "{f} should cover {p}");
        }
        let no = [
            ("portal.events.*", "portal.events.>"),
            ("portal.events.audit.>", "portal.events.>"),
            ("portal.events", "portal.events.>"),
            ("other.>", "portal.events.>"),
            ("portal.events.>", "portal.>"),
            ("portal.events.x", "portal.events.*"),
            ("portal.events.*.*", "portal.events.>"),
            ("portal.*", "portal.events.>"),
        ];
        for (f, p) in no {
            assert!(!covers(&[f], p), "{f} should not cover {p}");
        }
        assert!(!covers::<&str>(&[], "portal.events.>"));
    }

    #[test]
    fn filter_sets_cover_together() {
        assert!(covers(
            &["portal.events.*", "portal.events.*.>"],
            "portal.events.>"
        ));
        assert!(covers(
            &[
                "portal.events.*",
                "portal.events.*.*",
                "portal.events.*.*.>"
            ],
            "portal.events.>"
        ));
        assert!(!covers(
            &["portal.events.*", "portal.events.*.*"],
            "portal.events.>"
        ));
        assert!(!covers(
            &["portal.events.audit.>", "portal.events.debezium.>"],
            "portal.events.>"
        ));
        assert!(covers(&["a.b", "a.*"], "a.*"));
    }
}

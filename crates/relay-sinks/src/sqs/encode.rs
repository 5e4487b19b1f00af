//! What goes on the wire: one `SendMessageBatch` entry per event.
//!
//! There is no official CloudEvents binding for SQS. We follow the convention of the
//! CloudEvents Go SDK's SQS protocol (`protocol/sqs/v2`): message attributes `ce-id`,
//! `ce-type`, `ce-source`, `ce-specversion`, `ce-subject`, `ce-time` and `Content-Type`.
//! The body is the whole JSON envelope (structured mode: `Content-Type:
//! application/cloudevents+json`, so that SDK and any JSON reader get every attribute,
//! extensions included); the `ce-*` attributes repeat the core attributes so consumers
//! and filters can route without parsing the body. 7 of SQS's 10 attributes per message.

use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use relay_contracts::OutboundEvent;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

use super::config::MessageGroup;

/// `Content-Type` of a structured-mode CloudEvent.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// One message, ready to become a batch entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub body: String,
    pub attributes: Vec<(&'static str, String)>,
    /// FIFO only: (`MessageGroupId`, `MessageDeduplicationId`).
    pub fifo: Option<(String, String)>,
}

impl Message {
    /// Size as SQS counts it: the body plus each attribute's name, data type and value.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|(k, v)| k.len() + "String".len() + v.len())
                .sum::<usize>()
    }

    /// The entry with batch-local id `id`.
    pub fn entry(&self, id: usize) -> SendMessageBatchRequestEntry {
        let mut b = SendMessageBatchRequestEntry::builder()
            .id(id.to_string())
            .message_body(self.body.clone());
        for (k, v) in &self.attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v.clone())
                .build()
                .expect("data_type is set");
            b = b.message_attributes(*k, value);
        }
        if let Some((group, dedup)) = &self.fifo {
            b = b
                .message_group_id(group.clone())
                .message_deduplication_id(dedup.clone());
        }
        b.build().expect("id and body are set")
    }
}

/// The envelope attributes the `ce-*` attributes repeat (the rest is in the event).
#[derive(Deserialize)]
struct Head<'a> {
    #[serde(borrow, default)]
    specversion: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    source: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
}

/// The message for `event` with envelope `body` (the event's, or a trimmed one).
/// `Err` says why this event can never be an SQS message.
pub fn message(
    event: &OutboundEvent,
    body: &[u8],
    fifo: Option<&MessageGroup>,
) -> Result<Message, String> {
    let body = std::str::from_utf8(body)
        .map_err(|_| "the envelope is not UTF-8; SQS bodies are text".to_string())?;
    if let Some(c) = body.chars().find(|c| !xml_char(*c)) {
        return Err(format!(
            "the envelope contains U+{:04X}, which SQS does not accept in a message body",
            c as u32
        ));
    }
    let head: Head = serde_json::from_str(body).unwrap_or(Head {
        specversion: None,
        source: None,
        time: None,
    });
    let mut attributes = Vec::with_capacity(7);
    let mut add = |name: &'static str, value: &str| {
        // SQS refuses empty attribute values; an absent attribute says the same.
        if !value.is_empty() && value.chars().all(xml_char) {
            attributes.push((name, value.to_string()));
        }
    };
    add(
        "ce-specversion",
        head.specversion.as_deref().unwrap_or("1.0"),
    );
    add("ce-id", &event.id);
    add("ce-type", &event.kind);
    add("ce-source", head.source.as_deref().unwrap_or_default());
    add("ce-subject", &event.aggregate);
    add("ce-time", head.time.as_deref().unwrap_or_default());
    add("Content-Type", CONTENT_TYPE);
    let fifo = fifo.map(|group| {
        let group = match group {
            MessageGroup::Subject => fifo_id(&event.aggregate),
            MessageGroup::Fixed(g) => g.clone(),
        };
        (group, fifo_id(&event.id))
    });
    Ok(Message {
        body: body.to_string(),
        attributes,
        fifo,
    })
}

/// Characters SQS accepts (XML 1.0): #x9 #xA #xD #x20–#xD7FF #xE000–#xFFFD #x10000–#x10FFFF.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// A FIFO group or deduplication id as SQS takes it: 1–128 ASCII letters, digits and
/// punctuation.
pub fn valid_fifo_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())
}

/// `s` itself when SQS accepts it as a FIFO id (event ids and subjects are UUIDs), else
/// a stable stand-in: `sha256:` and the hex digest (71 characters), so one aggregate
/// or one event always maps to the same id.
pub fn fifo_id(s: &str) -> String {
    if valid_fifo_id(s) {
        return s.to_string();
    }
    let digest = Sha256::digest(s.as_bytes());
    let mut out = String::with_capacity(71);
    out.push_str("sha256:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Cut `sizes` (in event order) into runs of at most [`super::config::SQS_MAX_ENTRIES`]
/// entries and `max_bytes` bytes. Every size is at most `max_bytes`.
pub fn plan(sizes: &[usize], max_bytes: usize) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, size) in sizes.iter().enumerate() {
        if i > start && (i - start == super::config::SQS_MAX_ENTRIES || bytes + size > max_bytes) {
            runs.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        runs.push(start..sizes.len());
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn event(body: &str) -> OutboundEvent {
        OutboundEvent {
            id: "456a352e-12f6-4eb2-9859-e0a3ff7ceb88".into(),
            aggregate: "33333333-3333-4333-8333-333333333333".into(),
            kind: "portal.data_product.created.v1".into(),
            route: "data_product.created".into(),
            commit_lsn: 1,
            body: Bytes::from(body.to_string()),
        }
    }

    const BODY: &str = r#"{"specversion":"1.0","id":"456a352e-12f6-4eb2-9859-e0a3ff7ceb88","source":"/data-product-portal","type":"portal.data_product.created.v1","subject":"33333333-3333-4333-8333-333333333333","time":"2026-11-29T08:35:06.633679Z","data":{}}"#;

    #[test]
    fn attributes_follow_the_go_sdk_convention() {
        let e = event(BODY);
        let m = message(&e, &e.body, None).unwrap();
        let names: Vec<&str> = m.attributes.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "ce-specversion",
                "ce-id",
                "ce-type",
                "ce-source",
                "ce-subject",
                "ce-time",
                "Content-Type"
            ]
        );
        let get = |k: &str| {
            m.attributes
                .iter()
                .find(|(n, _)| *n == k)
                .unwrap()
                .1
                .clone()
        };
        assert_eq!(get("ce-source"), "/data-product-portal");
        assert_eq!(get("ce-time"), "2026-11-29T08:35:06.633679Z");
        assert_eq!(get("Content-Type"), CONTENT_TYPE);
        assert_eq!(m.body, BODY);
        assert!(m.fifo.is_none());
        let expected: usize = BODY.len()
            + m.attributes
                .iter()
                .map(|(k, v)| k.len() + 6 + v.len())
                .sum::<usize>();
        assert_eq!(m.size(), expected);
        let entry = m.entry(3);
        assert_eq!(entry.id(), "3");
        assert_eq!(entry.message_attributes().unwrap().len(), 7);
    }

    #[test]
    fn fifo_ids_are_the_event_id_and_the_subject() {
        let e = event(BODY);
        let m = message(&e, &e.body, Some(&MessageGroup::Subject)).unwrap();
        assert_eq!(
            m.fifo,
            Some((e.aggregate.clone(), e.id.clone())),
            "group = subject, dedup = id"
        );
        let m = message(&e, &e.body, Some(&MessageGroup::Fixed("all".into()))).unwrap();
        assert_eq!(m.fifo.unwrap().0, "all");
        let odd = fifo_id("order with space é");
        assert!(odd.starts_with("sha256:") && odd.len() == 71 && valid_fifo_id(&odd));
        assert_eq!(odd, fifo_id("order with space é"), "stable");
        assert!(!valid_fifo_id(&"g".repeat(129)));
    }

    #[test]
    fn bodies_sqs_refuses_are_refused_here() {
        let e = event("{\"data\":\"\u{FFFE}\"}");
        assert!(message(&e, &e.body, None).unwrap_err().contains("U+FFFE"));
        let e = event("x");
        assert!(message(&e, &[0xff, 0xfe], None)
            .unwrap_err()
            .contains("UTF-8"));
        // Not JSON: still a message, with the attributes the event itself knows.
        let m = message(&e, b"plain", None).unwrap();
        assert!(m.attributes.iter().any(|(k, _)| *k == "ce-id"));
        assert!(!m.attributes.iter().any(|(k, _)| *k == "ce-time"));
    }

    #[test]
    fn batches_respect_count_and_bytes() {
        let runs = plan(&[10; 25], 1_048_576);
        assert_eq!(runs, vec![0..10, 10..20, 20..25]);
        let runs = plan(&[600_000, 600_000, 400_000, 10], 1_048_576);
        assert_eq!(runs, vec![0..1, 1..4]);
        assert!(plan(&[], 100).is_empty());
    }
}

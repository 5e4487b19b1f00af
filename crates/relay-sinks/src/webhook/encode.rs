//! Event → HTTP request body, per `format`, and the `event_types` filter.

use bytes::Bytes;
use relay_contracts::OutboundEvent;
use serde::Deserialize;
use serde_json::value::RawValue;

/// The CloudEvents HTTP binding's structured-mode media type.
pub const CLOUDEVENTS_CONTENT_TYPE: &str = "application/cloudevents+json";
/// What the portal's own V2 webhooks send.
pub const PORTAL_V2_CONTENT_TYPE: &str = "application/json";
/// The `source` of the portal's own V2 webhooks.
pub const PORTAL_V2_SOURCE: &str = "data-product-portal";

/// What goes on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Format {
    /// The relay's CloudEvents envelope, unchanged (structured mode).
    #[default]
    #[serde(rename = "cloudevents")]
    CloudEvents,
    /// The body the portal's V2 webhooks post: `specversion`, `id`, `source`
    /// (`data-product-portal`), `type`, `time`, `data`, as plain JSON.
    #[serde(rename = "portal-v2")]
    PortalV2,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::CloudEvents => CLOUDEVENTS_CONTENT_TYPE,
            Format::PortalV2 => PORTAL_V2_CONTENT_TYPE,
        }
    }
}

/// The body of one request. `Err` names why this event can never be encoded (the sink
/// rejects it: dead letter).
pub fn body(format: Format, event: &OutboundEvent) -> Result<Bytes, String> {
    match format {
        Format::CloudEvents => Ok(event.body.clone()),
        Format::PortalV2 => portal_v2(event),
    }
}

/// The envelope's attributes the portal's body keeps (borrowed; `data` stays raw JSON).
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    specversion: Option<&'a RawValue>,
    #[serde(borrow)]
    id: &'a RawValue,
    #[serde(rename = "type", borrow)]
    kind: &'a RawValue,
    #[serde(borrow)]
    time: Option<&'a RawValue>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

#[derive(serde::Serialize)]
struct PortalBody<'a> {
    specversion: &'a RawValue,
    id: &'a RawValue,
    source: &'static str,
    #[serde(rename = "type")]
    kind: &'a RawValue,
    time: &'a RawValue,
    data: &'a RawValue,
}

fn portal_v2(event: &OutboundEvent) -> Result<Bytes, String> {
    let env: Envelope<'_> = serde_json::from_slice(&event.body)
        .map_err(|e| format!("the envelope is not a CloudEvent with id and type: {e}"))?;
    let version = RawValue::from_string("\"1.0\"".into()).map_err(|e| e.to_string())?;
    let null = RawValue::from_string("null".into()).map_err(|e| e.to_string())?;
    let body = PortalBody {
        specversion: env.specversion.unwrap_or(&version),
        id: env.id,
        source: PORTAL_V2_SOURCE,
        kind: env.kind,
        time: env.time.unwrap_or(&null),
        data: env.data.unwrap_or(&null),
    };
    serde_json::to_vec(&body)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}

/// `event_types`: exact types, or prefixes written with a trailing `*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFilter {
    /// `None`: every event.
    entries: Option<Vec<(String, bool)>>,
}

impl EventFilter {
    pub fn new(entries: Option<Vec<String>>) -> Result<Self, String> {
        let Some(entries) = entries else {
            return Ok(Self { entries: None });
        };
        if entries.is_empty() {
            return Err("`event_types` is empty: leave it out to send every event".into());
        }
        let parsed = entries
            .into_iter()
            .map(|e| {
                let e = e.trim().to_string();
                let (text, prefix) = match e.strip_suffix('*') {
                    Some(p) => (p.to_string(), true),
                    None => (e.clone(), false),
                };
                if text.contains('*') || (text.is_empty() && !prefix) {
                    return Err(format!(
                        "`event_types`: {e:?} must be a type or a prefix ending in `*`"
                    ));
                }
                Ok((text, prefix))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            entries: Some(parsed),
        })
    }

    /// Whether events of this type go to the endpoint.
    pub fn matches(&self, kind: &str) -> bool {
        match &self.entries {
            None => true,
            Some(entries) => entries.iter().any(|(text, prefix)| {
                if *prefix {
                    kind.starts_with(text.as_str())
                } else {
                    kind == text
                }
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &str) -> OutboundEvent {
        OutboundEvent {
            id: "e1".into(),
            aggregate: "a".into(),
            kind: "data_product.event".into(),
            route: "r".into(),
            commit_lsn: 1,
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn cloudevents_body_is_the_envelope_byte_for_byte() {
        let e = event(r#"{"specversion":"1.0","id":"e1","type":"t","data":{"x":1}}"#);
        assert_eq!(body(Format::CloudEvents, &e).unwrap(), e.body);
        assert_eq!(
            Format::CloudEvents.content_type(),
            "application/cloudevents+json"
        );
    }

    #[test]
    fn portal_v2_body_has_the_portals_keys_only() {
        let e = event(
            r#"{"specversion":"1.0","id":"e1","source":"/x","type":"data_product.event","subject":"s","time":"2026-01-01T00:00:00.000000Z","datacontenttype":"application/json","commitlsn":"0/1","data":{"id":"p1"}}"#,
        );
        let out = body(Format::PortalV2, &e).unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"specversion":"1.0","id":"e1","source":"data-product-portal","type":"data_product.event","time":"2026-01-01T00:00:00.000000Z","data":{"id":"p1"}}"#
        );
        assert!(body(Format::PortalV2, &event("not json")).is_err());
        assert!(body(Format::PortalV2, &event(r#"{"type":"t"}"#)).is_err());
    }

    #[test]
    fn filters() {
        let all = EventFilter::new(None).unwrap();
        assert!(all.matches("anything"));
        let f = EventFilter::new(Some(vec!["a.b".into(), "c.*".into(), "*".into()])).unwrap();
        assert!(f.matches("zzz"), "a lone * matches everything");
        let f = EventFilter::new(Some(vec!["a.b".into(), "c.*".into()])).unwrap();
        assert!(f.matches("a.b") && f.matches("c.d.e") && f.matches("c."));
        assert!(!f.matches("a.bc") && !f.matches("c") && !f.matches("x"));
        assert!(EventFilter::new(Some(vec![])).is_err());
        assert!(EventFilter::new(Some(vec!["a*.b".into()])).is_err());
        assert!(EventFilter::new(Some(vec![" ".into()])).is_err());
    }
}

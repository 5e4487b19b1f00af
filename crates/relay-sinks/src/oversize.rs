//! What a sink does with an event larger than its destination accepts (Azure Storage
//! Queues: 64 KiB; SQS: 1 MiB or the queue's `MaximumMessageSize`).
//!
//! ```text
//! sink.publish ─► encode ─► too large? ─► policy: dead-letter ─► Outcome::Rejected(reason)
//!                                               └─ trim ─► drop named parts of `data`,
//!                                                          mark them, fits? ─► send
//!                                                                      └─ no ─► Rejected
//! ```
//!
//! Never a silent drop or truncation: either the whole event goes to the dead-letter
//! destination with a reason naming the sizes, or a smaller event is sent that says,
//! in `data.enrichment.trimmed`, which parts of `data` were left out (a consumer then
//! looks them up itself). Trimming only ever removes whole JSON members that the
//! operator named as optional (`trim = ["data_product.about", …]`), in the order given,
//! and stops as soon as the event fits.

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The `oversize` key of a sink section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Oversize {
    /// Reject the event: the pipeline writes it to the dead-letter destination (or stops
    /// when there is none).
    #[default]
    DeadLetter,
    /// Drop the parts of `data` named in `trim`, one after the other, until it fits.
    Trim,
}

/// Check `oversize` / `trim` together; the message names the key at fault.
pub fn validate(oversize: Oversize, trim: &[String]) -> Result<(), String> {
    match oversize {
        Oversize::Trim if trim.is_empty() => Err(
            "`oversize = \"trim\"` needs `trim`: the parts of `data` that may be dropped, e.g. trim = [\"data_product.about\"]".into(),
        ),
        Oversize::DeadLetter if !trim.is_empty() => {
            Err("`trim` is set but `oversize` is not \"trim\"".into())
        }
        _ => {
            for part in trim {
                if part.is_empty() || part.split('.').any(str::is_empty) {
                    return Err(format!(
                        "`trim`: {part:?} is not a dotted path under `data` like \"data_product.about\""
                    ));
                }
            }
            Ok(())
        }
    }
}

/// A smaller envelope and what it left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Trimmed {
    pub body: Bytes,
    /// The dropped paths (under `data`), in the order they were dropped.
    pub dropped: Vec<String>,
}

/// Drop the `parts` of the envelope's `data` (dotted paths, in order) until `fits`
/// accepts the re-encoded envelope. Each dropped path is listed in
/// `data.enrichment.trimmed` (created if `data.enrichment` is absent), and the marker
/// counts towards the size. `Err` says why no smaller event fits.
pub fn trim(
    body: &[u8],
    parts: &[String],
    fits: impl Fn(&[u8]) -> bool,
) -> Result<Trimmed, String> {
    let mut envelope: Value = serde_json::from_slice(body)
        .map_err(|e| format!("cannot trim: the envelope is not JSON ({e})"))?;
    if !envelope.get("data").is_some_and(Value::is_object) {
        return Err("cannot trim: the event's `data` is not a JSON object".into());
    }
    let mut dropped: Vec<String> = Vec::new();
    for part in parts {
        let data = envelope
            .get_mut("data")
            .and_then(Value::as_object_mut)
            .expect("checked above");
        if remove_path(data, part).is_none() {
            continue;
        }
        dropped.push(part.clone());
        mark(data, &dropped)?;
        let encoded = serde_json::to_vec(&envelope)
            .map_err(|e| format!("cannot re-encode the trimmed event: {e}"))?;
        if fits(&encoded) {
            return Ok(Trimmed {
                body: Bytes::from(encoded),
                dropped,
            });
        }
    }
    if dropped.is_empty() {
        Err(format!(
            "none of the parts named in `trim` ({}) is present in this event",
            parts.join(", ")
        ))
    } else {
        Err(format!(
            "still too large after dropping {}",
            dropped.join(", ")
        ))
    }
}

/// Remove `a.b.c` from `data`; `None` when some step is missing.
fn remove_path(data: &mut Map<String, Value>, path: &str) -> Option<Value> {
    let mut steps: Vec<&str> = path.split('.').collect();
    let last = steps.pop()?;
    let mut node = data;
    for step in steps {
        node = node.get_mut(step)?.as_object_mut()?;
    }
    node.remove(last)
}

fn mark(data: &mut Map<String, Value>, dropped: &[String]) -> Result<(), String> {
    let enrichment = data
        .entry("enrichment")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(enrichment) = enrichment.as_object_mut() else {
        return Err("cannot trim: `data.enrichment` is not an object, so the event cannot say what was dropped".into());
    };
    enrichment.insert(
        "trimmed".into(),
        Value::Array(dropped.iter().cloned().map(Value::String).collect()),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    fn parts(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn drops_in_order_until_it_fits_and_says_so() {
        let event = json!({"id": "1", "data": {
            "data_product": {"about": "a".repeat(500), "members": ["m".repeat(300)], "name": "x"},
            "enrichment": {"status": "complete", "missing": []}
        }});
        let raw = body(event);
        let t = trim(
            &raw,
            &parts(&["data_product.about", "data_product.members"]),
            |b| b.len() < 500,
        )
        .unwrap();
        assert_eq!(t.dropped, vec!["data_product.about"]);
        let v: Value = serde_json::from_slice(&t.body).unwrap();
        assert!(v["data"]["data_product"].get("about").is_none());
        assert_eq!(v["data"]["data_product"]["name"], "x");
        assert_eq!(
            v["data"]["enrichment"]["trimmed"],
            json!(["data_product.about"])
        );
        assert_eq!(v["data"]["enrichment"]["status"], "complete");

        let t = trim(
            &raw,
            &parts(&["data_product.about", "data_product.members"]),
            |b| b.len() < 200,
        )
        .unwrap();
        assert_eq!(t.dropped.len(), 2);
    }

    #[test]
    fn refuses_when_nothing_helps() {
        let raw = body(json!({"data": {"big": "x".repeat(100)}}));
        let e = trim(&raw, &parts(&["other"]), |b| b.len() < 50).unwrap_err();
        assert!(e.contains("none of the parts"), "{e}");
        let e = trim(&raw, &parts(&["big"]), |b| b.len() < 5).unwrap_err();
        assert!(e.contains("still too large after dropping big"), "{e}");
        let e = trim(&body(json!({"data": "text"})), &parts(&["a"]), |_| true).unwrap_err();
        assert!(e.contains("not a JSON object"), "{e}");
        let raw = body(json!({"data": {"big": "x", "enrichment": 3}}));
        assert!(trim(&raw, &parts(&["big"]), |_| true).is_err());
    }

    #[test]
    fn marker_is_created_where_there_was_none() {
        let raw = body(json!({"data": {"blob": "x".repeat(100), "n": 1}}));
        let t = trim(&raw, &parts(&["blob"]), |b| b.len() < 100).unwrap();
        let v: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(
            v["data"],
            json!({"n": 1, "enrichment": {"trimmed": ["blob"]}})
        );
    }

    #[test]
    fn policy_keys_are_checked_together() {
        assert!(validate(Oversize::DeadLetter, &[]).is_ok());
        assert!(validate(Oversize::Trim, &parts(&["a.b"])).is_ok());
        assert!(validate(Oversize::Trim, &[]).is_err());
        assert!(validate(Oversize::DeadLetter, &parts(&["a"])).is_err());
        assert!(validate(Oversize::Trim, &parts(&["a..b"])).is_err());
    }
}

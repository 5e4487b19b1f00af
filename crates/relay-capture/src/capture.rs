//! Rows and logical messages → [`Captured`] events, per capture [`Profile`].

use pgoutput::{ColumnValue, LogicalDecodingMessage, LogicalMessage, Relation, TupleData};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::sync::Arc;

use relay_contracts::{
    derived_event_id, format_lsn, pg_micros_to_rfc3339, OutboundEvent, TxContext,
};

use crate::portal_v2::{self, Facts};
use crate::route_token;
use crate::values::{bytea_hex, raw_json, raw_row, text};

/// Which table layout (or message convention) the outbox follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The Data Product Portal's `events` audit table: every INSERT is an event.
    Portal,
    /// Debezium's outbox columns: `id`, `aggregatetype`, `aggregateid`, `type`, `payload`.
    DebeziumOutbox,
    /// `pg_logical_emit_message(true, prefix, payload)`, no table.
    LogicalMessage,
    /// The portal's own V2 webhook events, from inserts, updates and deletes of its
    /// tables (see [`crate::portal_v2`]).
    PortalV2,
}

/// What to capture and how to label it.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    pub profile: Profile,
    /// Schema of the audit/outbox table (unused by [`Profile::LogicalMessage`]).
    pub schema: String,
    /// Name of the audit/outbox table (unused by [`Profile::LogicalMessage`]).
    pub table: String,
    /// Message prefix for [`Profile::LogicalMessage`].
    pub message_prefix: String,
    /// CloudEvents `source` attribute.
    pub source: String,
    /// Portal profile: hand audit rows to the enrichment stage ([`Captured::AuditRow`])
    /// instead of building an envelope from the raw row.
    pub enrich: bool,
}

/// The result of capturing one row or message.
#[derive(Debug, Clone)]
pub enum Captured {
    Event(OutboundEvent),
    /// A valid portal audit row (column → text or null) for the enrichment stage.
    AuditRow(serde_json::Map<String, Value>),
    /// Could not be made into an event; carries everything needed to dead-letter it.
    Malformed(Malformed),
}

/// A row or message that does not fit the profile. Never dropped: the pipeline writes it
/// to the dead-letter destination or stops.
#[derive(Debug, Clone, PartialEq)]
pub struct Malformed {
    /// The row's id when it had a usable one, else a UUIDv5 over its WAL position.
    pub id: String,
    /// Ordering key used while it is in flight.
    pub aggregate: String,
    /// What is wrong, for operators (names columns, never values).
    pub reason: String,
    pub commit_lsn: u64,
    /// The raw row (column → value; invalid UTF-8 as base64) or message.
    pub raw: Value,
}

/// Portal audit columns that must be present and non-NULL.
const PORTAL_REQUIRED: &[&str] = &["id", "name", "subject_type", "actor_id"];
/// Debezium outbox columns that must be present and non-NULL.
const DEBEZIUM_REQUIRED: &[&str] = &["id", "aggregatetype", "aggregateid", "type"];
/// `bytea`'s type OID.
const BYTEA_OID: u32 = 17;

thread_local! {
    /// What every event of one transaction shares, formatted once per transaction.
    static TX_TEXT: RefCell<TxText> = RefCell::new(TxText::default());
}

/// The commit time and LSN of the last transaction encoded on this thread, as text, and
/// room for the next body (about the last one's size: no regrowing while encoding).
#[derive(Default)]
struct TxText {
    key: Option<(u64, i64)>,
    time: String,
    commitlsn: String,
    size_hint: usize,
}

impl TxText {
    fn for_tx(&mut self, tx: &TxContext) -> &mut Self {
        let key = (tx.commit_lsn, tx.commit_time_micros);
        if self.key != Some(key) {
            self.key = Some(key);
            self.time = pg_micros_to_rfc3339(tx.commit_time_micros);
            self.commitlsn = format_lsn(tx.commit_lsn);
        }
        self
    }
}

/// Turns changes of the watched table (or messages) into events.
#[derive(Debug, Clone)]
pub struct Capture {
    cfg: CaptureConfig,
    /// What portal-v2 events name beyond the changed row (empty for other profiles).
    facts: Arc<Facts>,
}

#[derive(Serialize)]
struct Envelope<'a, D: Serialize> {
    specversion: &'static str,
    id: &'a str,
    source: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    subject: &'a str,
    time: &'a str,
    datacontenttype: &'static str,
    commitlsn: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    auditname: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aggregatetype: Option<&'a str>,
    data: D,
}

impl Capture {
    pub fn new(cfg: CaptureConfig) -> Self {
        Self {
            cfg,
            facts: Arc::default(),
        }
    }

    pub fn config(&self) -> &CaptureConfig {
        &self.cfg
    }

    /// Whether changes of this relation are captured.
    pub fn watches(&self, rel: &Relation) -> bool {
        match self.cfg.profile {
            Profile::LogicalMessage => false,
            Profile::PortalV2 => {
                rel.namespace == self.cfg.schema && portal_v2::TABLES.contains(&rel.name.as_str())
            }
            Profile::Portal | Profile::DebeziumOutbox => {
                rel.namespace == self.cfg.schema && rel.name == self.cfg.table
            }
        }
    }

    /// Whether the profile takes inserts, updates and deletes of any published table
    /// through [`Capture::row_change`] (instead of inserts through [`Capture::insert`]).
    pub fn captures_row_changes(&self) -> bool {
        self.cfg.profile == Profile::PortalV2
    }

    /// Capture an INSERT, UPDATE or DELETE (`change`) of `rel`: zero or more events.
    /// `position` is the change's index within its transaction (part of derived ids).
    pub fn row_change(
        &self,
        tx: &TxContext,
        rel: &Relation,
        change: &LogicalMessage,
        position: u64,
    ) -> Vec<Captured> {
        if self.cfg.profile != Profile::PortalV2 || !self.watches(rel) {
            return Vec::new();
        }
        portal_v2::capture(&self.cfg.source, &self.facts, tx, rel, change, position)
    }

    /// The relationships portal-v2 remembers; the binary seeds them at start with
    /// [`portal_v2::seed_query`].
    pub fn facts(&self) -> &Arc<Facts> {
        &self.facts
    }

    /// Capture an INSERT. `None` when the relation is not the watched table.
    /// `position` is the change's index within its transaction (used only to give a
    /// malformed row without a usable id a stable identity).
    pub fn insert(
        &self,
        tx: &TxContext,
        rel: &Relation,
        new: &TupleData,
        position: u64,
    ) -> Option<Captured> {
        if !self.watches(rel) {
            return None;
        }
        let names: Vec<&str> = rel.columns.iter().map(|c| c.name.as_str()).collect();
        if names.len() != new.0.len() {
            let raw = Value::Array(new.0.iter().map(raw_json).collect());
            return Some(Captured::Malformed(self.malformed(
                tx,
                None,
                position,
                format!(
                    "row has {} values but relation {}.{} has {} columns",
                    new.0.len(),
                    rel.namespace,
                    rel.name,
                    names.len()
                ),
                raw,
            )));
        }
        let row = Row {
            names: &names,
            values: &new.0,
            rel,
        };
        if self.cfg.profile == Profile::Portal && self.cfg.enrich {
            return Some(match portal_row(&row) {
                Ok(map) => Captured::AuditRow(map),
                Err(reason) => {
                    let id = text(row.get("id")).ok().flatten();
                    let raw = raw_row(names.iter().copied().zip(new.0.iter()));
                    Captured::Malformed(self.malformed(tx, id, position, reason, raw))
                }
            });
        }
        let result = match self.cfg.profile {
            Profile::Portal => self.portal_event(tx, &row),
            Profile::DebeziumOutbox => self.debezium_event(tx, &row),
            Profile::LogicalMessage | Profile::PortalV2 => return None,
        };
        Some(match result {
            Ok(ev) => Captured::Event(ev),
            Err(reason) => {
                let id = text(row.get("id")).ok().flatten();
                let raw = raw_row(names.iter().copied().zip(new.0.iter()));
                Captured::Malformed(self.malformed(tx, id, position, reason, raw))
            }
        })
    }

    /// Capture a logical decoding message. `None` unless the profile is
    /// [`Profile::LogicalMessage`] and the prefix matches.
    pub fn message(
        &self,
        tx: Option<&TxContext>,
        msg: &LogicalDecodingMessage,
    ) -> Option<Captured> {
        if self.cfg.profile != Profile::LogicalMessage || msg.prefix != self.cfg.message_prefix {
            return None;
        }
        let entity = format_lsn(msg.lsn);
        let Some(tx) = tx.filter(|_| msg.transactional) else {
            let raw = json!({ "prefix": msg.prefix, "lsn": entity, "content": raw_json(&ColumnValue::Text(msg.content.clone())) });
            return Some(Captured::Malformed(Malformed {
                id: derived_event_id("logical-message", &entity, msg.lsn),
                aggregate: msg.prefix.clone(),
                reason: "non-transactional logical message: emit outbox messages with \
                         pg_logical_emit_message(true, prefix, payload) so they commit with their transaction"
                    .into(),
                commit_lsn: msg.lsn,
                raw,
            }));
        };
        let id = derived_event_id("logical-message", &entity, tx.commit_lsn);
        let Ok(content) = std::str::from_utf8(&msg.content) else {
            return Some(Captured::Malformed(Malformed {
                id,
                aggregate: msg.prefix.clone(),
                reason: "logical message content is not valid UTF-8".into(),
                commit_lsn: tx.commit_lsn,
                raw: json!({ "prefix": msg.prefix, "lsn": entity, "content": raw_json(&ColumnValue::Text(msg.content.clone())) }),
            }));
        };
        // Convention: a JSON object {"type": ..., "subject": ..., "data": ...}; anything
        // else is delivered as-is as the event's data.
        let parsed: Option<Value> = serde_json::from_str(content).ok();
        let field = |k: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let kind = field("type").unwrap_or_else(|| msg.prefix.clone());
        let subject = field("subject").unwrap_or_else(|| msg.prefix.clone());
        let data_owned;
        let data: &RawValue = match parsed.as_ref().and_then(|v| v.get("data")) {
            Some(d) => {
                data_owned = serde_json::value::to_raw_value(d).ok()?;
                &data_owned
            }
            None => match serde_json::from_str::<&RawValue>(content) {
                Ok(raw) => raw,
                Err(_) => {
                    data_owned = serde_json::value::to_raw_value(content).ok()?;
                    &data_owned
                }
            },
        };
        let route = format!("{}.{}", route_token(&msg.prefix), route_token(&kind));
        Some(Captured::Event(
            self.envelope(tx, &id, &kind, &subject, None, None, data, route),
        ))
    }

    fn portal_event(&self, tx: &TxContext, row: &Row<'_>) -> Result<OutboundEvent, String> {
        row.require(PORTAL_REQUIRED, "portal")?;
        let id = row.text("id")?.unwrap_or_default();
        let name = row.text("name")?.unwrap_or_default();
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err("column `name` is not a lowercase audit action name".into());
        }
        let subject = row.text("subject_id")?.unwrap_or(id);
        let data = row.columns()?;
        let kind = format!("portal.audit.{name}.v1");
        let route = format!("audit.{}", route_token(name));
        Ok(self.envelope(tx, id, &kind, subject, Some(name), None, data, route))
    }

    fn debezium_event(&self, tx: &TxContext, row: &Row<'_>) -> Result<OutboundEvent, String> {
        row.require(DEBEZIUM_REQUIRED, "debezium-outbox")?;
        if row.index("payload").is_none() {
            return Err(format!(
                "table {}.{} has no column `payload`: the debezium-outbox profile expects columns id, aggregatetype, aggregateid, type, payload",
                row.rel.namespace, row.rel.name
            ));
        }
        let id = row.text("id")?.unwrap_or_default();
        let aggregatetype = row.text("aggregatetype")?.unwrap_or_default();
        let aggregateid = row.text("aggregateid")?.unwrap_or_default();
        let kind = row.text("type")?.unwrap_or_default();
        let payload_text = row.text("payload")?;
        let is_bytea = row
            .index("payload")
            .and_then(|i| row.rel.columns.get(i))
            .is_some_and(|c| c.type_oid == BYTEA_OID);
        let decoded;
        let payload: Option<&str> = match payload_text {
            Some(hex) if is_bytea => {
                let bytes = bytea_hex(hex).ok_or("column `payload` is not hex-encoded bytea")?;
                decoded = String::from_utf8(bytes)
                    .map_err(|_| "column `payload` (bytea) is not valid UTF-8".to_string())?;
                Some(decoded.as_str())
            }
            other => other,
        };
        let owned;
        let data: &RawValue = match payload {
            None => {
                owned = RawValue::from_string("null".into()).map_err(|e| e.to_string())?;
                &owned
            }
            Some(p) => match serde_json::from_str::<&RawValue>(p) {
                Ok(raw) => raw,
                Err(_) => {
                    owned = serde_json::value::to_raw_value(p).map_err(|e| e.to_string())?;
                    &owned
                }
            },
        };
        let route = format!("{}.{}", route_token(aggregatetype), route_token(kind));
        Ok(self.envelope(
            tx,
            id,
            kind,
            aggregateid,
            None,
            Some(aggregatetype),
            data,
            route,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn envelope(
        &self,
        tx: &TxContext,
        id: &str,
        kind: &str,
        subject: &str,
        auditname: Option<&str>,
        aggregatetype: Option<&str>,
        data: impl Serialize,
        route: String,
    ) -> OutboundEvent {
        let body = TX_TEXT.with_borrow_mut(|cache| {
            let cache = cache.for_tx(tx);
            let env = Envelope {
                specversion: "1.0",
                id,
                source: &self.cfg.source,
                kind,
                subject,
                time: &cache.time,
                datacontenttype: "application/json",
                commitlsn: &cache.commitlsn,
                auditname,
                aggregatetype,
                data,
            };
            let mut body = Vec::with_capacity(cache.size_hint);
            // Serializing borrowed strings, text columns and already-valid raw JSON cannot
            // fail.
            if serde_json::to_writer(&mut body, &env).is_err() {
                body.clear();
            }
            cache.size_hint = body.len() + body.len() / 4;
            body
        });
        OutboundEvent {
            id: id.to_string(),
            aggregate: subject.to_string(),
            kind: kind.to_string(),
            route,
            commit_lsn: tx.commit_lsn,
            body: body.into(),
        }
    }

    fn malformed(
        &self,
        tx: &TxContext,
        id: Option<&str>,
        position: u64,
        reason: String,
        raw: Value,
    ) -> Malformed {
        let id = match id {
            Some(id) if !id.is_empty() => id.to_string(),
            _ => derived_event_id(
                "malformed-row",
                &format!("{}.{}#{position}", self.cfg.schema, self.cfg.table),
                tx.commit_lsn,
            ),
        };
        Malformed {
            aggregate: id.clone(),
            id,
            reason,
            commit_lsn: tx.commit_lsn,
            raw,
        }
    }
}

/// A portal audit row that passes the profile's checks, as column → text or null.
fn portal_row(row: &Row<'_>) -> Result<serde_json::Map<String, Value>, String> {
    row.require(PORTAL_REQUIRED, "portal")?;
    let name = row.text("name")?.unwrap_or_default();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err("column `name` is not a lowercase audit action name".into());
    }
    row.json_object()
}

/// A decoded row paired with its column names.
struct Row<'a> {
    names: &'a [&'a str],
    values: &'a [ColumnValue],
    rel: &'a Relation,
}

impl<'a> Row<'a> {
    fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| *n == name)
    }

    fn get(&self, name: &str) -> Option<&'a ColumnValue> {
        self.index(name).and_then(|i| self.values.get(i))
    }

    fn text(&self, name: &str) -> Result<Option<&'a str>, String> {
        text(self.get(name)).map_err(|why| format!("column `{name}` {why}"))
    }

    fn require(&self, required: &[&str], profile: &str) -> Result<(), String> {
        for col in required {
            if self.index(col).is_none() {
                return Err(format!(
                    "table {}.{} has no column `{col}`: the {profile} profile expects columns {}",
                    self.rel.namespace,
                    self.rel.name,
                    required.join(", ")
                ));
            }
            if self.text(col)?.is_none() {
                return Err(format!(
                    "column `{col}` is NULL but the {profile} profile requires it"
                ));
            }
        }
        Ok(())
    }

    /// Every column as a JSON string (or null), ready to serialize as an object with its
    /// keys in name order (as [`Row::json_object`] has them) without building a map;
    /// errors on values that are not text.
    fn columns(&self) -> Result<Columns<'a>, String> {
        let mut columns = Vec::with_capacity(self.names.len());
        for (i, name) in self.names.iter().enumerate() {
            let v = text(self.values.get(i)).map_err(|why| format!("column `{name}` {why}"))?;
            columns.push((*name, v));
        }
        columns.sort_unstable_by_key(|(name, _)| *name);
        Ok(Columns(columns))
    }

    /// Every column as a JSON string (or null); errors on values that are not text.
    fn json_object(&self) -> Result<serde_json::Map<String, Value>, String> {
        Ok(self
            .columns()?
            .0
            .into_iter()
            .map(|(name, v)| {
                let v = v.map_or(Value::Null, |s| Value::String(s.to_string()));
                (name.to_string(), v)
            })
            .collect())
    }
}

/// A row's columns (name → text or null, sorted by name) serialized as a JSON object.
struct Columns<'a>(Vec<(&'a str, Option<&'a str>)>);

impl Serialize for Columns<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in &self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

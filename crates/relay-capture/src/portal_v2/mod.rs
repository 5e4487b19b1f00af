//! `capture.profile = "portal-v2"`: the Data Product Portal's own V2 webhook events, made
//! from the WAL instead of from the portal's ORM.
//!
//! ```text
//! source ─► decode ─► **capture (portal-v2: insert/update/delete of the portal's tables)**
//!        ─► lanes ─► sinks (webhook `format = "portal-v2"`, or any sink as CloudEvents)
//! ```
//!
//! The pipeline hands every INSERT, UPDATE and DELETE of a published table to
//! [`crate::Capture::row_change`]; for the tables below, each change becomes one event per
//! object the portal would announce for it:
//!
//! | table | `type` | `data` |
//! |---|---|---|
//! | `data_products` | `data_product.event` | `{id}` |
//! | `abstract_data_products` | `data_product.event` or `exploration.event` (by its type) | `{id}` |
//! | `explorations` | `exploration.event` | `{id}` |
//! | `input_ports` | `input_port.event`; on insert and delete also the consumer's `data_product.event` / `exploration.event` | `{id, consuming_abstract_data_product_id, consuming_abstract_data_product_type}` |
//! | `input_port_requests` | `input_port.event` of its input port | as above |
//! | `role_assignments_data_product` | `data_product_role_assignment.event` | `{id, data_product_id, user_id}` |
//! | `role_assignments_dataset` | `output_port_role_assignment.event` | `{id, output_port_id, data_product_id, user_id}` |
//! | `data_outputs` | `technical_asset.event` | `{id, data_product_id}` (the owner) |
//! | `datasets` | `output_port.event` | `{id, data_product_id}` |
//! | `data_outputs_datasets` | `output_port_technical_asset_link.event`, and `technical_asset.event` of the asset | `{id, data_product_id, output_port_id, technical_asset_id}` |
//! | `data_products_settings_values` | `data_product_setting_value.event` | `{id, data_product_id}` |
//!
//! Where values come from: the changed row (the new row; a deleted row's old values need
//! `REPLICA IDENTITY FULL`, see [`REPLICA_IDENTITY_FULL`]), and for what no row of the
//! change holds, the remembered [`Facts`]: the consumer's type, an access link's consumer
//! (for `input_port_requests`), a technical asset's owner (a link's `data_product_id`, as
//! the portal takes it). An update whose old row (FULL) names another related object
//! announces that one too.
//!
//! The facts come from the current tables at start ([`seed_query`]), from a look-ahead
//! over the WAL the slot will replay ([`learn_change`]: rows deleted since the slot's
//! position still say what they were, from their FULL old rows), and from every change
//! as it streams; so a replay names the same values as the live run. Should a fact still
//! be unknown (identity not FULL, or the look-ahead failed): an `input_port.event` whose
//! consumer's type is unknown is sent once per possible type (and an unknown product as
//! both `data_product.event` and `exploration.event`); an event whose owner or consumer
//! is unknown is left out with a warning naming the row.
//!
//! Ids are UUIDv5 over (type, object id, commit LSN, the change's position in its
//! transaction) ([`relay_contracts::derived_event_id_at`]), so a replay yields the same
//! ids; `time` is the commit time. Every event has the same ordering key
//! ([`ORDERING_KEY`]): each sink gets them strictly in commit order, one at a time, as
//! the portal posts them. The CloudEvents `subject` is the announced object's id.

mod facts;

pub use facts::{seed_query, Fact, Facts};

use pgoutput::{ColumnValue, LogicalMessage, Relation, TupleData};
use serde::Serialize;
use serde_json::{json, Value};

use relay_contracts::{
    derived_event_id_at, format_lsn, pg_micros_to_rfc3339, OutboundEvent, TxContext,
};

use crate::{route_token, Captured, Malformed};

/// The tables whose changes are captured (all in the configured schema).
pub const TABLES: &[&str] = &[
    "abstract_data_products",
    "data_products",
    "explorations",
    "input_ports",
    "input_port_requests",
    "role_assignments_data_product",
    "role_assignments_dataset",
    "data_outputs",
    "datasets",
    "data_outputs_datasets",
    "data_products_settings_values",
];

/// Tables whose deletes must carry the whole old row (`REPLICA IDENTITY FULL`): their
/// events name columns besides the primary key. `data_products` and `explorations` need
/// only the key.
pub const REPLICA_IDENTITY_FULL: &[&str] = &[
    "abstract_data_products",
    "input_ports",
    "input_port_requests",
    "role_assignments_data_product",
    "role_assignments_dataset",
    "data_outputs",
    "datasets",
    "data_outputs_datasets",
    "data_products_settings_values",
];

/// Tables [`seed_query`] reads at start (SELECT needed).
pub const SEED_TABLES: &[&str] = &[
    "abstract_data_products",
    "input_ports",
    "data_outputs",
    "datasets",
];

/// The ordering key of every portal-v2 event (one aggregate: strict commit order).
pub const ORDERING_KEY: &str = "portal-v2";

const DATA_PRODUCT: &str = "data_product.event";
const EXPLORATION: &str = "exploration.event";
const INPUT_PORT: &str = "input_port.event";
const EXPLORATIONS: &str = "explorations";
const DATA_PRODUCTS: &str = "data_products";

/// What kind of change a row image belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Insert,
    Update,
    Delete,
}

/// One row image: column values by the relation's column names.
struct Image<'a> {
    rel: &'a Relation,
    values: &'a [ColumnValue],
}

impl<'a> Image<'a> {
    /// A column's text; `None` for a missing column, NULL, an unchanged TOAST value or a
    /// key-only image's non-key column.
    fn get(&self, column: &str) -> Option<&'a str> {
        let i = self.rel.columns.iter().position(|c| c.name == column)?;
        match self.values.get(i)? {
            ColumnValue::Text(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

/// One object announced, before it becomes an event.
struct Announce {
    kind: &'static str,
    /// The announced object's id (the CloudEvents subject).
    object: String,
    /// Distinguishes variants of one (kind, object) in one change (unknown consumer type).
    variant: &'static str,
    data: Value,
}

/// Announcements of one change, and why some could not be made.
#[derive(Default)]
struct Out {
    events: Vec<Announce>,
    unresolved: Vec<String>,
}

impl Out {
    fn push(&mut self, kind: &'static str, object: &str, data: Value) {
        self.push_variant(kind, object, "", data);
    }

    fn push_variant(
        &mut self,
        kind: &'static str,
        object: &str,
        variant: &'static str,
        data: Value,
    ) {
        let seen = self
            .events
            .iter()
            .any(|a| a.kind == kind && a.object == object && a.variant == variant);
        if !seen {
            self.events.push(Announce {
                kind,
                object: object.to_string(),
                variant,
                data,
            });
        }
    }

    /// A data product or exploration, by its remembered type (both when unknown).
    fn product(&mut self, facts: &Facts, id: &str) {
        match facts.get(Fact::ProductType, id).as_deref() {
            Some(EXPLORATIONS) => self.push(EXPLORATION, id, json!({ "id": id })),
            Some(_) => self.push(DATA_PRODUCT, id, json!({ "id": id })),
            None => {
                self.push(DATA_PRODUCT, id, json!({ "id": id }));
                self.push(EXPLORATION, id, json!({ "id": id }));
            }
        }
    }

    /// An access link with its consumer and the consumer's type (once per possible type
    /// when the type is unknown).
    fn input_port(&mut self, facts: &Facts, id: &str, consumer: &str) {
        let data = |t: &str| {
            json!({
                "id": id,
                "consuming_abstract_data_product_id": consumer,
                "consuming_abstract_data_product_type": t,
            })
        };
        match facts.get(Fact::ProductType, consumer) {
            Some(t) => self.push(INPUT_PORT, id, data(&t)),
            None => {
                self.push_variant(INPUT_PORT, id, "", data(DATA_PRODUCTS));
                self.push_variant(INPUT_PORT, id, "#explorations", data(EXPLORATIONS));
            }
        }
    }

    fn unresolved(&mut self, table: &str, id: &str, what: &str) {
        self.unresolved.push(format!("{table} row {id}: {what}"));
    }
}

/// Events for one INSERT, UPDATE or DELETE of a portal table (empty for other tables and
/// messages). `position` is the change's index among its transaction's row changes.
pub(crate) fn capture(
    source: &str,
    facts: &Facts,
    tx: &TxContext,
    rel: &Relation,
    change: &LogicalMessage,
    position: u64,
) -> Vec<Captured> {
    let Some((op, new, old)) = images(change) else {
        return Vec::new();
    };
    let table = rel.name.as_str();
    let images: Vec<&TupleData> = [new, old].into_iter().flatten().collect();
    if let Some(bad) = images.iter().find(|t| t.0.len() != rel.columns.len()) {
        let raw = Value::Array(bad.0.iter().map(crate::values::raw_json).collect());
        return vec![Captured::Malformed(Malformed {
            id: relay_contracts::derived_event_id_at(
                "malformed-row",
                table,
                tx.commit_lsn,
                position,
            ),
            aggregate: ORDERING_KEY.into(),
            reason: format!(
                "row has {} values but relation {}.{table} has {} columns",
                bad.0.len(),
                rel.namespace,
                rel.columns.len()
            ),
            commit_lsn: tx.commit_lsn,
            raw,
        })];
    }
    // Learn from the old image first, so the new one wins.
    for tuple in images.iter().rev() {
        learn(
            table,
            &Image {
                rel,
                values: &tuple.0,
            },
            facts,
        );
    }
    let mut out = Out::default();
    for tuple in &images {
        announce(
            table,
            &Image {
                rel,
                values: &tuple.0,
            },
            op,
            facts,
            &mut out,
        );
    }
    for reason in &out.unresolved {
        tracing::warn!(
            commit = %format_lsn(tx.commit_lsn),
            %reason,
            "portal-v2: an announcement left out (see the portal-v2 profile's docs)"
        );
    }
    out.events
        .into_iter()
        .map(|a| Captured::Event(event(source, tx, position, a)))
        .collect()
}

/// The kind of change and its new and old row images.
fn images(change: &LogicalMessage) -> Option<(Op, Option<&TupleData>, Option<&TupleData>)> {
    Some(match change {
        LogicalMessage::Insert(i) => (Op::Insert, Some(&i.new), None),
        LogicalMessage::Update(u) => (Op::Update, Some(&u.new), u.old.as_ref().or(u.key.as_ref())),
        LogicalMessage::Delete(d) => (Op::Delete, None, d.old.as_ref().or(d.key.as_ref())),
        _ => return None,
    })
}

/// Learn the facts one change holds (its new and old rows) without making events. The
/// binary runs it over the WAL the slot will replay, before streaming, so that a replay
/// knows the facts of rows deleted since (their FULL old rows say what they were) just
/// as the live run did.
pub fn learn_change(facts: &Facts, rel: &Relation, change: &LogicalMessage) {
    if !TABLES.contains(&rel.name.as_str()) {
        return;
    }
    let Some((_, new, old)) = images(change) else {
        return;
    };
    for tuple in [old, new].into_iter().flatten() {
        if tuple.0.len() == rel.columns.len() {
            learn(
                &rel.name,
                &Image {
                    rel,
                    values: &tuple.0,
                },
                facts,
            );
        }
    }
}

fn learn(table: &str, row: &Image<'_>, facts: &Facts) {
    let Some(id) = row.get("id") else { return };
    let (fact, value) = match table {
        "data_products" => (Fact::ProductType, Some(DATA_PRODUCTS)),
        "explorations" => (Fact::ProductType, Some(EXPLORATIONS)),
        "abstract_data_products" => (Fact::ProductType, row.get("abstract_data_product_type")),
        "input_ports" => (
            Fact::InputPortConsumer,
            row.get("consuming_abstract_data_product_id"),
        ),
        "data_outputs" => (Fact::AssetOwner, row.get("owner_id")),
        "datasets" => (Fact::PortProduct, row.get("data_product_id")),
        _ => return,
    };
    if let Some(value) = value {
        facts.learn(fact, id, value);
    }
}

fn announce(table: &str, row: &Image<'_>, op: Op, facts: &Facts, out: &mut Out) {
    let Some(id) = row.get("id") else {
        out.unresolved(table, "?", "the image has no id");
        return;
    };
    let fact = |f: Fact, key: Option<&str>| key.and_then(|k| facts.get(f, k));
    match table {
        "data_products" => out.push(DATA_PRODUCT, id, json!({ "id": id })),
        "explorations" => out.push(EXPLORATION, id, json!({ "id": id })),
        "abstract_data_products" => out.product(facts, id),
        "input_ports" => {
            let consumer = row
                .get("consuming_abstract_data_product_id")
                .map(str::to_string)
                .or_else(|| fact(Fact::InputPortConsumer, Some(id)));
            let Some(consumer) = consumer else {
                return out.unresolved(
                    table,
                    id,
                    "its consumer is unknown (needs REPLICA IDENTITY FULL)",
                );
            };
            out.input_port(facts, id, &consumer);
            if op != Op::Update {
                out.product(facts, &consumer);
            }
        }
        "input_port_requests" => {
            let Some(port) = row.get("input_port_id") else {
                return out.unresolved(table, id, "no input_port_id (needs REPLICA IDENTITY FULL)");
            };
            match facts.get(Fact::InputPortConsumer, port) {
                Some(consumer) => out.input_port(facts, port, &consumer),
                None => out.unresolved(table, id, "the consumer of its input port is unknown"),
            }
        }
        "role_assignments_data_product" => match (row.get("data_product_id"), row.get("user_id")) {
            (Some(dp), Some(user)) => out.push(
                "data_product_role_assignment.event",
                id,
                json!({ "id": id, "data_product_id": dp, "user_id": user }),
            ),
            _ => out.unresolved(
                table,
                id,
                "no data_product_id/user_id (needs REPLICA IDENTITY FULL)",
            ),
        },
        "role_assignments_dataset" => {
            match (row.get("dataset_id"), row.get("data_product_id"), row.get("user_id")) {
                (Some(port), Some(dp), Some(user)) => out.push(
                    "output_port_role_assignment.event",
                    id,
                    json!({ "id": id, "output_port_id": port, "data_product_id": dp, "user_id": user }),
                ),
                _ => out.unresolved(table, id, "no dataset_id/data_product_id/user_id (needs REPLICA IDENTITY FULL)"),
            }
        }
        "data_outputs" => {
            let owner = row
                .get("owner_id")
                .map(str::to_string)
                .or_else(|| fact(Fact::AssetOwner, Some(id)));
            technical_asset(out, table, id, owner);
        }
        "datasets" => {
            let product = row
                .get("data_product_id")
                .map(str::to_string)
                .or_else(|| fact(Fact::PortProduct, Some(id)));
            match product {
                Some(dp) => out.push(
                    "output_port.event",
                    id,
                    json!({ "id": id, "data_product_id": dp }),
                ),
                None => out.unresolved(
                    table,
                    id,
                    "its data product is unknown (needs REPLICA IDENTITY FULL)",
                ),
            }
        }
        "data_outputs_datasets" => {
            let asset = row.get("data_output_id");
            let port = row.get("dataset_id");
            // As the portal: the asset's owner, else the output port's product.
            let owner = fact(Fact::AssetOwner, asset).or_else(|| fact(Fact::PortProduct, port));
            match &owner {
                Some(dp) => out.push(
                    "output_port_technical_asset_link.event",
                    id,
                    json!({ "id": id, "data_product_id": dp, "output_port_id": port, "technical_asset_id": asset }),
                ),
                None => out.unresolved(table, id, "the owner of its technical asset is unknown"),
            }
            if let Some(asset) = asset {
                technical_asset(out, table, asset, fact(Fact::AssetOwner, Some(asset)));
            }
        }
        "data_products_settings_values" => {
            let dp = row
                .get("data_product_id")
                .map(str::to_string)
                .or_else(|| fact(Fact::PortProduct, row.get("dataset_id")));
            out.push(
                "data_product_setting_value.event",
                id,
                json!({ "id": id, "data_product_id": dp }),
            );
        }
        _ => {}
    }
}

fn technical_asset(out: &mut Out, table: &str, asset: &str, owner: Option<String>) {
    match owner {
        Some(dp) => out.push(
            "technical_asset.event",
            asset,
            json!({ "id": asset, "data_product_id": dp }),
        ),
        None => out.unresolved(table, asset, "the owner of this technical asset is unknown"),
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    specversion: &'static str,
    id: &'a str,
    source: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    subject: &'a str,
    time: &'a str,
    datacontenttype: &'static str,
    commitlsn: &'a str,
    data: &'a Value,
}

fn event(source: &str, tx: &TxContext, position: u64, a: Announce) -> OutboundEvent {
    let entity = format!("{}{}", a.object, a.variant);
    let id = derived_event_id_at(a.kind, &entity, tx.commit_lsn, position);
    let time = pg_micros_to_rfc3339(tx.commit_time_micros);
    let commitlsn = format_lsn(tx.commit_lsn);
    let envelope = Envelope {
        specversion: "1.0",
        id: &id,
        source,
        kind: a.kind,
        subject: &a.object,
        time: &time,
        datacontenttype: "application/json",
        commitlsn: &commitlsn,
        data: &a.data,
    };
    // Serializing strings and a JSON value cannot fail.
    let body = serde_json::to_vec(&envelope).unwrap_or_default();
    OutboundEvent {
        id,
        aggregate: ORDERING_KEY.to_string(),
        kind: a.kind.to_string(),
        route: format!("portal_v2.{}", route_token(a.kind)),
        commit_lsn: tx.commit_lsn,
        body: body.into(),
    }
}

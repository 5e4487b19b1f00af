//! What several builders share: the outcome of a build, and the summaries of products,
//! users, roles, members, ports and technical assets.

use serde_json::{json, Map, Value};

use crate::catalog::CONFIGURATION_TYPES;
use crate::store::{lower_value, text, text_value, Source, Store};
use crate::tombstones::{id_key, Row};

/// Role prototype of data product owners (`roles.prototype`).
pub(super) const OWNER_PROTOTYPE: &str = "2";

/// What a builder learned besides the payload.
pub(super) struct Outcome {
    pub(super) state: Option<Source>,
    pub(super) missing: Vec<String>,
    pub(super) read: Read,
}

impl Outcome {
    pub(super) fn new(looked_up: bool) -> Self {
        Self {
            state: None,
            missing: Vec::new(),
            read: Read::new(looked_up),
        }
    }

    pub(super) fn need(&mut self, found: bool, what: &str, id: Option<&str>) {
        if !found {
            self.missing.push(format!("{what}:{}", id.unwrap_or("?")));
        }
    }
}

/// `data.enrichment.read_at_enrichment`: JSON Pointers (RFC 6901, relative to `data`) of
/// the values a lookup read at enrichment time. Those are the state when the relay ran,
/// not when the portal committed, so a relay that catches up after downtime may say
/// otherwise than one that kept up. Not listed: values from the audit row, from the spec
/// (an implied status), or from rows captured from the WAL (a delete's last known state),
/// and never the ids the audit row names, the type or the subject. A value a lookup did
/// not find (`null`) is listed: its absence is what the lookup saw. A pointer covers the
/// value it points at and everything below it (a list found by lookups, or an object
/// referenced by a looked-up row, is one pointer).
pub(super) struct Read {
    /// False for an event built without lookups (`not_looked_up`): nothing was read.
    on: bool,
    ptrs: Vec<String>,
}

impl Read {
    pub(super) fn new(looked_up: bool) -> Self {
        Self {
            on: looked_up,
            ptrs: Vec::new(),
        }
    }

    /// `keys` of the object at `at`, taken from a row that came from `src` (`None`: the
    /// lookup did not find it).
    pub(super) fn fields(&mut self, at: &str, src: Option<Source>, keys: &[&str]) {
        if self.on && src != Some(Source::Tombstone) {
            self.ptrs.extend(keys.iter().map(|k| format!("{at}/{k}")));
        }
    }

    /// The whole value at `at`.
    pub(super) fn whole(&mut self, at: &str) {
        if self.on {
            self.ptrs.push(at.to_string());
        }
    }

    /// An object at `at` referenced by id: whole when the id itself was read by a lookup
    /// (`id_from_wal` false), else its `keys` by the source of its own row.
    pub(super) fn reference(
        &mut self,
        at: &str,
        id_from_wal: bool,
        src: Option<Source>,
        keys: &[&str],
    ) {
        if id_from_wal {
            self.fields(at, src, keys);
        } else {
            self.whole(at);
        }
    }

    /// Take back a pointer whose value was replaced by one from the WAL or the spec.
    pub(super) fn unmark(&mut self, ptr: &str) {
        self.ptrs.retain(|p| p != ptr);
    }

    /// The sorted pointers, without those another pointer already covers.
    pub(super) fn into_value(mut self) -> Value {
        self.ptrs.sort();
        self.ptrs.dedup();
        let mut kept: Vec<String> = Vec::with_capacity(self.ptrs.len());
        for p in self.ptrs {
            let covered = kept.iter().any(|k| {
                p.len() > k.len() && p.starts_with(k.as_str()) && p.as_bytes()[k.len()] == b'/'
            });
            if !covered {
                kept.push(p);
            }
        }
        Value::from(kept)
    }
}

pub(super) fn state_name(s: Option<Source>) -> &'static str {
    match s {
        Some(Source::Live) => "current",
        Some(Source::Tombstone) => "last_known",
        None => "unknown",
    }
}

pub(super) fn actor(store: &Store<'_>, id: &str, read: &mut Read) -> Value {
    if id.trim().is_empty() {
        return Value::Null;
    }
    let found = store.get("users", id);
    read.fields("/actor", found.map(|(_, s)| s), &["email", "external_id"]);
    let row = found.map(|(r, _)| r);
    json!({
        "id": id_key(id),
        "email": text_value(row, "email"),
        "external_id": text_value(row, "external_id"),
    })
}

// ---- entities ------------------------------------------------------------------------

/// A data product row merged from `abstract_data_products`, `data_products` and
/// `explorations` (a lookup joins them; tombstones are merged here).
/// A live row is the lookup's own (no copy); a tombstone is merged into a new one.
pub(super) fn product_row<'s>(
    store: &'s Store<'_>,
    id: &str,
) -> Option<(std::borrow::Cow<'s, Row>, Source)> {
    let (base, src) = store.get("abstract_data_products", id)?;
    if src == Source::Live {
        return Some((std::borrow::Cow::Borrowed(base), src));
    }
    let mut row = base.clone();
    for extra in ["data_products", "explorations"] {
        if let Some((r, _)) = store.get(extra, id) {
            for (k, v) in r {
                row.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    Some((std::borrow::Cow::Owned(row), src))
}

pub(super) fn product_kind(row: Option<&Row>) -> Value {
    match row.and_then(|r| text(r, "abstract_data_product_type")) {
        Some(t) if t.eq_ignore_ascii_case("explorations") => json!("exploration"),
        Some(t) if t.eq_ignore_ascii_case("data_products") => json!("data_product"),
        Some(t) => json!(t.to_ascii_lowercase()),
        None => Value::Null,
    }
}

/// The summary of a data product at `at`; `id_from_wal`: whether its id came from the
/// audit row or a captured row (else a lookup read it, and the whole summary is marked).
pub(super) fn product_summary(
    store: &Store<'_>,
    id: Option<&str>,
    read: &mut Read,
    at: &str,
    id_from_wal: bool,
) -> (Value, Option<Source>) {
    let Some(id) = id else {
        if !id_from_wal {
            read.whole(at);
        }
        return (Value::Null, None);
    };
    let found = product_row(store, id);
    read.reference(
        at,
        id_from_wal,
        found.as_ref().map(|(_, s)| *s),
        &["name", "namespace", "kind", "status"],
    );
    let row = found.as_ref().map(|(r, _)| r.as_ref());
    (
        json!({
            "id": id_key(id),
            "name": text_value(row, "name"),
            "namespace": text_value(row, "namespace"),
            "kind": product_kind(row),
            "status": lower_value(row, "status"),
        }),
        found.map(|(_, s)| s),
    )
}

/// `{id, name}` of a row of `table` referenced by a column of a parent row from `parent`.
pub(super) fn named(
    store: &Store<'_>,
    table: &str,
    id: Option<&str>,
    read: &mut Read,
    at: &str,
    parent: Option<Source>,
) -> Value {
    let id_from_wal = parent == Some(Source::Tombstone);
    match id {
        None => {
            if !id_from_wal {
                read.whole(at);
            }
            Value::Null
        }
        Some(id) => {
            let found = store.get(table, id);
            read.reference(at, id_from_wal, found.map(|(_, s)| s), &["name"]);
            let row = found.map(|(r, _)| r);
            json!({ "id": id_key(id), "name": text_value(row, "name") })
        }
    }
}

/// A user named by the audit row (a member), at `at`.
pub(super) fn user_obj(store: &Store<'_>, id: &str, read: &mut Read, at: &str) -> (Value, bool) {
    let found = store.get("users", id);
    read.fields(
        at,
        found.map(|(_, s)| s),
        &["email", "external_id", "first_name", "last_name"],
    );
    let row = found.map(|(r, _)| r);
    (
        json!({
            "id": id_key(id),
            "email": text_value(row, "email"),
            "external_id": text_value(row, "external_id"),
            "first_name": text_value(row, "first_name"),
            "last_name": text_value(row, "last_name"),
        }),
        row.is_some(),
    )
}

/// A role referenced by a row from `parent`, at `at` (`None` for `at`: inside a list,
/// which is marked as a whole).
pub(super) fn role_obj(
    store: &Store<'_>,
    id: Option<&str>,
    read: &mut Read,
    at: &str,
    parent: Option<Source>,
) -> Value {
    let id_from_wal = parent == Some(Source::Tombstone);
    let Some(id) = id else {
        if !id_from_wal {
            read.whole(at);
        }
        return Value::Null;
    };
    let found = store.get("roles", id);
    read.reference(
        at,
        id_from_wal,
        found.map(|(_, s)| s),
        &["name", "scope", "prototype"],
    );
    let row = found.map(|(r, _)| r);
    let prototype = row
        .and_then(|r| text(r, "prototype"))
        .and_then(|p| p.parse::<i64>().ok());
    json!({
        "id": id_key(id),
        "name": text_value(row, "name"),
        "scope": lower_value(row, "scope"),
        "prototype": prototype,
    })
}

/// A member in a list of members (the list is marked as a whole by the caller).
pub(super) fn member(store: &Store<'_>, row: &Row) -> Value {
    let mut unmarked = Read::new(false);
    let user =
        text(row, "user_id").map_or(Value::Null, |u| user_obj(store, u, &mut unmarked, "").0);
    json!({
        "id": text_value(Some(row), "id"),
        "user": user,
        "role": role_obj(store, text(row, "role_id"), &mut unmarked, "", None),
        "decision": lower_value(Some(row), "decision"),
    })
}

/// An output port summary at `at` (its id named by the audit row): identity, access
/// type, status and owning product (`owner_hint`: the product the audit row names).
pub(super) fn port_summary<'s>(
    store: &'s Store<'_>,
    id: Option<&str>,
    owner_hint: Option<&str>,
    read: &mut Read,
    at: &str,
) -> (Value, Option<Source>, Option<&'s Row>) {
    let Some(id) = id else {
        return (Value::Null, None, None);
    };
    let found = store.get("datasets", id);
    let src = found.map(|(_, s)| s);
    read.fields(at, src, &["name", "namespace", "access_type", "status"]);
    let row = found.map(|(r, _)| r);
    // The product the audit row names wins: ids an event names come from the WAL.
    let owner = owner_hint.or_else(|| row.and_then(|r| text(r, "data_product_id")));
    let owner_from_wal = owner_hint.is_some() || src == Some(Source::Tombstone);
    let data_product = product_summary(
        store,
        owner,
        read,
        &format!("{at}/data_product"),
        owner_from_wal,
    )
    .0;
    let value = json!({
        "id": id_key(id),
        "name": text_value(row, "name"),
        "namespace": text_value(row, "namespace"),
        "access_type": lower_value(row, "access_type"),
        "status": lower_value(row, "status"),
        "data_product": data_product,
    });
    (value, src, row)
}

/// A technical asset's configuration at `at`, referenced by an asset row from `parent`:
/// marked as a whole unless the asset and both configuration rows came from the WAL.
pub(super) fn configuration(
    store: &Store<'_>,
    id: Option<&str>,
    read: &mut Read,
    at: &str,
    parent: Option<Source>,
) -> Value {
    let from_wal = |src: Option<Source>| src == Some(Source::Tombstone);
    let base = id.and_then(|id| store.get("data_output_configurations", id));
    let ctype = base.and_then(|(b, _)| text(b, "configuration_type"));
    let typed = CONFIGURATION_TYPES
        .iter()
        .find(|c| Some(c.configuration_type) == ctype)
        .zip(id)
        .and_then(|(c, id)| store.get(c.table, id));
    if !(from_wal(parent) && from_wal(base.map(|(_, s)| s)) && from_wal(typed.map(|(_, s)| s))) {
        read.whole(at);
    }
    if base.is_none() {
        return Value::Null;
    }
    let mut obj = Map::new();
    obj.insert("type".into(), json!(ctype));
    if let Some((row, _)) = typed {
        for (k, v) in row {
            if !matches!(
                k.as_str(),
                "id" | "type" | "created_on" | "updated_on" | "deleted_at"
            ) {
                obj.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(obj)
}

/// What a technical asset's configuration lacks: the configuration row, its per-type
/// row, or — `configuration_type:<type>` — a type the catalog does not know (its
/// fields cannot be read, so the event must not claim to be complete).
pub(super) fn configuration_gaps(store: &Store<'_>, asset: &str) -> Vec<String> {
    let Some(cfg) = store
        .get("data_outputs", asset)
        .and_then(|(r, _)| text(r, "configuration_id"))
    else {
        return Vec::new();
    };
    let Some((base, _)) = store.get("data_output_configurations", cfg) else {
        return vec![format!("configuration:{}", id_key(cfg))];
    };
    let ctype = text(base, "configuration_type").unwrap_or("");
    match CONFIGURATION_TYPES
        .iter()
        .find(|c| c.configuration_type == ctype)
    {
        None => vec![format!("configuration_type:{ctype}")],
        Some(c) if store.get(c.table, cfg).is_none() => {
            vec![format!("configuration:{}:{}", c.table, id_key(cfg))]
        }
        Some(_) => Vec::new(),
    }
}

/// A technical asset at `at` (its id named by the audit row): identity, platform,
/// service, configuration, owning product (`owner_hint`: the product the audit row names).
pub(super) fn asset_obj(
    store: &Store<'_>,
    id: &str,
    owner_hint: Option<&str>,
    read: &mut Read,
    at: &str,
) -> (Value, Option<Source>) {
    let found = store.get("data_outputs", id);
    let src = found.map(|(_, s)| s);
    read.fields(at, src, &["name", "namespace", "status"]);
    let row = found.map(|(r, _)| r);
    let owner = owner_hint.or_else(|| row.and_then(|r| text(r, "owner_id")));
    let owner_from_wal = owner_hint.is_some() || src == Some(Source::Tombstone);
    let column = |c: &str| row.and_then(|r| text(r, c));
    (
        json!({
            "id": id_key(id),
            "name": text_value(row, "name"),
            "namespace": text_value(row, "namespace"),
            "status": lower_value(row, "status"),
            "platform": named(store, "platforms", column("platform_id"), read, &format!("{at}/platform"), src),
            "service": named(store, "platform_services", column("service_id"), read, &format!("{at}/service"), src),
            "configuration": configuration(store, column("configuration_id"), read, &format!("{at}/configuration"), src),
            "data_product": product_summary(store, owner, read, &format!("{at}/data_product"), owner_from_wal).0,
        }),
        src,
    )
}

/// The technical assets linked to an output port, with each link's status (a list found
/// by lookups: the caller marks it as a whole).
pub(super) fn linked_assets(store: &Store<'_>, port: &str, with_tombstones: bool) -> Vec<Value> {
    let mut unmarked = Read::new(false);
    store
        .find(
            "data_outputs_datasets",
            &[("dataset_id", port)],
            with_tombstones,
        )
        .into_iter()
        .filter_map(|(link, _)| {
            let asset = text(link, "data_output_id")?;
            Some(json!({
                "link_id": text_value(Some(link), "id"),
                "link_status": lower_value(Some(link), "status"),
                "technical_asset": asset_obj(store, asset, None, &mut unmarked, "").0,
            }))
        })
        .collect()
}

pub(super) fn empty_port() -> Value {
    json!({
        "id": null, "name": null, "namespace": null, "access_type": null, "status": null,
        "data_product": null, "description": null, "technical_assets": [],
    })
}

/// Prefer a live row over a tombstone.
pub(super) fn pick(rows: Vec<(&Row, Source)>) -> Option<(&Row, Source)> {
    let live = rows.iter().find(|(_, s)| *s == Source::Live).copied();
    live.or_else(|| rows.into_iter().next())
}

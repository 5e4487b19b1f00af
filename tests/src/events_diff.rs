//! Comparing what two runs of the relay delivered for the same WAL (issue 9).
//!
//! What an event is about never depends on timing: its id, `type`, `subject`, `time`,
//! `commitlsn`, `auditname`, and the ids it names in `data` ([`NAMED_IDS`]: the entity's
//! own id and the parties the audit row names — consumer, output port, technical asset,
//! owning product, member, actor) must be identical. A named id may be null in one run
//! only if that run's event says it could not see the entity
//! (`data.enrichment.status` not `complete`); two different ids are always wrong.
//! Descriptive values (names, configurations, roles, members, lists of linked assets, and
//! the ids inside them) may differ between runs only where the event marks them as read
//! at enrichment time: `data.enrichment.read_at_enrichment`, a list of JSON Pointers
//! (RFC 6901) relative to `data`, each covering the value it points at and everything
//! below it (named ids excepted: a mark never makes them negotiable). `data.enrichment`
//! itself and `data.state` (current / last known) describe the lookup, so they may
//! differ; `enrichedat` is when the lookups ran.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Where an event lists what was read at enrichment time (under `data.enrichment`).
pub const READ_AT_ENRICHMENT: &str = "read_at_enrichment";

/// Envelope attributes that must be identical in every run.
pub const STABLE_ATTRIBUTES: [&str; 8] = [
    "id",
    "type",
    "subject",
    "time",
    "commitlsn",
    "auditname",
    "source",
    "specversion",
];

/// The ids an event names, as pointers into `data` (`*` is one entity key).
pub const NAMED_IDS: [&str; 12] = [
    "/*/id",
    "/actor/id",
    "/access/consumer/id",
    "/access/output_port/id",
    "/technical_asset_link/technical_asset/id",
    "/technical_asset_link/output_port/id",
    "/technical_asset/data_product/id",
    "/output_port/data_product/id",
    "/data_product_membership/user/id",
    "/data_product_membership/data_product/id",
    "/output_port_membership/user/id",
    "/output_port_membership/output_port/id",
];

fn is_named_id(ptr: &str) -> bool {
    NAMED_IDS.iter().any(|pattern| {
        let (p, q): (Vec<&str>, Vec<&str>) =
            (pattern.split('/').collect(), ptr.split('/').collect());
        p.len() == q.len() && p.iter().zip(&q).all(|(a, b)| *a == "*" || a == b)
    })
}

/// One scalar of `data`: its value and whether it is a named id ([`NAMED_IDS`]).
#[derive(Debug, Clone, PartialEq)]
struct Leaf {
    value: Value,
    named_id: bool,
}

fn flatten(v: &Value, ptr: &str, in_list: bool, out: &mut BTreeMap<String, Leaf>) {
    match v {
        Value::Object(map) => {
            if map.is_empty() {
                out.insert(ptr.to_string(), leaf(ptr, v, in_list));
            }
            for (k, child) in map {
                let key = k.replace('~', "~0").replace('/', "~1");
                flatten(child, &format!("{ptr}/{key}"), in_list, out);
            }
        }
        Value::Array(items) => {
            if items.is_empty() {
                out.insert(ptr.to_string(), leaf(ptr, v, in_list));
            }
            for (i, child) in items.iter().enumerate() {
                flatten(child, &format!("{ptr}/{i}"), true, out);
            }
        }
        _ => {
            out.insert(ptr.to_string(), leaf(ptr, v, in_list));
        }
    }
}

fn leaf(ptr: &str, v: &Value, in_list: bool) -> Leaf {
    Leaf {
        value: v.clone(),
        named_id: !in_list && is_named_id(ptr),
    }
}

/// Whether the event says its lookups could not see everything it names.
fn flagged(event: &Value) -> bool {
    event["data"]["enrichment"]["status"] != "complete"
}

/// The data of an event as pointer → leaf, without the lookup's own description.
fn data_leaves(event: &Value) -> BTreeMap<String, Leaf> {
    let mut out = BTreeMap::new();
    flatten(&event["data"], "", false, &mut out);
    out.retain(|p, _| {
        !(p == "/enrichment"
            || p.starts_with("/enrichment/")
            || p == "/state"
            || p.starts_with("/state/"))
    });
    out
}

/// The pointers an event marks as read at enrichment time.
pub fn marks(event: &Value) -> Vec<String> {
    event["data"]["enrichment"][READ_AT_ENRICHMENT]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn covered(ptr: &str, marks: &[String]) -> bool {
    marks
        .iter()
        .any(|m| ptr == m || ptr.starts_with(&format!("{m}/")) || m.is_empty())
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 90 {
        format!("{}…", &s[..90])
    } else {
        s
    }
}

/// A pointer cut at the first list it enters (`/a/list/3/x` → `/a/list[]`), so one
/// reordered or longer list is one line in a report.
fn list_of(ptr: &str) -> String {
    let mut out = String::new();
    for seg in ptr.split('/').skip(1) {
        if seg.parse::<usize>().is_ok() {
            out.push_str("[]");
            return out;
        }
        out.push('/');
        out.push_str(seg);
    }
    out
}

/// A label for an event in problem reports.
pub fn label(e: &Value) -> String {
    format!(
        "{} {} subject={} ({})",
        e["type"].as_str().unwrap_or("?"),
        e["id"].as_str().unwrap_or("?"),
        e["subject"].as_str().unwrap_or("?"),
        e["auditname"].as_str().unwrap_or("derived"),
    )
}

/// Every difference between two runs' events that timing must not cause. `a` and `b`
/// name the runs in the messages.
pub fn compare_runs(a_name: &str, a: &[Value], b_name: &str, b: &[Value]) -> Vec<String> {
    diff_runs(a_name, a, b_name, b).problems
}

/// What comparing two runs found.
pub struct Diff {
    /// Differences timing must not cause.
    pub problems: Vec<String>,
    /// Differences the events mark as read at enrichment time (allowed): one line per
    /// event, naming the pointers.
    pub marked: Vec<String>,
}

/// [`compare_runs`], with the allowed differences listed too (a test whose runs show none
/// has not exercised the marks).
pub fn diff_runs(a_name: &str, a: &[Value], b_name: &str, b: &[Value]) -> Diff {
    let mut problems = Vec::new();
    let mut allowed = Vec::new();
    let index = |run: &[Value]| -> BTreeMap<String, Value> {
        run.iter()
            .map(|e| (e["id"].as_str().unwrap_or_default().to_string(), e.clone()))
            .collect()
    };
    let (ia, ib) = (index(a), index(b));
    for (id, e) in &ia {
        if !ib.contains_key(id) {
            problems.push(format!("only in {a_name}: {}", label(e)));
        }
    }
    for (id, e) in &ib {
        if !ia.contains_key(id) {
            problems.push(format!("only in {b_name}: {}", label(e)));
        }
    }
    for (id, ea) in &ia {
        let Some(eb) = ib.get(id) else { continue };
        for attr in STABLE_ATTRIBUTES {
            if ea.get(attr) != eb.get(attr) {
                problems.push(format!(
                    "{}: `{attr}` differs: {a_name} {} vs {b_name} {}",
                    label(ea),
                    short(&ea[attr]),
                    short(&eb[attr])
                ));
            }
        }
        let (la, lb) = (data_leaves(ea), data_leaves(eb));
        let (ma, mb) = (marks(ea), marks(eb));
        let named: BTreeSet<&String> = la
            .iter()
            .chain(lb.iter())
            .filter(|(_, leaf)| leaf.named_id)
            .map(|(ptr, _)| ptr)
            .collect();
        for ptr in named {
            if ma.contains(ptr) || mb.contains(ptr) {
                problems.push(format!(
                    "{}: the id at {ptr} is marked as read at enrichment time",
                    label(ea)
                ));
            }
        }
        let pointers: BTreeSet<&String> = la.keys().chain(lb.keys()).collect();
        let mut unmarked: BTreeSet<String> = BTreeSet::new();
        let mut marked: BTreeSet<String> = BTreeSet::new();
        for ptr in pointers {
            let (va, vb) = (la.get(ptr), lb.get(ptr));
            if va.map(|l| &l.value) == vb.map(|l| &l.value) {
                continue;
            }
            let named_id = va.or(vb).is_some_and(|l| l.named_id);
            let show = |l: Option<&Leaf>| l.map_or("(absent)".to_string(), |l| short(&l.value));
            let null = |l: Option<&Leaf>| l.is_none_or(|l| l.value.is_null());
            let said_so = (null(va) && flagged(ea)) || (null(vb) && flagged(eb));
            if named_id && !said_so {
                problems.push(format!(
                    "{}: the id at data{ptr} differs: {a_name} {} vs {b_name} {}",
                    label(ea),
                    show(va),
                    show(vb)
                ));
            } else if !named_id && !covered(ptr, &ma) && !covered(ptr, &mb) {
                unmarked.insert(list_of(ptr));
            } else if !named_id {
                marked.insert(list_of(ptr));
            }
        }
        if !marked.is_empty() {
            allowed.push(format!(
                "{}: read at enrichment time, differs at {}",
                label(ea),
                marked.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        if !unmarked.is_empty() {
            problems.push(format!(
                "{}: data differs between {a_name} and {b_name}, not marked as read at enrichment time, at {}",
                label(ea),
                unmarked.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    let order = |run: &[Value]| -> HashMap<String, Vec<String>> {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for e in run {
            m.entry(e["subject"].as_str().unwrap_or_default().to_string())
                .or_default()
                .push(e["id"].as_str().unwrap_or_default().to_string());
        }
        m
    };
    let (oa, ob) = (order(a), order(b));
    let mut subjects: Vec<&String> = oa.keys().collect();
    subjects.sort();
    for s in subjects {
        let (sa, sb) = (&oa[s], ob.get(s).cloned().unwrap_or_default());
        let common: Vec<&String> = sa.iter().filter(|id| sb.contains(id)).collect();
        let common_b: Vec<&String> = sb.iter().filter(|id| sa.contains(id)).collect();
        if common != common_b {
            problems.push(format!(
                "subject {s}: the events common to both runs arrive in another order ({a_name} {common:?} vs {b_name} {common_b:?})"
            ));
        }
    }
    Diff {
        problems,
        marked: allowed,
    }
}

/// Entities whose removal must be announced once at most (per run): data products,
/// output ports, technical assets, access links and asset↔port links, by subject.
pub fn removed_twice(run_name: &str, run: &[Value]) -> Vec<String> {
    let mut seen: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for e in run {
        let ty = e["type"].as_str().unwrap_or_default();
        let entity = ty.split('.').nth(1).unwrap_or_default();
        if ty.ends_with(".removed.v1")
            && [
                "data_product",
                "output_port",
                "technical_asset",
                "access",
                "technical_asset_link",
            ]
            .contains(&entity)
        {
            seen.entry((
                entity.to_string(),
                e["subject"].as_str().unwrap_or_default().to_string(),
            ))
            .or_default()
            .push(label(e));
        }
    }
    seen.into_iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|((entity, subject), v)| {
            format!(
                "{run_name}: {entity} {subject} announced removed {} times: {v:?}",
                v.len()
            )
        })
        .collect()
}

/// Panic with every problem, one per line (at most `max` lines, then a count).
pub fn assert_no_problems(what: &str, problems: &[String], max: usize) {
    if problems.is_empty() {
        return;
    }
    let mut text = format!("{what}: {} problem(s)\n", problems.len());
    for p in problems.iter().take(max) {
        text.push_str("  - ");
        text.push_str(p);
        text.push('\n');
    }
    if problems.len() > max {
        text.push_str(&format!("  … and {} more\n", problems.len() - max));
    }
    panic!("{text}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(id: &str, data: Value) -> Value {
        json!({"id": id, "type": "portal.x.updated.v1", "subject": "s", "time": "t",
               "commitlsn": "0/1", "source": "/p", "specversion": "1.0", "data": data})
    }

    #[test]
    fn descriptive_values_may_differ_only_where_marked() {
        let a = ev(
            "1",
            json!({"x": {"id": "e", "name": "A"}, "enrichment": {"status": "complete"}}),
        );
        let b = ev(
            "1",
            json!({"x": {"id": "e", "name": "B"}, "enrichment": {"status": "complete"}}),
        );
        assert!(is_named_id("/x/id") && !is_named_id("/x/role/id"));
        assert_eq!(
            compare_runs("a", std::slice::from_ref(&a), "b", std::slice::from_ref(&b)).len(),
            1
        );
        let mut marked = b;
        marked["data"]["enrichment"][READ_AT_ENRICHMENT] = json!(["/x"]);
        let d = diff_runs("a", std::slice::from_ref(&a), "b", &[marked]);
        assert!(d.problems.is_empty());
        assert_eq!(d.marked.len(), 1, "{:?}", d.marked);
        // A mark that points at a named id is itself a problem.
        let mut id_marked = a.clone();
        id_marked["data"]["enrichment"][READ_AT_ENRICHMENT] = json!(["/x/id"]);
        assert_eq!(
            compare_runs("a", std::slice::from_ref(&a), "b", &[id_marked]).len(),
            1
        );
        // An id differs: never allowed, marked or not.
        let mut other = a.clone();
        other["data"]["x"]["id"] = json!("f");
        other["data"]["enrichment"][READ_AT_ENRICHMENT] = json!(["/x"]);
        assert_eq!(
            compare_runs("a", std::slice::from_ref(&a), "b", &[other]).len(),
            1
        );
        // Null where the lookup could not see it, and said so: allowed.
        let mut unseen = a.clone();
        unseen["data"]["x"]["id"] = Value::Null;
        unseen["data"]["enrichment"] =
            json!({"status": "entity_not_found", READ_AT_ENRICHMENT: ["/x"]});
        assert!(compare_runs("a", &[a], "b", &[unseen]).is_empty());
    }
}

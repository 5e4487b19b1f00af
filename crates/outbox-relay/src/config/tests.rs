//! The configuration contract: the documented keys parse, unknown keys and missing
//! variables are named, interpolation follows its rules.

use super::*;

const CONTRACT: &str = r#"
[source]
url = "postgres://relay:${RELAY_PG_PASSWORD}@db:5432/portal"
slot = "outbox_relay"
publication = "outbox_relay"

[capture]
profile = "portal"
table = "public.events"

[[sinks]]
name = "archive"
type = "file"
path = "/var/lib/outbox-relay/events.jsonl"

[dead_letter]
path = "/var/lib/outbox-relay/dead-letters.jsonl"

[metrics]
listen = "127.0.0.1:9187"
"#;

fn env(var: &str) -> Option<String> {
    (var == "RELAY_PG_PASSWORD").then(|| "s3cr\"et".to_string())
}

#[test]
fn the_documented_contract_parses() {
    let cfg = Config::parse(CONTRACT, "t.toml", &env).unwrap();
    assert_eq!(cfg.source.url, "postgres://relay:s3cr\"et@db:5432/portal");
    assert_eq!(cfg.source.publication.to_vec(), vec!["outbox_relay"]);
    assert_eq!(
        cfg.capture.schema_table(),
        ("public".into(), "events".into())
    );
    assert!(matches!(&cfg.sinks[0], SinkConfig::File(f) if f.name == "archive"));
    assert!(cfg.dead_letter.is_some());
}

#[test]
fn unknown_keys_are_rejected_with_their_name() {
    let text = CONTRACT.replace("slot = \"outbox_relay\"", "slott = \"x\"");
    let err = Config::parse(&text, "t.toml", &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("slott"), "{err}");
    let text = CONTRACT.replace(
        "path = \"/var/lib/outbox-relay/events.jsonl\"",
        "pth = \"x\"",
    );
    let err = Config::parse(&text, "t.toml", &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("pth"), "{err}");
}

#[test]
fn missing_env_names_the_variable_and_key() {
    let err = Config::parse(CONTRACT, "t.toml", &|_| None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("RELAY_PG_PASSWORD") && err.contains("source.url"),
        "{err}"
    );
}

#[test]
fn the_compose_config_parses() {
    let text = include_str!("../../../../deploy/relay.toml");
    let cfg = Config::parse(text, "deploy/relay.toml", &env).unwrap();
    match &cfg.sinks[0] {
        SinkConfig::Nats(n) => {
            assert_eq!(n.stream, "PORTAL_EVENTS");
            assert!(n.create_stream);
        }
        other => panic!("expected the nats sink, got {other:?}"),
    }
}

#[test]
#[cfg(all(feature = "sqs", feature = "azure-queue"))]
fn the_compose_cloud_configs_parse() {
    let text = include_str!("../../../../deploy/relay-sqs.toml");
    let cfg = Config::parse(text, "deploy/relay-sqs.toml", &env).unwrap();
    let SinkConfig::Sqs(s) = &cfg.sinks[0] else {
        panic!("expected the sqs sink, got {:?}", cfg.sinks[0]);
    };
    assert!(s.is_fifo());
    s.validate().unwrap();
    let text = include_str!("../../../../deploy/relay-azure.toml");
    let cfg = Config::parse(text, "deploy/relay-azure.toml", &env).unwrap();
    match &cfg.sinks[0] {
        SinkConfig::AzureQueue(a) => a.validate().unwrap(),
        other => panic!("expected the azure-queue sink, got {other:?}"),
    }
    assert_ne!(
        cfg.source.slot, "outbox_relay",
        "each relay has its own slot"
    );
}

#[test]
fn nats_sink_keys_are_checked_too() {
    let text = CONTRACT.replace(
        "type = \"file\"\npath = \"/var/lib/outbox-relay/events.jsonl\"",
        "type = \"nats\"\nurl = \"nats://n:4222\"\nstreem = \"X\"",
    );
    let err = Config::parse(&text, "t.toml", &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("streem"), "{err}");
}

#[test]
#[cfg(feature = "webhook")]
fn webhook_sinks_and_the_portal_v2_profile_parse() {
    let text = CONTRACT
        .replace("profile = \"portal\"", "profile = \"portal-v2\"")
        .replace(
            "type = \"file\"\npath = \"/var/lib/outbox-relay/events.jsonl\"",
            "type = \"webhook\"\nurl = \"https://hooks.example.com/v2\"\nformat = \"portal-v2\"\n\
             secret = [\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"]\ntimeout = \"5s\"\n\
             headers = { Authorization = \"Bearer ${RELAY_PG_PASSWORD}\" }",
        );
    let cfg = Config::parse(&text, "t.toml", &env).unwrap();
    assert_eq!(cfg.capture.profile, ProfileName::PortalV2);
    match &cfg.sinks[0] {
        SinkConfig::Webhook(w) => {
            assert_eq!(w.format, relay_sinks::webhook::Format::PortalV2);
            assert_eq!(w.timeout, Duration::from_secs(5));
            assert!(
                !format!("{w:?}").contains("s3cr"),
                "header values never print"
            );
        }
        other => panic!("expected the webhook sink, got {other:?}"),
    }
    let bad = text.replace("timeout = \"5s\"", "timeot = \"5s\"");
    let err = Config::parse(&bad, "t.toml", &env).unwrap_err().to_string();
    assert!(err.contains("timeot"), "{err}");
}

#[test]
fn expansion_rules() {
    let e = |v: &str| (v == "A").then(|| "1".to_string());
    assert_eq!(expand("x${A}y", &e).unwrap(), "x1y");
    assert_eq!(expand("${B:-dflt}", &e).unwrap(), "dflt");
    assert_eq!(expand("$${A}", &e).unwrap(), "${A}");
    assert_eq!(expand("cost $5", &e).unwrap(), "cost $5");
    assert_eq!(expand("${B}", &e).unwrap_err(), "B");
}

#[test]
fn list_of_publications_and_unknown_sink_type() {
    let text = CONTRACT.replace(
        "publication = \"outbox_relay\"",
        "publication = [\"a\", \"b\"]",
    );
    let cfg = Config::parse(&text, "t.toml", &env).unwrap();
    assert_eq!(cfg.source.publication.to_vec(), vec!["a", "b"]);
    let text = CONTRACT.replace("type = \"file\"", "type = \"kafka\"");
    let err = Config::parse(&text, "t.toml", &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("kafka"), "{err}");
}

#[test]
fn the_enrichment_linger_is_read_and_a_zero_one_is_refused_by_name() {
    let cfg = Config::parse(CONTRACT, "t.toml", &env).unwrap();
    assert_eq!(cfg.capture.enrich_linger, Duration::from_millis(20));
    let text = CONTRACT.replace("[capture]", "[capture]\nenrich_linger = \"150ms\"");
    assert!(
        text.contains("enrich_linger"),
        "the contract has a [capture] table"
    );
    let cfg = Config::parse(&text, "t.toml", &env).unwrap();
    assert_eq!(cfg.capture.enrich_linger, Duration::from_millis(150));
    let text = CONTRACT.replace("[capture]", "[capture]\nenrich_linger = \"0s\"");
    let err = Config::parse(&text, "t.toml", &env)
        .unwrap_err()
        .to_string();
    assert!(err.contains("capture.enrich_linger"), "{err}");
}

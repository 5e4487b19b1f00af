//! Cloud delivery throughput: audit rows → relay → SQS (ministack) and → Azure Storage
//! Queues (Azurite), each against a raw client sending the same messages, batched the
//! same way, to the same emulator in the same run.
//!
//! 1. SQS raw: aws-sdk-sqs `SendMessageBatch` of 10 envelopes of the relay's size with
//!    the relay's 7 attributes, 8 requests in flight (the sink's default).
//! 2. SQS relay: N audit rows (distinct aggregates, enrichment off) through the
//!    pipeline and the SQS sink (batches of up to 10, 8 in flight).
//! 3. Azure raw: azure_storage_queue `send_message` of base64 envelopes, 32 in flight
//!    (the service has no batch send; the sink's default window).
//! 4. Azure relay: the same rows through the Azure Queue sink.
//!
//! `cargo bench -p outbox-relay-benches --bench cloud` (needs MINISTACK_BIN and
//! AZURITE_QUEUE_BIN: `eval "$(scripts/install-deps.sh --env)"`). `BENCH_ROWS` sets N
//! (default 10,000). The emulators set the pace; compare within one run only.

use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use azure_core::http::{ClientOptions, RetryOptions, Url};
use azure_storage_queue::models::{QueueClientSendMessageOptions, QueueMessage};
use azure_storage_queue::{QueueClient, QueueClientOptions};
use base64::Engine as _;
use futures::stream::{FuturesUnordered, StreamExt};
use outbox_relay::Config;
use outbox_relay_tests::azure::Azurite;
use outbox_relay_tests::bench::drain;
use outbox_relay_tests::sqs::Ministack;
use outbox_relay_tests::{connect, Setup, TestDb, ACTOR};
use relay_contracts::Sink;
use relay_sinks::azure_queue::sas::{self, AccountKey, QueueSas, DEVSTORE_ACCOUNT, DEVSTORE_KEY};
use relay_sinks::{AzureQueueConfig, AzureQueueSink, SqsConfig, SqsSink};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// About the size of a relay envelope without enrichment.
const ENVELOPE_BYTES: usize = 600;

fn envelope(i: u64) -> String {
    let pad = "x".repeat(ENVELOPE_BYTES - 200);
    format!(
        r#"{{"specversion":"1.0","id":"raw-{i:012}","source":"/data-product-portal","type":"portal.audit.data_product_updated.v1","subject":"s-{i}","time":"2026-12-01T00:00:00Z","data":{{"pad":"{pad}"}}}}"#
    )
}

async fn raw_sqs(client: &aws_sdk_sqs::Client, queue_url: &str, n: u64) -> Duration {
    let attr = |v: String| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .unwrap()
    };
    let start = Instant::now();
    let mut pending = FuturesUnordered::new();
    let mut i = 0;
    while i < n {
        let entries: Vec<SendMessageBatchRequestEntry> = (i..(i + 10).min(n))
            .enumerate()
            .map(|(j, k)| {
                SendMessageBatchRequestEntry::builder()
                    .id(j.to_string())
                    .message_body(envelope(k))
                    .message_attributes("ce-specversion", attr("1.0".into()))
                    .message_attributes("ce-id", attr(format!("raw-{k:012}")))
                    .message_attributes(
                        "ce-type",
                        attr("portal.audit.data_product_updated.v1".into()),
                    )
                    .message_attributes("ce-source", attr("/data-product-portal".into()))
                    .message_attributes("ce-subject", attr(format!("s-{k}")))
                    .message_attributes("ce-time", attr("2026-12-01T00:00:00Z".into()))
                    .message_attributes("Content-Type", attr("application/cloudevents+json".into()))
                    .build()
                    .unwrap()
            })
            .collect();
        i = (i + 10).min(n);
        let request = client
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries))
            .send();
        pending.push(request);
        if pending.len() >= 8 {
            let out = pending.next().await.unwrap().expect("SendMessageBatch");
            assert!(out.failed().is_empty());
        }
    }
    while let Some(out) = pending.next().await {
        assert!(out.expect("SendMessageBatch").failed().is_empty());
    }
    start.elapsed()
}

async fn raw_azure(client: &QueueClient, n: u64) -> Duration {
    let start = Instant::now();
    let mut pending = FuturesUnordered::new();
    for i in 0..n {
        let text = base64::engine::general_purpose::STANDARD.encode(envelope(i));
        let content = QueueMessage {
            message_text: Some(text),
        }
        .try_into()
        .unwrap();
        pending.push(client.send_message(
            content,
            Some(QueueClientSendMessageOptions {
                message_time_to_live: Some(-1),
                ..Default::default()
            }),
        ));
        if pending.len() >= 32 {
            pending.next().await.unwrap().expect("send_message");
        }
    }
    while let Some(r) = pending.next().await {
        r.expect("send_message");
    }
    start.elapsed()
}

async fn relay_drain(n: u64, sink: Arc<dyn Sink>) -> Duration {
    let db = TestDb::start(Setup::default()).await;
    let admin = connect(&db.cluster.conninfo("portal")).await;
    let mut left = n;
    while left > 0 {
        let rows = i32::try_from(left.min(100)).unwrap();
        admin
            .execute(
                "INSERT INTO events(id, name, subject_type, subject_id, actor_id)
                 SELECT gen_random_uuid(), 'data_product_updated', 'DATA_PRODUCT', gen_random_uuid(), $1::text::uuid
                 FROM generate_series(1, $2::int) g",
                &[&ACTOR, &rows],
            )
            .await
            .unwrap();
        left -= u64::try_from(rows).unwrap();
    }
    let cfg = Config::parse(
        &format!(
            "[source]\nurl = \"{}\"\n\n[capture]\nenrich = false\n\n[[sinks]]\nname = \"x\"\ntype = \"null\"\n",
            db.relay_url()
        ),
        "bench",
        &|_| None,
    )
    .unwrap();
    drain(&cfg, vec![sink], n, Duration::from_secs(900))
        .await
        .took
}

fn azure_client(azurite: &Azurite, queue: &str) -> QueueClient {
    let token = QueueSas {
        account: DEVSTORE_ACCOUNT,
        queue,
        permissions: "ra",
        expiry: sas::sas_time(SystemTime::now() + Duration::from_secs(3600)),
        protocol: None,
    }
    .sign(&AccountKey::from_base64(DEVSTORE_KEY).unwrap());
    let url = Url::parse(&format!("{}/{queue}?{token}", azurite.endpoint())).unwrap();
    let options = QueueClientOptions {
        client_options: ClientOptions {
            retry: RetryOptions::none(),
            ..Default::default()
        },
        ..Default::default()
    };
    QueueClient::new(url, None, Some(options)).unwrap()
}

#[tokio::main]
async fn main() {
    // The AWS chain reads these (set before any thread of ours reads the environment).
    for (k, v) in outbox_relay_tests::sqs::aws_env() {
        std::env::set_var(k, v);
    }
    relay_sinks::install_crypto_provider();
    let n: u64 = std::env::var("BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let rate = |d: Duration| n as f64 / d.as_secs_f64();

    let sqs = Ministack::start();
    let raw_queue = sqs.create_queue("raw");
    let relay_queue = sqs.create_queue("relay");
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http)
        .endpoint_url(sqs.endpoint())
        .load()
        .await;
    let client = aws_sdk_sqs::Client::new(&conf);
    let sqs_raw = raw_sqs(&client, &raw_queue, n).await;
    let mut cfg = SqsConfig::new("sqs", relay_queue);
    cfg.endpoint_url = Some(sqs.endpoint());
    cfg.region = Some("us-east-1".into());
    let sink = Arc::new(SqsSink::connect(&cfg).await.expect("sqs sink")) as Arc<dyn Sink>;
    let sqs_relay = relay_drain(n, sink).await;
    drop(sqs);

    let azurite = Azurite::start();
    azurite.create_queue("raw");
    azurite.create_queue("relay");
    let azure_raw = raw_azure(&azure_client(&azurite, "raw"), n).await;
    let mut cfg = AzureQueueConfig::new("azure", "relay");
    cfg.connection_string = Some(azurite.connection_string().into());
    let sink = Arc::new(AzureQueueSink::connect(&cfg).await.expect("azure sink")) as Arc<dyn Sink>;
    let azure_relay = relay_drain(n, sink).await;

    println!("\nCloud delivery, {n} events of ~{ENVELOPE_BYTES} bytes (same run, same emulators)");
    println!("{:<60} {:>10} {:>9}", "path", "events/s", "vs raw");
    let row = |label: &str, d: Duration, base: Duration| {
        println!(
            "{label:<60} {:>10.0} {:>8.2}x",
            rate(d),
            base.as_secs_f64() / d.as_secs_f64()
        );
    };
    row(
        "SQS raw SendMessageBatch (10 per request, 8 in flight) (base)",
        sqs_raw,
        sqs_raw,
    );
    row(
        "audit rows → relay → SQS sink (ministack)",
        sqs_relay,
        sqs_raw,
    );
    row(
        "Azure raw send_message (base64, 32 in flight) (base)",
        azure_raw,
        azure_raw,
    );
    row(
        "audit rows → relay → Azure Queue sink (Azurite)",
        azure_relay,
        azure_raw,
    );
}

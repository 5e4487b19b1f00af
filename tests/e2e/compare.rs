//! The comparison harness (`scripts/bench.sh`, issue 13) is too long for the suite; this
//! smoke run (a few thousand events, the debug binary, no Debezium peer) keeps every path
//! of it working: each drain must reach its count of acked events, each latency run must
//! time every event it offered, and the report must show every line.

use outbox_relay_tests::compare::{run, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_comparison_harness_drains_every_path() {
    let options = Options::smoke();
    let report = run(&options).await;
    let expected = [
        ("pg_recvlogical → /dev/null (100-row tx)", options.rows),
        ("relay → null (100-row tx)", options.rows),
        ("relay → file (100-row tx)", options.rows),
        (
            "raw async-nats publish + ack (the broker's limit)",
            options.rows,
        ),
        ("relay → JetStream (100-row tx)", options.rows),
        ("relay, enrichment on → null (100-row tx)", options.rows),
        (
            "relay, enrichment on → JetStream (100-row tx)",
            options.rows,
        ),
        ("pg_recvlogical → /dev/null (1-row tx)", options.single_rows),
        ("relay → null (1-row tx)", options.single_rows),
        ("relay → JetStream (1-row tx)", options.single_rows),
    ];
    let markdown = report.markdown();
    eprintln!("{markdown}");
    for (path, events) in expected {
        let line = report
            .line(path)
            .unwrap_or_else(|| panic!("no line for {path}:\n{markdown}"));
        assert_eq!(line.drain.events, events, "{path}");
        assert!(line.drain.rate() > 0.0, "{path}: no rate");
        assert!(markdown.contains(path), "{path} missing from the report");
        if path.starts_with("relay") {
            assert!(line.drain.first.is_some(), "{path}: no first event time");
            assert!(
                line.drain.cpu.is_some_and(|c| c > 0.0),
                "{path}: no CPU figure"
            );
            assert!(line.drain.peak_rss_mib.is_some(), "{path}: no RSS figure");
        }
    }
    assert_eq!(report.lines.len(), expected.len(), "{markdown}");
    // The broker's limit is measured at the relay's own message size.
    assert!(
        report.mean_bytes > 200,
        "mean message size {}",
        report.mean_bytes
    );
    assert_eq!(report.latency.len(), 3 * options.rates.len());
    assert_eq!(
        report.latency.iter().filter(|l| l.broker_only).count(),
        options.rates.len(),
        "one broker-alone latency run per rate"
    );
    for l in &report.latency {
        assert!(l.events > 0, "no events offered at {}/s", l.rate);
        assert_eq!(
            l.millis.len() as u64,
            l.events,
            "latency at {}/s (enrichment {}): every offered event must be timed at the broker",
            l.rate,
            l.enrich
        );
        assert!(l.quantile(0.5) <= l.quantile(0.99));
        if l.broker_only {
            continue;
        }
        let (p50, p99) = l
            .relay_p50_p99_ms
            .unwrap_or_else(|| panic!("no commit → ack histogram from the relay at {}/s", l.rate));
        assert!(
            p50 <= p99,
            "relay's own p50 {p50} ms above its p99 {p99} ms"
        );
        let (read50, read99) = l
            .read_p50_p99_ms
            .unwrap_or_else(|| panic!("no commit → read histogram from the relay at {}/s", l.rate));
        assert!(
            read50 <= p50 && read99 <= p99,
            "a transaction is read before its events are acked: read p50/p99 {read50}/{read99} ms \
             against ack {p50}/{p99} ms"
        );
    }
}

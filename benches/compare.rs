//! Issue 13's harness: every path out of PostgreSQL on the same WAL and the same servers
//! in one run (`outbox_relay_tests::compare`), printed and written to
//! `docs/benchmarks.md` (or `$BENCH_OUT`) with the command and the machine.
//!
//! `scripts/bench.sh` (builds the release binary first, then runs this).
//! `BENCH_ROWS` sets the 100-row-transaction backlog (default 200,000; the 1-row one is a
//! tenth of it).

use outbox_relay_tests::compare::{run, Options};

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kib| kib / 1024 / 1024);
    format!("{cores} cores ({cpu}), {mem} GiB RAM")
}

#[tokio::main]
async fn main() {
    let options = Options::full();
    let report = run(&options).await;
    let date = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let text = format!(
        "# Benchmarks\n\n\
         Measured by `scripts/bench.sh` (`BENCH_ROWS={}`) on {}, {date}. Everything below \
         ran in one run, on the same WAL and the same PostgreSQL 15 and nats-server; compare \
         the ratios, not the absolute numbers (these machines are noisy). Each relay line is \
         the release binary as a child process: its CPU, peak RSS and start-up are its own. \
         The stream is the real portal schema (`tests/fixtures/portal_schema.sql`) with \
         1,000 data products, 2,000 output ports and technical assets, and audit rows of all \
         33 names.\n\n{}",
        options.rows,
        machine(),
        report.markdown()
    );
    println!("{text}");
    let out = std::env::var("BENCH_OUT").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/benchmarks.md").to_string()
    });
    std::fs::write(&out, &text).unwrap_or_else(|e| panic!("write {out}: {e}"));
    eprintln!("written to {out}");
}

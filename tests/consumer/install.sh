#!/usr/bin/env bash
# Creates the Python venv that the NATS end-to-end test uses to read a JetStream stream
# back with an independent client (nats-py) and the official CloudEvents SDK, and prints
# the venv's python on stdout (nothing else goes to stdout; progress goes to stderr).
#
#   OUTBOX_CONSUMER_PYTHON=$(tests/consumer/install.sh)
#   "$OUTBOX_CONSUMER_PYTHON" tests/consumer/check_stream.py --url nats://127.0.0.1:PORT \
#       --stream PORTAL_EVENTS --subject-filter 'portal.events.>' --expect 5
#
# Idempotent: when the venv exists and was built from the current requirements.txt (a
# hash of it is kept in the venv), it only prints the path (well under a second).
# The venv lives under ${OUTBOX_DEPS_DIR:-/opt/outbox-relay-deps}/consumer-venv, beside
# the one scripts/install-deps.sh makes for nats-server, and is built with Debian's
# /usr/bin/python3 (a pyenv interpreter under /root would tie it to /root).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REQS=$HERE/requirements.txt
DEPS=${OUTBOX_DEPS_DIR:-/opt/outbox-relay-deps}
VENV=$DEPS/consumer-venv
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)

log() { printf 'consumer-venv: %s\n' "$*" >&2; }
now() { local t=${EPOCHREALTIME//[.,]/}; echo "${t:0:-3}"; }        # ms
took() { local ms=$(( $(now) - $1 )); printf '%d.%02ds' $((ms / 1000)) $(((ms % 1000) / 10)); }

T0=$(now)
want=$(sha256sum "$REQS" | cut -d' ' -f1)
marker=$VENV/.requirements.sha256

ready() { [[ -x $VENV/bin/python && -f $marker && $(<"$marker") == "$want" ]]; }

if ready; then
    log "present at $VENV [$(took "$T0")]"
    echo "$VENV/bin/python"
    exit 0
fi

mkdir -p "$DEPS"
# Parallel callers (two test runs on one machine) must not build the same venv at once.
exec 9>"$DEPS/.consumer-venv.lock"
flock 9
if ready; then                       # another caller finished it while we waited
    log "present at $VENV [$(took "$T0")]"
    echo "$VENV/bin/python"
    exit 0
fi

if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    log "installing python3-venv (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends python3-venv >&2
fi
rm -f "$marker"
[[ -x $VENV/bin/pip ]] || "$PY" -m venv "$VENV" >&2
"$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$REQS" >&2
# Prove the two libraries the checker uses import (and say which versions we got).
versions=$("$VENV/bin/python" -c '
import importlib.metadata as m
import nats, nats.js.api                                       # noqa: F401
from cloudevents.core.formats.json import JSONFormat          # noqa: F401
from cloudevents.core.v1.event import CloudEvent              # noqa: F401
print("nats-py", m.version("nats-py"), "cloudevents", m.version("cloudevents"))')
echo "$want" > "$marker"
chmod -R a+rX "$VENV"
log "installed ($versions) at $VENV [$(took "$T0")]"
echo "$VENV/bin/python"

#!/usr/bin/env bash
# One Python venv built from a requirements file, for the test and bench helpers written
# in Python (tests/consumer, tests/cloud, benches/debezium); prints the venv's python on
# stdout (nothing else goes to stdout; progress goes to stderr).
#
#   scripts/python-venv.sh NAME REQUIREMENTS CHECK
#
# NAME is the venv's directory under ${OUTBOX_DEPS_DIR:-/opt/outbox-relay-deps}; CHECK is
# Python run in the new venv that proves the libraries import and prints what it found.
# Idempotent: when the venv exists and was built from the current requirements (their
# hash is kept in the venv), it only prints the path (well under a second). Parallel
# callers wait for each other. Built with Debian's /usr/bin/python3 (a pyenv interpreter
# under /root would tie it to /root); python3-venv comes from apt when missing.
set -euo pipefail

NAME=$1
REQS=$2
CHECK=$3
DEPS=${OUTBOX_DEPS_DIR:-/opt/outbox-relay-deps}
VENV=$DEPS/$NAME
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)

log() { printf '%s: %s\n' "$NAME" "$*" >&2; }
want=$(sha256sum "$REQS" | cut -d' ' -f1)
marker=$VENV/.requirements.sha256
ready() { [[ -x $VENV/bin/python && -f $marker && $(<"$marker") == "$want" ]]; }

if ready; then
    echo "$VENV/bin/python"
    exit 0
fi
mkdir -p "$DEPS"
exec 9>"$DEPS/.$NAME.lock"
flock 9
if ready; then                       # another caller finished it while we waited
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
found=$("$VENV/bin/python" -c "$CHECK")
echo "$want" > "$marker"
chmod -R a+rX "$VENV"
log "installed ($found) at $VENV"
echo "$VENV/bin/python"

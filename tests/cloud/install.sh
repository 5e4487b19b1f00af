#!/usr/bin/env bash
# Creates the Python venv the SQS and Azure Storage Queue end-to-end tests read messages
# back with (boto3, azure-storage-queue, the CloudEvents SDK) and prints the venv's python
# on stdout (nothing else goes to stdout; progress goes to stderr).
#
#   OUTBOX_CLOUD_PYTHON=$(tests/cloud/install.sh)
#   "$OUTBOX_CLOUD_PYTHON" tests/cloud/read_sqs.py --endpoint http://127.0.0.1:PORT \
#       --queue-url http://127.0.0.1:PORT/000000000000/events --expect 5
#
# Idempotent: when the venv exists and was built from the current requirements.txt (its
# hash is kept in the venv), it only prints the path. Lives under
# ${OUTBOX_DEPS_DIR:-/opt/outbox-relay-deps}/cloud-venv, built with Debian's /usr/bin/python3.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REQS=$HERE/requirements.txt
DEPS=${OUTBOX_DEPS_DIR:-/opt/outbox-relay-deps}
VENV=$DEPS/cloud-venv
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)

log() { printf 'cloud-venv: %s\n' "$*" >&2; }
want=$(sha256sum "$REQS" | cut -d' ' -f1)
marker=$VENV/.requirements.sha256
ready() { [[ -x $VENV/bin/python && -f $marker && $(<"$marker") == "$want" ]]; }

if ready; then
    echo "$VENV/bin/python"
    exit 0
fi
mkdir -p "$DEPS"
# Parallel callers (tests run in parallel) must not build the same venv at once.
exec 9>"$DEPS/.cloud-venv.lock"
flock 9
if ready; then
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
versions=$("$VENV/bin/python" -c '
import importlib.metadata as m
import boto3, azure.storage.queue                               # noqa: F401
from cloudevents.core.formats.json import JSONFormat            # noqa: F401
print("boto3", m.version("boto3"), "azure-storage-queue", m.version("azure-storage-queue"),
      "cloudevents", m.version("cloudevents"))')
echo "$want" > "$marker"
chmod -R a+rX "$VENV"
log "installed ($versions) at $VENV"
echo "$VENV/bin/python"

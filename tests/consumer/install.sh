#!/usr/bin/env bash
# Creates the Python venv that the NATS end-to-end test uses to read a JetStream stream
# back with an independent client (nats-py) and the official CloudEvents SDK, and prints
# the venv's python on stdout (scripts/python-venv.sh: idempotent, progress on stderr).
#
#   OUTBOX_CONSUMER_PYTHON=$(tests/consumer/install.sh)
#   "$OUTBOX_CONSUMER_PYTHON" tests/consumer/check_stream.py --url nats://127.0.0.1:PORT \
#       --stream PORTAL_EVENTS --subject-filter 'portal.events.>' --expect 5
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
exec "$HERE/../../scripts/python-venv.sh" consumer-venv "$HERE/requirements.txt" '
import importlib.metadata as m
import nats, nats.js.api                                       # noqa: F401
from cloudevents.core.formats.json import JSONFormat          # noqa: F401
from cloudevents.core.v1.event import CloudEvent              # noqa: F401
print("nats-py", m.version("nats-py"), "cloudevents", m.version("cloudevents"))'

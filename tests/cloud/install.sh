#!/usr/bin/env bash
# Creates the Python venv the SQS and Azure Storage Queue end-to-end tests read messages
# back with (boto3, azure-storage-queue, the CloudEvents SDK) and prints the venv's python
# on stdout (scripts/python-venv.sh: idempotent, progress on stderr).
#
#   OUTBOX_CLOUD_PYTHON=$(tests/cloud/install.sh)
#   "$OUTBOX_CLOUD_PYTHON" tests/cloud/read_sqs.py --endpoint http://127.0.0.1:PORT \
#       --queue-url http://127.0.0.1:PORT/000000000000/events --expect 5
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
exec "$HERE/../../scripts/python-venv.sh" cloud-venv "$HERE/requirements.txt" '
import importlib.metadata as m
import boto3, azure.storage.queue                               # noqa: F401
from cloudevents.core.formats.json import JSONFormat            # noqa: F401
print("boto3", m.version("boto3"), "azure-storage-queue", m.version("azure-storage-queue"),
      "cloudevents", m.version("cloudevents"))'

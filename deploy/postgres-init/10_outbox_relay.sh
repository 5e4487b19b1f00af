#!/usr/bin/env bash
# docker-compose.yml: what a DBA does for the relay, run by the postgres image's
# entrypoint once, when it initialises an empty data directory (after 00_schema.sql).
#
# It runs the DBA scripts exactly as shipped in sql/ (mounted at $OUTBOX_RELAY_SQL_DIR),
# in order, each with its own `psql -v ON_ERROR_STOP=1 -f`, so each runs in its own
# session and every statement commits by itself. That matters for 04_slot.sql:
# pg_create_logical_replication_slot() refuses to run in a transaction that has written
# anything. Then it gives the relay's role the password from RELAY_PG_PASSWORD.
#
# The entrypoint starts a temporary server that listens on the Unix socket only and
# exports POSTGRES_USER / POSTGRES_DB / PGPASSWORD; it runs this file as the `postgres`
# OS user. The temporary server already has wal_level=logical (the service's command),
# which the slot needs.
set -euo pipefail

SQL_DIR=${OUTBOX_RELAY_SQL_DIR:-/outbox-relay/sql}
: "${RELAY_PG_PASSWORD:?RELAY_PG_PASSWORD must be set (docker-compose.yml passes it to the postgres service)}"

db_psql() {
    psql -X -q -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" "$@"
}

for f in 01_role.sql 02_publication.sql 03_enrichment.sql 04_slot.sql; do
    echo "outbox-relay init: running sql/$f in database $POSTGRES_DB"
    db_psql -f "$SQL_DIR/$f" >/dev/null
done

# The password travels as a psql variable, quoted by psql (:'name'), never through the
# shell into SQL text. Variables are only interpolated in scripts, hence stdin.
echo "outbox-relay init: setting the password of role outbox_relay"
db_psql --set=relay_password="$RELAY_PG_PASSWORD" <<'EOSQL'
ALTER ROLE outbox_relay PASSWORD :'relay_password';
EOSQL

db_psql -At -c "SELECT 'outbox-relay init: slot ' || slot_name || ' (' || plugin || ') ready in database ' || database
                  FROM pg_replication_slots WHERE slot_name = 'outbox_relay'"

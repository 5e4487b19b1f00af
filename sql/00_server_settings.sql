-- =============================================================================
-- Outbox Relay — 00_server_settings.sql
-- Server-wide settings logical replication needs.
--
-- THIS FILE IS NOT RUN BY THE RELAY, ITS DEMO OR ITS TESTS. It is a reference for
-- the DBA of a self-managed PostgreSQL (10+; the relay is tested on 15 and 17).
-- On Amazon RDS / Aurora see managed/rds.sql, on Azure Database for PostgreSQL
-- flexible server see managed/azure.sql: there you change "parameters" in the
-- cloud console/CLI instead of running ALTER SYSTEM.
--
-- ALTER SYSTEM writes postgresql.auto.conf. It needs a superuser (or, from
-- PostgreSQL 15 on, a role granted ALTER SYSTEM on the parameter) and it cannot
-- run inside a transaction block, so run each statement on its own, e.g.
--     psql "$URL" -v ON_ERROR_STOP=1 -f sql/00_server_settings.sql
-- (psql sends each statement separately, outside an explicit transaction).
--
-- Check what is in effect now:
--     SELECT name, setting, unit, context, pending_restart
--       FROM pg_settings
--      WHERE name IN ('wal_level', 'max_replication_slots', 'max_wal_senders',
--                     'max_slot_wal_keep_size', 'wal_sender_timeout');
-- =============================================================================

-- -----------------------------------------------------------------------------
-- wal_level = logical                                      (needs a RESTART)
-- The default 'replica' writes too little information to decode row changes.
-- 'logical' adds a little WAL volume (mostly for UPDATE/DELETE of tables with
-- a wide replica identity). Without it, creating the slot fails with
--   ERROR: logical decoding requires wal_level >= logical
-- and `outbox-relay check` reports `FAIL wal_level`.
-- -----------------------------------------------------------------------------
ALTER SYSTEM SET wal_level = logical;

-- -----------------------------------------------------------------------------
-- max_replication_slots                                    (needs a RESTART)
-- One slot per relay instance (slot 'outbox_relay' by default) plus whatever
-- physical standbys and other CDC tools already use. Default 10. Leave head-room:
-- a slot that cannot be created because the limit is reached stops the relay.
-- -----------------------------------------------------------------------------
ALTER SYSTEM SET max_replication_slots = 10;

-- -----------------------------------------------------------------------------
-- max_wal_senders                                          (needs a RESTART)
-- One walsender process per streaming connection (the relay holds one while it
-- runs; pg_basebackup and physical standbys take others). Default 10.
-- -----------------------------------------------------------------------------
ALTER SYSTEM SET max_wal_senders = 10;

-- -----------------------------------------------------------------------------
-- max_slot_wal_keep_size                           (reload is enough; PG 13+)
-- A slot pins WAL: PostgreSQL keeps every WAL segment the slot's consumer has
-- not yet confirmed. If the relay is stopped for days (or a broker outage keeps
-- it from confirming), WAL grows until the disk is full and the WHOLE DATABASE
-- stops. This cap (default -1 = unlimited) makes PostgreSQL instead invalidate
-- the slot once it would retain more than this much WAL. The database stays up;
-- the relay then fails with a clear error and the operator recreates the slot
-- and replays the missed events from public.events (see 04_slot.sql).
-- Size it to a few days of WAL at your write rate, well below free disk space.
-- -----------------------------------------------------------------------------
ALTER SYSTEM SET max_slot_wal_keep_size = '10GB';

-- -----------------------------------------------------------------------------
-- wal_sender_timeout                                       (reload is enough)
-- How long the server waits for a replication client's status update before it
-- drops the connection. Default 60s. The relay answers keepalives and sends
-- feedback well within that; lower it if you want a dead relay's slot to be
-- released (active = false) sooner, e.g. for a fast fail-over to a standby relay.
-- -----------------------------------------------------------------------------
ALTER SYSTEM SET wal_sender_timeout = '60s';

-- Apply the reloadable settings now. wal_level, max_replication_slots and
-- max_wal_senders only take effect after a restart of the server, e.g.
--     sudo systemctl restart postgresql            (Debian/Ubuntu packages)
--     pg_ctl -D "$PGDATA" restart                  (as the postgres OS user)
-- Afterwards `SHOW wal_level;` must print `logical`.
SELECT pg_reload_conf();

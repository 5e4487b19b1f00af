-- =============================================================================
-- Outbox Relay — managed/azure.sql
-- Azure Database for PostgreSQL — FLEXIBLE SERVER variant of
-- 00_server_settings.sql + 01_role.sql + 02_publication.sql + 04_slot.sql.
-- (The retired "single server" used azure.replication_support instead; not covered.)
--
-- Differences from a self-managed server:
--   * no ALTER SYSTEM: wal_level etc. are SERVER PARAMETERS;
--   * the admin user is not a superuser but a member of azure_pg_admin, which
--     Azure allows to give roles the REPLICATION attribute
--     (ALTER ROLE ... WITH REPLICATION).
--
-- Run the SQL below as the server's admin user (member of azure_pg_admin)
-- connected to the portal's database; the publication part as the OWNER of
-- public.events if the admin user does not own it.
--
-- HOW TO RUN
--   psql runs every statement of a file as its own transaction (unless you pass
--   -1 / --single-transaction), so with psql the whole file works in one go:
--       psql "$URL" -v ON_ERROR_STOP=1 -f sql/managed/azure.sql
--   With any client that sends a file as ONE batch/transaction, run PART A and
--   PART B as two separate executions: the slot creation in PART B fails inside
--   a transaction that already wrote
--   ("cannot create logical replication slot in transaction that has performed writes").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- PART 0 — server parameters (Azure portal "Server parameters" blade or CLI, NOT SQL)
--
--       wal_level              = logical   -- needs a server RESTART
--       max_worker_processes   >= 16       -- Azure's recommendation for logical
--                                          -- replication ("out of background
--                                          -- worker slots" otherwise); restart
--       max_replication_slots  >= existing slots + 1  (restart)
--       max_wal_senders        >= existing senders + 1 (restart)
--       max_slot_wal_keep_size = e.g. 10240 (MB) — caps the WAL an abandoned slot
--                                can pin, see 04_slot.sql (if your server
--                                version/tier exposes it)
--       wal_sender_timeout     = 60000 (ms, default)
--
--   e.g. az postgres flexible-server parameter set -g RG -s SERVER --name wal_level --value logical
--        az postgres flexible-server parameter set -g RG -s SERVER --name max_worker_processes --value 16
--        az postgres flexible-server restart -g RG -n SERVER
--
--   Check afterwards:  SHOW wal_level;   -- must print logical
--
-- Also: the server's firewall rules / private endpoint must let the relay in.
-- (pg_hba is managed by Azure; logical replication connections are allowed.)
-- High availability: unless logical slot fail-over is set up (Azure offers the
-- pg_failover_slots extension for this), a logical slot may not survive an HA
-- fail-over. After a fail-over, run `outbox-relay check`; if the slot is
-- missing, recreate it and replay missed events from public.events.
-- -----------------------------------------------------------------------------


-- =============================================================================
-- PART A — role, grants, publication (one batch is fine)
-- =============================================================================

-- A.1 The role: LOGIN REPLICATION. Creating it with LOGIN first and then adding
--     REPLICATION with ALTER ROLE is the form Azure documents for
--     azure_pg_admin members.
--     Set its password yourself, never in a file:
--         ALTER ROLE outbox_relay PASSWORD 'choose-a-long-random-secret';
--     (or use Microsoft Entra ID authentication: the relay then needs a fresh
--     access token as its password).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'outbox_relay') THEN
        CREATE ROLE outbox_relay WITH LOGIN;
    END IF;
END
$$;
ALTER ROLE outbox_relay WITH LOGIN REPLICATION;

-- A.2 Same grants as 01_role.sql.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO outbox_relay', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO outbox_relay;
GRANT SELECT ON TABLE public.events TO outbox_relay;
-- Later, for enrichment: SELECT on the portal's domain tables, see 01_role.sql.

-- A.3 Same publication as 02_publication.sql (insert-only; why: see there).
--     Needs ownership of public.events.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'outbox_relay') THEN
        CREATE PUBLICATION outbox_relay FOR TABLE public.events WITH (publish = 'insert');
    ELSE
        ALTER PUBLICATION outbox_relay SET (publish = 'insert');
        IF NOT EXISTS (
               SELECT 1
                 FROM pg_catalog.pg_publication_tables
                WHERE pubname = 'outbox_relay'
                  AND schemaname = 'public'
                  AND tablename = 'events')
        THEN
            ALTER PUBLICATION outbox_relay ADD TABLE public.events;
        END IF;
    END IF;
END
$$;


-- =============================================================================
-- PART B — the slot.  *** MUST RUN SEPARATELY, in its own transaction ***
-- (see "HOW TO RUN" above; with psql -f this is automatic). Same statement as
-- 04_slot.sql; read that file for what a slot pins, monitoring and dropping:
--     SELECT pg_drop_replication_slot('outbox_relay');   -- stop the relay first
-- =============================================================================

SELECT pg_create_logical_replication_slot('outbox_relay', 'pgoutput')
 WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_slots WHERE slot_name = 'outbox_relay');

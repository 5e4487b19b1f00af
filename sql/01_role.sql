-- =============================================================================
-- Outbox Relay — 01_role.sql
-- The database role the relay logs in as, and the privileges it needs.
--
-- Run it as a superuser (or a role with CREATEROLE that also holds the
-- REPLICATION attribute) connected to the PORTAL's database — the one that
-- holds public.events:
--     psql "$URL" -v ON_ERROR_STOP=1 -f sql/01_role.sql
--
-- Idempotent: safe to run again. It is a single batch without psql
-- meta-commands, so any client can run it (the relay's demo and tests run it
-- verbatim with one simple-query call, i.e. in one implicit transaction).
--
-- Defaults: role "outbox_relay", audit table public.events. To use other names,
-- see sql/README.md (edit or sed the file).
--
-- The script never sets a password. Set one yourself, once, outside any file
-- that lands in version control, e.g. in an interactive psql session:
--     ALTER ROLE outbox_relay PASSWORD 'choose-a-long-random-secret';
-- (or use \password outbox_relay in psql, which never echoes the secret), or
-- use certificate / IAM / Entra ID authentication and no password at all.
-- pg_hba.conf must allow the role to connect both as an ordinary connection
-- ("host <db> outbox_relay ...", used by `outbox-relay check` and enrichment)
-- and as a replication connection ("host replication outbox_relay ..." is NOT
-- needed for LOGICAL replication: a logical walsender connects to a named
-- database and is matched by the normal database rules).
-- =============================================================================

-- -----------------------------------------------------------------------------
-- 1. The role: LOGIN (it connects) and REPLICATION (it may open a replication
--    connection and read a logical slot). It is NOT a superuser and owns nothing.
--    If the role already exists (created by hand, or by an earlier run), only
--    the missing attributes are added; nothing else about it is changed.
-- -----------------------------------------------------------------------------
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'outbox_relay') THEN
        CREATE ROLE outbox_relay WITH LOGIN REPLICATION;
    ELSE
        ALTER ROLE outbox_relay WITH LOGIN REPLICATION;
    END IF;
END
$$;

-- -----------------------------------------------------------------------------
-- 2. CONNECT on the current database. GRANT needs the database's name, so it is
--    built with format(%I, current_database()): the script works whatever the
--    portal's database is called. (PUBLIC usually has CONNECT already; granting
--    it explicitly keeps working if the DBA revoked it from PUBLIC.)
-- -----------------------------------------------------------------------------
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO outbox_relay', current_database());
END
$$;

-- -----------------------------------------------------------------------------
-- 3. USAGE on the schema and SELECT on the audit table.
--    Streaming itself does not check table privileges (logical decoding reads
--    WAL, not the table), but:
--      * `outbox-relay check` verifies the table is readable, and the
--        publication's table must exist for the relay to start;
--      * replaying missed events after a slot had to be recreated reads the
--        table (SELECT ... FROM public.events WHERE created_on >= ...).
--    GRANT is idempotent: granting an existing privilege is a no-op.
-- -----------------------------------------------------------------------------
GRANT USAGE ON SCHEMA public TO outbox_relay;
GRANT SELECT ON TABLE public.events TO outbox_relay;

-- -----------------------------------------------------------------------------
-- 4. LATER (not needed yet): event enrichment looks up the current state of the
--    entity an audit row is about. When you enable it, grant read access to the
--    portal's domain tables (all in schema public). Uncomment what you need:
-- -----------------------------------------------------------------------------
-- GRANT SELECT ON TABLE
--     public.abstract_data_products,          -- products and explorations (name, namespace, status, domain)
--     public.data_products,                   -- product details (about, usage, type, lifecycle)
--     public.explorations,
--     public.domains,
--     public.data_product_types,
--     public.data_product_lifecycles,
--     public.datasets,                        -- output ports
--     public.data_outputs,                    -- technical assets
--     public.data_output_configurations,
--     public.s3_technical_asset_configurations,   -- and the other per-type configuration tables
--     public.data_outputs_datasets,           -- technical asset <-> output port links
--     public.input_ports,                     -- access links (consumer product -> output port)
--     public.input_port_requests,
--     public.roles,
--     public.role_assignments_data_product,
--     public.role_assignments_dataset,
--     public.users,                           -- e-mail / names of actors and members
--     public.event_reference_entities
-- TO outbox_relay;

-- =============================================================================
-- Outbox Relay — managed/rds.sql
-- Amazon RDS for PostgreSQL and Amazon Aurora PostgreSQL-Compatible variant of
-- 00_server_settings.sql + 01_role.sql + 02_publication.sql + 04_slot.sql.
--
-- Differences from a self-managed server:
--   * no ALTER SYSTEM: logical decoding is switched on with a PARAMETER;
--   * nobody is a real superuser, and only a superuser may give a role the
--     REPLICATION attribute (CREATE/ALTER ROLE ... REPLICATION fails with
--     "must be superuser to create replication users"). RDS instead has the
--     predefined role rds_replication, which allows managing logical slots and
--     streaming from them. The relay's `check` accepts membership in it.
--
-- Run the SQL below as the master user (member of rds_superuser) connected to
-- the portal's database; the publication part as the OWNER of public.events
-- (the portal's application role, usually) if the master user does not own it.
--
-- HOW TO RUN
--   psql runs every statement of a file as its own transaction (unless you pass
--   -1 / --single-transaction), so with psql the whole file works in one go:
--       psql "$URL" -v ON_ERROR_STOP=1 -f sql/managed/rds.sql
--   With any client that sends a file as ONE batch/transaction (JDBC scripts,
--   tokio-postgres batch_execute, DBeaver "execute script" in one transaction,
--   ...), run PART A and PART B as two separate executions: the slot creation
--   in PART B fails inside a transaction that already wrote
--   ("cannot create logical replication slot in transaction that has performed writes").
-- =============================================================================

-- -----------------------------------------------------------------------------
-- PART 0 — parameters (AWS console / CLI, NOT SQL)
--
--   RDS for PostgreSQL: in a custom DB PARAMETER GROUP attached to the instance
--   Aurora PostgreSQL:  in a custom DB CLUSTER PARAMETER GROUP attached to the cluster
--
--       rds.logical_replication = 1      -- static: REBOOT the instance / writer
--                                        -- afterwards. It sets wal_level = logical
--                                        -- (and sizes max_replication_slots /
--                                        -- max_wal_senders); you cannot set
--                                        -- wal_level directly on RDS.
--       max_replication_slots   >= existing slots + 1 (static, reboot)
--       max_wal_senders         >= existing senders + 1 (static, reboot)
--       max_slot_wal_keep_size  = e.g. 10240 (MB; PG 13+, dynamic) — caps the
--                                 WAL an abandoned slot can pin, see 04_slot.sql.
--                                 Also watch the CloudWatch metrics
--                                 OldestReplicationSlotLag / TransactionLogsDiskUsage.
--       wal_sender_timeout      = 60000 (ms, default; dynamic)
--
--   e.g. aws rds modify-db-parameter-group --db-parameter-group-name my-pg \
--          --parameters "ParameterName=rds.logical_replication,ParameterValue=1,ApplyMethod=pending-reboot"
--        aws rds reboot-db-instance --db-instance-identifier my-portal-db
--   (Aurora: aws rds modify-db-cluster-parameter-group ..., then reboot the writer.)
--
--   Check afterwards:  SHOW wal_level;   -- must print logical
--                      SHOW rds.logical_replication;   -- on
--
-- Also: the security group must let the relay reach port 5432, and the slot
-- name must not start with "rds" (reserved by AWS). "outbox_relay" is fine.
-- -----------------------------------------------------------------------------


-- =============================================================================
-- PART A — role, grants, publication (one batch is fine)
-- =============================================================================

-- A.1 The role: LOGIN, but NO REPLICATION attribute (RDS forbids granting it).
--     Set its password yourself, never in a file:
--         ALTER ROLE outbox_relay PASSWORD 'choose-a-long-random-secret';
--     or enable IAM database authentication and GRANT rds_iam TO outbox_relay;
--     (the relay then needs a fresh IAM auth token as its password).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'outbox_relay') THEN
        CREATE ROLE outbox_relay WITH LOGIN;
    ELSE
        ALTER ROLE outbox_relay WITH LOGIN;
    END IF;
END
$$;

-- A.2 Replication rights the RDS way. Granting a membership twice is harmless
--     (PostgreSQL only prints a NOTICE).
GRANT rds_replication TO outbox_relay;

-- A.3 Same grants as 01_role.sql.
DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO outbox_relay', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO outbox_relay;
GRANT SELECT ON TABLE public.events TO outbox_relay;
-- Later, for enrichment: SELECT on the portal's domain tables, see 01_role.sql.

-- A.4 Same publication as 02_publication.sql (insert-only; why: see there).
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

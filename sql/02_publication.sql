-- =============================================================================
-- Outbox Relay — 02_publication.sql
-- The publication that tells pgoutput which changes to send to the relay.
--
-- Run it as the OWNER of public.events or as a superuser (CREATE PUBLICATION
-- ... FOR TABLE needs ownership of the table and CREATE on the database),
-- after 01_role.sql:
--     psql "$URL" -v ON_ERROR_STOP=1 -f sql/02_publication.sql
--
-- Idempotent, one batch, no psql meta-commands (see 01_role.sql).
-- Defaults: publication "outbox_relay" on table public.events.
--
-- WHY INSERT ONLY (publish = 'insert')
--   Every row inserted into public.events IS an event: the portal writes one
--   audit row per user action and never reuses it. The portal does UPDATE old
--   rows, though: deleting a product/output port/technical asset/user fills the
--   deleted_subject_identifier / deleted_target_identifier columns of earlier
--   events that mention it. Those updates are bookkeeping, not new events, and
--   must not reach brokers. Publishing only inserts keeps them (and any DELETE
--   or TRUNCATE a DBA might run for retention) out of the stream entirely,
--   so less WAL is decoded and sent.
--   The Debezium outbox pattern uses the same shape: the application INSERTs
--   outbox rows and nothing else matters (Debezium's outbox event router ignores
--   updates/deletes; many deployments delete outbox rows right after insert).
--   If you point the relay at an outbox table of your own, the same
--   publish = 'insert' publication is what you want.
--
-- REPLICA IDENTITY
--   Not needed. Replica identity decides which old-row columns are written to
--   WAL for UPDATE and DELETE. An insert-only publication never sends those,
--   and inserts always carry the complete new row. (PostgreSQL also only
--   refuses UPDATE/DELETE on a table without replica identity when the table
--   is in a publication that publishes updates/deletes — not the case here, so
--   the portal's own updates of public.events keep working.) Leave the table's
--   default (its primary key) as it is.
-- =============================================================================

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'outbox_relay') THEN
        -- Fresh install.
        CREATE PUBLICATION outbox_relay FOR TABLE public.events WITH (publish = 'insert');
    ELSE
        -- The publication exists (earlier run, or created by hand): make sure it
        -- publishes inserts only...
        ALTER PUBLICATION outbox_relay SET (publish = 'insert');

        -- ...and that it includes the audit table. pg_publication_tables lists
        -- the tables a publication covers however it got them (FOR TABLE,
        -- FOR ALL TABLES, or FOR TABLES IN SCHEMA on PG 15+), so a publication
        -- that already covers the table through ALL TABLES / a schema (to which
        -- a table cannot, or need not, be added) is left alone.
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

-- Verify (optional):
--   SELECT pubname, puballtables, pubinsert, pubupdate, pubdelete, pubtruncate
--     FROM pg_publication WHERE pubname = 'outbox_relay';
--   SELECT * FROM pg_publication_tables WHERE pubname = 'outbox_relay';

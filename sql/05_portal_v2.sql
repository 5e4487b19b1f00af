-- 05_portal_v2.sql — what capture.profile = "portal-v2" needs: the portal's own V2 webhook
-- events, produced from the WAL of its domain tables.
--
-- Run after 01_role.sql, as the owner of the portal's tables (or a superuser), BEFORE the
-- slot is created (04_slot.sql; see README: a publication must exist before the WAL the
-- slot decodes). Idempotent, one batch, no psql meta-commands. Skips tables this portal
-- version does not have.
--
-- 1. Publication outbox_relay_portal_v2 (publish = 'insert, update, delete') on the tables
--    whose changes the portal announces (and the related tables it announces a parent for).
--    The relay's config then reads:
--      [source]  publication = "outbox_relay_portal_v2"
--      [capture] profile = "portal-v2"
--    (The audit table's publication from 02 is not needed by this profile.)
-- 2. REPLICA IDENTITY FULL on the tables whose events name more than the deleted row's
--    primary key: with the default identity a DELETE carries only the key, so e.g. a
--    deleted output port could not say which data product it belonged to. data_products
--    and explorations need only their id and keep their default identity.
--    Cost: updates and deletes of these tables write the whole old row to the WAL; they
--    are small and change at the pace of people clicking in the portal. (03_enrichment.sql
--    sets FULL on most of them too; running both is fine.)
-- 3. SELECT on the four tables the relay reads once at start: a consumer's type
--    (abstract_data_products), an access link's consumer (input_ports), a technical
--    asset's owner (data_outputs) and an output port's product (datasets). A change of an
--    access request, or of a link, does not hold these; the relay learns them from the WAL
--    as rows change and needs the existing ones when it starts.
--
-- Keep the three lists in step with relay_capture::portal_v2::{TABLES,
-- REPLICA_IDENTITY_FULL, SEED_TABLES} (a unit test checks).
--
-- To undo: DROP PUBLICATION outbox_relay_portal_v2; ALTER TABLE … REPLICA IDENTITY DEFAULT;
-- REVOKE SELECT … FROM outbox_relay.
DO $$
DECLARE
    t text;
    published text[] := ARRAY[
        'abstract_data_products', 'data_products', 'explorations', 'input_ports',
        'input_port_requests', 'role_assignments_data_product', 'role_assignments_dataset',
        'data_outputs', 'datasets', 'data_outputs_datasets', 'data_products_settings_values'];
    full_identity text[] := ARRAY[
        'abstract_data_products', 'input_ports', 'input_port_requests',
        'role_assignments_data_product', 'role_assignments_dataset', 'data_outputs', 'datasets',
        'data_outputs_datasets', 'data_products_settings_values'];
    read_at_start text[] := ARRAY[
        'abstract_data_products', 'input_ports', 'data_outputs', 'datasets'];
    present text[] := ARRAY[]::text[];
BEGIN
    FOREACH t IN ARRAY published LOOP
        IF to_regclass(format('public.%I', t)) IS NOT NULL THEN
            present := present || t;
        END IF;
    END LOOP;

    FOREACH t IN ARRAY full_identity LOOP
        IF to_regclass(format('public.%I', t)) IS NOT NULL THEN
            EXECUTE format('ALTER TABLE public.%I REPLICA IDENTITY FULL', t);
        END IF;
    END LOOP;

    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'outbox_relay_portal_v2') THEN
        EXECUTE 'CREATE PUBLICATION outbox_relay_portal_v2 WITH (publish = ''insert, update, delete'')';
    ELSE
        EXECUTE 'ALTER PUBLICATION outbox_relay_portal_v2 SET (publish = ''insert, update, delete'')';
    END IF;
    IF array_length(present, 1) > 0 THEN
        EXECUTE 'ALTER PUBLICATION outbox_relay_portal_v2 SET TABLE '
            || (SELECT string_agg(format('public.%I', x), ', ') FROM unnest(present) AS x);
    END IF;

    FOREACH t IN ARRAY read_at_start LOOP
        IF to_regclass(format('public.%I', t)) IS NOT NULL THEN
            EXECUTE format('GRANT SELECT ON public.%I TO outbox_relay', t);
        END IF;
    END LOOP;
END
$$;

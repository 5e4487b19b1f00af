-- 03_enrichment.sql — what the relay's enrich stage needs (capture.profile = "portal").
--
-- Run after 01–03, as the owner of the portal's tables (or a superuser). Idempotent.
-- It does three things, each explained below, and skips tables this portal version
-- does not have (per-type technical asset configuration tables come and go).
--
-- 1. REPLICA IDENTITY FULL on the domain tables whose deletes the relay captures.
--    When the portal deletes a data product, output port, technical asset, access link
--    or role assignment, the row is gone by the time its `*_removed` audit row commits
--    (in a LATER transaction). To still tell a provisioner what to deprovision
--    (namespace, owning product, bucket/path…), the relay keeps the deleted row's last
--    state from the WAL. With the default replica identity the WAL holds only the key of
--    a deleted row; FULL makes it hold the whole row. Cost: deletes (and updates) of
--    these tables write the whole old row to the WAL; these tables are small and change
--    rarely.
-- 2. Two more publications for the relay's slot, since `publish` is per publication:
--      outbox_relay_deletes  (publish = 'delete') on those tables
--      outbox_relay_expiry   (publish = 'insert, update') on input_ports and
--                            data_outputs_datasets: access expiry is an UPDATE to status
--                            EXPIRED by a background job, never audited; and the rows of
--                            the two link tables tell which link (id) an access or asset
--                            link audit row names at its commit, from the WAL, so a live
--                            run and a catch-up name the same link.
--    The relay's config then lists all three:
--      publication = ["outbox_relay", "outbox_relay_deletes", "outbox_relay_expiry"]
--    A held delete keeps the slot from confirming past its transaction until its audit
--    row was delivered (at most capture.delete_hold, default 60 s), so a relay restart in
--    between replays the delete: nothing is lost and nothing needs to be stored.
-- 3. SELECT on every table the lookups read (names, namespaces, owners, configuration).
--
-- To undo: DROP PUBLICATION outbox_relay_deletes; DROP PUBLICATION outbox_relay_expiry;
-- ALTER TABLE … REPLICA IDENTITY DEFAULT; REVOKE SELECT … FROM outbox_relay.
DO $$
DECLARE
    t text;
    -- keep in step with relay_catalog::Catalog::tables_to_capture_deletes() (a unit test checks)
    delete_tables text[] := ARRAY[
        'abstract_data_products', 'data_products', 'explorations', 'datasets', 'data_outputs',
        'data_output_configurations', 's3_technical_asset_configurations',
        'glue_technical_asset_configurations', 'databricks_technical_asset_configurations',
        'snowflake_technical_asset_configurations', 'redshift_technical_asset_configurations',
        'azure_blob_technical_asset_configurations', 'postgresql_technical_asset_configurations',
        'osi_semantic_model_technical_asset_configurations',
        'data_outputs_datasets', 'input_ports', 'input_port_requests',
        'role_assignments_data_product', 'role_assignments_dataset'];
    -- keep in step with relay_catalog::Catalog::tables_read() (a unit test checks)
    read_tables text[] := ARRAY[
        'abstract_data_products', 'data_products', 'explorations', 'domains', 'data_product_types',
        'data_product_lifecycles', 'datasets', 'data_outputs', 'data_output_configurations',
        's3_technical_asset_configurations', 'glue_technical_asset_configurations',
        'databricks_technical_asset_configurations', 'snowflake_technical_asset_configurations',
        'redshift_technical_asset_configurations', 'azure_blob_technical_asset_configurations',
        'postgresql_technical_asset_configurations',
        'osi_semantic_model_technical_asset_configurations', 'platforms', 'platform_services',
        'data_outputs_datasets', 'input_ports', 'input_port_requests', 'roles',
        'role_assignments_data_product', 'role_assignments_dataset', 'users'];
    present text[] := ARRAY[]::text[];
BEGIN
    FOREACH t IN ARRAY delete_tables LOOP
        IF to_regclass(format('public.%I', t)) IS NOT NULL THEN
            EXECUTE format('ALTER TABLE public.%I REPLICA IDENTITY FULL', t);
            present := present || t;
        END IF;
    END LOOP;

    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'outbox_relay_deletes') THEN
        EXECUTE 'CREATE PUBLICATION outbox_relay_deletes WITH (publish = ''delete'')';
    ELSE
        EXECUTE 'ALTER PUBLICATION outbox_relay_deletes SET (publish = ''delete'')';
    END IF;
    IF array_length(present, 1) > 0 THEN
        EXECUTE 'ALTER PUBLICATION outbox_relay_deletes SET TABLE '
            || (SELECT string_agg(format('public.%I', x), ', ') FROM unnest(present) AS x);
    END IF;

    present := ARRAY[]::text[];
    FOREACH t IN ARRAY ARRAY['input_ports', 'data_outputs_datasets'] LOOP
        IF to_regclass(format('public.%I', t)) IS NOT NULL THEN
            present := present || t;
        END IF;
    END LOOP;
    IF array_length(present, 1) > 0 THEN
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = 'outbox_relay_expiry') THEN
            EXECUTE 'CREATE PUBLICATION outbox_relay_expiry WITH (publish = ''insert, update'')';
        ELSE
            EXECUTE 'ALTER PUBLICATION outbox_relay_expiry SET (publish = ''insert, update'')';
        END IF;
        EXECUTE 'ALTER PUBLICATION outbox_relay_expiry SET TABLE '
            || (SELECT string_agg(format('public.%I', x), ', ') FROM unnest(present) AS x);
    END IF;

    FOREACH t IN ARRAY read_tables LOOP
        IF to_regclass(format('public.%I', t)) IS NOT NULL THEN
            EXECUTE format('GRANT SELECT ON public.%I TO outbox_relay', t);
        END IF;
    END LOOP;
END
$$;

-- docker-compose.yml only: a portal-like schema for the `postgres` service, so the relay
-- has an audit table to tail. It is a copy of crates/outbox-relay/src/portal_schema.sql
-- (the schema `outbox-relay demo` and the tests use); scripts/validate-compose.sh fails
-- when the two differ. The real Data Product Portal creates its own schema: against a
-- portal database run only the DBA scripts in sql/ (10_outbox_relay.sh does that here).
--
-- Run once by the postgres image's entrypoint, as the superuser POSTGRES_USER, in
-- POSTGRES_DB, when the data directory is empty (files run in name order).
-- ---- copy of crates/outbox-relay/src/portal_schema.sql below (scripts/validate-compose.sh --sync-schema) ----
-- A small portal-like schema for `outbox-relay demo` and the tests, written from
-- shared/PORTAL.md (the Data Product Portal's real audit table and the domain tables an
-- enricher joins). Not for production: the portal creates its own schema.
CREATE TABLE IF NOT EXISTS event_reference_entities (key varchar PRIMARY KEY);
INSERT INTO event_reference_entities(key) VALUES ('DATA_PRODUCT'), ('DATASET'), ('DATA_OUTPUT'), ('USER')
    ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS users (
    id uuid PRIMARY KEY, email varchar NOT NULL, external_id varchar,
    first_name varchar, last_name varchar);
CREATE TABLE IF NOT EXISTS domains (id uuid PRIMARY KEY, name varchar NOT NULL);
CREATE TABLE IF NOT EXISTS data_product_types (id uuid PRIMARY KEY, name varchar NOT NULL);
CREATE TABLE IF NOT EXISTS data_product_lifecycles (id uuid PRIMARY KEY, name varchar NOT NULL, value int);
CREATE TABLE IF NOT EXISTS abstract_data_products (
    id uuid PRIMARY KEY, name varchar NOT NULL, namespace varchar NOT NULL,
    abstract_data_product_type varchar NOT NULL DEFAULT 'data_products',
    status varchar NOT NULL DEFAULT 'active', description varchar, domain_id uuid REFERENCES domains(id));
CREATE TABLE IF NOT EXISTS data_products (
    id uuid PRIMARY KEY REFERENCES abstract_data_products(id) ON DELETE CASCADE,
    about varchar, usage varchar, type_id uuid REFERENCES data_product_types(id),
    lifecycle_id uuid REFERENCES data_product_lifecycles(id));
CREATE TABLE IF NOT EXISTS datasets (
    id uuid PRIMARY KEY, namespace varchar NOT NULL, name varchar NOT NULL, description varchar,
    status varchar NOT NULL DEFAULT 'ACTIVE', access_type varchar NOT NULL DEFAULT 'RESTRICTED',
    data_product_id uuid REFERENCES abstract_data_products(id) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS input_ports (
    id uuid PRIMARY KEY, consuming_abstract_data_product_id uuid REFERENCES abstract_data_products(id) ON DELETE CASCADE,
    dataset_id uuid REFERENCES datasets(id) ON DELETE CASCADE, status varchar NOT NULL DEFAULT 'PENDING');
CREATE TABLE IF NOT EXISTS events (
    id uuid PRIMARY KEY,
    name varchar NOT NULL,
    subject_type varchar NOT NULL REFERENCES event_reference_entities(key),
    subject_id uuid,
    target_type varchar REFERENCES event_reference_entities(key),
    target_id uuid,
    deleted_subject_identifier varchar,
    deleted_target_identifier varchar,
    actor_id uuid NOT NULL REFERENCES users(id),
    created_on timestamp without time zone NOT NULL DEFAULT (now() AT TIME ZONE 'utc'),
    updated_on timestamp without time zone,
    deleted_at timestamp without time zone);

-- Added for the event catalog (crates/relay-catalog): the rest of the domain tables of
-- shared/PORTAL.md. Casing as in the portal: `abstract_data_products.status`,
-- `abstract_data_product_type` and `roles.scope` hold lower-case values; statuses,
-- decisions, access types and duration types elsewhere hold upper-case enum names.
CREATE TABLE IF NOT EXISTS explorations (
    id uuid PRIMARY KEY REFERENCES abstract_data_products(id) ON DELETE CASCADE,
    owner_id uuid REFERENCES users(id));
CREATE TABLE IF NOT EXISTS platforms (id uuid PRIMARY KEY, name varchar NOT NULL);
CREATE TABLE IF NOT EXISTS platform_services (
    id uuid PRIMARY KEY, platform_id uuid REFERENCES platforms(id), name varchar NOT NULL);
CREATE TABLE IF NOT EXISTS data_output_configurations (
    id uuid PRIMARY KEY, configuration_type varchar NOT NULL);
CREATE TABLE IF NOT EXISTS s3_technical_asset_configurations (
    id uuid PRIMARY KEY REFERENCES data_output_configurations(id) ON DELETE CASCADE,
    bucket varchar, suffix varchar, path varchar);
CREATE TABLE IF NOT EXISTS glue_technical_asset_configurations (
    id uuid PRIMARY KEY REFERENCES data_output_configurations(id) ON DELETE CASCADE,
    database varchar, database_suffix varchar, "table" varchar, bucket_identifier varchar,
    database_path varchar, table_path varchar, entire_schema boolean);
CREATE TABLE IF NOT EXISTS databricks_technical_asset_configurations (
    id uuid PRIMARY KEY REFERENCES data_output_configurations(id) ON DELETE CASCADE,
    catalog varchar, schema varchar, bucket_identifier varchar, catalog_path varchar,
    "table" varchar, table_path varchar, entire_schema boolean);
CREATE TABLE IF NOT EXISTS snowflake_technical_asset_configurations (
    id uuid PRIMARY KEY REFERENCES data_output_configurations(id) ON DELETE CASCADE,
    database varchar, schema varchar, "table" varchar, bucket_identifier varchar,
    database_path varchar, table_path varchar, entire_schema boolean);
CREATE TABLE IF NOT EXISTS redshift_technical_asset_configurations (
    id uuid PRIMARY KEY REFERENCES data_output_configurations(id) ON DELETE CASCADE,
    database varchar, schema varchar, "table" varchar, bucket_identifier varchar,
    database_path varchar, table_path varchar, entire_schema boolean);
CREATE TABLE IF NOT EXISTS data_outputs (
    id uuid PRIMARY KEY, namespace varchar NOT NULL, name varchar NOT NULL,
    status varchar NOT NULL DEFAULT 'ACTIVE',
    platform_id uuid REFERENCES platforms(id), service_id uuid REFERENCES platform_services(id),
    owner_id uuid REFERENCES data_products(id) ON DELETE CASCADE,
    configuration_id uuid REFERENCES data_output_configurations(id));
CREATE TABLE IF NOT EXISTS data_outputs_datasets (
    id uuid PRIMARY KEY,
    data_output_id uuid NOT NULL REFERENCES data_outputs(id) ON DELETE CASCADE,
    dataset_id uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    status varchar NOT NULL DEFAULT 'PENDING',
    requested_by_id uuid REFERENCES users(id), requested_on timestamp without time zone,
    approved_by_id uuid REFERENCES users(id), approved_on timestamp without time zone,
    denied_by_id uuid REFERENCES users(id), denied_on timestamp without time zone);
CREATE TABLE IF NOT EXISTS input_port_requests (
    id uuid PRIMARY KEY,
    input_port_id uuid NOT NULL REFERENCES input_ports(id) ON DELETE CASCADE,
    decision varchar NOT NULL DEFAULT 'PENDING', justification text,
    access_duration_type varchar NOT NULL DEFAULT 'PERMANENT',
    valid_from date, valid_until date, revoked_at timestamp without time zone,
    access_mode_id uuid,
    created_on timestamp without time zone DEFAULT (now() AT TIME ZONE 'utc'));
CREATE TABLE IF NOT EXISTS roles (
    id uuid PRIMARY KEY, name varchar NOT NULL, scope varchar NOT NULL,
    prototype smallint NOT NULL DEFAULT 0, description varchar);
CREATE TABLE IF NOT EXISTS role_assignments_data_product (
    id uuid PRIMARY KEY,
    data_product_id uuid NOT NULL REFERENCES data_products(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id), role_id uuid REFERENCES roles(id),
    decision varchar NOT NULL DEFAULT 'PENDING');
CREATE TABLE IF NOT EXISTS role_assignments_dataset (
    id uuid PRIMARY KEY,
    dataset_id uuid NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES users(id), role_id uuid REFERENCES roles(id),
    decision varchar NOT NULL DEFAULT 'PENDING');

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

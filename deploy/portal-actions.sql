-- docker-compose.yml: five portal actions, committed the way the portal commits them
-- (the same ones `outbox-relay demo` performs). Each statement outside BEGIN/COMMIT
-- commits by itself. Safe to run again: it yields five new events each time.
--
--   docker compose exec postgres psql -U portal -d portal -f /outbox-relay/portal-actions.sql
--   docker compose logs consumer

INSERT INTO users(id, email, first_name, last_name) VALUES
    ('11111111-1111-4111-8111-111111111111', 'ada@example.com', 'Ada', 'Lovelace')
    ON CONFLICT DO NOTHING;
INSERT INTO domains(id, name) VALUES ('22222222-2222-4222-8222-222222222222', 'Finance')
    ON CONFLICT DO NOTHING;

-- 1. a data product is created: domain change first, audit row in a later transaction
INSERT INTO abstract_data_products(id, name, namespace, domain_id) VALUES
    ('33333333-3333-4333-8333-333333333333', 'Revenue', 'revenue', '22222222-2222-4222-8222-222222222222')
    ON CONFLICT DO NOTHING;
INSERT INTO events(id, name, subject_type, subject_id, actor_id) VALUES
    (gen_random_uuid(), 'data_product_created', 'DATA_PRODUCT', '33333333-3333-4333-8333-333333333333',
     '11111111-1111-4111-8111-111111111111');

-- 2. an output port of it
INSERT INTO datasets(id, namespace, name, data_product_id) VALUES
    ('44444444-4444-4444-8444-444444444444', 'revenue-daily', 'Revenue daily', '33333333-3333-4333-8333-333333333333')
    ON CONFLICT DO NOTHING;
INSERT INTO events(id, name, subject_type, subject_id, actor_id) VALUES
    (gen_random_uuid(), 'dataset_created', 'DATASET', '44444444-4444-4444-8444-444444444444',
     '11111111-1111-4111-8111-111111111111');

-- 3. another product requests access, and the producer approves it in one transaction
INSERT INTO abstract_data_products(id, name, namespace) VALUES
    ('55555555-5555-4555-8555-555555555555', 'Forecast', 'forecast')
    ON CONFLICT DO NOTHING;
INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id) VALUES
    (gen_random_uuid(), 'data_product_dataset_link_requested', 'DATA_PRODUCT', '55555555-5555-4555-8555-555555555555',
     'DATASET', '44444444-4444-4444-8444-444444444444', '11111111-1111-4111-8111-111111111111');
BEGIN;
INSERT INTO input_ports(id, consuming_abstract_data_product_id, dataset_id, status) VALUES
    ('66666666-6666-4666-8666-666666666666', '55555555-5555-4555-8555-555555555555',
     '44444444-4444-4444-8444-444444444444', 'APPROVED')
    ON CONFLICT DO NOTHING;
INSERT INTO events(id, name, subject_type, subject_id, target_type, target_id, actor_id) VALUES
    (gen_random_uuid(), 'data_product_dataset_link_approved', 'DATASET', '44444444-4444-4444-8444-444444444444',
     'DATA_PRODUCT', '55555555-5555-4555-8555-555555555555', '11111111-1111-4111-8111-111111111111');
COMMIT;

-- 4. the consumer product is removed: old audit rows get deleted_subject_identifier
--    (UPDATEs: the publication sends inserts only, so these are not events), then the
--    removal event commits
BEGIN;
DELETE FROM abstract_data_products WHERE id = '55555555-5555-4555-8555-555555555555';
UPDATE events SET deleted_subject_identifier = 'Forecast'
    WHERE subject_id = '55555555-5555-4555-8555-555555555555';
COMMIT;
INSERT INTO events(id, name, subject_type, subject_id, deleted_subject_identifier, actor_id) VALUES
    (gen_random_uuid(), 'data_product_removed', 'DATA_PRODUCT', '55555555-5555-4555-8555-555555555555',
     'Forecast', '11111111-1111-4111-8111-111111111111');

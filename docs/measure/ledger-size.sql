-- Ledger growth, measured (docs/operations.md, "How the ledger grows").
--
-- Run against a COPY of a database holding one shipment that went the whole way through the
-- gateway (created by the API, submitted to the sandbox carrier, pushed through its journey to
-- `delivered`, every callback delivered): every table's rows are copied :n times from that
-- sample, with their own ids, codes, names and phones so that indexes grow as they would, then
-- pg_total_relation_size (table + indexes + TOAST) is divided by the shipments.
--   createdb -T bcci_gateway bcci_size
--   psql -d bcci_size -v n=50000 -f docs/measure/ledger-size.sql
-- Callback jobs keep one attempt each (in the sample nothing listened, so they retried).
\set ON_ERROR_STOP on
\timing on

CREATE TEMP TABLE src AS SELECT id FROM shipments ORDER BY created_at LIMIT 1;
CREATE TEMP TABLE m AS SELECT g, gen_random_uuid() AS sid FROM generate_series(1, :n) g;

-- The columns a copy sets (generated ones are PostgreSQL's).
CREATE FUNCTION pg_temp.cols(t text) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position)
  FROM information_schema.columns
  WHERE table_schema = 'public' AND table_name = t AND is_generated = 'NEVER' $$;

-- INSERT INTO t the rows of `from_sql` (which yields `o`, the original row, and `patch`, a
-- jsonb of the columns that change).
CREATE FUNCTION pg_temp.copy(t text, from_sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format(
    'INSERT INTO %1$I (%2$s) SELECT %2$s FROM (SELECT (jsonb_populate_record(null::%1$I, to_jsonb(o) || patch)).* FROM (%3$s) f) x',
    t, pg_temp.cols(t), from_sql);
END $$;

SELECT pg_temp.copy('shipments', $q$
  SELECT s AS o, jsonb_build_object(
    'id', m.sid,
    'dossier_code', s.dossier_code || '-' || m.g,
    'sale_order_code', s.sale_order_code || '-' || m.g,
    'tracking_number', 'EB' || lpad(m.g::text, 9, '0') || 'VN',
    'person_name', (ARRAY['Nguyễn','Trần','Lê','Phạm','Hoàng','Vũ','Đặng','Bùi','Đỗ','Hồ'])[1 + m.g % 10]
        || ' ' || (ARRAY['Văn','Thị','Đức','Minh','Thu','Hữu'])[1 + m.g % 6]
        || ' ' || (ARRAY['An','Bình','Châu','Dũng','Hà','Hoa','Lan','Long','Nam','Phương','Quân','Sơn','Tâm','Trang'])[1 + m.g % 14]
        || ' ' || substr(md5(m.g::text), 1, 4),
    'person_phone', '09' || lpad(((m.g::bigint * 7919) % 100000000)::text, 8, '0'),
    'person_id_number', lpad(((m.g::bigint * 104729) % 1000000000000)::text, 12, '0')) AS patch
  FROM shipments s JOIN src ON s.id = src.id CROSS JOIN m $q$);

SELECT pg_temp.copy('shipment_events', $q$
  SELECT e AS o, jsonb_build_object('id', nextval('shipment_events_id_seq'), 'shipment_id', m.sid) AS patch
  FROM shipment_events e JOIN src ON e.shipment_id = src.id CROSS JOIN m $q$);

CREATE TEMP TABLE jm AS
  SELECT m.g, m.sid, j.id AS old_id, nextval('jobs_id_seq') AS new_id
  FROM jobs j JOIN src ON j.shipment_id = src.id CROSS JOIN m;
SELECT pg_temp.copy('jobs', $q$
  SELECT j AS o, jsonb_build_object('id', jm.new_id, 'shipment_id', jm.sid) AS patch
  FROM jobs j JOIN jm ON j.id = jm.old_id $q$);
SELECT pg_temp.copy('job_attempts', $q$
  SELECT a AS o, jsonb_build_object('id', nextval('job_attempts_id_seq'), 'job_id', jm.new_id,
                                    'attempt', 1, 'outcome', 'ok', 'error_class', null, 'http_status', 204) AS patch
  FROM job_attempts a JOIN jm ON a.job_id = jm.old_id
  WHERE a.id = (SELECT min(id) FROM job_attempts b WHERE b.job_id = a.job_id) $q$);

SELECT pg_temp.copy('callbacks', $q$
  SELECT c AS o, jsonb_build_object('id', gen_random_uuid(), 'shipment_id', m.sid, 'state', 'delivered') AS patch
  FROM callbacks c JOIN src ON c.shipment_id = src.id CROSS JOIN m $q$);

CREATE TEMP TABLE em AS
  SELECT m.g, e.id AS old_id, nextval('carrier_push_envelopes_id_seq') AS new_id
  FROM carrier_push_envelopes e CROSS JOIN m
  WHERE e.id IN (SELECT envelope_id FROM carrier_pushes p JOIN src ON p.shipment_id = src.id);
SELECT pg_temp.copy('carrier_push_envelopes', $q$
  SELECT e AS o, jsonb_build_object('id', em.new_id) AS patch
  FROM carrier_push_envelopes e JOIN em ON e.id = em.old_id $q$);
SELECT pg_temp.copy('carrier_pushes', $q$
  SELECT p AS o, jsonb_build_object('id', nextval('carrier_pushes_id_seq'), 'shipment_id', m.sid,
      'item_code', 'EB' || lpad(m.g::text, 9, '0') || 'VN', 'envelope_id', em.new_id) AS patch
  FROM carrier_pushes p JOIN src ON p.shipment_id = src.id CROSS JOIN m
  JOIN em ON em.g = m.g AND em.old_id = p.envelope_id $q$);

SELECT pg_temp.copy('idempotency_keys', $q$
  SELECT k AS o, jsonb_build_object('key', k.key || '-' || m.g, 'shipment_id', m.sid) AS patch
  FROM idempotency_keys k JOIN src ON k.shipment_id = src.id CROSS JOIN m $q$);

VACUUM ANALYZE;

SELECT c.relname AS "table",
       c.reltuples::bigint AS "rows",
       round(c.reltuples::numeric / (SELECT count(*) FROM shipments), 1) AS "rows/shipment",
       pg_size_pretty(pg_total_relation_size(c.oid)) AS "total",
       round(pg_total_relation_size(c.oid)::numeric / (SELECT count(*) FROM shipments)) AS "bytes/shipment"
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r'
ORDER BY pg_total_relation_size(c.oid) DESC;

SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) AS "all tables",
       round(sum(pg_total_relation_size(c.oid)) / (SELECT count(*) FROM shipments)) AS "bytes/shipment",
       pg_size_pretty(pg_database_size(current_database())) AS "database"
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r';

DROP TABLE audit_log;
DROP TABLE job_attempts;
DROP TABLE jobs;
DROP TABLE idempotency_keys;
DROP TABLE shipment_events;
DROP TABLE shipments;

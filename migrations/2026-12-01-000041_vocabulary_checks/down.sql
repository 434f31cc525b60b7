ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE shipment_events DROP CONSTRAINT shipment_events_status_check;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;

DROP TRIGGER job_attempts_no_truncate ON job_attempts;
DROP TRIGGER job_attempts_append_only ON job_attempts;
DROP TRIGGER audit_log_no_truncate ON audit_log;
DROP TRIGGER audit_log_append_only ON audit_log;
DROP TRIGGER shipment_events_no_truncate ON shipment_events;
DROP TRIGGER shipment_events_append_only ON shipment_events;
DROP FUNCTION bcci_append_only();

CREATE RULE shipment_events_no_update AS ON UPDATE TO shipment_events DO INSTEAD NOTHING;
CREATE RULE shipment_events_no_delete AS ON DELETE TO shipment_events DO INSTEAD NOTHING;
CREATE RULE audit_log_no_update AS ON UPDATE TO audit_log DO INSTEAD NOTHING;
CREATE RULE audit_log_no_delete AS ON DELETE TO audit_log DO INSTEAD NOTHING;

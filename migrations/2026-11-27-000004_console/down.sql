DROP INDEX audit_log_acknowledged;
DROP INDEX shipment_events_failed_attempts;
DROP INDEX shipments_quiet;
DROP INDEX shipments_name_folded;
ALTER TABLE shipments DROP COLUMN name_folded;
DROP FUNCTION bcci_fold(text);
DROP TABLE console_sessions;

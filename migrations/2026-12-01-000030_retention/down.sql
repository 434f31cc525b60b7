DROP INDEX shipments_retention_due;
ALTER TABLE shipments DROP COLUMN personal_data_erased_at;

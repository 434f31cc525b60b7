DROP INDEX carrier_pushes_envelope;
DROP INDEX carrier_pushes_report;
DELETE FROM carrier_pushes WHERE record_index > 0 OR data IS NULL;
CREATE UNIQUE INDEX carrier_pushes_report ON carrier_pushes (item_code, status_code, status_at);
ALTER TABLE carrier_pushes DROP CONSTRAINT carrier_pushes_outcome_check;
ALTER TABLE carrier_pushes ADD CONSTRAINT carrier_pushes_outcome_check
    CHECK (outcome IN ('applied', 'duplicate', 'unknown_code', 'unknown_shipment'));
ALTER TABLE carrier_pushes
    DROP COLUMN envelope_id,
    DROP COLUMN record_index,
    DROP COLUMN status_at_from_send_date,
    ALTER COLUMN data SET NOT NULL;
DROP TABLE carrier_push_envelopes;

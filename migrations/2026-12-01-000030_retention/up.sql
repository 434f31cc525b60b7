-- Retention of personal data (issue 11 §2): when housekeeping erased a finished shipment's
-- personal data. NULL: not erased. Adds only, so old and new processes run side by side.
ALTER TABLE shipments ADD COLUMN personal_data_erased_at timestamptz;

-- What housekeeping looks for: finished shipments not erased yet, oldest first.
CREATE INDEX shipments_retention_due ON shipments (updated_at)
    WHERE personal_data_erased_at IS NULL
      AND status IN ('delivered', 'returned', 'cancelled', 'rejected');

-- Every vocabulary stored as text gets a CHECK constraint (issue 9 §2), like the statuses
-- have had from the start: the database refuses a word the gateway does not know, and
-- tests/it/schema.rs compares each list with its Rust enum (`AuditAction::ALL`,
-- `Status::ALL`, `JobKind::ALL`). A new word needs a new migration that replaces the
-- constraint, and one more name in the enum.
--
-- NOT VALID: the rows already written are not scanned (they hold only these words), so the
-- brief exclusive lock does not last as long as a scan of a large table. New rows are checked.
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
    'cancel', 'retry', 'replay_callbacks', 'apology_letter', 'acknowledge',
    'enable_client_callbacks', 'retention')) NOT VALID;

-- NULL (the status did not change) passes, as in every CHECK.
ALTER TABLE shipment_events ADD CONSTRAINT shipment_events_status_check CHECK (status IN (
    'requested', 'submitted', 'picked_up', 'in_transit', 'out_for_delivery', 'attempt_failed',
    'delivered', 'returning', 'returned', 'cancelled', 'rejected')) NOT VALID;

ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN (
    'carrier_submit', 'carrier_cancel', 'carrier_cancel_case', 'callback', 'carrier_confirm'))
    NOT VALID;

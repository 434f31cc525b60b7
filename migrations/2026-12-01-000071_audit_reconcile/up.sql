-- A reconciliation started from the console is audited as 'reconcile' (issue 10 §3), a word
-- the CHECK of 000041 did not list: the insert failed. The constraint is replaced, one more
-- name as `AuditAction::ALL` has (tests/it/schema.rs compares them).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
    'cancel', 'retry', 'replay_callbacks', 'apology_letter', 'acknowledge',
    'enable_client_callbacks', 'retention', 'reconcile')) NOT VALID;

-- The month's reconciliation with VNPost is a staff action (issue 10 §3): its word joins the
-- audit log's vocabulary (AuditAction::Reconcile). Migrations only add: the constraint is
-- replaced here, not edited where it was made.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
    'cancel', 'retry', 'replay_callbacks', 'apology_letter', 'acknowledge',
    'enable_client_callbacks', 'retention', 'reconcile')) NOT VALID;

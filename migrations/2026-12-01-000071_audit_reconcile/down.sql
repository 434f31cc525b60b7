ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN (
    'cancel', 'retry', 'replay_callbacks', 'apology_letter', 'acknowledge',
    'enable_client_callbacks', 'retention')) NOT VALID;

-- Append-only tables refuse to be changed, loudly (issue 9 §7). The `DO INSTEAD NOTHING`
-- rules of the first migration made an UPDATE or DELETE report success and do nothing, so a
-- hand-written fix or a bug looked as if it had worked. A trigger raises instead.
--
-- SQLSTATE BC001 ("bcci: append-only") lets a caller tell this refusal from other errors.
--
-- The one change allowed is retention's (src/ledger/retention.rs): it clears the excerpts of
-- the carrier's answers kept on job attempts (an answer may echo the citizen's order), in a
-- transaction that has said so with `SET LOCAL bcci.retention = 'on'`. Only `excerpt`, and
-- only to NULL: every other column must stay as it was. This guards against mistakes, not
-- against a database user set on writing: such a user can also disable a trigger.

DROP RULE shipment_events_no_update ON shipment_events;
DROP RULE shipment_events_no_delete ON shipment_events;
DROP RULE audit_log_no_update ON audit_log;
DROP RULE audit_log_no_delete ON audit_log;

CREATE FUNCTION bcci_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Nested: NEW is not set for a DELETE or a TRUNCATE, and an expression is not
    -- evaluated lazily.
    IF TG_TABLE_NAME = 'job_attempts' AND TG_OP = 'UPDATE'
       AND current_setting('bcci.retention', true) = 'on' THEN
        IF NEW.excerpt IS NULL AND to_jsonb(NEW) - 'excerpt' = to_jsonb(OLD) - 'excerpt' THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'BC001',
              HINT = 'rows of this table are never changed or removed; record a new row instead';
END
$$;

CREATE TRIGGER shipment_events_append_only BEFORE UPDATE OR DELETE ON shipment_events
    FOR EACH ROW EXECUTE FUNCTION bcci_append_only();
CREATE TRIGGER shipment_events_no_truncate BEFORE TRUNCATE ON shipment_events
    FOR EACH STATEMENT EXECUTE FUNCTION bcci_append_only();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION bcci_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION bcci_append_only();
CREATE TRIGGER job_attempts_append_only BEFORE UPDATE OR DELETE ON job_attempts
    FOR EACH ROW EXECUTE FUNCTION bcci_append_only();
CREATE TRIGGER job_attempts_no_truncate BEFORE TRUNCATE ON job_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION bcci_append_only();

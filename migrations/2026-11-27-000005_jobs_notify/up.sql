-- Enqueuing a job wakes the workers: NOTIFY bcci_jobs once per inserting statement,
-- delivered at commit (never for a rolled-back insert). Done in the database so that no
-- enqueue path, in the gateway or in a hand-written fix, can forget it, and so that it costs
-- no extra round trip.
CREATE FUNCTION bcci_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bcci_jobs', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_notify AFTER INSERT ON jobs FOR EACH STATEMENT EXECUTE FUNCTION bcci_notify_jobs();

DROP TRIGGER jobs_notify ON jobs;
DROP FUNCTION bcci_notify_jobs();

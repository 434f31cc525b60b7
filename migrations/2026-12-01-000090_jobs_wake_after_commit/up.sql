-- Issue 12 §2: enqueuing a job no longer sends NOTIFY inside the enqueuing transaction.
-- PostgreSQL holds one cluster-wide lock from a notifying transaction's commit until its WAL
-- is flushed, so every create (which enqueues its submission) committed one at a time: with
-- 32 clients, 27 to 31 sessions waited on that lock and the create rate was capped near one
-- per fsync. The gateway now wakes its workers after the commit (src/jobs/wakeup.rs): its own
-- at once, the other processes with one NOTIFY bcci_jobs of its own at most every 50 ms. A
-- job inserted by hand is found by the workers' poll (jobs.poll_interval).
DROP TRIGGER jobs_notify ON jobs;
DROP FUNCTION bcci_notify_jobs();

//! The durable job queue (outbox), table `jobs` and its attempt rows `job_attempts`: every
//! statement on them is here.
//!
//! Work caused by a state change (submit an order to the carrier, ask it to cancel, deliver a
//! callback) is inserted into `jobs` in the same transaction as the change, so a crash can
//! neither lose it nor run it without the change. The enqueuing transaction sends no
//! notification (that would serialise every such commit, see `jobs::wakeup`): once it has
//! committed, the process wakes its worker and, with [`notify_workers`], the other processes;
//! a short poll covers a missed wake-up.
//!
//! Workers claim jobs with `FOR UPDATE SKIP LOCKED`, so several processes share the work
//! without taking a job twice. A claimed job carries its worker's number; each worker holds a
//! PostgreSQL advisory lock on that number for as long as it lives ([`hold_worker_lock`]), so
//! the jobs of a process that died (SIGKILL, lost connection) are released as soon as
//! PostgreSQL sees it go ([`reap`]), and a lease (`jobs.lease`) covers a worker that is alive
//! but stuck.

use super::Conn;
use super::prepared::KeepPrepared;
use super::schema::{job_attempts, jobs};
use crate::domain::outbox::{AttemptOutcome, JobKind, JobState, excerpt};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Interval, Text};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

/// The channel workers `LISTEN` on ([`notify_workers`]).
pub const CHANNEL: &str = "bcci_jobs";

/// Advisory-lock namespace (first key) of worker liveness locks.
pub const WORKER_LOCK_NS: i32 = 0x6263_6a62; // "bcjb"

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg))]
pub struct Job {
    pub id: i64,
    /// Not CHECK-constrained: a kind this build does not know is read, and given up, rather
    /// than failing every claim ([`Job::kind`]).
    pub kind: String,
    pub shipment_id: Option<Uuid>,
    pub payload: serde_json::Value,
    pub state: JobState,
    pub attempts: i32,
    pub run_at: DateTime<Utc>,
    pub locked_by: Option<i32>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl Job {
    /// The job's kind, `None` if this build does not know it.
    pub fn kind(&self) -> Option<JobKind> {
        JobKind::parse(&self.kind)
    }

    /// The callback a `callback` job delivers (`payload.callback_id`).
    pub fn callback_id(&self) -> Option<Uuid> {
        self.payload
            .get("callback_id")
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok())
    }
}

/// One attempt at a job, written as an immutable row.
#[derive(Debug, Clone, Insertable)]
// Option fields insert NULL, not DEFAULT: the statement text is then fixed and diesel
// caches it as a prepared statement.
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = job_attempts)]
pub struct Attempt {
    pub job_id: i64,
    pub attempt: i32,
    pub worker: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub outcome: AttemptOutcome,
    pub error_class: Option<String>,
    pub http_status: Option<i32>,
    /// A capped excerpt of the answer or the error.
    pub excerpt: Option<String>,
}

/// Enqueues a job inside the caller's transaction (a shared reference: it may be pipelined).
pub async fn enqueue(
    mut conn: &Conn,
    kind: JobKind,
    shipment: Option<Uuid>,
    payload: serde_json::Value,
) -> QueryResult<i64> {
    let id: i64 = diesel::insert_into(jobs::table)
        .values((
            jobs::kind.eq(kind.as_str()),
            jobs::shipment_id.eq(shipment),
            jobs::payload.eq(payload),
        ))
        .returning(jobs::id)
        .get_result(&mut conn)
        .await?;
    Ok(id)
}

/// The submission jobs of shipments created together, inside the caller's transaction: one
/// statement.
pub async fn enqueue_submissions(mut conn: &Conn, shipments: &[Uuid]) -> QueryResult<()> {
    let rows: Vec<_> = shipments
        .iter()
        .map(|s| {
            (
                jobs::kind.eq(JobKind::CarrierSubmit.as_str()),
                jobs::shipment_id.eq(Some(*s)),
                jobs::payload.eq(serde_json::json!({})),
            )
        })
        .collect();
    diesel::insert_into(jobs::table)
        .values(rows)
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Enqueues a job to run at `at`, inside the caller's transaction.
pub async fn enqueue_at(
    conn: &mut Conn,
    kind: JobKind,
    shipment: Option<Uuid>,
    payload: serde_json::Value,
    at: DateTime<Utc>,
) -> QueryResult<i64> {
    diesel::insert_into(jobs::table)
        .values((
            jobs::kind.eq(kind.as_str()),
            jobs::shipment_id.eq(shipment),
            jobs::payload.eq(payload),
            jobs::run_at.eq(at),
        ))
        .returning(jobs::id)
        .get_result(conn)
        .await
}

/// Enqueues a callback's delivery job, inside the caller's transaction.
pub async fn enqueue_callback(conn: &Conn, shipment: Uuid, callback: Uuid) -> QueryResult<i64> {
    enqueue(
        conn,
        JobKind::Callback,
        Some(shipment),
        serde_json::json!({ "callback_id": callback }),
    )
    .await
}

/// Is a job of this kind for this shipment waiting to run (queued, not yet claimed)?
pub async fn queued_for(conn: &mut Conn, kind: JobKind, shipment: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        jobs::table
            .filter(jobs::shipment_id.eq(shipment))
            .filter(jobs::kind.eq(kind.as_str()))
            .filter(jobs::state.eq(JobState::Queued)),
    ))
    .get_result(conn)
    .await
}

/// Is a job of this kind for this shipment queued or running?
pub async fn pending_for(conn: &mut Conn, kind: JobKind, shipment: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        jobs::table
            .filter(jobs::shipment_id.eq(shipment))
            .filter(jobs::kind.eq(kind.as_str()))
            .filter(jobs::state.eq_any([JobState::Queued.as_str(), JobState::Running.as_str()])),
    ))
    .get_result(conn)
    .await
}

/// Takes the liveness lock of `worker` on this (dedicated) connection and listens on
/// [`CHANNEL`]: both last as long as the connection.
pub async fn hold_worker_lock(conn: &mut Conn, worker: i32) -> QueryResult<()> {
    diesel::sql_query(format!(
        "SELECT pg_advisory_lock({WORKER_LOCK_NS}, {worker})"
    ))
    .execute(conn)
    .await?;
    diesel::sql_query(format!("LISTEN {CHANNEL}"))
        .execute(conn)
        .await?;
    Ok(())
}

/// Tells every listening worker that jobs were committed. Sent on its own, after the
/// enqueuing transactions, never inside one.
pub async fn notify_workers(conn: &mut Conn) -> QueryResult<()> {
    diesel::sql_query(format!("NOTIFY {CHANNEL}"))
        .prepared()
        .execute(conn)
        .await
        .map(drop)
}

/// Claims up to `n` due jobs for `worker`.
pub async fn claim(
    conn: &mut Conn,
    worker: i32,
    n: i64,
    lease: std::time::Duration,
) -> QueryResult<Vec<Job>> {
    diesel::sql_query(
        "UPDATE jobs SET state = $4, locked_by = $1, locked_until = now() + $2, \
                attempts = attempts + 1, updated_at = now() \
         WHERE id IN (SELECT id FROM jobs WHERE state = $5 AND run_at <= now() \
                      ORDER BY run_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING *",
    )
    .bind::<Integer, _>(worker)
    .bind::<Interval, _>(pg_interval(lease))
    .bind::<BigInt, _>(n)
    .bind::<Text, _>(JobState::Running)
    .bind::<Text, _>(JobState::Queued)
    .load(conn)
    .await
}

/// Puts back the jobs of workers that are gone (their liveness lock is free) or whose lease
/// ran out. Any process may run it at any time.
pub async fn reap(conn: &mut Conn) -> QueryResult<usize> {
    diesel::sql_query(format!(
        "UPDATE jobs SET state = $1, locked_by = NULL, locked_until = NULL, updated_at = now(), \
                last_error = coalesce(last_error, 'worker lost') \
         WHERE state = $2 AND (locked_until < now() OR NOT EXISTS ( \
             SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND l.classid = {ns}::oid AND l.objid = jobs.locked_by::oid AND l.objsubid = 2))",
        ns = WORKER_LOCK_NS as u32
    ))
    .bind::<Text, _>(JobState::Queued)
    .bind::<Text, _>(JobState::Running)
    .execute(conn)
    .await
}

/// Puts back this worker's unfinished jobs (graceful shutdown). The interrupted attempt still
/// counts: it may have reached the carrier, so the next one must look the order up first.
pub async fn release(conn: &mut Conn, worker: i32) -> QueryResult<usize> {
    diesel::update(
        jobs::table
            .filter(jobs::state.eq(JobState::Running))
            .filter(jobs::locked_by.eq(worker)),
    )
    .set((
        jobs::state.eq(JobState::Queued),
        jobs::locked_by.eq(None::<i32>),
        jobs::locked_until.eq(None::<DateTime<Utc>>),
        jobs::last_error.eq("released at shutdown"),
        jobs::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

/// Marks a job done and records the attempt (in the caller's transaction). Returns false if
/// the job is no longer this worker's (it was reaped): the caller must then roll back, as
/// with every call below that returns whether the job is still ours.
pub async fn finish(
    conn: &mut Conn,
    job: &Job,
    worker: i32,
    attempt: Attempt,
) -> QueryResult<bool> {
    set_state(conn, job, worker, JobState::Done, None, None, attempt).await
}

/// Marks many jobs done and records their attempts, in the caller's transaction: two
/// statements whatever the number, each kept prepared (arrays, not a list of rows). Each
/// attempt names its job, its worker and the claim it ran under (`attempt`, the job's
/// `attempts` when claimed). Returns the ids of the jobs that were still ours; the others
/// (reaped, perhaps claimed again) are left as they are, without an attempt row, as [`finish`]
/// leaves them.
pub async fn finish_many(conn: &mut Conn, done: &[&Attempt]) -> QueryResult<Vec<i64>> {
    use diesel::sql_types::{Array, Nullable, Timestamptz};
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    let ids: Vec<i64> = done.iter().map(|a| a.job_id).collect();
    let attempts: Vec<i32> = done.iter().map(|a| a.attempt).collect();
    let workers: Vec<i32> = done.iter().map(|a| a.worker).collect();
    // `jobs.id = ANY($1)` as well as the join: the kept (generic) plan then finds the jobs by
    // their key whatever the table's size when it was planned, never by a scan of `jobs`.
    let ours: Vec<Id> = diesel::sql_query(
        "UPDATE jobs SET state = $4, locked_by = NULL, locked_until = NULL, \
                finished_at = now(), updated_at = now() \
         FROM unnest($1::int8[], $2::int4[], $3::int4[]) AS t(id, attempts, worker) \
         WHERE jobs.id = ANY($1) AND jobs.id = t.id AND jobs.attempts = t.attempts \
           AND jobs.locked_by = t.worker AND jobs.state = $5 \
         RETURNING jobs.id",
    )
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Array<Integer>, _>(attempts)
    .bind::<Array<Integer>, _>(workers)
    .bind::<Text, _>(JobState::Done)
    .bind::<Text, _>(JobState::Running)
    .prepared()
    .load(conn)
    .await?;
    let ours: Vec<i64> = ours.into_iter().map(|r| r.id).collect();
    let rows: Vec<&Attempt> = done
        .iter()
        .copied()
        .filter(|a| ours.contains(&a.job_id))
        .collect();
    if rows.is_empty() {
        return Ok(ours);
    }
    diesel::sql_query(
        "INSERT INTO job_attempts (job_id, attempt, worker, started_at, duration_ms, outcome, \
                                   error_class, http_status, excerpt) \
         SELECT * FROM unnest($1::int8[], $2::int4[], $3::int4[], $4::timestamptz[], \
                              $5::int4[], $6::text[], $7::text[], $8::int4[], $9::text[])",
    )
    .bind::<Array<BigInt>, _>(rows.iter().map(|a| a.job_id).collect::<Vec<_>>())
    .bind::<Array<Integer>, _>(rows.iter().map(|a| a.attempt).collect::<Vec<_>>())
    .bind::<Array<Integer>, _>(rows.iter().map(|a| a.worker).collect::<Vec<_>>())
    .bind::<Array<Timestamptz>, _>(rows.iter().map(|a| a.started_at).collect::<Vec<_>>())
    .bind::<Array<Integer>, _>(rows.iter().map(|a| a.duration_ms).collect::<Vec<_>>())
    .bind::<Array<Text>, _>(rows.iter().map(|a| a.outcome.as_str()).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(
        rows.iter()
            .map(|a| a.error_class.as_deref())
            .collect::<Vec<_>>(),
    )
    .bind::<Array<Nullable<Integer>>, _>(rows.iter().map(|a| a.http_status).collect::<Vec<_>>())
    .bind::<Array<Nullable<Text>>, _>(
        rows.iter()
            .map(|a| a.excerpt.as_deref())
            .collect::<Vec<_>>(),
    )
    .prepared()
    .execute(conn)
    .await?;
    Ok(ours)
}

/// Gives a job up for good, with its reason.
pub async fn bury(
    conn: &mut Conn,
    job: &Job,
    worker: i32,
    reason: &str,
    attempt: Attempt,
) -> QueryResult<bool> {
    set_state(
        conn,
        job,
        worker,
        JobState::Dead,
        None,
        Some(reason),
        attempt,
    )
    .await
}

/// Queues a job again for `at` because its work is not finished yet (not because it failed):
/// e.g. VNPost has not decided a cancellation.
pub async fn snooze(
    conn: &mut Conn,
    job: &Job,
    worker: i32,
    at: DateTime<Utc>,
    attempt: Attempt,
) -> QueryResult<bool> {
    set_state(conn, job, worker, JobState::Queued, Some(at), None, attempt).await
}

/// Queues a job again for `at`.
pub async fn retry_at(
    conn: &mut Conn,
    job: &Job,
    worker: i32,
    at: DateTime<Utc>,
    error: &str,
    attempt: Attempt,
) -> QueryResult<bool> {
    set_state(
        conn,
        job,
        worker,
        JobState::Queued,
        Some(at),
        Some(error),
        attempt,
    )
    .await
}

async fn set_state(
    conn: &mut Conn,
    job: &Job,
    worker: i32,
    state: JobState,
    run_at: Option<DateTime<Utc>>,
    error: Option<&str>,
    attempt: Attempt,
) -> QueryResult<bool> {
    let finished = state.is_finished().then(Utc::now);
    let update = diesel::update(
        jobs::table
            .filter(jobs::id.eq(job.id))
            .filter(jobs::state.eq(JobState::Running))
            .filter(jobs::locked_by.eq(worker))
            .filter(jobs::attempts.eq(job.attempts)),
    )
    .set((
        jobs::state.eq(state),
        jobs::run_at.eq(run_at.unwrap_or(job.run_at)),
        jobs::locked_by.eq(None::<i32>),
        jobs::locked_until.eq(None::<DateTime<Utc>>),
        jobs::last_error.eq(error.map(excerpt).or(job.last_error.clone())),
        jobs::finished_at.eq(finished),
        jobs::updated_at.eq(diesel::dsl::now),
    ))
    .prepared();
    let insert = diesel::insert_into(job_attempts::table).values(&attempt);
    // One round trip for both. The attempt row is written even when the job is no longer
    // ours; the caller then rolls its transaction back (every caller does), so it never lands.
    let shared: &Conn = conn;
    let (n, _) =
        futures_util::try_join!(update.execute(&mut &*shared), insert.execute(&mut &*shared))?;
    Ok(n == 1)
}

/// Queue depth by state, for `/metrics` and the console.
pub async fn depth(conn: &mut Conn) -> QueryResult<Vec<(JobState, i64)>> {
    jobs::table
        .group_by(jobs::state)
        .select((jobs::state, diesel::dsl::count_star()))
        .load(conn)
        .await
}

fn pg_interval(d: std::time::Duration) -> diesel::pg::data_types::PgInterval {
    diesel::pg::data_types::PgInterval::from_microseconds(d.as_micros().min(i64::MAX as u128) as i64)
}

/// Queues a shipment's dead carrier jobs again, with a fresh give-up window (staff retry).
/// Callbacks are replayed through `ledger::callbacks::replay` instead.
pub async fn requeue_dead_for(conn: &mut Conn, shipment: Uuid) -> QueryResult<usize> {
    diesel::update(
        jobs::table
            .filter(jobs::shipment_id.eq(shipment))
            .filter(jobs::state.eq(JobState::Dead))
            .filter(jobs::kind.ne(JobKind::Callback.as_str())),
    )
    .set((
        jobs::state.eq(JobState::Queued),
        jobs::run_at.eq(diesel::dsl::now),
        jobs::created_at.eq(diesel::dsl::now),
        jobs::finished_at.eq(None::<DateTime<Utc>>),
        jobs::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

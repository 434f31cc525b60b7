//! The durable job queue (outbox) in PostgreSQL.
//!
//! Work caused by a state change (submit an order to the carrier, ask it to cancel) is
//! inserted into `jobs` in the same transaction as the change, so a crash can neither lose it
//! nor run it without the change. Inserting also sends `NOTIFY bcci_jobs` (a trigger on
//! `jobs`, delivered at commit), which wakes the workers (`worker`); a short poll covers a
//! missed notification.
//!
//! Workers claim jobs with `FOR UPDATE SKIP LOCKED`, so several processes share the work
//! without taking a job twice. A claimed job carries its worker's number; each worker holds a
//! PostgreSQL advisory lock on that number for as long as it lives, so the jobs of a process
//! that died (SIGKILL, lost connection) are released as soon as PostgreSQL sees it go, and a
//! lease (`jobs.lease`) covers a worker that is alive but stuck.

pub mod handlers;
pub mod retry;
pub mod worker;

use crate::ledger::Conn;
use crate::ledger::schema::{job_attempts, jobs};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Interval};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

/// The channel workers `LISTEN` on (notified by the `jobs_notify` trigger).
pub const CHANNEL: &str = "bcci_jobs";

/// Advisory-lock namespace (first key) of worker liveness locks.
pub const WORKER_LOCK_NS: i32 = 0x6263_6a62; // "bcjb"

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Create the carrier order for a shipment (exactly once).
    CarrierSubmit,
    /// Ask the carrier to cancel a shipment's order.
    CarrierCancel,
    /// Ask VNPost, until it decides, about a cancellation it must approve (`"02"`).
    CarrierCancelCase,
    /// Deliver a callback to a dossier system.
    Callback,
    /// Confirm what a push said without authenticating it (a hint, SPEC §6) by asking the
    /// carrier's own tracking (`tracking::poll_one`).
    CarrierConfirm,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::CarrierSubmit => "carrier_submit",
            JobKind::CarrierCancel => "carrier_cancel",
            JobKind::CarrierCancelCase => "carrier_cancel_case",
            JobKind::Callback => "callback",
            JobKind::CarrierConfirm => "carrier_confirm",
        }
    }

    /// Every kind.
    pub const ALL: [JobKind; 5] = [
        JobKind::CarrierSubmit,
        JobKind::CarrierCancel,
        JobKind::CarrierCancelCase,
        JobKind::Callback,
        JobKind::CarrierConfirm,
    ];

    pub fn parse(s: &str) -> Option<JobKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg))]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub shipment_id: Option<Uuid>,
    pub payload: serde_json::Value,
    pub state: String,
    pub attempts: i32,
    pub run_at: DateTime<Utc>,
    pub locked_by: Option<i32>,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
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
    /// `ok`, `transient`, `permanent`, `gave_up`.
    pub outcome: String,
    pub error_class: Option<String>,
    pub http_status: Option<i32>,
    /// A capped excerpt of the answer or the error.
    pub excerpt: Option<String>,
}

/// Longest excerpt of an answer kept in an attempt row.
pub const EXCERPT_CHARS: usize = 500;

pub fn excerpt(text: &str) -> String {
    text.chars().take(EXCERPT_CHARS).collect()
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

/// Is a job of this kind for this shipment waiting to run (queued, not yet claimed)?
pub async fn queued_for(conn: &mut Conn, kind: JobKind, shipment: Uuid) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        jobs::table
            .filter(jobs::shipment_id.eq(shipment))
            .filter(jobs::kind.eq(kind.as_str()))
            .filter(jobs::state.eq("queued")),
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
            .filter(jobs::state.eq_any(["queued", "running"])),
    ))
    .get_result(conn)
    .await
}

/// Claims up to `n` due jobs for `worker`.
pub async fn claim(
    conn: &mut Conn,
    worker: i32,
    n: i64,
    lease: std::time::Duration,
) -> QueryResult<Vec<Job>> {
    diesel::sql_query(
        "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = now() + $2, \
                attempts = attempts + 1, updated_at = now() \
         WHERE id IN (SELECT id FROM jobs WHERE state = 'queued' AND run_at <= now() \
                      ORDER BY run_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING *",
    )
    .bind::<Integer, _>(worker)
    .bind::<Interval, _>(pg_interval(lease))
    .bind::<BigInt, _>(n)
    .load(conn)
    .await
}

/// Puts back the jobs of workers that are gone (their liveness lock is free) or whose lease
/// ran out. Any process may run it at any time.
pub async fn reap(conn: &mut Conn) -> QueryResult<usize> {
    diesel::sql_query(format!(
        "UPDATE jobs SET state = 'queued', locked_by = NULL, locked_until = NULL, updated_at = now(), \
                last_error = coalesce(last_error, 'worker lost') \
         WHERE state = 'running' AND (locked_until < now() OR NOT EXISTS ( \
             SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted \
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
               AND l.classid = {ns}::oid AND l.objid = jobs.locked_by::oid AND l.objsubid = 2))",
        ns = WORKER_LOCK_NS as u32
    ))
    .execute(conn)
    .await
}

/// Puts back this worker's unfinished jobs (graceful shutdown). The interrupted attempt still
/// counts: it may have reached the carrier, so the next one must look the order up first.
pub async fn release(conn: &mut Conn, worker: i32) -> QueryResult<usize> {
    diesel::update(
        jobs::table
            .filter(jobs::state.eq("running"))
            .filter(jobs::locked_by.eq(worker)),
    )
    .set((
        jobs::state.eq("queued"),
        jobs::locked_by.eq(None::<i32>),
        jobs::locked_until.eq(None::<DateTime<Utc>>),
        jobs::last_error.eq("released at shutdown"),
        jobs::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

/// Marks a job done and records the attempt (in the caller's transaction). Returns false if
/// the job is no longer this worker's (it was reaped): the caller must roll back.
pub async fn finish(
    conn: &mut Conn,
    job: &Job,
    worker: i32,
    attempt: Attempt,
) -> QueryResult<bool> {
    set_state(conn, job, worker, "done", None, None, attempt).await
}

/// Gives a job up for good, with its reason.
pub async fn bury(
    conn: &mut Conn,
    job: &Job,
    worker: i32,
    reason: &str,
    attempt: Attempt,
) -> QueryResult<bool> {
    set_state(conn, job, worker, "dead", None, Some(reason), attempt).await
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
    set_state(conn, job, worker, "queued", Some(at), None, attempt).await
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
    set_state(conn, job, worker, "queued", Some(at), Some(error), attempt).await
}

async fn set_state(
    conn: &mut Conn,
    job: &Job,
    worker: i32,
    state: &str,
    run_at: Option<DateTime<Utc>>,
    error: Option<&str>,
    attempt: Attempt,
) -> QueryResult<bool> {
    let finished = matches!(state, "done" | "dead").then(Utc::now);
    let n = diesel::update(
        jobs::table
            .filter(jobs::id.eq(job.id))
            .filter(jobs::state.eq("running"))
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
    .execute(conn)
    .await?;
    if n == 1 {
        diesel::insert_into(job_attempts::table)
            .values(&attempt)
            .execute(conn)
            .await?;
    }
    Ok(n == 1)
}

/// Queue depth by state, for `/metrics` and the console.
pub async fn depth(conn: &mut Conn) -> QueryResult<Vec<(String, i64)>> {
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
/// Callbacks are replayed through `callbacks::replay` instead.
pub async fn requeue_dead_for(conn: &mut Conn, shipment: Uuid) -> QueryResult<usize> {
    diesel::update(
        jobs::table
            .filter(jobs::shipment_id.eq(shipment))
            .filter(jobs::state.eq("dead"))
            .filter(jobs::kind.ne(JobKind::Callback.as_str())),
    )
    .set((
        jobs::state.eq("queued"),
        jobs::run_at.eq(diesel::dsl::now),
        jobs::created_at.eq(diesel::dsl::now),
        jobs::finished_at.eq(None::<DateTime<Utc>>),
        jobs::updated_at.eq(diesel::dsl::now),
    ))
    .execute(conn)
    .await
}

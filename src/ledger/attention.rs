//! What staff look into: a shipment's jobs and their attempts, and the "needs attention"
//! worklists (dead jobs, unreadable carrier answers, dead callbacks, reports about unknown
//! shipments, unknown carrier codes), with the staff actions taken from them.

use super::shipments::{Actor, Visibility};
use super::sql::{Sql, visibility};
use super::{Conn, audit};
use crate::domain::callback::{CallbackState, CallbackType};
use crate::domain::outbox::{AttemptOutcome, JobKind, JobState};
use crate::domain::{AuditAction, Status};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

/// One attempt at one of the shipment's jobs (carrier call or callback).
#[derive(Debug, Clone, QueryableByName)]
pub struct AttemptRow {
    #[diesel(sql_type = BigInt)]
    pub job_id: i64,
    #[diesel(sql_type = Text)]
    pub job_kind: JobKind,
    #[diesel(sql_type = Int4)]
    pub attempt: i32,
    #[diesel(sql_type = Timestamptz)]
    pub started_at: DateTime<Utc>,
    #[diesel(sql_type = Int4)]
    pub duration_ms: i32,
    #[diesel(sql_type = Text)]
    pub outcome: AttemptOutcome,
    #[diesel(sql_type = Nullable<Text>)]
    pub error_class: Option<String>,
    #[diesel(sql_type = Nullable<Int4>)]
    pub http_status: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    pub excerpt: Option<String>,
    /// For callbacks: the message's type and sequence.
    #[diesel(sql_type = Nullable<Text>)]
    pub callback_type: Option<CallbackType>,
    #[diesel(sql_type = Nullable<Int4>)]
    pub callback_sequence: Option<i32>,
}

/// Every attempt at the shipment's jobs, oldest first (at most `limit`).
pub async fn attempts(conn: &mut Conn, shipment: Uuid, limit: i64) -> QueryResult<Vec<AttemptRow>> {
    diesel::sql_query(
        "SELECT a.job_id, j.kind AS job_kind, a.attempt, a.started_at, a.duration_ms, a.outcome, \
                a.error_class, a.http_status, a.excerpt, c.type AS callback_type, \
                c.sequence AS callback_sequence \
         FROM jobs j JOIN job_attempts a ON a.job_id = j.id \
         LEFT JOIN callbacks c ON j.kind = $3 AND c.id::text = j.payload ->> 'callback_id' \
         WHERE j.shipment_id = $1 ORDER BY a.started_at, a.id LIMIT $2",
    )
    .bind::<SqlUuid, _>(shipment)
    .bind::<BigInt, _>(limit)
    .bind::<Text, _>(JobKind::Callback)
    .load(conn)
    .await
}

/// The shipment's jobs and where they stand.
#[derive(Debug, Clone, QueryableByName)]
pub struct JobRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: JobKind,
    #[diesel(sql_type = Text)]
    pub state: JobState,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
}

pub async fn jobs_for(conn: &mut Conn, shipment: Uuid) -> QueryResult<Vec<JobRow>> {
    diesel::sql_query(
        "SELECT id, kind, state, attempts, last_error, updated_at FROM jobs \
         WHERE shipment_id = $1 ORDER BY id",
    )
    .bind::<SqlUuid, _>(shipment)
    .load(conn)
    .await
}

/// A carrier job given up for good.
#[derive(Debug, Clone, QueryableByName)]
pub struct DeadJob {
    #[diesel(sql_type = BigInt)]
    pub job_id: i64,
    #[diesel(sql_type = Text)]
    pub kind: JobKind,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    pub shipment_id: Uuid,
    #[diesel(sql_type = Text)]
    pub dossier_code: String,
    #[diesel(sql_type = Text)]
    pub status: Status,
}

/// A worklist's tail: only the shipments `v` may see (alias `s`), newest first by `newest`
/// (a column of the query), at most `limit`.
fn visible_newest_first(sql: &mut Sql<'_>, v: &Visibility, newest: &str, limit: i64) {
    visibility(sql, "s", v);
    let p = sql.bind::<BigInt, _>(limit);
    sql.push(&format!(" ORDER BY {newest} DESC LIMIT {p}"));
}

/// Dead carrier jobs (callbacks are listed as dead callbacks), newest first.
pub async fn dead_jobs(conn: &mut Conn, v: &Visibility, limit: i64) -> QueryResult<Vec<DeadJob>> {
    let mut sql = Sql::new(
        "SELECT j.id AS job_id, j.kind, j.last_error, j.updated_at, s.id AS shipment_id, \
                s.dossier_code, s.status \
         FROM jobs j JOIN shipments s ON s.id = j.shipment_id \
         WHERE j.state = $1 AND j.kind <> $2",
    );
    sql.bind::<Text, _>(JobState::Dead);
    sql.bind::<Text, _>(JobKind::Callback);
    visible_newest_first(&mut sql, v, "j.updated_at", limit);
    sql.finish().load(conn).await
}

/// Carrier jobs still being retried whose last answer from the carrier could not be read (a
/// protocol error: an answer in no known shape), newest first. Same row as [`DeadJob`].
pub async fn unreadable_answers(
    conn: &mut Conn,
    v: &Visibility,
    limit: i64,
) -> QueryResult<Vec<DeadJob>> {
    let mut sql = Sql::new(
        "SELECT j.id AS job_id, j.kind, j.last_error, j.updated_at, s.id AS shipment_id, \
                s.dossier_code, s.status \
         FROM jobs j JOIN shipments s ON s.id = j.shipment_id \
         WHERE j.state IN ($1, $2) AND j.kind <> $3 \
           AND (SELECT a.error_class FROM job_attempts a WHERE a.job_id = j.id \
                ORDER BY a.id DESC LIMIT 1) = 'protocol'",
    );
    sql.bind::<Text, _>(JobState::Queued);
    sql.bind::<Text, _>(JobState::Running);
    sql.bind::<Text, _>(JobKind::Callback);
    visible_newest_first(&mut sql, v, "j.updated_at", limit);
    sql.finish().load(conn).await
}

/// A dead-lettered callback.
#[derive(Debug, Clone, QueryableByName)]
pub struct DeadCallback {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub client_id: String,
    #[diesel(sql_type = Text)]
    pub type_: CallbackType,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    pub shipment_id: Uuid,
    #[diesel(sql_type = Text)]
    pub dossier_code: String,
}

pub async fn dead_callbacks(
    conn: &mut Conn,
    v: &Visibility,
    limit: i64,
) -> QueryResult<Vec<DeadCallback>> {
    let mut sql = Sql::new(
        "SELECT c.id, c.client_id, c.type AS type_, c.attempts, c.last_error, c.updated_at, \
                s.id AS shipment_id, s.dossier_code \
         FROM callbacks c JOIN shipments s ON s.id = c.shipment_id WHERE c.state = $1",
    );
    sql.bind::<Text, _>(CallbackState::Dead);
    visible_newest_first(&mut sql, v, "c.updated_at", limit);
    sql.finish().load(conn).await
}

/// A carrier report about a shipment the ledger does not know.
#[derive(Debug, Clone, QueryableByName)]
pub struct UnknownShipmentReport {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Timestamptz)]
    pub received_at: DateTime<Utc>,
    #[diesel(sql_type = Text)]
    pub item_code: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub sale_order_code: Option<String>,
    #[diesel(sql_type = Int4)]
    pub status_code: i32,
    #[diesel(sql_type = Text)]
    pub status_text: String,
    #[diesel(sql_type = Timestamptz)]
    pub status_at: DateTime<Utc>,
}

/// Acknowledged items are recorded in the audit log as `<kind>:<id>`.
pub fn item_key(kind: &str, id: i64) -> String {
    format!("{kind}:{id}")
}

/// Reports for unknown shipments not yet acknowledged, newest first.
pub async fn unknown_shipment_reports(
    conn: &mut Conn,
    limit: i64,
) -> QueryResult<Vec<UnknownShipmentReport>> {
    diesel::sql_query(
        "SELECT p.id, p.received_at, p.item_code, p.sale_order_code, p.status_code, \
                p.status_text, p.status_at \
         FROM carrier_pushes p \
         WHERE p.outcome = 'unknown_shipment' AND NOT EXISTS ( \
             SELECT 1 FROM audit_log a WHERE a.action = $2 \
               AND a.details ->> 'item' = 'push:' || p.id) \
         ORDER BY p.received_at DESC LIMIT $1",
    )
    .bind::<BigInt, _>(limit)
    .bind::<Text, _>(AuditAction::Acknowledge)
    .load(conn)
    .await
}

/// A report with a carrier code the gateway does not know.
#[derive(Debug, Clone, QueryableByName)]
pub struct UnknownCode {
    #[diesel(sql_type = BigInt)]
    pub event_id: i64,
    #[diesel(sql_type = SqlUuid)]
    pub shipment_id: Uuid,
    #[diesel(sql_type = Text)]
    pub dossier_code: String,
    #[diesel(sql_type = Nullable<Int4>)]
    pub carrier_code: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    pub carrier_text: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub occurred_at: DateTime<Utc>,
}

pub async fn unknown_codes(
    conn: &mut Conn,
    v: &Visibility,
    limit: i64,
) -> QueryResult<Vec<UnknownCode>> {
    let mut sql = Sql::new(
        "SELECT e.id AS event_id, s.id AS shipment_id, s.dossier_code, e.carrier_code, \
                e.carrier_text, e.occurred_at \
         FROM shipment_events e JOIN shipments s ON s.id = e.shipment_id \
         WHERE e.unknown_code AND NOT EXISTS ( \
             SELECT 1 FROM audit_log a WHERE a.action = $1 \
               AND a.details ->> 'item' = 'event:' || e.id)",
    );
    sql.bind::<Text, _>(AuditAction::Acknowledge);
    visible_newest_first(&mut sql, v, "e.recorded_at", limit);
    sql.finish().load(conn).await
}

/// Is this unknown-code event visible to `v`? (Before acknowledging it.)
pub async fn event_shipment(conn: &mut Conn, event_id: i64) -> QueryResult<Option<Uuid>> {
    use super::schema::shipment_events::dsl;
    dsl::shipment_events
        .filter(dsl::id.eq(event_id))
        .filter(dsl::unknown_code.eq(true))
        .select(dsl::shipment_id)
        .first(conn)
        .await
        .optional()
}

pub async fn push_exists(conn: &mut Conn, push_id: i64) -> QueryResult<bool> {
    use super::schema::carrier_pushes::dsl;
    diesel::select(diesel::dsl::exists(
        dsl::carrier_pushes
            .filter(dsl::id.eq(push_id))
            .filter(dsl::outcome.eq("unknown_shipment")),
    ))
    .get_result(conn)
    .await
}

/// Re-enables a client's callbacks (its held callbacks are queued again), audited.
pub async fn enable_client(
    conn: &mut Conn,
    client: &str,
    actor: &Actor,
    reason: &str,
) -> QueryResult<usize> {
    let entry = |n: usize| {
        audit::entry(
            actor,
            AuditAction::EnableClientCallbacks,
            None,
            reason,
            serde_json::json!({ "client_id": client, "callbacks": n }),
        )
    };
    conn.transaction(async move |c| {
        let n = super::callbacks::enable_client(c, client).await?;
        audit::record(c, entry(n)).await?;
        Ok(n)
    })
    .await
}

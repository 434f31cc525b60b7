//! Queries of the staff console (issue 5): sessions, search, the shipment page's attempts,
//! the "needs attention" worklists, apology letters and the service report.
//!
//! The search and the report are written in SQL with numbered parameters (built by [`Sql`]),
//! so that what runs is what `EXPLAIN` shows (the search benchmark prints the plans).

use super::Conn;
use super::models::NewAuditEntry;
use super::schema::{audit_log, console_sessions};
use super::shipments::{Actor, Visibility};
use crate::domain::{Kind, Status};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{
    Array, BigInt, Bool, Date, Double, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

const TERMINAL: &str = "('delivered', 'returned', 'cancelled', 'rejected')";

/// A query under construction: text with `$n` placeholders and their values, in order.
struct Sql<'a> {
    query: Option<BoxedSqlQuery<'a, Pg, SqlQuery>>,
    params: usize,
}

impl<'a> Sql<'a> {
    fn new(text: &str) -> Self {
        Sql {
            query: Some(diesel::sql_query(text.to_owned()).into_boxed()),
            params: 0,
        }
    }

    fn push(&mut self, text: &str) {
        self.query = self.query.take().map(|q| q.sql(text));
    }

    /// Binds `value` and returns its placeholder.
    fn bind<ST, V>(&mut self, value: V) -> String
    where
        Pg: diesel::sql_types::HasSqlType<ST>,
        V: diesel::serialize::ToSql<ST, Pg> + Send + 'a,
        ST: Send + 'a,
    {
        self.params += 1;
        self.query = self.query.take().map(|q| q.bind::<ST, V>(value));
        format!("${}", self.params)
    }

    fn finish(self) -> BoxedSqlQuery<'a, Pg, SqlQuery> {
        self.query.expect("query present")
    }
}

// ---------------------------------------------------------------------------------------
// Sessions

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
// Option fields insert NULL, not DEFAULT: the statement text is then fixed and diesel
// caches it as a prepared statement.
#[diesel(treat_none_as_default_value = false)]
#[diesel(table_name = console_sessions, check_for_backend(diesel::pg::Pg))]
pub struct Session {
    pub id_hash: Vec<u8>,
    pub csrf_token: String,
    pub sub: String,
    pub name: Option<String>,
    pub scopes: Vec<String>,
    pub offices: Option<Vec<String>>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Stores a new session, and forgets the expired ones on the way.
pub async fn open_session(conn: &mut Conn, session: &Session) -> QueryResult<()> {
    use console_sessions::dsl;
    diesel::delete(dsl::console_sessions.filter(dsl::expires_at.lt(Utc::now())))
        .execute(conn)
        .await?;
    diesel::insert_into(dsl::console_sessions)
        .values(session)
        .execute(conn)
        .await?;
    Ok(())
}

/// The live session with this id hash, if any.
pub async fn find_session(conn: &mut Conn, id_hash: &[u8]) -> QueryResult<Option<Session>> {
    use console_sessions::dsl;
    dsl::console_sessions
        .filter(dsl::id_hash.eq(id_hash))
        .filter(dsl::expires_at.gt(Utc::now()))
        .select(Session::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn end_session(conn: &mut Conn, id_hash: &[u8]) -> QueryResult<()> {
    use console_sessions::dsl;
    diesel::delete(dsl::console_sessions.filter(dsl::id_hash.eq(id_hash)))
        .execute(conn)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Search

/// What the console's search box and filters ask for. Every list of shipments in the console
/// is a search.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Dossier code, tracking number, last digits of the phone, or words of the name.
    pub q: Option<String>,
    pub kind: Option<Kind>,
    pub status: Option<Status>,
    pub office: Option<String>,
    /// `created_at` from (inclusive) and before (exclusive).
    pub created_from: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub late: Option<bool>,
    /// Only shipments that have not reached a terminal status.
    pub in_progress: bool,
    /// Only shipments the carrier has given a tracking number.
    pub has_tracking_number: bool,
    /// Only shipments (in progress) the carrier has not reported on since this moment.
    pub silent_since: Option<DateTime<Utc>>,
    /// Keyset cursor: only shipments older than this one (ids are UUIDv7, time-ordered).
    pub before: Option<Uuid>,
    pub limit: i64,
}

/// How the search box's text is understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// Digits only: the end of a phone number (the last 9 digits at most: phones are stored
    /// as 0 + 9 digits, so "+84 912 345 678" finds "0912345678").
    PhoneSuffix(String),
    /// Anything else: with letters and no digit, words that start words of the name, in order
    /// ("nguyen an" finds "Nguyễn Văn An"), without regard to case or diacritics; otherwise a
    /// dossier code or tracking number, exactly (as typed or in capitals).
    Text { exact: String, words: Vec<String> },
}

impl Query {
    pub fn parse(text: &str) -> Option<Query> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        let phone_like = text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '.' | '-'));
        if phone_like && digits.len() >= 3 {
            let keep = digits.len().min(9);
            return Some(Query::PhoneSuffix(digits[digits.len() - keep..].to_owned()));
        }
        // Names have letters and no digits; codes have digits (and their trigrams, common in
        // no name, would only slow the name index down).
        let words =
            if text.chars().any(char::is_alphabetic) && !text.chars().any(|c| c.is_ascii_digit()) {
                text.split_whitespace()
                    .take(6)
                    .map(|w| escape_like(&w.to_lowercase()))
                    .collect()
            } else {
                Vec::new()
            };
        Some(Query::Text {
            exact: text.to_owned(),
            words,
        })
    }
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The smallest UUIDv7 of a millisecond: a bound on ids minted at or after `t`.
pub fn uuid_v7_floor(t: DateTime<Utc>) -> Uuid {
    let ms = t.timestamp_millis().max(0) as u64;
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    b[6] = 0x70;
    b[8] = 0x80;
    Uuid::from_bytes(b)
}

/// A shipment as the console lists it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Hit {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub status: String,
    #[diesel(sql_type = Text)]
    pub dossier_code: String,
    #[diesel(sql_type = Text)]
    pub office_code: String,
    #[diesel(sql_type = Text)]
    pub person_name: String,
    #[diesel(sql_type = Text)]
    pub person_phone: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub tracking_number: Option<String>,
    #[diesel(sql_type = Text)]
    pub procedure_name: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub due_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Bool)]
    pub late: bool,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Text>)]
    pub carrier_text: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_report_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub picked_up_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub delivered_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    pub status_reason: Option<String>,
}

impl Hit {
    pub fn kind(&self) -> Kind {
        self.kind.parse().unwrap_or(Kind::Pickup)
    }
    pub fn status(&self) -> Status {
        self.status.parse().unwrap_or(Status::Requested)
    }
}

const HIT_COLUMNS: &str = "id, kind, status, dossier_code, office_code, person_name, \
    person_phone, tracking_number, procedure_name, due_at, late, created_at, carrier_text, \
    last_report_at, picked_up_at, delivered_at, status_reason";

/// Ids are minted with `created_at` (UUIDv7), so a bound on one is a bound on the other, up to
/// the moment between the two: a day of slack keeps the bound true while letting the
/// primary key find the range.
const ID_SLACK: chrono::Duration = chrono::Duration::days(1);

fn visibility(sql: &mut Sql<'_>, v: &Visibility) {
    if let Some(c) = &v.client_id {
        let p = sql.bind::<Text, _>(c.clone());
        sql.push(&format!(" AND client_id = {p}"));
    }
    if let Some(o) = &v.offices {
        let p = sql.bind::<Array<Text>, _>(o.clone());
        sql.push(&format!(" AND office_code = ANY({p})"));
    }
}

/// The search as SQL, after `prefix` (e.g. `EXPLAIN ANALYZE `).
pub fn search_query<'a>(
    prefix: &str,
    v: &Visibility,
    s: &Search,
) -> BoxedSqlQuery<'a, Pg, SqlQuery> {
    let mut sql = Sql::new(&format!(
        "{prefix}SELECT {HIT_COLUMNS} FROM shipments WHERE true"
    ));
    visibility(&mut sql, v);
    if let Some(k) = s.kind {
        let p = sql.bind::<Text, _>(k.as_str());
        sql.push(&format!(" AND kind = {p}"));
    }
    if let Some(st) = s.status {
        let p = sql.bind::<Text, _>(st.as_str());
        sql.push(&format!(" AND status = {p}"));
    }
    if let Some(o) = &s.office {
        let p = sql.bind::<Text, _>(o.clone());
        sql.push(&format!(" AND office_code = {p}"));
    }
    if let Some(l) = s.late {
        let p = sql.bind::<Bool, _>(l);
        sql.push(&format!(" AND late = {p}"));
    }
    if s.in_progress || s.silent_since.is_some() {
        sql.push(&format!(" AND status NOT IN {TERMINAL}"));
    }
    if s.has_tracking_number {
        sql.push(" AND tracking_number IS NOT NULL");
    }
    if let Some(t) = s.silent_since {
        let p = sql.bind::<Timestamptz, _>(t);
        sql.push(&format!(" AND coalesce(last_report_at, created_at) < {p}"));
    }
    if let Some(from) = s.created_from {
        let p = sql.bind::<Timestamptz, _>(from);
        let h = sql.bind::<SqlUuid, _>(uuid_v7_floor(from - ID_SLACK));
        sql.push(&format!(" AND created_at >= {p} AND id >= {h}"));
    }
    if let Some(to) = s.created_before {
        let p = sql.bind::<Timestamptz, _>(to);
        let h = sql.bind::<SqlUuid, _>(uuid_v7_floor(to + ID_SLACK));
        sql.push(&format!(" AND created_at < {p} AND id < {h}"));
    }
    if let Some(b) = s.before {
        let p = sql.bind::<SqlUuid, _>(b);
        sql.push(&format!(" AND id < {p}"));
    }
    match s.q.as_deref().and_then(Query::parse) {
        None => {}
        Some(Query::PhoneSuffix(digits)) => {
            // Always through the suffix index: three digits or more are rare, but the
            // statistics cannot tell one in ten thousand from one in a thousand, and walking
            // the newest shipments for a rare one reads the whole table.
            let reversed: String = digits.chars().rev().collect();
            let p = sql.bind::<Text, _>(format!("{reversed}%"));
            sql.push(&format!(
                " AND id = ANY(ARRAY(SELECT id FROM shipments WHERE reverse(person_phone) LIKE {p}))"
            ));
        }
        Some(Query::Text { words, .. }) if !words.is_empty() => {
            // A name. One pattern, "% nguyen% van% an%": the words start words of the name,
            // in order. Folded by the same SQL function as `name_folded`, and a constant once
            // bound, so the planner weighs it against the statistics of folded names (word by
            // word, it multiplied selectivities and misjudged common words).
            let p = sql.bind::<Text, _>(words.join(" "));
            sql.push(&format!(
                " AND name_folded LIKE '% ' || replace(btrim(bcci_fold({p})), ' ', '% ') || '%'"
            ));
        }
        Some(Query::Text { exact, .. }) => {
            // A code: a tracking number or a dossier code, as typed or in capitals.
            let upper = exact.to_uppercase();
            let a = sql.bind::<Text, _>(exact);
            let b = sql.bind::<Text, _>(upper);
            sql.push(&format!(
                " AND (tracking_number IN ({a}, {b}) OR dossier_code IN ({a}, {b}))"
            ));
        }
    }
    let p = sql.bind::<BigInt, _>(s.limit + 1);
    sql.push(&format!(" ORDER BY id DESC LIMIT {p}"));
    sql.finish()
}

/// Newest first; one more row than `limit` tells the caller whether there is a next page.
pub async fn search(conn: &mut Conn, v: &Visibility, s: &Search) -> QueryResult<Vec<Hit>> {
    search_query("", v, s).load(conn).await
}

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// `EXPLAIN (ANALYZE, BUFFERS)` of the search, for the benchmark.
pub async fn explain_search(
    conn: &mut Conn,
    v: &Visibility,
    s: &Search,
) -> QueryResult<Vec<String>> {
    let lines: Vec<PlanLine> = search_query("EXPLAIN (ANALYZE, BUFFERS) ", v, s)
        .load(conn)
        .await?;
    Ok(lines.into_iter().map(|l| l.line).collect())
}

// ---------------------------------------------------------------------------------------
// The shipment page

/// One attempt at one of the shipment's jobs (carrier call or callback).
#[derive(Debug, Clone, QueryableByName)]
pub struct AttemptRow {
    #[diesel(sql_type = BigInt)]
    pub job_id: i64,
    #[diesel(sql_type = Text)]
    pub job_kind: String,
    #[diesel(sql_type = Int4)]
    pub attempt: i32,
    #[diesel(sql_type = Timestamptz)]
    pub started_at: DateTime<Utc>,
    #[diesel(sql_type = Int4)]
    pub duration_ms: i32,
    #[diesel(sql_type = Text)]
    pub outcome: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub error_class: Option<String>,
    #[diesel(sql_type = Nullable<Int4>)]
    pub http_status: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    pub excerpt: Option<String>,
    /// For callbacks: the message's type and sequence.
    #[diesel(sql_type = Nullable<Text>)]
    pub callback_type: Option<String>,
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
         LEFT JOIN callbacks c ON j.kind = 'callback' AND c.id::text = j.payload ->> 'callback_id' \
         WHERE j.shipment_id = $1 ORDER BY a.started_at, a.id LIMIT $2",
    )
    .bind::<SqlUuid, _>(shipment)
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// The shipment's jobs and where they stand.
#[derive(Debug, Clone, QueryableByName)]
pub struct JobRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Text)]
    pub state: String,
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

// ---------------------------------------------------------------------------------------
// Needs attention

/// A carrier job given up for good.
#[derive(Debug, Clone, QueryableByName)]
pub struct DeadJob {
    #[diesel(sql_type = BigInt)]
    pub job_id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    pub updated_at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    pub shipment_id: Uuid,
    #[diesel(sql_type = Text)]
    pub dossier_code: String,
    #[diesel(sql_type = Text)]
    pub status: String,
}

/// Dead carrier jobs (callbacks are listed as dead callbacks), newest first.
pub async fn dead_jobs(conn: &mut Conn, v: &Visibility, limit: i64) -> QueryResult<Vec<DeadJob>> {
    let mut sql = Sql::new(
        "SELECT j.id AS job_id, j.kind, j.last_error, j.updated_at, s.id AS shipment_id, \
                s.dossier_code, s.status \
         FROM jobs j JOIN shipments s ON s.id = j.shipment_id \
         WHERE j.state = 'dead' AND j.kind <> 'callback'",
    );
    visibility_of(&mut sql, "s", v);
    let p = sql.bind::<BigInt, _>(limit);
    sql.push(&format!(" ORDER BY j.updated_at DESC LIMIT {p}"));
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
         WHERE j.state IN ('queued', 'running') AND j.kind <> 'callback' \
           AND (SELECT a.error_class FROM job_attempts a WHERE a.job_id = j.id \
                ORDER BY a.id DESC LIMIT 1) = 'protocol'",
    );
    visibility_of(&mut sql, "s", v);
    let p = sql.bind::<BigInt, _>(limit);
    sql.push(&format!(" ORDER BY j.updated_at DESC LIMIT {p}"));
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
    pub type_: String,
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
         FROM callbacks c JOIN shipments s ON s.id = c.shipment_id WHERE c.state = 'dead'",
    );
    visibility_of(&mut sql, "s", v);
    let p = sql.bind::<BigInt, _>(limit);
    sql.push(&format!(" ORDER BY c.updated_at DESC LIMIT {p}"));
    sql.finish().load(conn).await
}

fn visibility_of(sql: &mut Sql<'_>, alias: &str, v: &Visibility) {
    if let Some(c) = &v.client_id {
        let p = sql.bind::<Text, _>(c.clone());
        sql.push(&format!(" AND {alias}.client_id = {p}"));
    }
    if let Some(o) = &v.offices {
        let p = sql.bind::<Array<Text>, _>(o.clone());
        sql.push(&format!(" AND {alias}.office_code = ANY({p})"));
    }
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
             SELECT 1 FROM audit_log a WHERE a.action = 'acknowledge' \
               AND a.details ->> 'item' = 'push:' || p.id) \
         ORDER BY p.received_at DESC LIMIT $1",
    )
    .bind::<BigInt, _>(limit)
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
             SELECT 1 FROM audit_log a WHERE a.action = 'acknowledge' \
               AND a.details ->> 'item' = 'event:' || e.id)",
    );
    visibility_of(&mut sql, "s", v);
    let p = sql.bind::<BigInt, _>(limit);
    sql.push(&format!(" ORDER BY e.recorded_at DESC LIMIT {p}"));
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

/// Writes a staff action to the audit log and returns its id.
pub async fn audit(conn: &mut Conn, entry: NewAuditEntry) -> QueryResult<i64> {
    diesel::insert_into(audit_log::table)
        .values(&entry)
        .returning(audit_log::id)
        .get_result(conn)
        .await
}

pub fn audit_entry(
    actor: &Actor,
    action: &str,
    shipment: Option<Uuid>,
    reason: &str,
    details: serde_json::Value,
) -> NewAuditEntry {
    NewAuditEntry {
        actor_id: actor.id.clone(),
        actor_name: actor.name.clone(),
        action: action.to_owned(),
        shipment_id: shipment,
        reason: reason.to_owned(),
        details,
    }
}

/// Re-enables a client's callbacks (its held callbacks are queued again), audited.
pub async fn enable_client(
    conn: &mut Conn,
    client: &str,
    actor: &Actor,
    reason: &str,
) -> QueryResult<usize> {
    let entry = |n: usize| {
        audit_entry(
            actor,
            "enable_client_callbacks",
            None,
            reason,
            serde_json::json!({ "client_id": client, "callbacks": n }),
        )
    };
    conn.transaction(async move |c| {
        let n = crate::callbacks::enable_client(c, client).await?;
        audit(c, entry(n)).await?;
        Ok(n)
    })
    .await
}

// ---------------------------------------------------------------------------------------
// Late results and apology letters

/// The apology letters issued for each of `shipments`: (shipment, count).
pub async fn letters_issued(conn: &mut Conn, shipments: &[Uuid]) -> QueryResult<Vec<(Uuid, i64)>> {
    use audit_log::dsl;
    let rows: Vec<(Option<Uuid>, i64)> = dsl::audit_log
        .filter(dsl::action.eq("apology_letter"))
        .filter(dsl::shipment_id.eq_any(shipments))
        .group_by(dsl::shipment_id)
        .select((dsl::shipment_id, diesel::dsl::count_star()))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(s, n)| s.map(|s| (s, n)))
        .collect())
}

pub async fn audit_entry_by_id(
    conn: &mut Conn,
    id: i64,
) -> QueryResult<Option<super::models::AuditEntry>> {
    use audit_log::dsl;
    dsl::audit_log
        .filter(dsl::id.eq(id))
        .select(super::models::AuditEntry::as_select())
        .first(conn)
        .await
        .optional()
}

// ---------------------------------------------------------------------------------------
// Reports

/// The shipments a report is about: requested in `[from, before)`, in the given offices.
#[derive(Debug, Clone)]
pub struct Cohort {
    pub from: DateTime<Utc>,
    pub before: DateTime<Utc>,
    /// `None`: every office.
    pub offices: Option<Vec<String>>,
}

fn cohort(sql: &mut Sql<'_>, alias: &str, c: &Cohort) {
    let from = sql.bind::<Timestamptz, _>(c.from);
    let before = sql.bind::<Timestamptz, _>(c.before);
    let lo = sql.bind::<SqlUuid, _>(uuid_v7_floor(c.from - ID_SLACK));
    let hi = sql.bind::<SqlUuid, _>(uuid_v7_floor(c.before + ID_SLACK));
    sql.push(&format!(
        " AND {alias}.created_at >= {from} AND {alias}.created_at < {before} \
          AND {alias}.id >= {lo} AND {alias}.id < {hi}"
    ));
    if let Some(o) = &c.offices {
        let p = sql.bind::<Array<Text>, _>(o.clone());
        sql.push(&format!(" AND {alias}.office_code = ANY({p})"));
    }
}

/// Figures of one kind of shipment over a cohort.
#[derive(Debug, Clone, Default, QueryableByName)]
pub struct KindFigures {
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub requested: i64,
    #[diesel(sql_type = BigInt)]
    pub picked_up: i64,
    #[diesel(sql_type = BigInt)]
    pub delivered: i64,
    /// Delivered within the deadline of SPEC §4 (the appointment date; for a pickup, picked
    /// up within the pickup window).
    #[diesel(sql_type = BigInt)]
    pub on_time: i64,
    #[diesel(sql_type = BigInt)]
    pub returned: i64,
    #[diesel(sql_type = BigInt)]
    pub cancelled: i64,
    #[diesel(sql_type = BigInt)]
    pub rejected: i64,
    #[diesel(sql_type = BigInt)]
    pub in_progress: i64,
    #[diesel(sql_type = Nullable<Double>)]
    pub median_to_pickup_s: Option<f64>,
    #[diesel(sql_type = Nullable<Double>)]
    pub median_to_delivery_s: Option<f64>,
    /// Postage VNPost reports (`totalFee`), summed, in đồng.
    #[diesel(sql_type = BigInt)]
    pub carrier_fee_vnd: i64,
    /// Cash on delivery VNPost reports (`codAmount`), summed, in đồng.
    #[diesel(sql_type = BigInt)]
    pub carrier_cod_vnd: i64,
}

pub async fn report_by_kind(
    conn: &mut Conn,
    c: &Cohort,
    pickup_window: chrono::Duration,
) -> QueryResult<Vec<KindFigures>> {
    let mut sql = Sql::new("");
    let window = sql.bind::<BigInt, _>(pickup_window.num_seconds());
    sql.push(&format!(
        "SELECT s.kind, count(*) AS requested, \
            count(*) FILTER (WHERE s.picked_up_at IS NOT NULL) AS picked_up, \
            count(*) FILTER (WHERE s.status = 'delivered') AS delivered, \
            count(*) FILTER (WHERE s.status = 'delivered' AND CASE s.kind \
                WHEN 'delivery' THEN s.due_at IS NULL OR s.delivered_at <= s.due_at \
                ELSE s.picked_up_at <= s.created_at + make_interval(secs => {window}::float8) END) AS on_time, \
            count(*) FILTER (WHERE s.status IN ('returning', 'returned')) AS returned, \
            count(*) FILTER (WHERE s.status = 'cancelled') AS cancelled, \
            count(*) FILTER (WHERE s.status = 'rejected') AS rejected, \
            count(*) FILTER (WHERE s.status NOT IN {TERMINAL} AND s.status NOT IN ('returning')) AS in_progress, \
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.picked_up_at - s.created_at)::float8) \
                FILTER (WHERE s.picked_up_at IS NOT NULL) AS median_to_pickup_s, \
            percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM s.delivered_at - s.picked_up_at)::float8) \
                FILTER (WHERE s.delivered_at IS NOT NULL AND s.picked_up_at IS NOT NULL) AS median_to_delivery_s, \
            coalesce(sum(s.carrier_fee_vnd), 0)::int8 AS carrier_fee_vnd, \
            coalesce(sum(s.carrier_cod_vnd), 0)::int8 AS carrier_cod_vnd \
         FROM shipments s WHERE true"
    ));
    cohort(&mut sql, "s", c);
    sql.push(" GROUP BY s.kind ORDER BY s.kind DESC");
    sql.finish().load(conn).await
}

/// Requests per period bucket (a day, or a month for long periods) and kind.
#[derive(Debug, Clone, QueryableByName)]
pub struct BucketCount {
    #[diesel(sql_type = Date)]
    pub bucket: NaiveDate,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

pub async fn report_buckets(
    conn: &mut Conn,
    c: &Cohort,
    monthly: bool,
) -> QueryResult<Vec<BucketCount>> {
    let unit = if monthly { "month" } else { "day" };
    let mut sql = Sql::new(&format!(
        "SELECT date_trunc('{unit}', s.created_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS bucket, \
                s.kind, count(*) AS n FROM shipments s WHERE true"
    ));
    cohort(&mut sql, "s", c);
    sql.push(" GROUP BY 1, 2 ORDER BY 1, 2");
    sql.finish().load(conn).await
}

/// Failed pickup (code 5) and delivery (code 15) attempts by reason.
#[derive(Debug, Clone, QueryableByName)]
pub struct FailureReason {
    #[diesel(sql_type = Int4)]
    pub carrier_code: i32,
    #[diesel(sql_type = Text)]
    pub reason: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

pub async fn report_failures(conn: &mut Conn, c: &Cohort) -> QueryResult<Vec<FailureReason>> {
    let mut sql = Sql::new(
        "SELECT e.carrier_code, coalesce(nullif(btrim(e.note), ''), nullif(btrim(e.carrier_text), ''), '') AS reason, \
                count(*) AS n \
         FROM shipment_events e JOIN shipments s ON s.id = e.shipment_id \
         WHERE e.carrier_code IN (5, 15)",
    );
    cohort(&mut sql, "s", c);
    sql.push(" GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2");
    sql.finish().load(conn).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_understood() {
        assert_eq!(
            Query::parse(" 5678 "),
            Some(Query::PhoneSuffix("5678".into()))
        );
        assert_eq!(
            Query::parse("+84 912 345 678"),
            Some(Query::PhoneSuffix("912345678".into()))
        );
        assert_eq!(
            Query::parse("12"),
            Some(Query::Text {
                exact: "12".into(),
                words: vec![]
            })
        );
        assert_eq!(
            Query::parse("000.00.14.H61-230512-0001"),
            Some(Query::Text {
                exact: "000.00.14.H61-230512-0001".into(),
                words: vec![]
            })
        );
        assert_eq!(
            Query::parse("eb123456789vn"),
            Some(Query::Text {
                exact: "eb123456789vn".into(),
                words: vec![]
            })
        );
        assert_eq!(
            Query::parse("Nguyễn  An_%"),
            Some(Query::Text {
                exact: "Nguyễn  An_%".into(),
                words: vec!["nguyễn".into(), "an\\_\\%".into()]
            })
        );
        assert_eq!(Query::parse("   "), None);
    }

    #[test]
    fn uuid_floor_orders_with_real_ids() {
        let t = Utc::now();
        let floor = uuid_v7_floor(t - chrono::Duration::milliseconds(1));
        let id = Uuid::now_v7();
        assert!(floor < id);
        assert!(uuid_v7_floor(t + chrono::Duration::seconds(1)) > id);
        assert_eq!(floor.get_version_num(), 7);
    }
}

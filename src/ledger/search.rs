//! The shipment search: the console's search box and filters and the API's list (`q` and its
//! filters), one query on one set of indexes. Every list of shipments is a search.
//!
//! Written in SQL with numbered parameters (built by [`Sql`]), so that what runs is what
//! `EXPLAIN` shows (the search benchmark prints the plans).

use super::Conn;
use super::models::Shipment;
use super::schema::shipments;
use super::shipments::Visibility;
use super::sql::{ID_SLACK, Sql, TERMINAL, uuid_v7_floor, visibility};
use crate::domain::{Kind, Status};
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

/// What the console's search box and filters ask for. Every list of shipments in the console
/// is a search.
#[derive(Debug, Clone, Default)]
pub struct Search {
    /// Dossier code, tracking number, last digits of the phone, or words of the name.
    pub q: Option<String>,
    /// Exactly this dossier code.
    pub dossier_code: Option<String>,
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

/// A shipment as the console lists it.
#[derive(Debug, Clone, QueryableByName)]
pub struct Hit {
    #[diesel(sql_type = SqlUuid)]
    pub id: Uuid,
    #[diesel(sql_type = Text)]
    pub kind: Kind,
    #[diesel(sql_type = Text)]
    pub status: Status,
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
        self.kind
    }
    pub fn status(&self) -> Status {
        self.status
    }
}

const HIT_COLUMNS: &str = "id, kind, status, dossier_code, office_code, person_name, \
    person_phone, tracking_number, procedure_name, due_at, late, created_at, carrier_text, \
    last_report_at, picked_up_at, delivered_at, status_reason";

/// The search as SQL selecting `columns`, after `prefix` (e.g. `EXPLAIN ANALYZE `).
pub fn search_query<'a>(
    prefix: &str,
    columns: &str,
    v: &Visibility,
    s: &Search,
) -> BoxedSqlQuery<'a, Pg, SqlQuery> {
    let mut sql = Sql::new(&format!(
        "{prefix}SELECT {columns} FROM shipments WHERE true"
    ));
    visibility(&mut sql, "", v);
    if let Some(d) = &s.dossier_code {
        let p = sql.bind::<Text, _>(d.clone());
        sql.push(&format!(" AND dossier_code = {p}"));
    }
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
    search_query("", HIT_COLUMNS, v, s).load(conn).await
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// The same search, whole rows (the API's list): the page's ids, then their rows by primary
/// key. Newest first; one more row than `limit`, as [`search`].
pub async fn search_shipments(
    conn: &mut Conn,
    v: &Visibility,
    s: &Search,
) -> QueryResult<Vec<Shipment>> {
    let ids: Vec<Id> = search_query("", "id", v, s).load(conn).await?;
    let ids: Vec<Uuid> = ids.into_iter().map(|r| r.id).collect();
    shipments::dsl::shipments
        .filter(shipments::dsl::id.eq_any(ids))
        .order(shipments::dsl::id.desc())
        .select(Shipment::as_select())
        .load(conn)
        .await
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
    let lines: Vec<PlanLine> = search_query("EXPLAIN (ANALYZE, BUFFERS) ", HIT_COLUMNS, v, s)
        .load(conn)
        .await?;
    Ok(lines.into_iter().map(|l| l.line).collect())
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
}

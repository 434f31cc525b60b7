//! The SQL builder behind the ledger's hand-written queries (search, worklists, statistics):
//! text with numbered parameters, so that what runs is what `EXPLAIN` shows; and the filters
//! those queries share (who may see a shipment, the id range of a time range).

use super::shipments::Visibility;
use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, Text};
use uuid::Uuid;

/// The terminal statuses, as an SQL list: a literal, not a bound array, so that the planner
/// can match the partial indexes whose predicate spells the same list (a unit test compares it
/// with `Status::TERMINAL`).
pub(super) const TERMINAL: &str = "('delivered', 'returned', 'cancelled', 'rejected')";

/// Ids are minted with `created_at` (UUIDv7), so a bound on one is a bound on the other, up to
/// the moment between the two: a day of slack keeps the bound true while letting the
/// primary key find the range.
pub(super) const ID_SLACK: chrono::Duration = chrono::Duration::days(1);

/// A query under construction: text with `$n` placeholders and their values, in order.
pub(super) struct Sql<'a> {
    query: Option<BoxedSqlQuery<'a, Pg, SqlQuery>>,
    params: usize,
}

impl<'a> Sql<'a> {
    pub(super) fn new(text: &str) -> Self {
        Sql {
            query: Some(diesel::sql_query(text.to_owned()).into_boxed()),
            params: 0,
        }
    }

    pub(super) fn push(&mut self, text: &str) {
        self.query = self.query.take().map(|q| q.sql(text));
    }

    /// Binds `value` and returns its placeholder.
    pub(super) fn bind<ST, V>(&mut self, value: V) -> String
    where
        Pg: diesel::sql_types::HasSqlType<ST>,
        V: diesel::serialize::ToSql<ST, Pg> + Send + 'a,
        ST: Send + 'a,
    {
        self.params += 1;
        self.query = self.query.take().map(|q| q.bind::<ST, V>(value));
        format!("${}", self.params)
    }

    pub(super) fn finish(self) -> BoxedSqlQuery<'a, Pg, SqlQuery> {
        self.query.expect("query present")
    }
}

/// Only the shipments `v` may see; `alias` is the shipments table's alias in the query
/// (empty when it has none).
pub(super) fn visibility(sql: &mut Sql<'_>, alias: &str, v: &Visibility) {
    let prefix = if alias.is_empty() {
        String::new()
    } else {
        format!("{alias}.")
    };
    if let Some(c) = &v.client_id {
        let p = sql.bind::<Text, _>(c.clone());
        sql.push(&format!(" AND {prefix}client_id = {p}"));
    }
    if let Some(o) = &v.offices {
        let p = sql.bind::<Array<Text>, _>(o.clone());
        sql.push(&format!(" AND {prefix}office_code = ANY({p})"));
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_list_is_the_enums() {
        let names: Vec<String> = crate::domain::Status::TERMINAL
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        assert_eq!(TERMINAL, format!("({})", names.join(", ")));
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

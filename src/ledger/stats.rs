//! Service statistics over a cohort of shipments (the console's statistics page and CSV):
//! figures per kind, requests per day or month, failed attempts by reason.

use super::Conn;
use super::sql::{ID_SLACK, Sql, TERMINAL, uuid_v7_floor};
use crate::domain::{Kind, Status};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{
    Array, BigInt, Date, Double, Int4, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::RunQueryDsl;

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
#[derive(Debug, Clone, QueryableByName)]
pub struct KindFigures {
    #[diesel(sql_type = Text)]
    pub kind: Kind,
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

impl KindFigures {
    /// The figures of a kind no shipment of the cohort has.
    pub fn none(kind: Kind) -> Self {
        KindFigures {
            kind,
            requested: 0,
            picked_up: 0,
            delivered: 0,
            on_time: 0,
            returned: 0,
            cancelled: 0,
            rejected: 0,
            in_progress: 0,
            median_to_pickup_s: None,
            median_to_delivery_s: None,
            carrier_fee_vnd: 0,
            carrier_cod_vnd: 0,
        }
    }
}

pub async fn report_by_kind(
    conn: &mut Conn,
    c: &Cohort,
    pickup_window: chrono::Duration,
) -> QueryResult<Vec<KindFigures>> {
    let mut sql = Sql::new("");
    let window = sql.bind::<BigInt, _>(pickup_window.num_seconds());
    let delivered = sql.bind::<Text, _>(Status::Delivered);
    let delivery = sql.bind::<Text, _>(Kind::Delivery);
    let returning = sql.bind::<Text, _>(Status::Returning);
    let returned = sql.bind::<Text, _>(Status::Returned);
    let cancelled = sql.bind::<Text, _>(Status::Cancelled);
    let rejected = sql.bind::<Text, _>(Status::Rejected);
    sql.push(&format!(
        "SELECT s.kind, count(*) AS requested, \
            count(*) FILTER (WHERE s.picked_up_at IS NOT NULL) AS picked_up, \
            count(*) FILTER (WHERE s.status = {delivered}) AS delivered, \
            count(*) FILTER (WHERE s.status = {delivered} AND CASE s.kind \
                WHEN {delivery} THEN s.due_at IS NULL OR s.delivered_at <= s.due_at \
                ELSE s.picked_up_at <= s.created_at + make_interval(secs => {window}::float8) END) AS on_time, \
            count(*) FILTER (WHERE s.status IN ({returning}, {returned})) AS returned, \
            count(*) FILTER (WHERE s.status = {cancelled}) AS cancelled, \
            count(*) FILTER (WHERE s.status = {rejected}) AS rejected, \
            count(*) FILTER (WHERE s.status NOT IN {TERMINAL} AND s.status <> {returning}) AS in_progress, \
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
    pub kind: Kind,
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

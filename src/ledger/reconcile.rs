//! The month's reconciliation (issue 10 §3): VNPost's figures per order, kept per month beside
//! the ledger's shipments, the runs that pulled them, and the ledger's side of the month.

use super::Conn;
use super::models::NewAuditEntry;
use super::schema::{
    audit_log, reconcile_carrier_orders as rco, reconcile_runs as runs, shipment_events, shipments,
};
use crate::domain::Status;
use crate::domain::reconcile::{
    CODE_CANCEL_FEE, CODE_COD_PAID, CarrierOrder, LedgerShipment, Month, RunSource,
};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use std::collections::HashMap;
use uuid::Uuid;

/// Rows inserted per statement (13 parameters each, well under PostgreSQL's 65 535).
const CHUNK: usize = 1000;

/// One order of VNPost's list, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = rco)]
pub struct StoredOrder {
    pub month: NaiveDate,
    pub item_code: String,
    pub run_id: i64,
    pub office_code: Option<String>,
    pub sale_order_code: Option<String>,
    pub original_id: Option<String>,
    pub fee_vnd: Option<i64>,
    pub cod_vnd: Option<i64>,
    pub carrier_status: Option<i32>,
    pub carrier_status_text: Option<String>,
    pub carrier_created_at: Option<DateTime<Utc>>,
    pub carrier_updated_at: Option<DateTime<Utc>>,
    pub fetched_at: DateTime<Utc>,
}

impl StoredOrder {
    pub fn to_domain(&self) -> CarrierOrder {
        CarrierOrder {
            item_code: self.item_code.clone(),
            sale_order_code: self.sale_order_code.clone(),
            fee_vnd: self.fee_vnd,
            cod_vnd: self.cod_vnd,
            status: self.carrier_status,
            created_at: self.carrier_created_at,
            updated_at: self.carrier_updated_at,
        }
    }
}

/// A pull of the month.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = runs)]
pub struct Run {
    pub id: i64,
    pub month: NaiveDate,
    pub started_by: String,
    pub started_by_name: Option<String>,
    pub source: RunSource,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub date_from: NaiveDate,
    pub date_to: NaiveDate,
    pub listed: i32,
    pub kept: i32,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = runs)]
pub struct NewRun {
    pub month: NaiveDate,
    pub started_by: String,
    pub started_by_name: Option<String>,
    pub source: RunSource,
    pub started_at: DateTime<Utc>,
    pub date_from: NaiveDate,
    pub date_to: NaiveDate,
    pub listed: i32,
    pub kept: i32,
}

/// Replaces the month's stored orders with `orders` (their `run_id` is set here) and records
/// the run, in one transaction; with `audit`, the staff member's start of it too.
pub async fn replace_month(
    conn: &mut Conn,
    run: NewRun,
    mut orders: Vec<StoredOrder>,
    audit: Option<NewAuditEntry>,
) -> QueryResult<i64> {
    conn.transaction(async move |c| {
        let month = run.month;
        let run_id: i64 = diesel::insert_into(runs::table)
            .values(&run)
            .returning(runs::id)
            .get_result(c)
            .await?;
        diesel::delete(rco::table.filter(rco::month.eq(month)))
            .execute(c)
            .await?;
        for o in &mut orders {
            o.run_id = run_id;
            o.month = month;
        }
        for chunk in orders.chunks(CHUNK) {
            diesel::insert_into(rco::table)
                .values(chunk)
                .execute(c)
                .await?;
        }
        if let Some(mut entry) = audit {
            if let Some(details) = entry.details.as_object_mut() {
                details.insert("run_id".into(), run_id.into());
            }
            diesel::insert_into(audit_log::table)
                .values(&entry)
                .execute(c)
                .await?;
        }
        Ok(run_id)
    })
    .await
}

/// The month's stored orders of VNPost's list.
pub async fn carrier_orders(conn: &mut Conn, month: Month) -> QueryResult<Vec<StoredOrder>> {
    rco::table
        .filter(rco::month.eq(month.first_day()))
        .order(rco::item_code.asc())
        .select(StoredOrder::as_select())
        .load(conn)
        .await
}

/// The month's latest pull, if any.
pub async fn last_run(conn: &mut Conn, month: Month) -> QueryResult<Option<Run>> {
    runs::table
        .filter(runs::month.eq(month.first_day()))
        .order(runs::id.desc())
        .select(Run::as_select())
        .first(conn)
        .await
        .optional()
}

type Row = (
    Uuid,
    String,
    String,
    String,
    Option<String>,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<i64>,
    i64,
    Option<i64>,
);

/// The ledger's side: the shipments created in `month` (Vietnam time) with the VNPost carrier,
/// and any other shipment one of `item_codes` or `sale_order_codes` names, each with its first
/// COD-paid-out (21) and cancellation-fee (29) report.
pub async fn ledger_side(
    conn: &mut Conn,
    month: Month,
    item_codes: &[String],
    sale_order_codes: &[String],
) -> QueryResult<Vec<LedgerShipment>> {
    let rows: Vec<Row> = shipments::table
        .filter(
            shipments::created_at
                .ge(month.start())
                .and(shipments::created_at.lt(month.end()))
                .or(shipments::tracking_number.eq_any(item_codes))
                .or(shipments::sale_order_code.eq_any(sale_order_codes)),
        )
        .select((
            shipments::id,
            shipments::office_code,
            shipments::dossier_code,
            shipments::sale_order_code,
            shipments::tracking_number,
            shipments::status,
            shipments::created_at,
            shipments::delivered_at,
            shipments::carrier_fee_vnd,
            shipments::cod_vnd,
            shipments::carrier_cod_vnd,
        ))
        .load(conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let reports: Vec<(Uuid, Option<i32>, DateTime<Utc>)> = shipment_events::table
        .filter(shipment_events::shipment_id.eq_any(&ids))
        .filter(shipment_events::carrier_code.eq_any([CODE_COD_PAID, CODE_CANCEL_FEE]))
        .select((
            shipment_events::shipment_id,
            shipment_events::carrier_code,
            shipment_events::occurred_at,
        ))
        .load(conn)
        .await?;
    let mut first: HashMap<(Uuid, i32), DateTime<Utc>> = HashMap::new();
    for (id, code, at) in reports {
        let Some(code) = code else { continue };
        first
            .entry((id, code))
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
    }
    Ok(rows
        .into_iter()
        .map(|r| LedgerShipment {
            id: r.0,
            office: r.1,
            dossier_code: r.2,
            sale_order_code: r.3,
            tracking_number: r.4,
            // The ledger's statuses are its own vocabulary: an unreadable one is a bug.
            status: r.5.parse().unwrap_or(Status::Requested),
            created_at: r.6,
            delivered_at: r.7,
            fee_vnd: r.8,
            cod_vnd: r.9,
            carrier_cod_vnd: r.10,
            cod_paid_at: first.get(&(r.0, CODE_COD_PAID)).copied(),
            cancel_fee_at: first.get(&(r.0, CODE_CANCEL_FEE)).copied(),
        })
        .collect())
}

/// The office of each shipment the codes name (item code first, then sale order code).
pub async fn offices_of(
    conn: &mut Conn,
    item_codes: &[String],
    sale_order_codes: &[String],
) -> QueryResult<(HashMap<String, String>, HashMap<String, String>)> {
    let rows: Vec<(Option<String>, String, String)> = shipments::table
        .filter(
            shipments::tracking_number
                .eq_any(item_codes)
                .or(shipments::sale_order_code.eq_any(sale_order_codes)),
        )
        .select((
            shipments::tracking_number,
            shipments::sale_order_code,
            shipments::office_code,
        ))
        .load(conn)
        .await?;
    let mut by_item = HashMap::new();
    let mut by_sale = HashMap::new();
    for (item, sale, office) in rows {
        if let Some(item) = item {
            by_item.insert(item, office.clone());
        }
        by_sale.insert(sale, office);
    }
    Ok((by_item, by_sale))
}

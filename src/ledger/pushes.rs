//! The carrier's pushes as received (SPEC §6), table `carrier_pushes`: each report is recorded
//! once, in the same transaction as its application to the shipment (`reports::apply`), so a
//! push answered 200 is durably in the ledger and a failed one leaves nothing behind.

use super::Conn;
use super::reports::{self, CarrierReport};
use super::schema::{carrier_pushes, shipments};
use crate::domain::Source;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Nullable;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

/// A verified push, as the carrier sent it.
#[derive(Debug, Clone)]
pub struct NewPush<'a> {
    pub item_code: &'a str,
    pub sale_order_code: Option<&'a str>,
    pub status_code: i32,
    pub status_text: &'a str,
    pub status_at: DateTime<Utc>,
    pub note: Option<&'a str>,
    /// `Data` exactly as signed.
    pub data: &'a str,
    pub send_date: DateTime<Utc>,
}

/// What became of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new report, now in the shipment's history (whether or not it moved the status: the
    /// domain rule decides, and the event says).
    Applied,
    /// Nothing new: the same push again, or a report that tracking had already polled.
    Duplicate,
    /// A new report with a code the table does not know: stored, flagged for staff, no status
    /// change.
    UnknownCode,
    /// No shipment has this SaleOrderCode or ItemCode: kept for staff.
    UnknownShipment,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Duplicate => "duplicate",
            Outcome::UnknownCode => "unknown_code",
            Outcome::UnknownShipment => "unknown_shipment",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub outcome: Outcome,
    /// The row of this push; `None` for a repeat of a push already recorded.
    pub push_id: Option<i64>,
    pub shipment_id: Option<Uuid>,
}

diesel::define_sql_function!(
    fn coalesce(
        x: Nullable<diesel::sql_types::Uuid>,
        y: Nullable<diesel::sql_types::Uuid>,
    ) -> Nullable<diesel::sql_types::Uuid>
);

/// Records `push` and applies its report to the shipment, in one transaction. `quiet` is
/// when tracking should poll the shipment next (`tracking.quiet_after`).
///
/// A concurrent repeat of the same push waits on the unique index until the first one commits,
/// then finds it: the report is applied once however the repeats interleave.
pub async fn record(
    conn: &mut Conn,
    codes: &crate::domain::carrier_codes::CodeTable,
    push: &NewPush<'_>,
    quiet: chrono::Duration,
) -> QueryResult<Recorded> {
    conn.transaction(async move |c| {
        // One statement, prepared once per connection: find the shipment (by our
        // SaleOrderCode, else by the carrier's ItemCode) and record the push, unless this
        // report was recorded before. The outcome written is the usual one, corrected below
        // in the same transaction when the report turns out otherwise.
        let by_reference = shipments::table
            .filter(
                shipments::sale_order_code
                    .nullable()
                    .eq(push.sale_order_code),
            )
            .select(shipments::id)
            .single_value();
        let by_item_code = shipments::table
            .filter(shipments::tracking_number.eq(push.item_code))
            .select(shipments::id)
            .single_value();
        let inserted: Option<(i64, Option<Uuid>)> = diesel::insert_into(carrier_pushes::table)
            .values((
                carrier_pushes::item_code.eq(push.item_code),
                carrier_pushes::sale_order_code.eq(push.sale_order_code),
                carrier_pushes::status_code.eq(push.status_code),
                carrier_pushes::status_text.eq(push.status_text),
                carrier_pushes::status_at.eq(push.status_at),
                carrier_pushes::note.eq(push.note),
                carrier_pushes::shipment_id.eq(coalesce(by_reference, by_item_code)),
                carrier_pushes::outcome.eq(Outcome::Applied.as_str()),
                carrier_pushes::data.eq(push.data),
                carrier_pushes::send_date.eq(push.send_date),
            ))
            .on_conflict((
                carrier_pushes::item_code,
                carrier_pushes::status_code,
                carrier_pushes::status_at,
            ))
            .do_nothing()
            .returning((carrier_pushes::id, carrier_pushes::shipment_id))
            .get_result(c)
            .await
            .optional()?;
        let Some((push_id, shipment_id)) = inserted else {
            return Ok(Recorded {
                outcome: Outcome::Duplicate,
                push_id: None,
                shipment_id: None,
            });
        };
        let Some(shipment_id) = shipment_id else {
            set_outcome(c, push_id, Outcome::UnknownShipment).await?;
            return Ok(Recorded {
                outcome: Outcome::UnknownShipment,
                push_id: Some(push_id),
                shipment_id: None,
            });
        };
        let report = CarrierReport {
            code: push.status_code,
            text: push.status_text.to_owned(),
            at: push.status_at,
            note: push.note.map(str::to_owned),
        };
        let applied = reports::apply(
            c,
            codes,
            shipment_id,
            &[report],
            Source::CarrierPush,
            Some(push.item_code),
            quiet,
        )
        .await?;
        let outcome = if applied.new == 0 {
            Outcome::Duplicate
        } else if applied.unknown > 0 {
            Outcome::UnknownCode
        } else {
            Outcome::Applied
        };
        if outcome != Outcome::Applied {
            set_outcome(c, push_id, outcome).await?;
        }
        Ok(Recorded {
            outcome,
            push_id: Some(push_id),
            shipment_id: Some(shipment_id),
        })
    })
    .await
}

async fn set_outcome(c: &mut Conn, id: i64, outcome: Outcome) -> QueryResult<usize> {
    diesel::update(carrier_pushes::table.find(id))
        .set(carrier_pushes::outcome.eq(outcome.as_str()))
        .execute(c)
        .await
}

//! The durable job queue (outbox) in PostgreSQL.
//!
//! Work caused by a state change (submit an order to the carrier, ask it to cancel, call a
//! dossier system back) is inserted into `jobs` in the same transaction as the change, so a
//! crash can neither lose it nor run it without the change. Inserting also sends a
//! `NOTIFY bcci_jobs`, delivered at commit, which wakes the workers.

use crate::ledger::Conn;
use crate::ledger::schema::jobs;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

/// The channel workers `LISTEN` on.
pub const CHANNEL: &str = "bcci_jobs";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Create the carrier order for a shipment (exactly once).
    CarrierSubmit,
    /// Ask the carrier to cancel a shipment's order.
    CarrierCancel,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::CarrierSubmit => "carrier_submit",
            JobKind::CarrierCancel => "carrier_cancel",
        }
    }
}

/// Enqueues a job inside the caller's transaction.
pub async fn enqueue(conn: &mut Conn, kind: JobKind, shipment: Option<Uuid>, payload: serde_json::Value) -> QueryResult<i64> {
    let id: i64 = diesel::insert_into(jobs::table)
        .values((jobs::kind.eq(kind.as_str()), jobs::shipment_id.eq(shipment), jobs::payload.eq(payload)))
        .returning(jobs::id)
        .get_result(conn)
        .await?;
    diesel::sql_query(format!("NOTIFY {CHANNEL}")).execute(conn).await?;
    Ok(id)
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

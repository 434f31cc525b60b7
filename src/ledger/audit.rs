//! The staff audit log: who did what to which shipment, when and why.

use super::Conn;
use super::models::{AuditEntry, NewAuditEntry};
use super::schema::audit_log::dsl::*;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

pub async fn record(conn: &mut Conn, entry: NewAuditEntry) -> QueryResult<()> {
    diesel::insert_into(audit_log)
        .values(&entry)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn for_shipment(conn: &mut Conn, shipment: Uuid) -> QueryResult<Vec<AuditEntry>> {
    audit_log
        .filter(shipment_id.eq(shipment))
        .order(id.asc())
        .select(AuditEntry::as_select())
        .load(conn)
        .await
}

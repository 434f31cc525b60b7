//! The staff audit log: who did what to which shipment, when and why. Every audited action
//! writes through [`record`].

use super::Conn;
use super::models::{AuditEntry, NewAuditEntry};
use super::schema::audit_log::{self, dsl};
use super::shipments::Actor;
use crate::domain::AuditAction;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

/// Writes a staff action to the audit log and returns its id.
pub async fn record(conn: &mut Conn, entry: NewAuditEntry) -> QueryResult<i64> {
    diesel::insert_into(audit_log::table)
        .values(&entry)
        .returning(dsl::id)
        .get_result(conn)
        .await
}

/// The entry of `actor`'s `action`.
pub fn entry(
    actor: &Actor,
    action: AuditAction,
    shipment: Option<Uuid>,
    reason: &str,
    details: serde_json::Value,
) -> NewAuditEntry {
    NewAuditEntry {
        actor_id: actor.id.clone(),
        actor_name: actor.name.clone(),
        action,
        shipment_id: shipment,
        reason: reason.to_owned(),
        details,
    }
}

pub async fn for_shipment(conn: &mut Conn, shipment: Uuid) -> QueryResult<Vec<AuditEntry>> {
    dsl::audit_log
        .filter(dsl::shipment_id.eq(shipment))
        .order(dsl::id.asc())
        .select(AuditEntry::as_select())
        .load(conn)
        .await
}

pub async fn by_id(conn: &mut Conn, id: i64) -> QueryResult<Option<AuditEntry>> {
    dsl::audit_log
        .filter(dsl::id.eq(id))
        .select(AuditEntry::as_select())
        .first(conn)
        .await
        .optional()
}

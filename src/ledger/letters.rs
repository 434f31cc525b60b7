//! Apology letters for late results (SPEC §4): how many were issued per shipment. A letter
//! is an audit entry (`apology_letter`), read back with [`super::audit::by_id`].

use super::Conn;
use super::schema::audit_log;
use crate::domain::AuditAction;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

/// The apology letters issued for each of `shipments`: (shipment, count).
pub async fn issued(conn: &mut Conn, shipments: &[Uuid]) -> QueryResult<Vec<(Uuid, i64)>> {
    use audit_log::dsl;
    let rows: Vec<(Option<Uuid>, i64)> = dsl::audit_log
        .filter(dsl::action.eq(AuditAction::ApologyLetter))
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

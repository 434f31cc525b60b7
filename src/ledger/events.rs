//! The append-only history of each shipment.

use super::Conn;
use super::models::{Event, NewEvent};
use super::schema::shipment_events::dsl::*;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

/// Appends an event after the shipment's last one. The caller holds the shipment's row lock
/// (or has just inserted it), so the next `seq` cannot be taken twice.
/// Takes a shared reference so that it may be pipelined with the other writes of a change.
pub async fn append(mut conn: &Conn, mut event: NewEvent) -> QueryResult<i32> {
    let last: Option<i32> = shipment_events
        .filter(shipment_id.eq(event.shipment_id))
        .select(diesel::dsl::max(seq))
        .first(&mut conn)
        .await?;
    event.seq = last.unwrap_or(0) + 1;
    diesel::insert_into(shipment_events)
        .values(&event)
        .execute(&mut conn)
        .await?;
    Ok(event.seq)
}

/// The first event of a new shipment (a shared reference: it may be pipelined).
pub async fn first(mut conn: &Conn, mut event: NewEvent) -> QueryResult<()> {
    event.seq = 1;
    diesel::insert_into(shipment_events)
        .values(&event)
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// The first events of shipments created together: one statement.
pub async fn first_many(mut conn: &Conn, mut events: Vec<NewEvent>) -> QueryResult<()> {
    for e in &mut events {
        e.seq = 1;
    }
    diesel::insert_into(shipment_events)
        .values(&events)
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Oldest first.
pub async fn list(conn: &mut Conn, shipment: Uuid) -> QueryResult<Vec<Event>> {
    shipment_events
        .filter(shipment_id.eq(shipment))
        .order(seq.asc())
        .select(Event::as_select())
        .load(conn)
        .await
}

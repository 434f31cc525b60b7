//! The append-only history of each shipment.

use super::Conn;
use super::models::{Event, NewEvent};
use super::prepared::KeepPrepared;
use super::schema::shipment_events::dsl::*;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

/// Appends an event after the shipment's last one. The caller holds the shipment's row lock
/// (or has just inserted it), so the next `seq` cannot be taken twice. One statement (the
/// next `seq` is read by the insert itself), kept prepared; a shared reference, so that it may
/// be pipelined with the other writes of a change. Returns the event's `seq`.
pub async fn append(mut conn: &Conn, event: NewEvent) -> QueryResult<i32> {
    use diesel::sql_types::{Bool, Integer, Nullable, Text, Timestamptz};
    #[derive(QueryableByName)]
    struct Appended {
        #[diesel(sql_type = Integer)]
        appended_seq: i32,
    }
    let row: Appended = diesel::sql_query(
        "INSERT INTO shipment_events (shipment_id, seq, status, applied, occurred_at, source, \
                                      carrier_code, carrier_text, unknown_code, note, actor) \
         SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
         FROM shipment_events WHERE shipment_id = $1 \
         RETURNING seq AS appended_seq",
    )
    .bind::<diesel::sql_types::Uuid, _>(event.shipment_id)
    .bind::<Nullable<Text>, _>(event.status)
    .bind::<Bool, _>(event.applied)
    .bind::<Timestamptz, _>(event.occurred_at)
    .bind::<Text, _>(event.source)
    .bind::<Nullable<Integer>, _>(event.carrier_code)
    .bind::<Nullable<Text>, _>(event.carrier_text)
    .bind::<Bool, _>(event.unknown_code)
    .bind::<Nullable<Text>, _>(event.note)
    .bind::<Nullable<Text>, _>(event.actor)
    .prepared()
    .get_result(&mut conn)
    .await?;
    Ok(row.appended_seq)
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

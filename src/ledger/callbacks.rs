//! The callbacks tables (SPEC §7): `callbacks` (one row per message, its delivery state) and
//! `client_callbacks` (clients whose callbacks are stopped). Every statement on them is here;
//! `callbacks` signs and delivers, `jobs` records each attempt's outcome through these calls.
//!
//! A callback is written in the same transaction as the change it reports, with its delivery
//! job ([`enqueue`]). A `410 Gone` stops the client's callbacks (held, not lost) until staff
//! re-enable the client ([`enable_client`]).

use super::Conn;
use super::models::Shipment;
use super::outbox;
use super::prepared::KeepPrepared;
use super::schema::{callbacks, client_callbacks};
use crate::domain::Status;
use crate::domain::callback::{CallbackBody, CallbackData, CallbackState, CallbackType};
use crate::domain::outbox::excerpt;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = callbacks, check_for_backend(diesel::pg::Pg))]
pub struct Callback {
    pub id: Uuid,
    pub client_id: String,
    pub shipment_id: Uuid,
    pub type_: CallbackType,
    pub sequence: i32,
    pub body: serde_json::Value,
    pub state: CallbackState,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl Callback {
    /// The Standard Webhooks `webhook-id`, the same on every attempt.
    pub fn webhook_id(&self) -> String {
        format!("msg_{}", self.id.simple())
    }
}

/// Writes the callback for the shipment's current state, and its delivery job, in the
/// caller's transaction. `s` is the shipment after the change.
pub async fn enqueue(
    conn: &Conn,
    s: &Shipment,
    type_: CallbackType,
    previous_status: Option<Status>,
    occurred_at: DateTime<Utc>,
    reason: Option<String>,
) -> QueryResult<Uuid> {
    Message::of(s, type_, previous_status, occurred_at, reason)
        .write(conn)
        .await
}

/// A callback made from the shipment as a change left it, to be written later in the same
/// transaction (a batch of carrier reports writes its changes' callbacks together, after the
/// shipment has moved on in memory).
#[derive(Debug)]
pub struct Message {
    id: Uuid,
    client_id: String,
    shipment_id: Uuid,
    type_: CallbackType,
    sequence: i32,
    body: serde_json::Value,
}

impl Message {
    /// The callback for `s` as it is now.
    pub fn of(
        s: &Shipment,
        type_: CallbackType,
        previous_status: Option<Status>,
        occurred_at: DateTime<Utc>,
        reason: Option<String>,
    ) -> Message {
        let body = CallbackBody {
            type_,
            timestamp: Utc::now(),
            data: CallbackData {
                shipment_id: s.id,
                dossier_code: s.dossier_code.clone(),
                kind: s.kind(),
                status: s.status(),
                previous_status,
                sequence: s.sequence,
                late: s.late,
                tracking_number: s.tracking_number.clone(),
                occurred_at,
                reason,
            },
        };
        Message {
            id: Uuid::now_v7(),
            client_id: s.client_id.clone(),
            shipment_id: s.id,
            type_,
            sequence: s.sequence,
            body: serde_json::to_value(&body).expect("callback body serialises"),
        }
    }

    /// Writes the message and its delivery job in one round trip (sent in this order); a
    /// shared reference, so that it may be pipelined with the change's other writes.
    pub async fn write(self, conn: &Conn) -> QueryResult<Uuid> {
        let insert = diesel::insert_into(callbacks::table).values((
            callbacks::id.eq(self.id),
            callbacks::client_id.eq(self.client_id),
            callbacks::shipment_id.eq(self.shipment_id),
            callbacks::type_.eq(self.type_),
            callbacks::sequence.eq(self.sequence),
            callbacks::body.eq(self.body),
        ));
        futures_util::try_join!(
            insert.execute(&mut &*conn),
            outbox::enqueue_callback(conn, self.shipment_id, self.id)
        )?;
        Ok(self.id)
    }
}

pub async fn find(conn: &mut Conn, id: Uuid) -> QueryResult<Option<Callback>> {
    callbacks::table
        .find(id)
        .select(Callback::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn for_shipment(conn: &mut Conn, shipment: Uuid) -> QueryResult<Vec<Callback>> {
    callbacks::table
        .filter(callbacks::shipment_id.eq(shipment))
        .order(callbacks::created_at.asc())
        .select(Callback::as_select())
        .load(conn)
        .await
}

/// Dead-lettered callbacks, newest first (needs attention).
pub async fn dead(conn: &mut Conn, limit: i64) -> QueryResult<Vec<Callback>> {
    callbacks::table
        .filter(callbacks::state.eq(CallbackState::Dead))
        .order(callbacks::updated_at.desc())
        .limit(limit)
        .select(Callback::as_select())
        .load(conn)
        .await
}

/// Records the new state of a callback after an attempt.
pub async fn set_state(
    conn: &mut Conn,
    id: Uuid,
    state: CallbackState,
    error: Option<&str>,
) -> QueryResult<()> {
    let delivered_at = (state == CallbackState::Delivered).then(Utc::now);
    diesel::update(callbacks::table.find(id))
        .set((
            callbacks::state.eq(state),
            callbacks::attempts.eq(callbacks::attempts + 1),
            callbacks::last_error.eq(error.map(excerpt)),
            callbacks::delivered_at.eq(delivered_at),
            callbacks::updated_at.eq(diesel::dsl::now),
        ))
        .prepared()
        .execute(conn)
        .await?;
    Ok(())
}

/// Callbacks delivered by jobs run together: their jobs done, their attempts and their new
/// state recorded, in the caller's transaction (three statements for the batch). A callback
/// whose job is no longer ours (reaped meanwhile) is left to the job's new owner. Returns the
/// ids of the jobs recorded.
pub async fn record_delivered(
    conn: &mut Conn,
    delivered: &[(Uuid, outbox::Attempt)],
) -> QueryResult<Vec<i64>> {
    let attempts: Vec<&outbox::Attempt> = delivered.iter().map(|(_, a)| a).collect();
    let ours = outbox::finish_many(conn, &attempts).await?;
    let ids: Vec<Uuid> = delivered
        .iter()
        .filter(|(_, a)| ours.contains(&a.job_id))
        .map(|(id, _)| *id)
        .collect();
    if !ids.is_empty() {
        diesel::update(callbacks::table.filter(callbacks::id.eq_any(ids)))
            .set((
                callbacks::state.eq(CallbackState::Delivered),
                callbacks::attempts.eq(callbacks::attempts + 1),
                callbacks::last_error.eq(None::<String>),
                callbacks::delivered_at.eq(Some(Utc::now())),
                callbacks::updated_at.eq(diesel::dsl::now),
            ))
            .prepared()
            .execute(conn)
            .await?;
    }
    Ok(ours)
}

/// Counts an attempt that leaves the callback pending (it will be retried).
pub async fn note_failure(conn: &mut Conn, id: Uuid, error: &str) -> QueryResult<()> {
    set_state(conn, id, CallbackState::Pending, Some(error)).await
}

/// A callback to deliver, and whether its client's callbacks are on (not stopped by a
/// `410 Gone`): one round trip, since every delivery attempt asks both.
pub async fn find_for_delivery(conn: &mut Conn, id: Uuid) -> QueryResult<Option<(Callback, bool)>> {
    Ok(find_many_for_delivery(conn, &[id]).await?.pop())
}

/// [`find_for_delivery`] for many callbacks at once (a worker's claim), in one statement; a
/// shared reference, so that it may be pipelined. Callbacks not found are left out.
pub async fn find_many_for_delivery(
    mut conn: &Conn,
    ids: &[Uuid],
) -> QueryResult<Vec<(Callback, bool)>> {
    let found: Vec<(Callback, Option<bool>)> = callbacks::table
        .left_join(client_callbacks::table.on(client_callbacks::client_id.eq(callbacks::client_id)))
        .filter(callbacks::id.eq_any(ids))
        .select((Callback::as_select(), client_callbacks::enabled.nullable()))
        .load(&mut conn)
        .await?;
    Ok(found
        .into_iter()
        .map(|(cb, enabled)| (cb, enabled.unwrap_or(true)))
        .collect())
}

/// The client's endpoint answered 410: stop its callbacks until staff re-enable it.
pub async fn disable_client(conn: &mut Conn, client: &str, reason: &str) -> QueryResult<()> {
    diesel::insert_into(client_callbacks::table)
        .values((
            client_callbacks::client_id.eq(client),
            client_callbacks::enabled.eq(false),
            client_callbacks::disabled_at.eq(Utc::now()),
            client_callbacks::disabled_reason.eq(reason),
        ))
        .on_conflict(client_callbacks::client_id)
        .do_update()
        .set((
            client_callbacks::enabled.eq(false),
            client_callbacks::disabled_at.eq(Utc::now()),
            client_callbacks::disabled_reason.eq(reason),
            client_callbacks::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Clients whose callbacks are stopped: (client id, since, why).
pub async fn disabled_clients(
    conn: &mut Conn,
) -> QueryResult<Vec<(String, Option<DateTime<Utc>>, Option<String>)>> {
    client_callbacks::table
        .filter(client_callbacks::enabled.eq(false))
        .select((
            client_callbacks::client_id,
            client_callbacks::disabled_at,
            client_callbacks::disabled_reason,
        ))
        .load(conn)
        .await
}

/// Staff re-enable a client: its held callbacks are queued again, oldest first. Returns how
/// many. Runs in the caller's transaction.
pub async fn enable_client(conn: &mut Conn, client: &str) -> QueryResult<usize> {
    diesel::update(client_callbacks::table.find(client))
        .set((
            client_callbacks::enabled.eq(true),
            client_callbacks::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    let held: Vec<(Uuid, Uuid)> = callbacks::table
        .filter(callbacks::client_id.eq(client))
        .filter(callbacks::state.eq(CallbackState::Held))
        .order(callbacks::created_at.asc())
        .select((callbacks::id, callbacks::shipment_id))
        .load(conn)
        .await?;
    requeue(conn, &held).await
}

/// Queues again a shipment's dead-lettered and held callbacks (staff replay). Runs in the
/// caller's transaction; returns how many.
pub async fn replay(conn: &mut Conn, shipment: Uuid) -> QueryResult<usize> {
    let stuck: Vec<(Uuid, Uuid)> = callbacks::table
        .filter(callbacks::shipment_id.eq(shipment))
        .filter(
            callbacks::state.eq_any([CallbackState::Dead.as_str(), CallbackState::Held.as_str()]),
        )
        .order(callbacks::created_at.asc())
        .select((callbacks::id, callbacks::shipment_id))
        .load(conn)
        .await?;
    requeue(conn, &stuck).await
}

async fn requeue(conn: &mut Conn, items: &[(Uuid, Uuid)]) -> QueryResult<usize> {
    for (id, shipment) in items {
        diesel::update(callbacks::table.find(id))
            .set((
                callbacks::state.eq(CallbackState::Pending),
                callbacks::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .await?;
        outbox::enqueue_callback(conn, *shipment, *id).await?;
    }
    Ok(items.len())
}

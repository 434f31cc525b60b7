//! Queries and transactions on shipments. Every status change goes through
//! [`change_status`], so the event history, the sequence number and the work a change causes
//! are always written together.

use super::models::{CancelState, IdempotencyKey, NewAuditEntry, NewEvent, Shipment};
use super::prepared::KeepPrepared;
use super::schema::shipments::{self, dsl};
use super::{Conn, audit, callbacks, events, idempotency, outbox};
use crate::domain::callback::CallbackType;
use crate::domain::outbox::JobKind;
use crate::domain::status::Outcome;
use crate::domain::{Action, AuditAction, Kind, Source, Status};
use chrono::Utc;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DbError};
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

/// Which shipments a caller may see.
#[derive(Debug, Clone, Default)]
pub struct Visibility {
    /// A dossier system sees only the shipments it created.
    pub client_id: Option<String>,
    /// A staff member may be limited to some offices.
    pub offices: Option<Vec<String>>,
}

impl Visibility {
    pub fn allows(&self, s: &Shipment) -> bool {
        self.client_id.as_ref().is_none_or(|c| *c == s.client_id)
            && self
                .offices
                .as_ref()
                .is_none_or(|o| o.contains(&s.office_code))
    }
}

type Boxed<'a> = shipments::BoxedQuery<'a, diesel::pg::Pg>;

fn visible<'a>(mut q: Boxed<'a>, v: &'a Visibility) -> Boxed<'a> {
    if let Some(c) = &v.client_id {
        q = q.filter(dsl::client_id.eq(c));
    }
    if let Some(o) = &v.offices {
        q = q.filter(dsl::office_code.eq_any(o));
    }
    q
}

pub async fn find(conn: &mut Conn, id: Uuid, v: &Visibility) -> QueryResult<Option<Shipment>> {
    visible(dsl::shipments.into_boxed(), v)
        .filter(dsl::id.eq(id))
        .select(Shipment::as_select())
        .first(conn)
        .await
        .optional()
}

/// Shipments by id, for the gateway's own work (no visibility rule), in one statement; a
/// shared reference, so that it may be pipelined. Ids not found are left out. Planned for its
/// values on every call: kept prepared, its generic plan on a new ledger is a sequential scan.
pub async fn find_many(mut conn: &Conn, ids: &[Uuid]) -> QueryResult<Vec<Shipment>> {
    dsl::shipments
        .filter(dsl::id.eq_any(ids))
        .select(Shipment::as_select())
        .unprepared()
        .load(&mut conn)
        .await
}

/// Locks the shipment's row for the rest of the transaction.
pub async fn find_for_update(
    conn: &mut Conn,
    id: Uuid,
    v: &Visibility,
) -> QueryResult<Option<Shipment>> {
    Ok(lock(conn, id).await?.filter(|s| v.allows(s)))
}

/// [`find_for_update`] for the gateway's own work (no visibility rule), on a shared reference:
/// it may be pipelined with reads that must see what the lock's previous holder committed
/// (PostgreSQL runs them after it, each with its own snapshot).
pub async fn lock(mut conn: &Conn, id: Uuid) -> QueryResult<Option<Shipment>> {
    dsl::shipments
        .find(id)
        .select(Shipment::as_select())
        .for_update()
        .first(&mut conn)
        .await
        .optional()
}

/// The dossier's active shipment of this kind, if any: [`active_for_dossiers`] for one code
/// (looked up by the code alone, for the reason given there), matched here.
pub async fn active_for_dossier(
    conn: &Conn,
    client: &str,
    dossier: &str,
    kind: Kind,
) -> QueryResult<Option<Uuid>> {
    Ok(active_for_dossiers(conn, &[dossier])
        .await?
        .into_iter()
        .find(|(c, _, k, _)| c == client && *k == kind)
        .map(|(.., id)| id))
}

/// For the rest of the transaction, plans its statements with index scans: a create's reads
/// are lookups by key, for which an index scan is right at any size. PostgreSQL caches a
/// prepared statement's generic plan per connection, made after a few executions and kept
/// until the table is next analysed; made while the ledger is new and nearly empty it is a
/// sequential scan, and every create then reads the whole table, slower as it grows (in the
/// ingestion benchmark on a new database: 1,470 creates/s in the first 12 s, 720 in the
/// next, the lookup of the dossier's active shipment running most of the time). Sent first
/// in the transaction's first round trip, so it costs no round trip of its own.
async fn prefer_indexes(mut conn: &Conn) -> QueryResult<()> {
    diesel::sql_query("SET LOCAL enable_seqscan = off")
        .prepared()
        .execute(&mut conn)
        .await?;
    Ok(())
}

/// Why a create did not create.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("a request with this Idempotency-Key is still in flight")]
    InFlight,
    #[error("this Idempotency-Key was used with a different request")]
    KeyReused,
    #[error("an active shipment exists for this dossier")]
    DuplicateActive(Uuid),
    #[error(transparent)]
    Db(#[from] DbError),
}

pub enum Created {
    New {
        shipment: Box<Shipment>,
        body: serde_json::Value,
    },
    Replayed {
        status: u16,
        body: serde_json::Value,
    },
}

/// One create: the row, and the response saved with its Idempotency-Key (201, the body
/// rendered from the row), for replays.
pub struct NewCreate {
    pub shipment: Shipment,
    pub saved: IdempotencyKey,
}

impl NewCreate {
    /// The create of `shipment` under the caller's `key`; `request_hash` fingerprints the
    /// request ([`idempotency::request_hash`]) and the key is kept for `ttl`.
    pub fn new(
        shipment: Shipment,
        key: String,
        request_hash: String,
        body: serde_json::Value,
        ttl: chrono::Duration,
    ) -> NewCreate {
        let saved = IdempotencyKey {
            client_id: shipment.client_id.clone(),
            key,
            request_hash,
            response_status: 201,
            response_body: body,
            shipment_id: Some(shipment.id),
            created_at: shipment.created_at,
            expires_at: shipment.created_at + ttl,
        };
        NewCreate { shipment, saved }
    }
}

/// What [`create_many`] decided for one create of a group, before writing.
#[derive(Debug, PartialEq)]
enum Plan {
    Create { forget_expired_key: bool },
    Answer(Answer),
}

#[derive(Debug, PartialEq)]
enum Answer {
    InFlight,
    KeyReused,
    Replayed(usize),
    DuplicateActive(Uuid),
}

/// The decisions of [`create`], taken for a group at once, in arrival order. `locked[i]` says
/// whether create `i`'s key lock was free; `saved` are the responses saved under any of the
/// group's keys; `active` the active shipments of any of its dossiers. A key or a dossier
/// that an earlier create of the same group takes is in flight, or taken, for a later one,
/// exactly as if the earlier had committed first.
fn plan(
    items: &[NewCreate],
    locked: &[bool],
    saved: &[IdempotencyKey],
    active: &[(String, String, Kind, Uuid)],
    now: chrono::DateTime<Utc>,
) -> Vec<Plan> {
    use std::collections::HashMap;
    let by_key: HashMap<(&str, &str), usize> = saved
        .iter()
        .enumerate()
        .map(|(i, k)| ((k.client_id.as_str(), k.key.as_str()), i))
        .collect();
    let mut dossiers: HashMap<(&str, &str, Kind), Uuid> = active
        .iter()
        .map(|(c, d, k, id)| ((c.as_str(), d.as_str(), *k), *id))
        .collect();
    let mut keys = std::collections::HashSet::new();
    items
        .iter()
        .zip(locked)
        .map(|(item, &locked)| {
            let key = (item.saved.client_id.as_str(), item.saved.key.as_str());
            if !locked || !keys.insert(key) {
                return Plan::Answer(Answer::InFlight);
            }
            let mut forget_expired_key = false;
            match by_key.get(&key) {
                Some(&i) if saved[i].expires_at <= now => forget_expired_key = true,
                Some(&i) if saved[i].request_hash != item.saved.request_hash => {
                    return Plan::Answer(Answer::KeyReused);
                }
                Some(&i) => return Plan::Answer(Answer::Replayed(i)),
                None => {}
            }
            let s = &item.shipment;
            let dossier = (s.client_id.as_str(), s.dossier_code.as_str(), s.kind());
            if let Some(&id) = dossiers.get(&dossier) {
                return Plan::Answer(Answer::DuplicateActive(id));
            }
            dossiers.insert(dossier, s.id);
            Plan::Create { forget_expired_key }
        })
        .collect()
}

/// [`create`] for a group of creates in one transaction, each with the outcome `create` would
/// give it: the index hint, one lock statement and two reads (one round trip), then four
/// multi-row inserts, whatever the group's size, where one by one each create costs a transaction of its own. On a database error
/// nothing is written, and the creates come back with the error, for the caller to run one
/// by one with [`create`] (which tells a dossier taken meanwhile from a failure).
#[allow(clippy::result_large_err)]
pub async fn create_many(
    conn: &mut Conn,
    items: Vec<NewCreate>,
) -> Result<Vec<Result<Created, CreateError>>, (DbError, Vec<NewCreate>)> {
    let keys: Vec<(&str, &str)> = items
        .iter()
        .map(|i| (i.saved.client_id.as_str(), i.saved.key.as_str()))
        .collect();
    let dossiers: Vec<&str> = items
        .iter()
        .map(|i| i.shipment.dossier_code.as_str())
        .collect();
    let written = conn
        .transaction::<_, DbError, _>(async |c| {
            let ((), locked, saved, active) = futures_util::try_join!(
                prefer_indexes(c),
                idempotency::try_lock_many(c, &keys),
                idempotency::find_many(c, &keys),
                active_for_dossiers(c, &dossiers),
            )?;
            let plans = plan(&items, &locked, &saved, &active, Utc::now());
            for (item, p) in items.iter().zip(&plans) {
                if let Plan::Create {
                    forget_expired_key: true,
                } = p
                {
                    idempotency::forget(c, &item.saved.client_id, &item.saved.key).await?;
                }
            }
            let created: Vec<&NewCreate> = items
                .iter()
                .zip(&plans)
                .filter(|(_, p)| matches!(p, Plan::Create { .. }))
                .map(|(item, _)| item)
                .collect();
            if !created.is_empty() {
                let rows: Vec<&Shipment> = created.iter().map(|i| &i.shipment).collect();
                let ids: Vec<Uuid> = rows.iter().map(|s| s.id).collect();
                let events = rows.iter().map(|s| first_event(s)).collect();
                let saved_keys: Vec<&IdempotencyKey> = created.iter().map(|i| &i.saved).collect();
                let shared: &Conn = c;
                // The shipments first: the others refer to them.
                let insert = diesel::insert_into(dsl::shipments).values(rows);
                futures_util::try_join!(
                    insert.execute(&mut &*shared),
                    events::first_many(shared, events),
                    outbox::enqueue_submissions(shared, &ids),
                    idempotency::save_many(shared, &saved_keys),
                )?;
            }
            Ok((plans, saved))
        })
        .await;
    let (plans, mut saved) = match written {
        Ok(written) => written,
        Err(e) => return Err((e, items)),
    };
    Ok(items
        .into_iter()
        .zip(plans)
        .map(|(item, p)| outcome(item, p, &mut saved))
        .collect())
}

/// The active shipments of any of these dossier codes, of any client (a superset: the caller
/// matches client, code and kind). By code alone: with the clients too, PostgreSQL's generic
/// plan for the prepared statement ANDs in a scan of every shipment of the client (37 ms at
/// 400,000 shipments, growing with the ledger; a single create's look-up met it too, 1 ms
/// instead of 7 µs in a loop benchmark).
async fn active_for_dossiers(
    mut conn: &Conn,
    dossiers: &[&str],
) -> QueryResult<Vec<(String, String, Kind, Uuid)>> {
    dsl::shipments
        .filter(dsl::dossier_code.eq_any(dossiers))
        .filter(dsl::status.ne_all(Status::TERMINAL))
        .select((dsl::client_id, dsl::dossier_code, dsl::kind, dsl::id))
        .load(&mut conn)
        .await
}

/// Creates a shipment in one transaction: the idempotency check, the shipment, its first
/// event, its carrier submission job and the saved response. The same decisions as
/// [`create_many`] (one [`plan`]), with single-row statements, which PostgreSQL keeps
/// prepared.
pub async fn create(conn: &mut Conn, item: NewCreate) -> Result<Created, CreateError> {
    let written = conn
        .transaction::<_, DbError, _>(async |c| {
            let (s, k) = (&item.shipment, &item.saved);
            // The reads in one round trip: the key's lock, its saved response, an active
            // shipment for the dossier. PostgreSQL runs them in this order, so the reads see
            // whatever a previous holder of the lock committed.
            let ((), locked, saved, existing) = futures_util::try_join!(
                prefer_indexes(c),
                idempotency::try_lock(c, &k.client_id, &k.key),
                idempotency::find(c, &k.client_id, &k.key),
                active_for_dossier(c, &s.client_id, &s.dossier_code, s.kind()),
            )?;
            let saved: Vec<IdempotencyKey> = saved.into_iter().collect();
            let active: Vec<_> = existing
                .map(|id| (s.client_id.clone(), s.dossier_code.clone(), s.kind(), id))
                .into_iter()
                .collect();
            let p = plan(
                std::slice::from_ref(&item),
                &[locked],
                &saved,
                &active,
                Utc::now(),
            )
            .pop()
            .expect("one plan per create");
            if let Plan::Create { forget_expired_key } = p {
                if forget_expired_key {
                    idempotency::forget(c, &k.client_id, &k.key).await?;
                }
                let event = first_event(s);
                let shared: &Conn = c;
                // The shipment first: the others refer to it.
                let insert = diesel::insert_into(dsl::shipments).values(s);
                futures_util::try_join!(
                    insert.execute(&mut &*shared),
                    events::first(shared, event),
                    outbox::enqueue(
                        shared,
                        JobKind::CarrierSubmit,
                        Some(s.id),
                        serde_json::json!({})
                    ),
                    idempotency::save(shared, k),
                )?;
            }
            Ok((p, saved))
        })
        .await;
    match written {
        Ok((p, mut saved)) => outcome(item, p, &mut saved),
        // Another request created an active shipment for the dossier between our check and
        // our insert: the unique index caught it.
        Err(DbError::DatabaseError(DatabaseErrorKind::UniqueViolation, info))
            if info.constraint_name() == Some("shipments_one_active_per_dossier") =>
        {
            let s = &item.shipment;
            match active_for_dossier(conn, &s.client_id, &s.dossier_code, s.kind()).await? {
                Some(id) => Err(CreateError::DuplicateActive(id)),
                None => Err(CreateError::InFlight),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The first event of a new shipment.
fn first_event(s: &Shipment) -> NewEvent {
    NewEvent::status_change(
        s.id,
        Status::Requested,
        Source::Gateway,
        &s.client_id,
        None,
        s.created_at,
    )
}

/// What a create answers once its transaction has committed: the decision [`plan`] took,
/// with the row or the saved response moved out, not copied.
fn outcome(item: NewCreate, p: Plan, saved: &mut [IdempotencyKey]) -> Result<Created, CreateError> {
    match p {
        Plan::Create { .. } => Ok(Created::New {
            shipment: Box::new(item.shipment),
            body: item.saved.response_body,
        }),
        Plan::Answer(Answer::InFlight) => Err(CreateError::InFlight),
        Plan::Answer(Answer::KeyReused) => Err(CreateError::KeyReused),
        Plan::Answer(Answer::DuplicateActive(id)) => Err(CreateError::DuplicateActive(id)),
        Plan::Answer(Answer::Replayed(i)) => Ok(Created::Replayed {
            status: saved[i].response_status as u16,
            body: std::mem::take(&mut saved[i].response_body),
        }),
    }
}

/// Who asks for a change, for the event history and the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: String,
    pub name: Option<String>,
    pub source: Source,
    /// Staff actions are written to the audit log.
    pub is_staff: bool,
}

impl Actor {
    /// A staff member, by the token's subject and name.
    pub fn staff(id: &str, name: Option<&str>) -> Actor {
        Actor {
            id: id.to_owned(),
            name: name.map(str::to_owned),
            source: Source::Staff,
            is_staff: true,
        }
    }
}

/// Moves a locked shipment to `to`, bumps its sequence, appends the event and writes the
/// callback that tells the dossier system. The caller holds the row lock (from
/// [`find_for_update`]) inside a transaction.
pub async fn change_status(
    conn: &mut Conn,
    s: &mut Shipment,
    to: Status,
    event: NewEvent,
    reason: Option<String>,
) -> QueryResult<()> {
    write_status(conn, s, to, event, reason, None).await
}

/// [`record_carrier_order`] and [`change_status`] in one: the order's columns are written by
/// the status change's statement. One UPDATE instead of two matters here: both change
/// indexed columns, so each would write a new entry in every index of `shipments`.
pub async fn record_carrier_order_and_status(
    conn: &mut Conn,
    s: &mut Shipment,
    order: &CarrierOrder<'_>,
    to: Status,
    event: NewEvent,
) -> QueryResult<()> {
    write_status(conn, s, to, event, None, Some(order)).await
}

/// The columns a status change writes, from the locked row as the caller changed it (the
/// carrier's report, the pickup and delivery times go in the same statement).
#[derive(AsChangeset)]
#[diesel(table_name = shipments, treat_none_as_null = true)]
struct StatusColumns<'a> {
    status: Status,
    sequence: i32,
    updated_at: chrono::DateTime<Utc>,
    status_reason: Option<&'a str>,
    carrier_code: Option<i32>,
    carrier_text: Option<&'a str>,
    carrier_at: Option<chrono::DateTime<Utc>>,
    picked_up_at: Option<chrono::DateTime<Utc>>,
    delivered_at: Option<chrono::DateTime<Utc>>,
}

impl<'a> StatusColumns<'a> {
    fn of(s: &'a Shipment) -> Self {
        StatusColumns {
            status: s.status,
            sequence: s.sequence,
            updated_at: s.updated_at,
            status_reason: s.status_reason.as_deref(),
            carrier_code: s.carrier_code,
            carrier_text: s.carrier_text.as_deref(),
            carrier_at: s.carrier_at,
            picked_up_at: s.picked_up_at,
            delivered_at: s.delivered_at,
        }
    }
}

/// The columns of the carrier order, from the locked row.
#[derive(AsChangeset)]
#[diesel(table_name = shipments, treat_none_as_null = true)]
struct OrderColumns<'a> {
    tracking_number: Option<&'a str>,
    carrier_order_id: Option<&'a str>,
    next_poll_at: Option<chrono::DateTime<Utc>>,
    carrier_fee_vnd: Option<i64>,
    carrier_cod_vnd: Option<i64>,
}

impl<'a> OrderColumns<'a> {
    fn of(s: &'a Shipment) -> Self {
        OrderColumns {
            tracking_number: s.tracking_number.as_deref(),
            carrier_order_id: s.carrier_order_id.as_deref(),
            next_poll_at: s.next_poll_at,
            carrier_fee_vnd: s.carrier_fee_vnd,
            carrier_cod_vnd: s.carrier_cod_vnd,
        }
    }
}

async fn write_status(
    conn: &mut Conn,
    s: &mut Shipment,
    to: Status,
    event: NewEvent,
    reason: Option<String>,
    order: Option<&CarrierOrder<'_>>,
) -> QueryResult<()> {
    if let Some(order) = order {
        order.set_on(s);
    }
    let change = Change::stage(s, to, event, reason);
    let s: &Shipment = s;
    // The row, the event and the callback with its job in one round trip (the row first; the
    // event's `seq` read waits for nothing but the row lock the caller holds).
    let shared: &Conn = conn;
    let row = async {
        let target = diesel::update(dsl::shipments.find(s.id));
        if order.is_some() {
            target
                .set((StatusColumns::of(s), OrderColumns::of(s)))
                .prepared()
                .execute(&mut &*shared)
                .await
        } else {
            target
                .set(StatusColumns::of(s))
                .prepared()
                .execute(&mut &*shared)
                .await
        }
    };
    futures_util::try_join!(row, change.write(shared))?;
    Ok(())
}

/// A status change made on the locked row in memory, with the history it writes: its event,
/// and its callback made from the row as the change left it.
#[derive(Debug)]
pub struct Change {
    event: NewEvent,
    callback: callbacks::Message,
}

impl Change {
    /// Moves `s` to `to` in memory (status, sequence, time, reason) and makes the change's
    /// history; nothing is written yet.
    pub fn stage(s: &mut Shipment, to: Status, event: NewEvent, reason: Option<String>) -> Change {
        let previous = s.status();
        s.status = to;
        s.sequence += 1;
        s.updated_at = Utc::now();
        if reason.is_some() {
            s.status_reason = reason;
        }
        let why = s
            .status_reason
            .clone()
            .filter(|_| matches!(to, Status::Rejected | Status::Cancelled));
        let callback = callbacks::Message::of(
            s,
            CallbackType::for_status(s.status()),
            Some(previous),
            event.occurred_at,
            why,
        );
        Change { event, callback }
    }

    /// The event, and the callback with its job, pipelined (a shared reference: it may be
    /// pipelined with the row's write too).
    pub async fn write(self, conn: &Conn) -> QueryResult<()> {
        futures_util::try_join!(events::append(conn, self.event), self.callback.write(conn))?;
        Ok(())
    }
}

/// The columns a batch of carrier reports changes, beyond the status change's.
#[derive(AsChangeset)]
#[diesel(table_name = shipments, treat_none_as_null = true)]
struct ReportColumns<'a> {
    last_report_at: Option<chrono::DateTime<Utc>>,
    next_poll_at: Option<chrono::DateTime<Utc>>,
    tracking_number: Option<&'a str>,
}

/// Writes the locked row after a batch of carrier reports, whose changes were staged with
/// [`Change::stage`]: the status columns (unchanged if no report moved it) and the tracking
/// columns, one row version. A status change rewrites every index of `shipments` (the status
/// is indexed): one write per batch, not one per change and one for the tracking columns. A
/// shared reference, so that the caller may pipeline it with the changes' history.
pub async fn write_reported(mut conn: &Conn, s: &Shipment) -> QueryResult<()> {
    let report = ReportColumns {
        last_report_at: s.last_report_at,
        next_poll_at: s.next_poll_at,
        tracking_number: s.tracking_number.as_deref(),
    };
    diesel::update(dsl::shipments.find(s.id))
        .set((StatusColumns::of(s), report))
        .prepared()
        .execute(&mut conn)
        .await?;
    Ok(())
}

#[derive(Debug)]
pub enum CancelOutcome {
    /// Cancelled now (or already): 200.
    Cancelled(Box<Shipment>),
    /// The carrier holds the order and has been asked to cancel it: 202.
    AskedCarrier(Box<Shipment>),
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("shipment not found")]
    NotFound,
    #[error(transparent)]
    Transition(#[from] crate::domain::TransitionError),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Cancels a shipment (SPEC §3): from `requested` at once; from `submitted` by asking the
/// carrier; a repeat is harmless.
pub async fn cancel(
    conn: &mut Conn,
    id: Uuid,
    v: &Visibility,
    actor: &Actor,
    reason: &str,
) -> Result<CancelOutcome, ActionError> {
    conn.transaction::<_, ActionError, _>(async move |c| {
        let mut s = find_for_update(c, id, v)
            .await?
            .ok_or(ActionError::NotFound)?;
        let before = s.status.as_str();
        let now = Utc::now();
        let outcome = match Action::Cancel.apply(s.status())? {
            Outcome::MoveTo(to) => {
                let ev = NewEvent::status_change(
                    s.id,
                    to,
                    actor.source,
                    &actor.id,
                    Some(reason.to_owned()),
                    now,
                );
                change_status(c, &mut s, to, ev, Some(reason.to_owned())).await?;
                CancelOutcome::Cancelled(Box::new(s.clone()))
            }
            Outcome::AskCarrierToCancel => {
                if !outbox::pending_for(c, JobKind::CarrierCancel, s.id).await? {
                    outbox::enqueue(
                        c,
                        JobKind::CarrierCancel,
                        Some(s.id),
                        serde_json::json!({ "reason": reason }),
                    )
                    .await?;
                    set_cancel_state(c, s.id, Some(CancelState::Requested), None, None).await?;
                    s.cancel_state = Some(CancelState::Requested);
                    s.cancel_note = None;
                    let mut ev = NewEvent::status_change(
                        s.id,
                        s.status(),
                        actor.source,
                        &actor.id,
                        Some(format!("cancellation requested from the carrier: {reason}")),
                        now,
                    );
                    ev.status = None;
                    ev.applied = false;
                    events::append(c, ev).await?;
                }
                CancelOutcome::AskedCarrier(Box::new(s.clone()))
            }
            Outcome::AlreadyDone => return Ok(CancelOutcome::Cancelled(Box::new(s))),
        };
        if actor.is_staff {
            audit::record(
                c,
                NewAuditEntry {
                    actor_id: actor.id.clone(),
                    actor_name: actor.name.clone(),
                    action: AuditAction::Cancel,
                    shipment_id: Some(s.id),
                    reason: reason.to_owned(),
                    details: serde_json::json!({ "status_before": before }),
                },
            )
            .await?;
        }
        Ok(outcome)
    })
    .await
}

/// The tracking numbers of the shipments `ids` that the caller may see, in the order of
/// `ids`; shipments without one yet are left out.
pub async fn tracking_numbers(
    conn: &mut Conn,
    v: &Visibility,
    ids: &[Uuid],
) -> QueryResult<Vec<(Uuid, String)>> {
    let found: Vec<(Uuid, Option<String>)> = visible(dsl::shipments.into_boxed(), v)
        .filter(dsl::id.eq_any(ids))
        .select((dsl::id, dsl::tracking_number))
        .load(conn)
        .await?;
    let by_id: std::collections::HashMap<Uuid, String> = found
        .into_iter()
        .filter_map(|(id, t)| Some((id, t?)))
        .collect();
    Ok(ids
        .iter()
        .filter_map(|id| Some((*id, by_id.get(id)?.clone())))
        .collect())
}

/// Records where a cancellation asked of the carrier stands (`None`: nothing pending).
pub async fn set_cancel_state(
    conn: &mut Conn,
    id: Uuid,
    state: Option<CancelState>,
    case_id: Option<&str>,
    note: Option<&str>,
) -> QueryResult<()> {
    diesel::update(dsl::shipments.find(id))
        .set((
            dsl::cancel_state.eq(state.map(CancelState::as_str)),
            dsl::cancel_case_id.eq(case_id),
            dsl::cancel_note.eq(note),
        ))
        .prepared()
        .execute(conn)
        .await
        .map(|_| ())
}

diesel::define_sql_function!(
    fn coalesce(
        x: diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
        y: diesel::sql_types::Nullable<diesel::sql_types::BigInt>,
    ) -> diesel::sql_types::Nullable<diesel::sql_types::BigInt>
);

/// Records the postage and COD amount the carrier reports, where it reported them (what it
/// did not report is kept).
pub async fn record_carrier_fees(
    conn: &mut Conn,
    id: Uuid,
    fee_vnd: Option<i64>,
    cod_vnd: Option<i64>,
) -> QueryResult<()> {
    if fee_vnd.is_none() && cod_vnd.is_none() {
        return Ok(());
    }
    diesel::update(dsl::shipments.find(id))
        .set((
            dsl::carrier_fee_vnd.eq(coalesce(fee_vnd, dsl::carrier_fee_vnd)),
            dsl::carrier_cod_vnd.eq(coalesce(cod_vnd, dsl::carrier_cod_vnd)),
        ))
        .prepared()
        .execute(conn)
        .await
        .map(|_| ())
}

/// A carrier order created (or found) for a shipment: its tracking number and order id, the
/// fees the carrier reported (what it did not report is kept), and the first tracking poll.
#[derive(Debug, Clone, Copy)]
pub struct CarrierOrder<'a> {
    pub item_code: &'a str,
    pub original_id: &'a str,
    pub next_poll_at: chrono::DateTime<Utc>,
    pub fee_vnd: Option<i64>,
    pub cod_vnd: Option<i64>,
}

impl CarrierOrder<'_> {
    fn set_on(&self, s: &mut Shipment) {
        s.tracking_number = Some(self.item_code.to_owned());
        s.carrier_order_id = Some(self.original_id.to_owned());
        s.next_poll_at = Some(self.next_poll_at);
        s.carrier_fee_vnd = self.fee_vnd.or(s.carrier_fee_vnd);
        s.carrier_cod_vnd = self.cod_vnd.or(s.carrier_cod_vnd);
    }
}

/// Records the carrier order on the locked shipment `s` when its status does not change
/// (otherwise [`record_carrier_order_and_status`]). `s` is updated to match.
pub async fn record_carrier_order(
    conn: &mut Conn,
    s: &mut Shipment,
    order: &CarrierOrder<'_>,
) -> QueryResult<()> {
    order.set_on(s);
    diesel::update(dsl::shipments.find(s.id))
        .set(OrderColumns::of(s))
        .prepared()
        .execute(conn)
        .await?;
    Ok(())
}

/// A shipment due for a tracking poll.
#[derive(QueryableByName, Debug)]
pub struct DuePoll {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub sale_order_code: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub tracking_number: Option<String>,
}

/// Claims up to `batch` shipments due for a tracking poll, pushing their next poll `quiet`
/// forward so that another process does not poll them too.
pub async fn claim_due_polls(
    conn: &mut Conn,
    batch: i64,
    quiet: std::time::Duration,
) -> QueryResult<Vec<DuePoll>> {
    use diesel::sql_types::{BigInt, Interval};
    diesel::sql_query(
        "UPDATE shipments SET next_poll_at = now() + $1 \
         WHERE id IN (SELECT id FROM shipments WHERE next_poll_at <= now() \
                      ORDER BY next_poll_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
         RETURNING id, sale_order_code, tracking_number",
    )
    .bind::<Interval, _>(diesel::pg::data_types::PgInterval::from_microseconds(
        quiet.as_micros() as i64,
    ))
    .bind::<BigInt, _>(batch)
    .load(conn)
    .await
}

/// Data staff may correct before resubmitting a rejected shipment (already validated).
pub use crate::domain::request::Corrections;

impl Corrections {
    /// What changed, for the audit log; personal data masked.
    fn describe(&self, s: &Shipment) -> serde_json::Value {
        use crate::domain::mask;
        let mut d = serde_json::Map::new();
        if let Some(n) = &self.full_name {
            d.insert(
                "full_name".into(),
                serde_json::json!([mask::name(&s.person_name), mask::name(n)]),
            );
        }
        if let Some(p) = &self.phone {
            d.insert(
                "phone".into(),
                serde_json::json!([mask::phone(&s.person_phone), mask::phone(p)]),
            );
        }
        if self.address_line.is_some() {
            d.insert("address.line".into(), serde_json::json!("corrected"));
        }
        if let (Some(p), Some(c)) = (&self.province_code, &self.commune_code) {
            d.insert(
                "address.commune".into(),
                serde_json::json!([
                    format!("{}/{}", s.province_code, s.commune_code),
                    format!("{p}/{c}")
                ]),
            );
        }
        serde_json::Value::Object(d)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error("shipment not found")]
    NotFound,
    #[error("nothing to retry: the shipment is {0} and has no dead job")]
    NothingToRetry(Status),
    #[error("corrections apply only to a rejected shipment")]
    CorrectionsNeedRejected,
    #[error("an active shipment exists for this dossier")]
    DuplicateActive(Uuid),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Staff retry (SPEC §3): a `rejected` shipment goes back to `requested`, with corrected data
/// and a new carrier reference, and is submitted again; a shipment's dead jobs are queued
/// again. Audited.
pub async fn retry(
    conn: &mut Conn,
    id: Uuid,
    v: &Visibility,
    actor: &Actor,
    reason: &str,
    corrections: Corrections,
) -> Result<Shipment, RetryError> {
    let outcome = conn
        .transaction::<_, RetryError, _>(async move |c| {
            let mut s = find_for_update(c, id, v)
                .await?
                .ok_or(RetryError::NotFound)?;
            let before = s.clone();
            let dead = outbox::requeue_dead_for(c, s.id).await?;
            let mut details =
                serde_json::json!({ "status_before": before.status, "jobs_requeued": dead });
            match Action::Retry.apply(s.status()) {
                Ok(Outcome::MoveTo(to)) => {
                    let new_code = format!(
                        "{}-R{}",
                        s.sale_order_code
                            .split("-R")
                            .next()
                            .unwrap_or(&s.sale_order_code),
                        s.sequence + 1
                    );
                    details["corrections"] = corrections.describe(&s);
                    details["sale_order_code_before"] = serde_json::json!(s.sale_order_code);
                    s.person_name = corrections.full_name.clone().unwrap_or(s.person_name);
                    s.person_phone = corrections.phone.clone().unwrap_or(s.person_phone);
                    s.address_line = corrections.address_line.clone().unwrap_or(s.address_line);
                    s.province_code = corrections.province_code.clone().unwrap_or(s.province_code);
                    s.commune_code = corrections.commune_code.clone().unwrap_or(s.commune_code);
                    s.sale_order_code = new_code;
                    s.tracking_number = None;
                    s.carrier_order_id = None;
                    s.carrier_code = None;
                    s.carrier_text = None;
                    s.carrier_at = None;
                    s.next_poll_at = None;
                    diesel::update(dsl::shipments.find(s.id))
                        .set((
                            dsl::person_name.eq(&s.person_name),
                            dsl::person_phone.eq(&s.person_phone),
                            dsl::address_line.eq(&s.address_line),
                            dsl::province_code.eq(&s.province_code),
                            dsl::commune_code.eq(&s.commune_code),
                            dsl::sale_order_code.eq(&s.sale_order_code),
                            dsl::tracking_number.eq(None::<String>),
                            dsl::carrier_order_id.eq(None::<String>),
                            dsl::carrier_code.eq(None::<i32>),
                            dsl::carrier_text.eq(None::<String>),
                            dsl::carrier_at.eq(None::<chrono::DateTime<Utc>>),
                            dsl::next_poll_at.eq(None::<chrono::DateTime<Utc>>),
                        ))
                        .execute(c)
                        .await?;
                    s.status_reason = None;
                    let ev = NewEvent::status_change(
                        s.id,
                        to,
                        Source::Staff,
                        &actor.id,
                        Some(reason.to_owned()),
                        Utc::now(),
                    );
                    change_status(c, &mut s, to, ev, None).await?;
                    outbox::enqueue(
                        c,
                        JobKind::CarrierSubmit,
                        Some(s.id),
                        serde_json::json!({ "retry": true }),
                    )
                    .await?;
                }
                _ if !corrections.is_empty() => return Err(RetryError::CorrectionsNeedRejected),
                _ if dead > 0 => {
                    let mut ev = NewEvent::status_change(
                        s.id,
                        s.status(),
                        Source::Staff,
                        &actor.id,
                        Some(format!("{dead} dead job(s) queued again: {reason}")),
                        Utc::now(),
                    );
                    ev.status = None;
                    ev.applied = false;
                    events::append(c, ev).await?;
                }
                _ => return Err(RetryError::NothingToRetry(s.status)),
            }
            audit::record(
                c,
                NewAuditEntry {
                    actor_id: actor.id.clone(),
                    actor_name: actor.name.clone(),
                    action: AuditAction::Retry,
                    shipment_id: Some(s.id),
                    reason: reason.to_owned(),
                    details,
                },
            )
            .await?;
            Ok(s)
        })
        .await;
    match outcome {
        Err(RetryError::Db(DbError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)))
            if info.constraint_name() == Some("shipments_one_active_per_dossier") =>
        {
            let s = find(conn, id, v).await?.ok_or(RetryError::NotFound)?;
            match active_for_dossier(conn, &s.client_id, &s.dossier_code, s.kind()).await? {
                Some(other) => Err(RetryError::DuplicateActive(other)),
                None => Err(RetryError::NothingToRetry(s.status)),
            }
        }
        other => other,
    }
}

/// Staff replay of a shipment's dead-lettered (or held) callbacks. Audited.
pub async fn replay_callbacks(
    conn: &mut Conn,
    id: Uuid,
    v: &Visibility,
    actor: &Actor,
    reason: &str,
) -> Result<usize, ActionError> {
    conn.transaction::<_, ActionError, _>(async move |c| {
        let s = find_for_update(c, id, v)
            .await?
            .ok_or(ActionError::NotFound)?;
        let n = callbacks::replay(c, s.id).await?;
        audit::record(
            c,
            NewAuditEntry {
                actor_id: actor.id.clone(),
                actor_name: actor.name.clone(),
                action: AuditAction::ReplayCallbacks,
                shipment_id: Some(s.id),
                reason: reason.to_owned(),
                details: serde_json::json!({ "callbacks": n }),
            },
        )
        .await?;
        Ok(n)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn create(key: &str, dossier: &str, kind: Kind) -> NewCreate {
        let mut shipment = Shipment::example();
        shipment.status = Status::Requested;
        shipment.sequence = 1;
        shipment.kind = kind;
        shipment.dossier_code = dossier.into();
        let hash = format!("hash of {key}");
        NewCreate::new(
            shipment,
            key.into(),
            hash,
            serde_json::json!({}),
            Duration::days(1),
        )
    }

    fn saved(item: &NewCreate, hash: &str, expires_in: Duration) -> IdempotencyKey {
        IdempotencyKey {
            request_hash: hash.into(),
            response_status: 201,
            response_body: serde_json::json!({"id": "earlier"}),
            shipment_id: Some(Uuid::now_v7()),
            expires_at: Utc::now() + expires_in,
            ..item.saved.clone()
        }
    }

    const NEW: Plan = Plan::Create {
        forget_expired_key: false,
    };

    #[test]
    fn a_group_of_distinct_creates_creates_them_all() {
        let items = [
            create("k1", "d1", Kind::Pickup),
            create("k2", "d2", Kind::Pickup),
            // The same dossier, the other kind: a pickup and a delivery may both be active.
            create("k3", "d1", Kind::Delivery),
        ];
        let plans = plan(&items, &[true; 3], &[], &[], Utc::now());
        assert_eq!(plans, [NEW, NEW, NEW]);
    }

    #[test]
    fn a_key_whose_lock_is_held_is_in_flight() {
        let items = [create("k1", "d1", Kind::Pickup)];
        let plans = plan(&items, &[false], &[], &[], Utc::now());
        assert_eq!(plans, [Plan::Answer(Answer::InFlight)]);
    }

    #[test]
    fn a_key_used_twice_in_a_group_is_in_flight_the_second_time() {
        let items = [
            create("k1", "d1", Kind::Pickup),
            create("k1", "d2", Kind::Pickup),
        ];
        let plans = plan(&items, &[true; 2], &[], &[], Utc::now());
        assert_eq!(plans, [NEW, Plan::Answer(Answer::InFlight)]);
    }

    #[test]
    fn saved_keys_replay_refuse_or_expire_as_alone() {
        let items = [
            create("same", "d1", Kind::Pickup),
            create("other", "d2", Kind::Pickup),
            create("expired", "d3", Kind::Pickup),
        ];
        let rows = [
            saved(&items[0], &items[0].saved.request_hash, Duration::hours(1)),
            saved(&items[1], "a different request", Duration::hours(1)),
            saved(&items[2], "a different request", -Duration::seconds(1)),
        ];
        // The rows come back from the database in any order.
        let rows = [rows[2].clone(), rows[0].clone(), rows[1].clone()];
        let plans = plan(&items, &[true; 3], &rows, &[], Utc::now());
        assert_eq!(
            plans,
            [
                Plan::Answer(Answer::Replayed(1)),
                Plan::Answer(Answer::KeyReused),
                Plan::Create {
                    forget_expired_key: true
                },
            ]
        );
    }

    #[test]
    fn an_active_dossier_in_the_ledger_or_earlier_in_the_group_is_a_duplicate() {
        let items = [
            create("k1", "active", Kind::Pickup),
            create("k2", "d2", Kind::Pickup),
            create("k3", "d2", Kind::Pickup),
        ];
        let existing = Uuid::now_v7();
        let active = [(
            items[0].shipment.client_id.clone(),
            "active".to_owned(),
            Kind::Pickup,
            existing,
        )];
        let plans = plan(&items, &[true; 3], &[], &active, Utc::now());
        assert_eq!(
            plans,
            [
                Plan::Answer(Answer::DuplicateActive(existing)),
                NEW,
                Plan::Answer(Answer::DuplicateActive(items[1].shipment.id)),
            ]
        );
    }

    #[test]
    fn another_clients_dossier_of_the_same_code_is_not_a_duplicate() {
        let mut other = create("k2", "d1", Kind::Pickup);
        other.shipment.client_id = "another".into();
        other.saved.client_id = "another".into();
        let items = [create("k1", "d1", Kind::Pickup), other];
        let plans = plan(&items, &[true; 2], &[], &[], Utc::now());
        assert_eq!(plans, [NEW, NEW]);
    }
}

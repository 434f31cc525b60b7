//! Queries and transactions on shipments. Every status change goes through
//! [`change_status`], so the event history, the sequence number and the work a change causes
//! are always written together.

use super::models::{IdempotencyKey, NewAuditEntry, NewEvent, Shipment};
use super::schema::shipments::{self, dsl};
use super::{Conn, audit, events, idempotency};
use crate::domain::status::Outcome;
use crate::domain::{Action, Kind, Source, Status};
use crate::jobs::{self, JobKind};
use chrono::Utc;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DbError};
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

const TERMINAL: [&str; 4] = ["delivered", "returned", "cancelled", "rejected"];

diesel::define_sql_function!(fn reverse(x: diesel::sql_types::Text) -> diesel::sql_types::Text);
diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

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

/// Locks the shipment's row for the rest of the transaction.
pub async fn find_for_update(
    conn: &mut Conn,
    id: Uuid,
    v: &Visibility,
) -> QueryResult<Option<Shipment>> {
    let found = dsl::shipments
        .find(id)
        .select(Shipment::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    Ok(found.filter(|s| v.allows(s)))
}

pub async fn active_for_dossier(
    conn: &mut Conn,
    client: &str,
    dossier: &str,
    kind: Kind,
) -> QueryResult<Option<Uuid>> {
    dsl::shipments
        .filter(dsl::client_id.eq(client))
        .filter(dsl::dossier_code.eq(dossier))
        .filter(dsl::kind.eq(kind.as_str()))
        .filter(dsl::status.ne_all(TERMINAL))
        .select(dsl::id)
        .first(conn)
        .await
        .optional()
}

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub dossier_code: Option<String>,
    pub kind: Option<Kind>,
    pub status: Option<Status>,
    pub office_code: Option<String>,
    pub late: Option<bool>,
    /// Tracking number, dossier code, last digits of the phone, or part of the name.
    pub q: Option<String>,
    /// Keyset cursor: only shipments older than this one (ids are UUIDv7, time-ordered).
    pub before: Option<Uuid>,
    pub limit: i64,
}

/// Newest first; one more row than `limit` tells the caller whether there is a next page.
pub async fn list(conn: &mut Conn, v: &Visibility, f: &ListFilter) -> QueryResult<Vec<Shipment>> {
    let mut q = visible(dsl::shipments.into_boxed(), v);
    if let Some(d) = &f.dossier_code {
        q = q.filter(dsl::dossier_code.eq(d));
    }
    if let Some(k) = f.kind {
        q = q.filter(dsl::kind.eq(k.as_str()));
    }
    if let Some(s) = f.status {
        q = q.filter(dsl::status.eq(s.as_str()));
    }
    if let Some(o) = &f.office_code {
        q = q.filter(dsl::office_code.eq(o));
    }
    if let Some(l) = f.late {
        q = q.filter(dsl::late.eq(l));
    }
    if let Some(text) = f.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        let is_phone_fragment = digits.len() >= 3
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || c == ' ' || c == '+');
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        let by_text = dsl::tracking_number
            .eq(text.to_owned())
            .or(dsl::dossier_code.eq(text.to_owned()))
            .or(lower(dsl::person_name).like(pattern).escape('\\'));
        if is_phone_fragment {
            let reversed: String = digits.chars().rev().collect();
            q = q.filter(by_text.or(reverse(dsl::person_phone).like(format!("{reversed}%"))));
        } else {
            q = q.filter(by_text);
        }
    }
    if let Some(b) = f.before {
        q = q.filter(dsl::id.lt(b));
    }
    q.order(dsl::id.desc())
        .limit(f.limit + 1)
        .select(Shipment::as_select())
        .load(conn)
        .await
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
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

pub struct IdempotencyRequest<'a> {
    pub client_id: &'a str,
    pub key: &'a str,
    pub hash: String,
    pub ttl: chrono::Duration,
}

/// Creates a shipment in one transaction: the idempotency check, the shipment, its first
/// event, its carrier submission job and the saved response. `render` turns the stored row
/// into the response body that is saved for replays.
pub async fn create(
    conn: &mut Conn,
    new: Shipment,
    idem: IdempotencyRequest<'_>,
    render: impl FnOnce(&Shipment) -> serde_json::Value + Send,
) -> Result<Created, CreateError> {
    let (client, dossier, kind) = (new.client_id.clone(), new.dossier_code.clone(), new.kind());
    let outcome = conn
        .transaction::<_, CreateError, _>(async move |c| {
            if !idempotency::try_lock(c, idem.client_id, idem.key).await? {
                return Err(CreateError::InFlight);
            }
            if let Some(saved) = idempotency::find(c, idem.client_id, idem.key).await? {
                if saved.request_hash != idem.hash {
                    return Err(CreateError::KeyReused);
                }
                return Ok(Created::Replayed {
                    status: saved.response_status as u16,
                    body: saved.response_body,
                });
            }
            if let Some(existing) =
                active_for_dossier(c, &new.client_id, &new.dossier_code, new.kind()).await?
            {
                return Err(CreateError::DuplicateActive(existing));
            }
            let shipment: Shipment = diesel::insert_into(dsl::shipments)
                .values(&new)
                .returning(Shipment::as_returning())
                .get_result(c)
                .await?;
            events::first(
                c,
                NewEvent::status_change(
                    shipment.id,
                    Status::Requested,
                    Source::Gateway,
                    &shipment.client_id,
                    None,
                    shipment.created_at,
                ),
            )
            .await?;
            jobs::enqueue(
                c,
                JobKind::CarrierSubmit,
                Some(shipment.id),
                serde_json::json!({}),
            )
            .await?;
            let body = render(&shipment);
            idempotency::save(
                c,
                &IdempotencyKey {
                    client_id: idem.client_id.to_owned(),
                    key: idem.key.to_owned(),
                    request_hash: idem.hash,
                    response_status: 201,
                    response_body: body.clone(),
                    shipment_id: Some(shipment.id),
                    created_at: shipment.created_at,
                    expires_at: shipment.created_at + idem.ttl,
                },
            )
            .await?;
            Ok(Created::New {
                shipment: Box::new(shipment),
                body,
            })
        })
        .await;
    match outcome {
        // Another request created an active shipment for the dossier between our check and
        // our insert: the unique index caught it.
        Err(CreateError::Db(DbError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)))
            if info.constraint_name() == Some("shipments_one_active_per_dossier") =>
        {
            match active_for_dossier(conn, &client, &dossier, kind).await? {
                Some(id) => Err(CreateError::DuplicateActive(id)),
                None => Err(CreateError::InFlight),
            }
        }
        other => other,
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

/// Moves a locked shipment to `to`, bumps its sequence and appends the event. The caller holds
/// the row lock (from [`find_for_update`]) inside a transaction.
pub async fn change_status(
    conn: &mut Conn,
    s: &mut Shipment,
    to: Status,
    event: NewEvent,
    reason: Option<String>,
) -> QueryResult<()> {
    let now = Utc::now();
    s.status = to.as_str().to_owned();
    s.sequence += 1;
    s.updated_at = now;
    if reason.is_some() {
        s.status_reason = reason;
    }
    diesel::update(dsl::shipments.find(s.id))
        .set((
            dsl::status.eq(&s.status),
            dsl::sequence.eq(s.sequence),
            dsl::updated_at.eq(now),
            dsl::status_reason.eq(&s.status_reason),
        ))
        .execute(conn)
        .await?;
    events::append(conn, event).await?;
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
        let before = s.status.clone();
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
                if !jobs::pending_for(c, JobKind::CarrierCancel, s.id).await? {
                    jobs::enqueue(
                        c,
                        JobKind::CarrierCancel,
                        Some(s.id),
                        serde_json::json!({ "reason": reason }),
                    )
                    .await?;
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
                    action: "cancel".into(),
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

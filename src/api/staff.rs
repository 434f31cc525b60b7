//! Staff actions (SPEC §3, scope `staff:act`): retry a rejected shipment or its dead jobs,
//! replay dead-lettered callbacks, re-enable a client's callbacks. Every one is audited.

use super::dto::ShipmentView;
use super::extract::{json_body, shipment_id};
use crate::auth::{Principal, Scope};
use crate::domain::request::{self, CorrectionsIn};
use crate::error::{ApiError, Problem};
use crate::ledger::attention;
use crate::ledger::shipments::{self as ledger, ActionError, Actor, RetryError};
use crate::state::AppState;
use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct RetryRequest {
    /// Why (kept in the audit log).
    pub reason: String,
    /// Data to correct before resubmitting (only for a `rejected` shipment).
    #[serde(default)]
    pub corrections: Option<CorrectionsIn>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReasonRequest {
    pub reason: String,
}

fn actor(who: &Principal) -> Actor {
    Actor::staff(&who.sub, who.name.as_deref())
}

/// A staff action's body, read, and its reason, checked.
async fn reasoned<T: DeserializeOwned>(
    state: &AppState,
    body: web::Payload,
    reason: impl Fn(&T) -> &str,
) -> Result<(T, String), ApiError> {
    let req: T = json_body(body, state.config.server.body_limit_bytes).await?;
    let reason = request::reason(reason(&req))?;
    Ok((req, reason))
}

pub fn retry_error(e: RetryError) -> ApiError {
    match e {
        RetryError::NotFound => ApiError::NotFound,
        RetryError::NothingToRetry(status) => ApiError::Conflict {
            code: "nothing_to_retry",
            detail: format!(
                "The shipment is {status} and has no dead job: there is nothing to retry"
            ),
            existing: None,
        },
        RetryError::CorrectionsNeedRejected => ApiError::Conflict {
            code: "corrections_need_rejected",
            detail: "Data can only be corrected on a rejected shipment".into(),
            existing: None,
        },
        RetryError::DuplicateActive(id) => ApiError::Conflict {
            code: "duplicate_active_shipment",
            detail: "The dossier has another active shipment of this kind".into(),
            existing: Some(id),
        },
        RetryError::Db(e) => e.into(),
    }
}

/// Resubmit a `rejected` shipment (optionally with corrected name, phone or address) or queue
/// its dead jobs again.
#[utoipa::path(tag = "staff", params(("id" = Uuid, Path)), request_body = RetryRequest,
    responses(
        (status = 200, body = ShipmentView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing to retry, or another active shipment exists", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["staff:act"])))]
#[post("/v1/shipments/{id}/retry")]
pub async fn retry(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::StaffAct)?;
    let id = shipment_id(&path)?;
    let (req, reason) = reasoned(&state, body, |r: &RetryRequest| &r.reason).await?;
    let corrections = request::corrections(req.corrections)?;
    let mut conn = state.pool.get().await?;
    let s = ledger::retry(
        &mut conn,
        id,
        &who.visibility(),
        &actor(&who),
        &reason,
        corrections,
    )
    .await
    .map_err(retry_error)?;
    Ok(HttpResponse::Ok().json(ShipmentView::new(&s, who.sees_pii(), &state.config)))
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Replayed {
    /// Callbacks queued again.
    pub replayed: usize,
}

/// Queue a shipment's dead-lettered (and held) callbacks again.
#[utoipa::path(tag = "staff", params(("id" = Uuid, Path)), request_body = ReasonRequest,
    responses((status = 200, body = Replayed), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["staff:act"])))]
#[post("/v1/shipments/{id}/callbacks/replay")]
pub async fn replay(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::StaffAct)?;
    let id = shipment_id(&path)?;
    let (_, reason) = reasoned(&state, body, |r: &ReasonRequest| &r.reason).await?;
    let mut conn = state.pool.get().await?;
    match ledger::replay_callbacks(&mut conn, id, &who.visibility(), &actor(&who), &reason).await {
        Ok(replayed) => Ok(HttpResponse::Ok().json(Replayed { replayed })),
        Err(ActionError::NotFound) => Err(ApiError::NotFound),
        Err(ActionError::Transition(_)) => Err(ApiError::NotFound),
        Err(ActionError::Db(e)) => Err(e.into()),
    }
}

/// Re-enable the callbacks of a client whose endpoint answered 410; its held callbacks are
/// queued again.
#[utoipa::path(tag = "staff", params(("client_id" = String, Path)), request_body = ReasonRequest,
    responses((status = 200, body = Replayed), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["staff:act"])))]
#[post("/v1/clients/{client_id}/callbacks/enable")]
pub async fn enable_client(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::StaffAct)?;
    let client = path.into_inner();
    if state.config.client(&client).is_none() {
        return Err(ApiError::NotFound);
    }
    let (_, reason) = reasoned(&state, body, |r: &ReasonRequest| &r.reason).await?;
    let mut conn = state.pool.get().await?;
    let replayed = attention::enable_client(&mut conn, &client, &actor(&who), &reason).await?;
    Ok(HttpResponse::Ok().json(Replayed { replayed }))
}

//! Staff actions (SPEC §3, scope `staff:act`): retry a rejected shipment or its dead jobs,
//! replay dead-lettered callbacks, re-enable a client's callbacks. Every one is audited.

use super::AppState;
use super::dto::{Address, ShipmentView};
use super::extract::{json_body, shipment_id};
use crate::auth::{Principal, Scope};
use crate::domain::admin_units::{AddressError, AdminUnits};
use crate::domain::{Source, phone};
use crate::error::{ApiError, FieldError, Problem};
use crate::ledger::audit;
use crate::ledger::models::NewAuditEntry;
use crate::ledger::shipments::{self as ledger, ActionError, Actor, Corrections, RetryError};
use actix_web::{HttpResponse, post, web};
use diesel_async::AsyncConnection;
use serde::Deserialize;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CorrectionsIn {
    pub full_name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<Address>,
}

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
    Actor {
        id: who.sub.clone(),
        name: who.name.clone(),
        source: Source::Staff,
        is_staff: true,
    }
}

pub fn check_reason(reason: &str) -> Result<String, ApiError> {
    // Free text: bidi and zero-width characters are stripped, controls refused.
    let stripped = crate::domain::text::strip_invisible(reason);
    let r = stripped.trim();
    if r.is_empty() || r.chars().count() > 500 {
        return Err(ApiError::field("reason", "must be 1 to 500 characters"));
    }
    if let Some(problem) = crate::domain::text::free_text_problem(r) {
        return Err(ApiError::field("reason", problem));
    }
    Ok(r.to_owned())
}

/// Validates corrections with the same rules as creation.
pub fn validate_corrections(c: Option<CorrectionsIn>) -> Result<Corrections, ApiError> {
    let Some(c) = c else {
        return Ok(Corrections::default());
    };
    let mut errors = Vec::new();
    let mut out = Corrections::default();
    if let Some(n) = c.full_name {
        let n = n.split_whitespace().collect::<Vec<_>>().join(" ");
        if n.is_empty() || n.chars().count() > 100 {
            errors.push(FieldError::new(
                "corrections.full_name",
                "must be 1 to 100 characters",
            ));
        } else if let Some(problem) = crate::domain::text::line_problem(&n) {
            errors.push(FieldError::new("corrections.full_name", problem));
        }
        out.full_name = Some(n);
    }
    if let Some(p) = c.phone {
        match phone::normalise(&p) {
            Some(p) => out.phone = Some(p),
            None => errors.push(FieldError::new(
                "corrections.phone",
                "must be a Vietnamese phone number: 0 + 9 digits, or +84 + 9 digits",
            )),
        }
    }
    if let Some(a) = c.address {
        if a.line.trim().is_empty() || a.line.chars().count() > 255 {
            errors.push(FieldError::new(
                "corrections.address.line",
                "must be 1 to 255 characters",
            ));
        } else if let Some(problem) = crate::domain::text::line_problem(&a.line) {
            errors.push(FieldError::new("corrections.address.line", problem));
        }
        match AdminUnits::get().check(&a.province_code, &a.commune_code) {
            Ok(()) => {}
            Err(AddressError::UnknownProvince) => errors.push(FieldError::new(
                "corrections.address.province_code",
                "is not a province of the 2025 administrative units",
            )),
            Err(AddressError::UnknownCommune) => errors.push(FieldError::new(
                "corrections.address.commune_code",
                "is not a commune of the 2025 administrative units",
            )),
            Err(AddressError::CommuneOutsideProvince) => errors.push(FieldError::new(
                "corrections.address.commune_code",
                format!("is not in province {}", a.province_code),
            )),
        }
        out.address_line = Some(a.line.trim().to_owned());
        out.province_code = Some(a.province_code);
        out.commune_code = Some(a.commune_code);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::Validation(errors))
    }
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
    let req: RetryRequest = json_body(body, state.config.server.body_limit_bytes).await?;
    let reason = check_reason(&req.reason)?;
    let corrections = validate_corrections(req.corrections)?;
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
    let req: ReasonRequest = json_body(body, state.config.server.body_limit_bytes).await?;
    let reason = check_reason(&req.reason)?;
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
    let req: ReasonRequest = json_body(body, state.config.server.body_limit_bytes).await?;
    let reason = check_reason(&req.reason)?;
    let mut conn = state.pool.get().await?;
    let a = actor(&who);
    let replayed = conn
        .transaction::<_, diesel::result::Error, _>(async move |c| {
            let n = crate::callbacks::enable_client(c, &client).await?;
            audit::record(
                c,
                NewAuditEntry {
                    actor_id: a.id.clone(),
                    actor_name: a.name.clone(),
                    action: "enable_client_callbacks".into(),
                    shipment_id: None,
                    reason,
                    details: serde_json::json!({ "client_id": client, "callbacks": n }),
                },
            )
            .await?;
            Ok(n)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Replayed { replayed }))
}

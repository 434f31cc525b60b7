//! Handlers of `/v1/pickups`, `/v1/deliveries` and `/v1/shipments` (SPEC §3). Each one
//! validates, runs one transaction in the ledger, and answers.

use super::dto::*;
use super::extract::{from_value, json_body, parse_json, query, read_body, shipment_id};
use crate::auth::{Principal, Scope};
use crate::config::Config;
use crate::domain::request::{self, Common, DeliveryRequest, Invalid, PickupRequest};
use crate::domain::{Kind, Source, Status};
use crate::error::{ApiError, FieldError, Problem};
use crate::ledger::models::Shipment;
use crate::ledger::search::{self, Search};
use crate::ledger::shipments::{
    self as ledger, Actor, CancelOutcome, CreateError, Created, NewCreate,
};
use crate::ledger::{events, idempotency};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

/// Request a pickup of a citizen's dossier.
#[utoipa::path(tag = "shipments", request_body = PickupRequest,
    params(("Idempotency-Key" = String, Header, description = "1–255 characters; a repeat returns the first response")),
    responses(
        (status = 201, description = "Created", body = ShipmentView),
        (status = 400, description = "Missing Idempotency-Key or malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Key in flight, or an active shipment exists for the dossier (`existing_shipment_id`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is not valid, or the key was used with another body", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["shipments:write"])))]
#[post("/v1/pickups")]
pub async fn create_pickup(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    create(state, who, req, body, Kind::Pickup).await
}

/// Request a delivery of a procedure's result to the citizen.
#[utoipa::path(tag = "shipments", request_body = DeliveryRequest,
    params(("Idempotency-Key" = String, Header, description = "1–255 characters; a repeat returns the first response")),
    responses(
        (status = 201, description = "Created", body = ShipmentView),
        (status = 400, description = "Missing Idempotency-Key or malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Key in flight, or an active shipment exists for the dossier (`existing_shipment_id`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is not valid, or the key was used with another body", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["shipments:write"])))]
#[post("/v1/deliveries")]
pub async fn create_delivery(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    create(state, who, req, body, Kind::Delivery).await
}

async fn create(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    body: web::Payload,
    kind: Kind,
) -> Result<HttpResponse, ApiError> {
    who.require(Scope::ShipmentsWrite)?;
    if state.config.client(&who.sub).is_none() {
        return Err(ApiError::Forbidden(format!(
            "`{}` is not a configured client",
            who.sub
        )));
    }
    let key = idempotency_key(&req)?;
    let bytes = read_body(body, state.config.server.body_limit_bytes).await?;
    let value = parse_json(&bytes)?;
    let hash = idempotency::request_hash("POST", req.path(), &value);
    let now = chrono::Utc::now();
    let row = match kind {
        Kind::Pickup => pickup_row(
            &from_value::<PickupRequest>(value)?.strip_free_text(),
            &state.config,
            &who.sub,
            now,
        ),
        Kind::Delivery => delivery_row(
            &from_value::<DeliveryRequest>(value)?.strip_free_text(),
            &state.config,
            &who.sub,
            now,
        ),
    }?;

    // The response is rendered from the row before it is written: it is saved with the key,
    // for replays, in the same transaction.
    let body = serde_json::to_value(ShipmentView::new(&row, true, &state.config))
        .expect("shipment serialises");
    let ttl = chrono::Duration::from_std(state.config.idempotency.ttl).expect("ttl fits");
    let outcome = state
        .creates
        .create(NewCreate::new(row, key, hash, body, ttl))
        .await?;
    match outcome {
        Ok(Created::New { shipment, body }) => Ok(HttpResponse::Created()
            .insert_header(("Location", format!("/v1/shipments/{}", shipment.id)))
            .json(body)),
        Ok(Created::Replayed { status, body }) => Ok(HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status).expect("saved status"),
        )
        .insert_header(("Idempotent-Replayed", "true"))
        .json(body)),
        Err(CreateError::InFlight) => Err(ApiError::Conflict {
            code: "idempotency_key_in_flight",
            detail: "A request with this Idempotency-Key is still being processed; retry shortly"
                .into(),
            existing: None,
        }),
        Err(CreateError::KeyReused) => Err(ApiError::KeyReused),
        Err(CreateError::DuplicateActive(id)) => Err(ApiError::Conflict {
            code: "duplicate_active_shipment",
            detail: format!("The dossier already has an active {kind} shipment"),
            existing: Some(id),
        }),
        Err(CreateError::Db(e)) => Err(e.into()),
    }
}

/// The ledger row of a valid pickup request, or every problem of the request.
pub fn pickup_row(
    r: &PickupRequest,
    config: &Config,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<Shipment, Vec<Invalid>> {
    let checked = r.validate(&|office| config.office(office).is_some())?;
    Ok(new_row(
        Kind::Pickup,
        &r.common(),
        client_id,
        checked.phone,
        now,
    ))
}

/// The ledger row of a valid delivery request, or every problem of the request.
pub fn delivery_row(
    r: &DeliveryRequest,
    config: &Config,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<Shipment, Vec<Invalid>> {
    let checked = r.validate(&|office| config.office(office).is_some())?;
    let mut row = new_row(Kind::Delivery, &r.common(), client_id, checked.phone, now);
    row.result = Some(serde_json::to_value(&r.result).expect("result serialises"));
    row.cod_vnd = r.cod_vnd;
    row.due_at = r.due_at.map(|d| d.with_timezone(&Utc));
    Ok(row)
}

fn new_row(
    kind: Kind,
    c: &Common<'_>,
    client_id: &str,
    phone: String,
    now: DateTime<Utc>,
) -> Shipment {
    // PostgreSQL keeps microseconds: the response is rendered from this row, so it must be
    // what a later read returns.
    let now = chrono::SubsecRound::trunc_subsecs(now, 6);
    let id = Uuid::now_v7();
    Shipment {
        id,
        kind,
        status: Status::Requested,
        sequence: 1,
        client_id: client_id.into(),
        office_code: c.office_code.into(),
        dossier_code: c.dossier_code.into(),
        procedure_code: c.procedure.code.trim().into(),
        procedure_name: c.procedure.name.trim().into(),
        person_name: c
            .person
            .full_name
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        person_phone: phone,
        person_email: c.person.email.clone(),
        person_id_number: c.person.id_number.clone(),
        address_line: c.address.line.trim().into(),
        province_code: c.address.province_code.clone(),
        commune_code: c.address.commune_code.clone(),
        documents: serde_json::to_value(c.documents).expect("documents serialise"),
        result: None,
        collect_fees_vnd: c.collect_fees_vnd,
        cod_vnd: 0,
        note: c.note.cloned(),
        due_at: None,
        late: false,
        sale_order_code: sale_order_code(id),
        carrier: "vnpost".into(),
        tracking_number: None,
        carrier_order_id: None,
        carrier_code: None,
        carrier_text: None,
        carrier_at: None,
        status_reason: None,
        picked_up_at: None,
        delivered_at: None,
        last_report_at: None,
        next_poll_at: None,
        created_at: now,
        updated_at: now,
        carrier_fee_vnd: None,
        carrier_cod_vnd: None,
        cancel_state: None,
        cancel_case_id: None,
        cancel_note: None,
    }
}

/// The shipment's own reference at the carrier (`saleOrderCode`): unique, derived from its id.
pub fn sale_order_code(id: Uuid) -> String {
    format!("BCCI{}", id.simple()).to_uppercase()
}

fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let bad = |detail: &str| ApiError::BadRequest {
        code: "idempotency_key_missing",
        detail: detail.into(),
    };
    let value = req
        .headers()
        .get("idempotency-key")
        .ok_or_else(|| bad("the Idempotency-Key header is required"))?;
    let key = value
        .to_str()
        .map_err(|_| bad("the Idempotency-Key header must be visible ASCII"))?;
    if key.is_empty() || key.len() > 255 {
        return Err(bad(
            "the Idempotency-Key header must be 1 to 255 characters",
        ));
    }
    Ok(key.to_owned())
}

/// Read one shipment.
#[utoipa::path(tag = "shipments", params(("id" = Uuid, Path)),
    responses((status = 200, body = ShipmentView), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["shipments:read"]), ("bearer" = ["staff:read"])))]
#[get("/v1/shipments/{id}")]
pub async fn get_shipment(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let s = visible_shipment(&state, &who, &path).await?;
    Ok(HttpResponse::Ok().json(ShipmentView::new(&s, who.sees_pii(), &state.config)))
}

/// The shipment at `path` if the caller may read it; 404 if it does not exist or is not
/// theirs.
async fn visible_shipment(
    state: &AppState,
    who: &Principal,
    path: &str,
) -> Result<crate::ledger::models::Shipment, ApiError> {
    who.require_read()?;
    let id = shipment_id(path)?;
    let mut conn = state.pool.get().await?;
    ledger::find(&mut conn, id, &who.visibility())
        .await?
        .ok_or(ApiError::NotFound)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    dossier_code: Option<String>,
    /// `pickup` or `delivery`.
    kind: Option<String>,
    status: Option<String>,
    office_code: Option<String>,
    /// `true` or `false`.
    late: Option<String>,
    /// Staff only: tracking number, dossier code, last digits of the phone, or part of the name.
    q: Option<String>,
    /// 1–100, default 20.
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

impl ListParams {
    /// The search these parameters ask for, or every bad parameter, each naming itself.
    fn search(self) -> Result<Search, ApiError> {
        let mut errors = Vec::new();
        let p = self;
        let mut filter = Search {
            limit: 20,
            ..Default::default()
        };
        let mut parse =
            |field: &str, raw: &Option<String>, ok: &mut dyn FnMut(&str) -> Result<(), String>| {
                if let Some(v) = raw.as_deref()
                    && let Err(msg) = ok(v)
                {
                    errors.push(FieldError::new(field, msg));
                }
            };
        parse("dossier_code", &p.dossier_code, &mut |v| {
            filter.dossier_code = Some(v.to_owned());
            Ok(())
        });
        parse("kind", &p.kind, &mut |v| {
            filter.kind = Some(
                v.parse::<Kind>()
                    .map_err(|_| "must be `pickup` or `delivery`".to_owned())?,
            );
            Ok(())
        });
        parse("status", &p.status, &mut |v| {
            filter.status = Some(v.parse::<Status>().map_err(|_| {
                format!(
                    "must be one of {}",
                    Status::ALL.map(|s| s.as_str()).join(", ")
                )
            })?);
            Ok(())
        });
        parse("office_code", &p.office_code, &mut |v| {
            filter.office = Some(v.to_owned());
            Ok(())
        });
        parse("late", &p.late, &mut |v| {
            filter.late = Some(
                v.parse::<bool>()
                    .map_err(|_| "must be `true` or `false`".to_owned())?,
            );
            Ok(())
        });
        parse("q", &p.q, &mut |v| {
            if v.chars().count() > 100 {
                return Err("must be at most 100 characters".into());
            }
            filter.q = Some(v.to_owned());
            Ok(())
        });
        parse("limit", &p.limit, &mut |v| {
            filter.limit = v
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=100).contains(n))
                .ok_or("must be a number from 1 to 100")?;
            Ok(())
        });
        parse("cursor", &p.cursor, &mut |v| {
            let bytes = URL_SAFE_NO_PAD
                .decode(v)
                .map_err(|_| "is not a cursor returned by this API".to_owned())?;
            filter.before = Some(
                Uuid::from_slice(&bytes)
                    .map_err(|_| "is not a cursor returned by this API".to_owned())?,
            );
            Ok(())
        });
        if errors.is_empty() {
            Ok(filter)
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// List shipments, newest first, keyset-paginated.
#[utoipa::path(tag = "shipments", params(ListParams),
    responses((status = 200, body = ShipmentPage), (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["shipments:read"]), ("bearer" = ["staff:read"])))]
#[get("/v1/shipments")]
pub async fn list_shipments(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    who.require_read()?;
    let filter = query::<ListParams>(&req)?.search()?;
    if filter.q.is_some() && !who.is_staff() {
        return Err(ApiError::Forbidden(
            "the `q` search is for staff (scope `staff:read`)".into(),
        ));
    }
    let mut conn = state.pool.get().await?;
    let mut rows = search::search_shipments(&mut conn, &who.visibility(), &filter).await?;
    let next_cursor = if rows.len() as i64 > filter.limit {
        rows.truncate(filter.limit as usize);
        rows.last().map(|s| URL_SAFE_NO_PAD.encode(s.id.as_bytes()))
    } else {
        None
    };
    let pii = who.sees_pii();
    Ok(HttpResponse::Ok().json(ShipmentPage {
        items: rows
            .iter()
            .map(|s| ShipmentView::new(s, pii, &state.config))
            .collect(),
        next_cursor,
    }))
}

/// The history of a shipment, oldest first.
#[utoipa::path(tag = "shipments", params(("id" = Uuid, Path)),
    responses((status = 200, body = EventList), (status = 404, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["shipments:read"]), ("bearer" = ["staff:read"])))]
#[get("/v1/shipments/{id}/events")]
pub async fn list_events(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    who.require_read()?;
    let id = shipment_id(&path)?;
    let mut conn = state.pool.get().await?;
    ledger::find(&mut conn, id, &who.visibility())
        .await?
        .ok_or(ApiError::NotFound)?;
    let items = events::list(&mut conn, id)
        .await?
        .into_iter()
        .map(EventView::from)
        .collect();
    Ok(HttpResponse::Ok().json(EventList { items }))
}

/// Cancel a shipment: at once from `requested` (200); by asking the carrier from `submitted`
/// (202, the status becomes `cancelled` when the carrier agrees); later → 409.
#[utoipa::path(tag = "shipments", params(("id" = Uuid, Path)), request_body = CancelRequest,
    responses(
        (status = 200, description = "Cancelled (or already cancelled)", body = ShipmentView),
        (status = 202, description = "The carrier has been asked to cancel", body = ShipmentView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Too late to cancel", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["shipments:write"]), ("bearer" = ["staff:act"])))]
#[post("/v1/shipments/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let is_staff = who.has(Scope::StaffAct);
    if !is_staff {
        who.require(Scope::ShipmentsWrite)?;
    }
    let id = shipment_id(&path)?;
    let req: CancelRequest = json_body(body, state.config.server.body_limit_bytes).await?;
    let reason = request::reason(&req.reason)?;
    let reason = reason.as_str();
    let actor = Actor {
        id: who.sub.clone(),
        name: who.name.clone(),
        source: if is_staff {
            Source::Staff
        } else {
            Source::Gateway
        },
        is_staff,
    };
    let visibility = if is_staff {
        who.visibility()
    } else {
        crate::ledger::shipments::Visibility {
            client_id: Some(who.sub.clone()),
            offices: None,
        }
    };
    let mut conn = state.pool.get().await?;
    let pii = who.sees_pii();
    match ledger::cancel(&mut conn, id, &visibility, &actor, reason).await {
        Ok(CancelOutcome::Cancelled(s)) => {
            Ok(HttpResponse::Ok().json(ShipmentView::new(&s, pii, &state.config)))
        }
        Ok(CancelOutcome::AskedCarrier(s)) => {
            Ok(HttpResponse::Accepted().json(ShipmentView::new(&s, pii, &state.config)))
        }
        Err(ledger::ActionError::NotFound) => Err(ApiError::NotFound),
        Err(ledger::ActionError::Transition(t)) => Err(ApiError::Conflict {
            code: "too_late_to_cancel",
            detail: format!("A shipment that is {} can no longer be cancelled", t.from),
            existing: None,
        }),
        Err(ledger::ActionError::Db(e)) => Err(e.into()),
    }
}

/// The shipment's waybill (*vận đơn*) as VNPost prints it: a PDF from `exportListReport`.
#[utoipa::path(tag = "shipments", params(("id" = Uuid, Path)),
    responses(
        (status = 200, description = "The waybill", content_type = "application/pdf", body = Vec<u8>),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks a read scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such shipment, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "VNPost has not given the shipment a tracking number yet (`no_tracking_number`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "VNPost refused (`carrier_refused`)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "VNPost's answer is not a PDF", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "VNPost cannot be reached; see `Retry-After`", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["shipments:read"]), ("bearer" = ["staff:read"])))]
#[get("/v1/shipments/{id}/waybill")]
pub async fn waybill(
    state: web::Data<AppState>,
    who: Principal,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let s = visible_shipment(&state, &who, &path).await?;
    let Some(item_code) = s.tracking_number else {
        return Err(ApiError::Conflict {
            code: "no_tracking_number",
            detail: "VNPost has not given this shipment a tracking number yet: there is no \
                     waybill to print until it accepts the order"
                .into(),
            existing: None,
        });
    };
    let pdf = crate::carrier::waybill::fetch(&*state.carrier, std::slice::from_ref(&item_code))
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header((
            "Content-Disposition",
            format!(
                "inline; filename=\"van-don-{}.pdf\"",
                item_code.replace(|c: char| !c.is_ascii_alphanumeric(), "")
            ),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .body(pdf))
}

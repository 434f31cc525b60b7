//! `POST /v1/quotes`: the postage VNPost would charge, before the citizen chooses delivery by
//! post (issue 8). Asked of the carrier (`ServicesCharge`) while the caller waits; never
//! guessed: when VNPost cannot answer, 503 with `Retry-After`.

use super::extract::json_body;
use crate::auth::Principal;
use crate::carrier::{Carrier, QuoteRequest, ServiceQuote};
use crate::domain::Kind;
use crate::error::{ApiError, FieldError, Problem};
use crate::state::AppState;
use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What to quote: a pickup (citizen → office) or a delivery (office → citizen).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteBody {
    pub kind: Kind,
    pub office_code: String,
    /// The citizen's address (only the codes matter for the price).
    pub address: QuoteAddress,
    /// Cash to collect from the recipient, in đồng (adds the COD service's fee).
    #[serde(default)]
    pub cod_vnd: i64,
    /// One service (`CTN001`, `ETN011`, `ETN013`…); absent: every service.
    pub service_code: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteAddress {
    pub province_code: String,
    pub commune_code: String,
    /// Accepted for convenience (the same object as a shipment's address); not sent.
    pub line: Option<String>,
}

/// The postage of one service, in đồng, as VNPost quotes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteItem {
    pub service_code: String,
    pub service_name: String,
    pub main_fee_vnd: i64,
    /// Add-on services (COD…).
    pub extra_fee_vnd: i64,
    pub total_fee_vnd: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Quote {
    /// The weight quoted (the configured weight of a dossier).
    pub weight_grams: u32,
    pub items: Vec<QuoteItem>,
}

impl From<ServiceQuote> for QuoteItem {
    fn from(q: ServiceQuote) -> Self {
        QuoteItem {
            service_code: q.service_code,
            service_name: q.service_name,
            main_fee_vnd: q.main_fee_vnd,
            extra_fee_vnd: q.extra_fee_vnd,
            total_fee_vnd: q.total_fee_vnd,
        }
    }
}

/// Quote the postage of a pickup or a delivery.
#[utoipa::path(tag = "shipments", request_body = QuoteBody,
    responses(
        (status = 200, description = "VNPost's postage for each service", body = Quote),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token lacks a read or write scope", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is not valid, or VNPost refused to quote (`carrier_refused`, its reason in `detail`)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "VNPost answered in a form the gateway does not know", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "VNPost cannot be reached or did not answer within `carrier.timeout`; see `Retry-After`", body = Problem, content_type = "application/problem+json")),
    security(("bearer" = ["shipments:write"]), ("bearer" = ["shipments:read"]), ("bearer" = ["staff:read"])))]
#[post("/v1/quotes")]
pub async fn quote(
    state: web::Data<AppState>,
    who: Principal,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    who.require_read()?;
    let q: QuoteBody = json_body(body, state.config.server.body_limit_bytes).await?;
    let mut errors: Vec<FieldError> =
        crate::domain::request::address_codes(&q.address.province_code, &q.address.commune_code)
            .into_iter()
            .map(FieldError::from)
            .collect();
    let office = state.config.office(&q.office_code);
    if office.is_none() {
        errors.push(FieldError::new("office_code", "is not a configured office"));
    }
    if q.cod_vnd < 0 {
        errors.push(FieldError::new("cod_vnd", "must not be negative"));
    }
    if q.cod_vnd > 0 && q.kind == Kind::Pickup {
        errors.push(FieldError::new(
            "cod_vnd",
            "cash on delivery applies to deliveries only",
        ));
    }
    if let Some(code) = &q.service_code
        && (code.is_empty() || code.len() > 20 || !code.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        errors.push(FieldError::new(
            "service_code",
            "must be a VNPost service code (letters and digits)",
        ));
    }
    let Some(office) = office.filter(|_| errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let (citizen, office) = (
        (
            q.address.province_code.clone(),
            q.address.commune_code.clone(),
        ),
        (
            office.address.province_code.clone(),
            office.address.commune_code.clone(),
        ),
    );
    let (
        (sender_province_code, sender_commune_code),
        (receiver_province_code, receiver_commune_code),
    ) = match q.kind {
        Kind::Pickup => (citizen, office),
        Kind::Delivery => (office, citizen),
    };
    let req = QuoteRequest {
        sender_province_code,
        sender_commune_code,
        receiver_province_code,
        receiver_commune_code,
        weight_grams: state.config.carrier.weight_grams,
        service_code: q.service_code,
        cod_vnd: q.cod_vnd,
    };
    let items = crate::carrier::timed("ServicesCharge", state.carrier.quote(&req))
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Ok().json(Quote {
        weight_grams: req.weight_grams,
        items: items.into_iter().map(QuoteItem::from).collect(),
    }))
}

//! The HTTP surface: the dossier-system API (SPEC §3), operations endpoints (SPEC §9) and the
//! OpenAPI document generated from the handlers' annotations.

pub mod dto;
pub mod extract;
pub mod headers;
pub mod health;
pub mod limits;
pub mod metrics;
pub mod quotes;
pub mod shipments;
pub mod staff;
pub mod webhook;

use crate::auth::Verifier;
use crate::carrier::VnPost;
use crate::config::Config;
use crate::error::ApiError;
use crate::ledger::Pool;
use actix_web::{HttpResponse, web};
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// What every handler shares.
pub struct AppState {
    pub config: Arc<Config>,
    pub pool: Pool,
    pub verifier: Verifier,
    /// The carrier, for the calls a request waits on (quotes, waybills); shared with the job
    /// workers, so that there is one login.
    pub carrier: Arc<VnPost>,
    /// Requests a minute per caller (`[limits]`).
    pub limits: limits::RateLimits,
    /// The citizens' page's form look-ups a minute per client IP (`[citizen]`).
    pub citizen: crate::citizen::Lookups,
}

impl AppState {
    pub fn new(config: Arc<Config>, pool: Pool) -> anyhow::Result<AppState> {
        let verifier = Verifier::new(&config.auth)?;
        let carrier = Arc::new(VnPost::new(&config.carrier)?);
        let limits = limits::RateLimits::new(&config.limits);
        Ok(AppState {
            citizen: crate::citizen::Lookups::new(&config.citizen),
            limits,
            config,
            pool,
            verifier,
            carrier,
        })
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "bcci-gateway", description = "Gateway between a one-stop-shop dossier system and the public postal carrier (dịch vụ bưu chính công ích)."),
    paths(
        shipments::create_pickup, shipments::create_delivery, shipments::get_shipment,
        shipments::list_shipments, shipments::list_events, shipments::cancel,
        quotes::quote, shipments::waybill,
        webhook::vnpost_webhook,
        staff::retry, staff::replay, staff::enable_client,
        health::healthz, health::readyz, metrics::metrics,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError, crate::callbacks::CallbackBody)),
    modifiers(&BearerAuth),
    tags((name = "shipments", description = "Pickups and deliveries"), (name = "staff", description = "Staff actions (scope staff:act), audited"), (name = "operations", description = "Health and readiness")),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}

/// Registers every route; used by the server and by the tests.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(shipments::create_pickup)
        .service(shipments::create_delivery)
        .service(shipments::list_shipments)
        .service(shipments::get_shipment)
        .service(shipments::list_events)
        .service(shipments::cancel)
        .service(quotes::quote)
        .service(shipments::waybill)
        .service(webhook::vnpost_webhook)
        .service(staff::retry)
        .service(staff::replay)
        .service(staff::enable_client)
        .service(health::healthz)
        .service(health::readyz)
        .service(metrics::metrics)
        .route("/openapi.json", web::get().to(openapi_json))
        .service(
            utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
                .url("/openapi.json", ApiDoc::openapi()),
        )
        .default_service(web::to(not_found));
}

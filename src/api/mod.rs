//! The HTTP surface: the dossier-system API (SPEC §3), operations endpoints (SPEC §9) and the
//! OpenAPI document generated from the handlers' annotations (`openapi`).

pub mod dto;
pub mod extract;
pub mod group_commit;
pub mod headers;
pub mod health;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod quotes;
pub mod shipments;
pub mod staff;
pub mod webhook;

use crate::carrier::{CarrierError, ErrorClass};
use crate::error::ApiError;
use actix_web::{HttpResponse, web};
pub use openapi::ApiDoc;
use utoipa::OpenApi;

/// A carrier call made for a request failed: its answer (422, 502 or 503, problem+json).
impl From<CarrierError> for ApiError {
    fn from(e: CarrierError) -> Self {
        use crate::error::{CarrierFailure, CarrierFailureKind};
        ApiError::Carrier(CarrierFailure {
            kind: match e.class {
                ErrorClass::Refused => CarrierFailureKind::Refused,
                ErrorClass::Protocol => CarrierFailureKind::BadAnswer,
                _ => CarrierFailureKind::Unavailable,
            },
            class: e.class.as_str(),
            message: e.message,
            http_status: e.http_status,
            retry_after: e.retry_after,
        })
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

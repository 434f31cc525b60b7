//! Liveness and readiness (SPEC §9).

use crate::error::ApiError;
use crate::ledger;
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};

/// The process is up.
#[utoipa::path(tag = "operations", responses((status = 200, description = "The process is up")))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The database is reachable and every migration of this binary is applied.
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "Ready"),
    (status = 503, description = "Database unreachable or not migrated", body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    if ledger::is_ready(&mut conn).await.unwrap_or(false) {
        Ok(HttpResponse::Ok().json(
            serde_json::json!({ "status": "ready", "migration": ledger::latest_migration() }),
        ))
    } else {
        Err(ApiError::Unavailable(
            "the database schema is not at this version's migration".into(),
        ))
    }
}

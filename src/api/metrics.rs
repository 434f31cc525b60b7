//! `GET /metrics` (SPEC §9), Prometheus text format.

use crate::domain::outbox::JobState;
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::{HttpResponse, get, web};

/// Prometheus metrics: job queue depth by state, job attempts by kind and outcome, carrier
/// latency by call, carrier reports ingested by source.
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "Prometheus text format", content_type = "text/plain"),
    (status = 503, description = "The database is unreachable or busy (the job gauges read it); see `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let depth = crate::ledger::outbox::depth(&mut conn).await?;
    for s in JobState::ALL {
        let n = depth
            .iter()
            .find(|(state, _)| *state == s)
            .map_or(0, |(_, n)| *n);
        ::metrics::gauge!("bcci_jobs", "state" => s.as_str()).set(n as f64);
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::telemetry::handle().render()))
}

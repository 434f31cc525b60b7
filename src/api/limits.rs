//! The carrier webhook's rate limit, checked before its body is read (the buckets themselves
//! are `state::RateLimits`).

/// Middleware: the carrier webhook's own bucket, before its body is read.
pub async fn webhook_limit(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    if req.path() == super::webhook::PATH
        && let Some(state) = req.app_data::<actix_web::web::Data<crate::state::AppState>>()
    {
        state.limits.check_webhook()?;
    }
    next.call(req).await
}

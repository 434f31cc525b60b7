//! The HTTP application: the middleware every answer goes through and the routes of the
//! console, the citizens' page and the API, over the shared [`AppState`]. Used by the server
//! at start-up; nothing else imports it.

use crate::state::AppState;
use crate::{api, citizen, console, telemetry};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{App, web};

/// One worker's application.
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .wrap(actix_web::middleware::from_fn(wake_workers))
        .wrap(actix_web::middleware::from_fn(api::limits::webhook_limit))
        .wrap(actix_web::middleware::from_fn(
            api::headers::security_headers,
        ))
        .wrap(tracing_actix_web::TracingLogger::<
            telemetry::request_span::PathOnlyRootSpan,
        >::new())
        .configure(console::routes)
        .configure(citizen::routes)
        .configure(api::routes)
}

/// A request that may have changed something (a create, a push, a staff action) may have
/// committed jobs, in a transaction that sent no notification (see `jobs::wakeup`): once it
/// has been answered, wake the workers. A wake-up for nothing costs one empty claim.
async fn wake_workers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let state = changes
        .then(|| req.app_data::<web::Data<AppState>>().cloned())
        .flatten();
    let res = next.call(req).await?;
    if let Some(state) = state {
        state.wakeup.enqueued();
    }
    Ok(res)
}

//! The HTTP application: the middleware every answer goes through and the routes of the
//! console, the citizens' page and the API, over the shared [`AppState`]. Used by the server
//! at start-up; nothing else imports it.

use crate::state::AppState;
use crate::{api, citizen, console, telemetry};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
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

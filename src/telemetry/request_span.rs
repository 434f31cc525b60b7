//! The request span of every HTTP request, without the query string: console searches
//! (`/console/search?q=0912345678`), sign-in redirects (`?next=…`) and API list filters carry
//! citizens' names and phones there, which must stay out of the logs (Decree 13/2023/NĐ-CP).
//! The citizens' links (`/tra-cuu/<token>`) are logged as their route pattern. The fields are
//! otherwise those of `tracing_actix_web`'s default span.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

pub struct PathOnlyRootSpan;

impl RootSpanBuilder for PathOnlyRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern().unwrap_or_else(|| "default".into());
        let method = request.method().as_str().to_owned();
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.to_string())
            .unwrap_or_default();
        let info = request.connection_info().clone();
        // A citizen's link (`/tra-cuu/<token>`) opens that citizen's page: its pattern is logged
        // in its place.
        let target = if request.path().starts_with("/tra-cuu/") {
            route.clone()
        } else {
            request.path().to_owned()
        };
        tracing::info_span!(
            "HTTP request",
            http.method = %method,
            http.route = %route,
            http.flavor = ?request.version(),
            http.scheme = %info.scheme(),
            http.host = %info.host(),
            http.client_ip = %info.realip_remote_addr().unwrap_or(""),
            http.user_agent = %request
                .headers()
                .get("User-Agent")
                .and_then(|h| h.to_str().ok())
                .unwrap_or(""),
            http.target = %target,
            http.status_code = Empty,
            otel.name = %format!("{method} {route}"),
            otel.kind = "server",
            otel.status_code = Empty,
            request_id = %request_id,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span.clone(), outcome);
        // The default records the error's `Debug` form, which holds whatever the error
        // carries; its `Display` form is written to hold no citizen data.
        let error = match outcome {
            Ok(res) => res.response().error(),
            Err(e) => Some(e),
        };
        if let Some(e) = error {
            span.record("exception.details", tracing::field::display(e));
        }
    }
}

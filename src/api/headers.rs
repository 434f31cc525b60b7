//! Security headers on every answer of the gateway (issue 11 §2): the API, `/docs/`,
//! `/openapi.json`, `/metrics`, health, and error answers, including those raised before a
//! handler runs. The console sets its own stricter set first; a header already present is
//! kept.

use actix_web::Error;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

/// Swagger UI (`/docs/`): its own scripts and styles, plus the inline styles and `data:`
/// images the bundle uses; it fetches `/openapi.json` from the same origin.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Everything else answers JSON, PDF or plain text: nothing to run, nothing to frame.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let docs = req.path().starts_with("/docs");
    // Handler and extractor errors (`ApiError`, `ConsoleError`) arrive here as answers. (A
    // clone of the request may not be held across the call: actix needs it unshared.)
    let mut res = next.call(req).await?.map_into_boxed_body();
    let headers = res.headers_mut();
    let mut set = |name: &'static str, value: &'static str| {
        let name = HeaderName::from_static(name);
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set("x-content-type-options", "nosniff");
    set("x-frame-options", "DENY");
    set("referrer-policy", "no-referrer");
    set(
        "content-security-policy",
        if docs { DOCS_CSP } else { API_CSP },
    );
    // Every answer but Swagger UI's files may carry personal data (or say whether a
    // shipment exists): never stored by a browser or a proxy.
    if !docs {
        set("cache-control", "no-store");
    }
    Ok(res)
}

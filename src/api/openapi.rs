//! The OpenAPI document (`/openapi.json`, `/docs`), generated from the handlers'
//! `#[utoipa::path]` annotations. The answers that every secured operation and every operation
//! with a JSON body share (a refused token, a missing scope, a rate limit, the database out of
//! reach, a body too large or not JSON…) are added here, in one place, by [`CommonResponses`]:
//! an operation cannot forget them. The annotations keep what is particular to an operation.

use super::{health, metrics, quotes, shipments, staff, webhook};
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Header, Ref, RefOr, Response, Type, schema::Object};

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
    components(schemas(crate::error::Problem, crate::error::FieldError, crate::domain::callback::CallbackBody)),
    modifiers(&BearerAuth, &CommonResponses),
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

/// Answers of every operation that takes a bearer token (the `Principal` extractor, the scope
/// checks, the rate limits of `[limits]`, the connection pool).
const SECURED: &[(u16, &str, Option<&str>)] = &[
    (
        401,
        "No valid bearer token (missing, malformed, expired, wrong issuer or audience)",
        Some("WWW-Authenticate"),
    ),
    (
        403,
        "The token lacks the scope this operation needs, or names no configured client",
        None,
    ),
    (
        429,
        "Over the caller's requests a minute (`[limits]`); see `Retry-After`",
        Some("Retry-After"),
    ),
    (
        503,
        "The database is unreachable or busy; see `Retry-After`",
        Some("Retry-After"),
    ),
];

/// Answers of every secured operation that reads a JSON body (`api::extract::json_body`).
const WITH_BODY: &[(u16, &str, Option<&str>)] = &[
    (400, "The body is not JSON, or could not be read", None),
    (
        413,
        "The body is larger than `server.body_limit_bytes`",
        None,
    ),
    (
        422,
        "A field is missing, mistyped or not valid; `errors` names each",
        None,
    ),
];

/// Adds the shared answers to each operation that lacks them; an answer the annotation already
/// describes (with the operation's own words) is kept.
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    add(op, SECURED);
                    // The carrier's webhook (not secured by a token) reads its body its own
                    // way and answers in its own shape: its annotation says all.
                    if op.request_body.is_some() {
                        add(op, WITH_BODY);
                    }
                }
            }
        }
    }
}

fn add(op: &mut Operation, answers: &[(u16, &str, Option<&str>)]) {
    for &(status, description, header) in answers {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(problem(description, header)));
    }
}

/// A problem+json answer (`error::Problem`), with the header it carries, if any.
fn problem(description: &str, header: Option<&str>) -> Response {
    let mut r = Response::new(description);
    r.content.insert(
        "application/problem+json".into(),
        RefOr::T(Content::new(Some(Ref::from_schema_name("Problem")))),
    );
    if let Some(name) = header {
        let ty = if name == "Retry-After" {
            Type::Integer
        } else {
            Type::String
        };
        r.headers
            .insert(name.into(), RefOr::T(Header::new(Object::with_type(ty))));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operations(doc: &utoipa::openapi::OpenApi) -> Vec<(String, &Operation)> {
        let mut ops = Vec::new();
        for (path, item) in &doc.paths.paths {
            for (method, op) in [("GET", &item.get), ("POST", &item.post)] {
                if let Some(op) = op {
                    ops.push((format!("{method} {path}"), op));
                }
            }
        }
        ops
    }

    /// An operation that forgot its `security(...)` would also lose its 401/403/429 answers:
    /// only these are open (the carrier signs its pushes; probes and metrics take no token).
    #[test]
    fn every_operation_but_the_open_ones_is_secured() {
        let doc = ApiDoc::openapi();
        let open = [
            "POST /v1/carrier/vnpost/webhook",
            "GET /healthz",
            "GET /readyz",
            "GET /metrics",
        ];
        let ops = operations(&doc);
        assert!(ops.len() >= 15, "{} operations", ops.len());
        for (name, op) in ops {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            assert_eq!(secured, !open.contains(&name.as_str()), "{name}");
            let has = |s: &str| op.responses.responses.contains_key(s);
            if secured {
                for s in ["401", "403", "429", "503"] {
                    assert!(has(s), "{name} lacks {s}");
                }
            }
            if secured && op.request_body.is_some() {
                for s in ["400", "413", "422"] {
                    assert!(has(s), "{name} lacks {s}");
                }
            }
        }
    }

    /// The answers added here keep an annotation's own words.
    #[test]
    fn an_annotated_answer_is_kept() {
        let doc = ApiDoc::openapi();
        let op = doc
            .paths
            .get_path_operation("/v1/quotes", utoipa::openapi::HttpMethod::Post)
            .unwrap();
        let RefOr::T(r) = &op.responses.responses["503"] else {
            panic!("503 is inline")
        };
        assert!(r.description.contains("VNPost"), "{}", r.description);
    }
}

//! API errors, rendered as `application/problem+json` (RFC 9457). Nothing internal (SQL,
//! stack traces, secrets) ever reaches the body: internal errors are logged and answered 500
//! with a generic text.

use crate::carrier::ErrorClass;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;
use uuid::Uuid;

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    /// JSON path of the field, e.g. `citizen.phone` or `documents[0].name`.
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// URI reference naming the problem type.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Machine-readable problem code.
    pub code: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For 409 on a dossier that already has an active shipment of this kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub existing_shipment_id: Option<Uuid>,
}

#[derive(Debug)]
pub enum ApiError {
    Validation(Vec<FieldError>),
    BadRequest {
        code: &'static str,
        detail: String,
    },
    Unauthorized(String),
    Forbidden(String),
    NotFound,
    PayloadTooLarge(usize),
    Conflict {
        code: &'static str,
        detail: String,
        existing: Option<Uuid>,
    },
    /// The Idempotency-Key was used with another body (SPEC §3: 422).
    KeyReused,
    Unavailable(String),
    /// Over the caller's rate limit (`[limits]`): 429 with `Retry-After`.
    TooManyRequests {
        retry_after_secs: u64,
        detail: String,
    },
    /// A call to the carrier made for this request failed (quotes, waybills).
    Carrier(crate::carrier::CarrierError),
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "The request is not valid",
            ),
            BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code, "Bad request"),
            Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            NotFound => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Request body too large",
            ),
            Conflict { code, .. } => (StatusCode::CONFLICT, code, "Conflict"),
            KeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency-Key reused",
            ),
            Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests",
            ),
            Carrier(e) => match e.class {
                // VNPost refused what was asked (an address it does not serve, say).
                ErrorClass::Refused => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "carrier_refused",
                    "The carrier refused the request",
                ),
                // An answer in no known shape: not a guess, and not "nothing".
                ErrorClass::Protocol => (
                    StatusCode::BAD_GATEWAY,
                    "carrier_bad_answer",
                    "The carrier's answer could not be read",
                ),
                _ => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "carrier_unavailable",
                    "The carrier is unavailable",
                ),
            },
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }

    /// When a 503 about the carrier may be retried: its own `Retry-After`, else a minute.
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Carrier(e) if self.status_code() == StatusCode::SERVICE_UNAVAILABLE => {
                Some(e.retry_after.map_or(60, |d| d.as_secs().clamp(1, 3600)))
            }
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    fn detail(&self) -> String {
        use ApiError::*;
        match self {
            Validation(errors) => format!("{} field(s) are not valid; see `errors`", errors.len()),
            BadRequest { detail, .. }
            | Unauthorized(detail)
            | Forbidden(detail)
            | Unavailable(detail)
            | TooManyRequests { detail, .. } => detail.clone(),
            NotFound => "No such resource, or it is not visible to you".into(),
            PayloadTooLarge(limit) => format!("The body exceeds the limit of {limit} bytes"),
            Conflict { detail, .. } => detail.clone(),
            KeyReused => {
                "This Idempotency-Key was already used with a different request body".into()
            }
            // The carrier's own words (never the request, which may name the citizen).
            Carrier(e) => match e.class {
                ErrorClass::Refused => format!("VNPost: {}", e.message),
                ErrorClass::Protocol => {
                    "VNPost answered in a form the gateway does not know; retry later".into()
                }
                _ => "VNPost cannot be reached or did not answer in time; retry later".into(),
            },
            Internal(_) => "An internal error occurred; it has been logged".into(),
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, code, title) = self.parts();
        Problem {
            type_: format!("/problems/{}", code.replace('_', "-")),
            title: title.into(),
            status: status.as_u16(),
            detail: self.detail(),
            code,
            errors: match self {
                ApiError::Validation(e) => e.clone(),
                _ => Vec::new(),
            },
            existing_shipment_id: match self {
                ApiError::Conflict { existing, .. } => *existing,
                _ => None,
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.parts().1, self.detail())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(e) = self {
            tracing::error!(error = %format!("{e:#}"), "internal error");
        }
        let mut resp = HttpResponse::build(self.status_code());
        resp.content_type("application/problem+json");
        if matches!(self, ApiError::Unauthorized(_)) {
            resp.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let ApiError::Carrier(e) = self {
            tracing::warn!(class = %e.class, http_status = e.http_status, "carrier call for a request failed");
        }
        if let Some(secs) = self.retry_after() {
            resp.insert_header(("Retry-After", secs.to_string()));
        }
        resp.json(self.problem())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::NotFound => ApiError::NotFound,
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
                ApiError::Unavailable("The database is unreachable; retry shortly".into())
            }
            // Lock timeouts and serialization failures: the caller may retry.
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
                ApiError::Unavailable("The ledger is busy; retry shortly".into())
            }
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ApiError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        tracing::warn!(error = %e, "no database connection");
        ApiError::Unavailable("The database is unreachable or busy; retry shortly".into())
    }
}

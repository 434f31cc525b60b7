//! API errors, rendered as `application/problem+json` (RFC 9457). Nothing internal (SQL,
//! stack traces, secrets) ever reaches the body: internal errors are logged and answered 500
//! with a generic text.

use crate::domain::request::Invalid;
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
    /// 400 naming the one field at fault, with a machine code (e.g. `malformed_push` naming
    /// `data[0].status`); the problem lists the field in `errors`.
    BadField {
        code: &'static str,
        field: String,
        message: String,
    },
    Unauthorized(String),
    /// 401 with a machine code saying why the caller is not believed (e.g. `bad_signature`),
    /// for a caller that proves itself otherwise than with a bearer token (the carrier's pushes).
    Unauthentic {
        code: &'static str,
        detail: String,
    },
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
    /// A call to the carrier made for this request failed (quotes, waybills); built from the
    /// carrier's error by `carrier` (`From<CarrierError>`).
    Carrier(CarrierFailure),
    Internal(anyhow::Error),
}

impl From<Invalid> for FieldError {
    fn from(e: Invalid) -> Self {
        let message = e.message();
        FieldError {
            field: e.field,
            message,
        }
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        ApiError::Validation(vec![e.into()])
    }
}

impl From<Vec<Invalid>> for ApiError {
    fn from(errors: Vec<Invalid>) -> Self {
        ApiError::Validation(errors.into_iter().map(FieldError::from).collect())
    }
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
            BadRequest { code, .. } | BadField { code, .. } => {
                (StatusCode::BAD_REQUEST, code, "Bad request")
            }
            Unauthentic { code, .. } => (StatusCode::UNAUTHORIZED, code, "Not authentic"),
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
            Carrier(e) => match e.kind {
                // VNPost refused what was asked (an address it does not serve, say).
                CarrierFailureKind::Refused => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "carrier_refused",
                    "The carrier refused the request",
                ),
                // An answer in no known shape: not a guess, and not "nothing".
                CarrierFailureKind::BadAnswer => (
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

    /// When a 503 may be retried: about the carrier, its own `Retry-After`, else a minute;
    /// about the database (down, restarting, busy), soon: it is usually back in seconds.
    fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::Carrier(e) if self.status_code() == StatusCode::SERVICE_UNAVAILABLE => {
                Some(e.retry_after.map_or(60, |d| d.as_secs().clamp(1, 3600)))
            }
            ApiError::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER_SECS),
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The problem's `detail`: what went wrong, in English, never a value the caller gave.
    pub fn detail(&self) -> String {
        use ApiError::*;
        match self {
            BadField { field, message, .. } => format!("`{field}` {message}"),
            Validation(errors) => format!("{} field(s) are not valid; see `errors`", errors.len()),
            BadRequest { detail, .. }
            | Unauthorized(detail)
            | Unauthentic { detail, .. }
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
            Carrier(e) => match e.kind {
                CarrierFailureKind::Refused => format!("VNPost: {}", e.message),
                CarrierFailureKind::BadAnswer => {
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
                ApiError::BadField { field, message, .. } => {
                    vec![FieldError::new(field.clone(), message.clone())]
                }
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
        if let ApiError::Validation(errors) = self {
            // Field paths and what kind of problem, never the value (Decree 13/2023/NĐ-CP):
            // the messages are written without it (see `api::extract::without_value`).
            let fields: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            tracing::info!(fields = ?fields, "request refused: invalid fields");
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

/// A failed carrier call, as a request's answer needs it.
#[derive(Debug, Clone)]
pub struct CarrierFailure {
    pub kind: CarrierFailureKind,
    /// The carrier's class of the failure (`connect`, `refused`…), for the log.
    pub class: &'static str,
    /// The carrier's own words (a refusal's reason).
    pub message: String,
    pub http_status: Option<u16>,
    pub retry_after: Option<std::time::Duration>,
}

/// What a failed carrier call means to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarrierFailureKind {
    /// The carrier refused what was asked (422).
    Refused,
    /// An answer in no known shape (502).
    BadAnswer,
    /// Unreachable, too slow, failing (503).
    Unavailable,
}

/// `Retry-After` of a 503 that is not about the carrier (the database is down or busy).
pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 1;

/// Whether a database error means the connection or the server went away (a restart, a
/// failover, a network cut) rather than a fault in the request or the code: the same request
/// will succeed once PostgreSQL is back, so it is answered 503, not 500.
pub fn is_connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        // diesel-async reports a socket that closed or could not be written as
        // UnableToSendCommand (it has no SQLSTATE to give).
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        // SQLSTATE 57P01-57P03 (admin or crash shutdown, cannot connect now) arrive as
        // Unknown: diesel exposes no SQLSTATE, only PostgreSQL's (English) message.
        Error::DatabaseError(DatabaseErrorKind::Unknown, info) => {
            let m = info.message();
            m.starts_with("terminating connection")
                || m.starts_with("the database system is")
                || m.contains("connection")
                    && (m.contains("closed") || m.contains("reset") || m.contains("lost"))
        }
        // A transaction whose connection died: the rollback fails as well.
        Error::RollbackErrorOnCommit { commit_error, .. } => is_connection_lost(commit_error),
        Error::BrokenTransactionManager => true,
        _ => false,
    }
}

/// What a database error means for the request that met it, whether the API or the console
/// answers it: one mapping for both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbFailure {
    /// The row asked for does not exist (404).
    NotFound,
    /// Try again shortly (503); the text says why, in English.
    Unavailable(&'static str),
    /// A fault to log (500).
    Internal,
}

pub fn db_failure(e: &diesel::result::Error) -> DbFailure {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::NotFound => DbFailure::NotFound,
        lost if is_connection_lost(lost) => {
            tracing::warn!(error = %lost, "database connection lost during a request");
            DbFailure::Unavailable("The database is unreachable; retry shortly")
        }
        // Lock timeouts and serialization failures: the caller may retry.
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
            DbFailure::Unavailable("The ledger is busy; retry shortly")
        }
        _ => DbFailure::Internal,
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        match db_failure(&e) {
            DbFailure::NotFound => ApiError::NotFound,
            DbFailure::Unavailable(why) => ApiError::Unavailable(why.into()),
            DbFailure::Internal => ApiError::Internal(e.into()),
        }
    }
}

/// The answer's detail when no database connection could be had.
pub const NO_CONNECTION: &str = "The database is unreachable or busy; retry shortly";

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ApiError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        tracing::warn!(error = %e, "no database connection");
        ApiError::Unavailable(NO_CONNECTION.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_field_is_a_400_naming_it_and_unauthentic_a_401_with_its_code() {
        let e = ApiError::BadField {
            code: "malformed_push",
            field: "data[0].status".into(),
            message: "is required".into(),
        };
        assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
        let p = e.problem();
        assert_eq!((p.code, p.status), ("malformed_push", 400));
        assert_eq!(p.detail, "`data[0].status` is required");
        assert_eq!(p.errors, [FieldError::new("data[0].status", "is required")]);

        let e = ApiError::Unauthentic {
            code: "bad_signature",
            detail: "no configured key checks it".into(),
        };
        assert_eq!(e.status_code(), StatusCode::UNAUTHORIZED);
        let p = e.problem();
        assert_eq!(
            (p.code, p.detail.as_str()),
            ("bad_signature", "no configured key checks it")
        );
        assert!(p.errors.is_empty());
    }
}

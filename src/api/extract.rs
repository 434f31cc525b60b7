//! Request plumbing shared by the handlers: the caller's identity, the body (size-limited,
//! parsed with the path of any field at fault) and the query string.

use crate::auth::Principal;
use crate::error::{ApiError, FieldError};
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use std::future::{Ready, ready};

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = Ready<Result<Principal, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Principal, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered");
    let header = req.headers().get("authorization").ok_or_else(|| {
        ApiError::Unauthorized("an `Authorization: Bearer <token>` header is required".into())
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .ok_or_else(|| {
            ApiError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
        })?;
    let who = state.verifier.verify(token.trim())?;
    // After verification: the bucket is the token's `sub`, never something a caller makes up.
    state.limits.check(&who)?;
    Ok(who)
}

/// Reads the whole body, refusing more than `limit` bytes with 413.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest {
            code: "unreadable_body",
            detail: format!("the body could not be read: {e}"),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses JSON text: a syntax error is 400; a well-formed body is returned as a value.
pub fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::BadRequest {
        code: "malformed_json",
        detail: format!("the body is not JSON: {e}"),
    })
}

/// Turns a JSON value into `T`; a missing or mistyped field is 422 naming it. A string with a
/// control character (other than a line break or tab) anywhere in the body is 422 naming its
/// path, before anything else reads it. Messages say what was expected, never quote the value
/// (it may be a citizen's name or phone).
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if let Some(path) = crate::domain::text::json_problem(&value, "") {
        return Err(ApiError::field(path, "must not contain control characters"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde reports a missing field at its parent: name the field itself.
        let field = match inner
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next())
        {
            Some(name) if path == "." => name.to_owned(),
            Some(name) => format!("{path}.{name}"),
            None if path == "." => "body".to_owned(),
            None => path,
        };
        ApiError::Validation(vec![FieldError::new(field, without_value(&inner))])
    })
}

/// serde's message with the offending value left out: `invalid type: string "Trịnh Thị …",
/// expected u32` → `must be u32, not a string`.
pub fn without_value(msg: &str) -> String {
    let expected = msg.split_once(", expected ").map(|(_, e)| e);
    // The kind of value serde met: the words before its quoted value.
    let kind = |rest: &str| {
        rest.split([',', '"', '`'])
            .next()
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    if msg.starts_with("missing field") {
        "is required".into()
    } else if let Some(rest) = msg.strip_prefix("invalid type: ") {
        match expected {
            Some(e) => format!("must be {e}, not {}", kind(rest)),
            None => format!("has the wrong type ({})", kind(rest)),
        }
    } else if let Some(rest) = msg.strip_prefix("invalid value: ") {
        match expected {
            Some(e) => format!("is not a valid {}: expected {e}", kind(rest)),
            None => "is not a valid value".into(),
        }
    } else if msg.starts_with("unknown variant") {
        match expected {
            Some(e) => format!("is not an accepted value: expected {e}"),
            None => "is not an accepted value".into(),
        }
    } else if msg.starts_with("unknown field") || msg.starts_with("invalid length") {
        // Field names and lengths, no value.
        msg.to_owned()
    } else if msg.contains(['"', '`', '\'']) {
        // Anything else that may quote the value (a custom parser's message).
        "is not valid".into()
    } else {
        msg.to_owned()
    }
}

/// Parses the query string into `T` (all fields optional strings), naming a bad parameter. A
/// parameter holding a control character (a `%00`, say) is refused with 422 naming it.
pub fn query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|_| ApiError::field("query", "is not a valid query string"))?;
    let errors: Vec<FieldError> = pairs
        .iter()
        .filter(|(k, v)| k.chars().chain(v.chars()).any(char::is_control))
        .map(|(k, _)| {
            let name = if k.chars().any(char::is_control) {
                "query"
            } else {
                k.as_str()
            };
            FieldError::new(name, "must not contain control characters")
        })
        .collect();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::field("query", without_value(&e.to_string())))
}

/// Reads and parses a JSON body of type `T`: 413 above `limit`, 400 for text that is not
/// JSON, 422 naming a missing or mistyped field.
pub async fn json_body<T: DeserializeOwned>(
    payload: web::Payload,
    limit: usize,
) -> Result<T, ApiError> {
    from_value(parse_json(&read_body(payload, limit).await?)?)
}

/// A shipment id from the path. An id that is not a UUID names no shipment: 404.
pub fn shipment_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError::NotFound)
}

//! The carrier's push (SPEC §6): `POST /v1/carrier/vnpost/webhook`.
//!
//! No bearer token: the RSA signature over `Data` + `SendDate` is the authentication, checked
//! against the configured carrier key(s) before anything is written. A push that passes is
//! recorded and its report applied to the shipment in one transaction (`ledger::pushes`)
//! before the 200, so a 200 means the report is in the ledger, and anything else means the
//! carrier may send it again.

use super::AppState;
use super::extract::{parse_json, read_body};
use crate::carrier::push::{
    MAX_SEND_DATE_SKEW, PushDecryptor, PushEnvelope, PushError, PushKeys, PushVerifier,
    SANDBOX_GATEWAY_PRIVATE_KEY_PEM, SANDBOX_PUBLIC_KEY_PEM, VerifiedPush,
};
use crate::config::{Carrier, CarrierKind, WebhookMode};
use crate::error::{ApiError, FieldError, Problem};
use crate::ledger::pushes::{self, NewPush, Outcome};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::sync::LazyLock;
use utoipa::ToSchema;

/// Where the carrier pushes (also the sandbox's default `push_url`).
pub const PATH: &str = "/v1/carrier/vnpost/webhook";

/// A push, as the carrier sends it.
#[derive(Debug, ToSchema)]
#[schema(rename_all = "PascalCase", example = json!({
    "Data": "{\"ItemCode\":\"EB123456785VN\",\"SaleOrderCode\":\"BCCI-0193…\",\"StatusCode\":6,\"StatusName\":\"Đã nhận hàng\",\"StatusDate\":\"27/11/2026 10:00:00\",\"Note\":\"\"}",
    "SendDate": "2026-11-27T10:00:05+07:00",
    "SignData": "base64…"}))]
pub struct PushBody {
    /// JSON text: `{"ItemCode","SaleOrderCode","StatusCode","StatusName","StatusDate":"dd/MM/yyyy HH:mm:ss","Note"}`, Vietnam time.
    pub data: String,
    /// RFC 3339; must be within 10 minutes of the gateway's clock.
    pub send_date: String,
    /// base64 of the RSA PKCS#1 v1.5 SHA-256 signature of the UTF-8 bytes of `Data` followed by `SendDate`.
    pub sign_data: String,
}

/// The answer to an accepted push.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushAccepted {
    /// `applied` (a new report, now in the shipment's history), `duplicate` (known already),
    /// `unknown_code` (stored and flagged for staff), `unknown_shipment` (kept for staff).
    pub outcome: &'static str,
}

/// Receive a carrier status report (push).
#[utoipa::path(tag = "carrier", request_body = PushBody,
    responses(
        (status = 200, description = "Recorded (a repeated push is also 200)", body = PushAccepted),
        (status = 400, description = "Not a push: malformed JSON, a missing field, or `Data` not as specified", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or bad signature, or `SendDate` more than 10 minutes from now; nothing is applied", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json")))]
#[post("/v1/carrier/vnpost/webhook")]
pub async fn vnpost_webhook(
    state: web::Data<AppState>,
    body: web::Payload,
) -> Result<HttpResponse, WebhookError> {
    let carrier = &state.config.carrier;
    let bytes = read_body(body, carrier.webhook_body_limit_bytes)
        .await
        .inspect_err(|e| match e {
            ApiError::PayloadTooLarge(_) => refused("too_large"),
            _ => refused("unreadable"),
        })?;
    let envelope = envelope(&bytes)?;
    let verified = verify(carrier, &envelope, Utc::now())?;
    let quiet =
        chrono::Duration::from_std(state.config.tracking.quiet_after).expect("quiet_after fits");
    let mut conn = state.pool.get().await?;
    let data = serde_json::to_string(&envelope.data).expect("JSON values serialize");
    let push = new_push(&verified, &data);
    let recorded = pushes::record(&mut conn, &carrier.status_codes, &push, quiet).await?;
    let outcome = recorded.outcome.as_str();
    ::metrics::counter!("bcci_carrier_pushes_total", "outcome" => outcome).increment(1);
    if matches!(recorded.outcome, Outcome::Applied | Outcome::UnknownCode) {
        ::metrics::counter!("bcci_carrier_reports_total", "source" => "carrier_push").increment(1);
    }
    // Item and order codes only: a push's other fields may name people.
    match recorded.outcome {
        Outcome::UnknownShipment | Outcome::UnknownCode => tracing::warn!(
            item_code = %push.item_code, sale_order_code = push.sale_order_code,
            code = push.status_code, outcome, "carrier push kept for staff"
        ),
        Outcome::Applied | Outcome::Duplicate => tracing::debug!(
            item_code = %push.item_code, sale_order_code = push.sale_order_code,
            code = push.status_code, outcome, shipment = ?recorded.shipment_id, "carrier push"
        ),
    }
    Ok(HttpResponse::Ok().json(PushAccepted { outcome }))
}

fn new_push<'a>(v: &'a VerifiedPush, data: &'a str) -> NewPush<'a> {
    let r = &v.first;
    NewPush {
        item_code: &r.item_code,
        sale_order_code: r.sale_order_code.as_deref(),
        status_code: r.status,
        status_text: r.status_name.as_deref().unwrap_or_default(),
        status_at: r.changed_at().unwrap_or(v.sent_at),
        note: None,
        data,
        send_date: v.sent_at,
    }
}

/// The envelope's shape: a JSON object whose `data` is a list of objects (else 400, naming
/// the field). `sendDate` and `signature` that are not text count as absent: 401 follows.
fn envelope(bytes: &[u8]) -> Result<PushEnvelope, WebhookError> {
    let value = parse_json(bytes).inspect_err(|_| refused("malformed"))?;
    let Value::Object(mut fields) = value else {
        return Err(malformed(
            "body",
            "must be a JSON object {\"data\", \"sendDate\", \"signature\"}",
        ));
    };
    let data = match fields.remove("data") {
        Some(Value::Array(records)) => records,
        None | Some(Value::Null) => return Err(malformed("data", "is required")),
        Some(_) => return Err(malformed("data", "must be a list of records")),
    };
    if let Some(i) = data.iter().position(|r| !r.is_object()) {
        return Err(malformed(&format!("data[{i}]"), "must be an object"));
    }
    let mut text = |name: &str| match fields.remove(name) {
        Some(Value::String(s)) => s,
        _ => String::new(),
    };
    Ok(PushEnvelope {
        data,
        send_date: text("sendDate"),
        signature: text("signature"),
    })
}

/// The sandbox's development keys, trusted only when `carrier.kind = "sandbox"` and no key of
/// the configured mode is configured.
static SANDBOX_SIGNATURE_KEYS: LazyLock<PushKeys> = LazyLock::new(|| {
    PushKeys::Signature(vec![
        PushVerifier::from_pem(SANDBOX_PUBLIC_KEY_PEM).expect("the compiled-in sandbox key parses"),
    ])
});
static SANDBOX_ENCRYPTION_KEYS: LazyLock<PushKeys> = LazyLock::new(|| {
    PushKeys::Encryption(vec![
        PushDecryptor::from_pem(SANDBOX_GATEWAY_PRIVATE_KEY_PEM)
            .expect("the compiled-in sandbox key parses"),
    ])
});

/// The keys a push may be authenticated with: the configured one and, during a rotation, the
/// next.
pub fn trusted_keys(c: &Carrier) -> PushKeys {
    match c.webhook_mode {
        WebhookMode::Signature => {
            let keys: Vec<PushVerifier> =
                [&c.webhook_public_key_pem, &c.webhook_public_key_pem_next]
                    .into_iter()
                    .flatten()
                    .map(|k| k.verifier().clone())
                    .collect();
            match c.kind {
                CarrierKind::Sandbox if keys.is_empty() => SANDBOX_SIGNATURE_KEYS.clone(),
                // Configuration validation refuses "vnpost" without a key.
                _ => PushKeys::Signature(keys),
            }
        }
        WebhookMode::Encryption => {
            let keys: Vec<PushDecryptor> =
                [&c.webhook_private_key_pem, &c.webhook_private_key_pem_next]
                    .into_iter()
                    .flatten()
                    .filter_map(|k| PushDecryptor::from_pem(k.expose()).ok())
                    .collect();
            match c.kind {
                CarrierKind::Sandbox if keys.is_empty() => SANDBOX_ENCRYPTION_KEYS.clone(),
                _ => PushKeys::Encryption(keys),
            }
        }
    }
}

/// Signature present, `sendDate` within 10 minutes of `now`, the signature checking with a
/// trusted key; the first record readable.
fn verify(
    c: &Carrier,
    envelope: &PushEnvelope,
    now: DateTime<Utc>,
) -> Result<VerifiedPush, WebhookError> {
    trusted_keys(c)
        .verify(envelope, now, MAX_SEND_DATE_SKEW)
        .map_err(|e| match e {
            PushError::Unsigned => {
                refused("unsigned");
                ApiError::Unauthorized("the push has no `signature`".into()).into()
            }
            PushError::BadSignature => {
                refused("bad_signature");
                ApiError::Unauthorized(
                    "`signature` does not authenticate \"MYVNP\" + sendDate + itemCode + status with a trusted key".into(),
                )
                .into()
            }
            PushError::StaleSendDate(_) => {
                refused("stale_send_date");
                ApiError::Unauthorized(
                    "`sendDate` is not a time (RFC 3339 or dd/MM/yyyy HH:mm:ss) within 10 minutes of now".into(),
                )
                .into()
            }
            PushError::Malformed { field, message } => malformed(&field, &message),
        })
}

fn refused(reason: &'static str) {
    ::metrics::counter!("bcci_carrier_pushes_refused_total", "reason" => reason).increment(1);
    tracing::warn!(reason, "carrier push refused");
}

fn malformed(field: &str, message: &str) -> WebhookError {
    refused("malformed");
    WebhookError::Malformed(FieldError::new(field, message))
}

/// The webhook's refusals: the API's problems, and a 400 naming the field at fault
/// (`ApiError::BadRequest` has no field list; `ApiError::Validation` is 422, and SPEC §6 says
/// 400 for a malformed push).
#[derive(Debug)]
pub enum WebhookError {
    Api(ApiError),
    Malformed(FieldError),
}

impl From<ApiError> for WebhookError {
    fn from(e: ApiError) -> Self {
        WebhookError::Api(e)
    }
}

impl From<diesel::result::Error> for WebhookError {
    fn from(e: diesel::result::Error) -> Self {
        WebhookError::Api(e.into())
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for WebhookError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        WebhookError::Api(e.into())
    }
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookError::Api(e) => e.fmt(f),
            WebhookError::Malformed(e) => write!(f, "malformed_push: {} {}", e.field, e.message),
        }
    }
}

impl ResponseError for WebhookError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebhookError::Api(e) => e.status_code(),
            WebhookError::Malformed(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            WebhookError::Api(e) => e.error_response(),
            WebhookError::Malformed(field) => {
                let mut problem = ApiError::BadRequest {
                    code: "malformed_push",
                    detail: format!("`{}` {}", field.field, field.message),
                }
                .problem();
                problem.errors = vec![field.clone()];
                HttpResponse::BadRequest()
                    .content_type("application/problem+json")
                    .json(problem)
            }
        }
    }
}

//! The carrier's push (SPEC §6, revised): `POST /v1/carrier/vnpost/webhook`, MyVNPost's
//! envelope `{"data":[record, …],"sendDate","signature"}`.
//!
//! No bearer token: `signature` authenticates `"MYVNP" + sendDate + itemCode + status` of the
//! first record, checked against the configured key(s) of `carrier.webhook_mode` before
//! anything is written (`carrier::push`). A push that passes is recorded, its first record
//! applied and every hint turned into a confirming tracking query, in one transaction
//! (`ledger::pushes`) before the 200: a 200 means it is in the ledger, and anything else means
//! the carrier may send it again. Every answer is `{"success": bool, "message": "…"}`.

use super::extract::{parse_json, read_body};
use crate::carrier::push::{
    MAX_SEND_DATE_SKEW, PushEnvelope, PushError, PushKeys, PushRecord, VerifiedPush,
};
use crate::domain::push::PushedRecord;
use crate::error::ApiError;
use crate::ledger::pushes::{self, NewPush, Outcome, Recorded};
use crate::state::AppState;
use actix_web::{HttpResponse, ResponseError, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Where the carrier pushes (also the sandbox's default `push_url`).
pub const PATH: &str = "/v1/carrier/vnpost/webhook";

/// A push, as MyVNPost sends it.
#[derive(Debug, ToSchema)]
#[schema(example = json!({
    "data": [{"itemCode": "EB123456785VN", "originalId": "9876543", "saleOrderCode": "BCCI-0193…",
              "status": 6, "statusName": "Đã nhận hàng", "statusDate": "27/11/2026 10:00:00",
              "totalFee": 16500, "codAmount": 0, "senderCode": "C0001"}],
    "sendDate": "2026-11-27T10:00:05+07:00",
    "signature": "base64…"}))]
pub struct PushBody {
    /// One or more order records (camelCase; unknown fields ignored; numbers may be text).
    /// Only the first record's `itemCode` and `status` are authenticated: that record may
    /// change its shipment's status at once; every other record and field only schedules a
    /// confirming tracking query. The time of the change is read from `statusDate`, else
    /// `createdDate` + `createdHour`, else `updatedDate` (`dd/MM/yyyy HH:mm:ss` Vietnam time or
    /// ISO 8601); a record without one is dated by `sendDate`.
    pub data: Vec<PushRecordDoc>,
    /// RFC 3339 or `dd/MM/yyyy HH:mm:ss` (Vietnam time, UTC+7); must be within 10 minutes of
    /// the gateway's clock.
    #[schema(rename = "sendDate")]
    pub send_date: String,
    /// base64. `signature` mode: RSA PKCS#1 v1.5 SHA-256 signature of
    /// `"MYVNP" + sendDate + itemCode + status` (first record, as written) by VNPost's key;
    /// `encryption` mode: that text RSA PKCS#1 v1.5-encrypted with the gateway's public key.
    pub signature: String,
}

/// One record of a push (documentation only: the webhook reads records leniently).
#[derive(Debug, ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct PushRecordDoc {
    /// The carrier's tracking number. Required in the first record.
    pub item_code: String,
    pub original_id: Option<String>,
    /// The gateway's own reference for the shipment.
    pub sale_order_code: Option<String>,
    /// The carrier status code (SPEC §5), a number or text. Required in the first record.
    pub status: i32,
    pub status_name: Option<String>,
    /// VND.
    pub total_fee: Option<i64>,
    /// VND.
    pub cod_amount: Option<i64>,
    pub sender_code: Option<String>,
    /// `dd/MM/yyyy HH:mm:ss`, Vietnam time.
    pub status_date: Option<String>,
    /// With `createdHour` (or `createHour`): `dd/MM/yyyy` and `HH:mm:ss`, Vietnam time.
    pub created_date: Option<String>,
    pub created_hour: Option<String>,
    pub updated_date: Option<String>,
}

/// Every answer of the webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushAnswer {
    /// `true` when the push is durably recorded (a repeated push too).
    pub success: bool,
    pub message: String,
    /// When recorded: what became of the first record: `applied` (a new report, in the
    /// shipment's history), `duplicate` (known already), `unknown_code` (stored and flagged
    /// for staff), `unknown_shipment` (kept for staff), `confirming` (not applied from the
    /// push; a tracking query decides).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<&'static str>,
    /// When refused: a machine code (`malformed_push`, `unsigned`, `bad_signature`,
    /// `stale_send_date`, `too_large`, `malformed_json`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// When malformed: the JSON path of the field at fault, e.g. `data[0].status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// Receive a carrier push (MyVNPost webhook).
#[utoipa::path(tag = "carrier", request_body = PushBody,
    responses(
        (status = 200, description = "Recorded (a repeated push, and a record for an unknown shipment, are also 200)", body = PushAnswer),
        (status = 400, description = "Malformed: not JSON, `data` missing, empty or not a list of objects, the first record lacking `itemCode` or `status`; `field` names it", body = PushAnswer),
        (status = 401, description = "Not authentic: `signature` missing or not checking with a configured key, or `sendDate` unreadable or more than 10 minutes from now; nothing is written", body = PushAnswer),
        (status = 413, description = "Body larger than `carrier.webhook_body_limit_bytes`", body = PushAnswer),
        (status = 429, description = "Over `limits.webhook_per_minute`; see `Retry-After`", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 500, description = "Not recorded (database unavailable): the carrier should send it again", body = PushAnswer)))]
#[post("/v1/carrier/vnpost/webhook")]
pub async fn vnpost_webhook(state: web::Data<AppState>, body: web::Payload) -> HttpResponse {
    receive(&state, body).await.unwrap_or_else(|e| refusal(&e))
}

async fn receive(state: &AppState, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let carrier = &state.config.carrier;
    let bytes = read_body(body, carrier.webhook_body_limit_bytes)
        .await
        .map_err(|e| match e {
            ApiError::PayloadTooLarge(_) => e,
            _ => ApiError::BadRequest {
                code: "unreadable_body",
                detail: "the body could not be read".into(),
            },
        })?;
    let envelope = envelope(&bytes)?;
    let verified = verify(&state.push_keys, &envelope, Utc::now())?;
    // Authenticated as received; stored without NUL characters, which PostgreSQL cannot hold.
    let data = pushes::strip_nul(&Value::Array(envelope.data));
    let (first, rest) = clean_records(&data)?;
    let send_date_text = envelope.send_date.replace('\0', "");
    let push = NewPush {
        mode: carrier.webhook_mode.as_str(),
        send_date: verified.sent_at,
        send_date_text: &send_date_text,
        data: &data,
        first: &first,
        rest: &rest,
    };
    let quiet =
        chrono::Duration::from_std(state.config.tracking.quiet_after).expect("quiet_after fits");
    let mut conn = state.pool.get().await?;
    let recorded = pushes::record(&mut conn, &carrier.status_codes, &push, quiet).await?;
    observe(&push, &recorded);
    let outcome = recorded.outcome().as_str();
    Ok(HttpResponse::Ok().json(PushAnswer {
        success: true,
        message: format!(
            "recorded: {} record(s), first {outcome}, {} confirming tracking query(ies) queued",
            recorded.records.len(),
            recorded.confirms_queued()
        ),
        outcome: Some(outcome),
        code: None,
        field: None,
    }))
}

/// Metrics and logs: item codes, codes and outcomes only (records may name people).
fn observe(push: &NewPush<'_>, recorded: &Recorded) {
    let outcome = recorded.outcome().as_str();
    ::metrics::counter!("bcci_carrier_pushes_total", "outcome" => outcome).increment(1);
    if matches!(recorded.outcome(), Outcome::Applied | Outcome::UnknownCode) {
        ::metrics::counter!("bcci_carrier_reports_total", "source" => "carrier_push").increment(1);
    }
    let hints = recorded.records.len() - 1;
    if hints > 0 {
        ::metrics::counter!("bcci_carrier_push_hints_total").increment(hints as u64);
    }
    let first = push.first;
    match recorded.outcome() {
        Outcome::UnknownShipment | Outcome::UnknownCode => tracing::warn!(
            item_code = %first.item_code, code = first.status, outcome,
            envelope = recorded.envelope_id, "carrier push kept for staff"
        ),
        _ => tracing::debug!(
            item_code = %first.item_code, code = first.status, outcome, hints,
            confirms = recorded.confirms_queued(), envelope = recorded.envelope_id,
            shipment = ?recorded.records[0].shipment_id, "carrier push"
        ),
    }
    for (i, (r, o)) in push.rest.iter().zip(&recorded.records[1..]).enumerate() {
        if o.outcome == Outcome::UnknownShipment
            && let Ok(r) = r
        {
            tracing::warn!(item_code = %r.item_code, code = r.status, record = i + 1,
                envelope = recorded.envelope_id, "carrier push record about an unknown shipment kept for staff");
        }
    }
}

/// The records as they will be stored and used: read again once NUL characters are removed.
/// Removing NUL can only empty the first record's item code, which is then malformed.
fn clean_records(
    data: &Value,
) -> Result<(PushedRecord, Vec<Result<PushedRecord, String>>), ApiError> {
    let records = data.as_array().expect("data is a list");
    let first = PushRecord::from_value(&records[0])
        .ok()
        .filter(|r| !r.item_code.trim().is_empty())
        .map(|r| r.pushed())
        .ok_or_else(|| {
            malformed(
                "data[0].itemCode",
                "is empty once NUL characters are removed",
            )
        })?;
    let rest = (records[1..].iter())
        .map(|r| PushRecord::from_value(r).map(|r| r.pushed()))
        .collect();
    Ok((first, rest))
}

/// The envelope's shape: a JSON object whose `data` is a list of objects (else 400, naming
/// the field). A `sendDate` or `signature` that is not text counts as absent: 401 follows.
fn envelope(bytes: &[u8]) -> Result<PushEnvelope, ApiError> {
    let value = parse_json(bytes).map_err(|_| ApiError::BadRequest {
        code: "malformed_json",
        detail: "the body is not JSON".into(),
    })?;
    let Value::Object(mut fields) = value else {
        return Err(malformed(
            "body",
            "must be a JSON object {\"data\", \"sendDate\", \"signature\"}",
        ));
    };
    let data = match fields.remove("data") {
        Some(Value::Array(records)) if records.is_empty() => {
            return Err(malformed("data", "must hold at least one record"));
        }
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

/// The shape of the signed part, then a signature, `sendDate` within 10 minutes of `now`, the
/// signature checking with a trusted key of the configured mode; the first record readable.
fn verify(
    keys: &PushKeys,
    envelope: &PushEnvelope,
    now: DateTime<Utc>,
) -> Result<VerifiedPush, ApiError> {
    let unauthentic = |code, detail: &str| ApiError::Unauthentic {
        code,
        detail: detail.to_owned(),
    };
    keys.verify(envelope, now, MAX_SEND_DATE_SKEW)
        .map_err(|e| match e {
            PushError::Unsigned => unauthentic("unsigned", "the push has no `signature`"),
            PushError::BadSignature => unauthentic(
                "bad_signature",
                "`signature` does not authenticate \"MYVNP\" + sendDate + itemCode + status with a configured key",
            ),
            PushError::StaleSendDate(_) => unauthentic(
                "stale_send_date",
                "`sendDate` is not a time (RFC 3339 or dd/MM/yyyy HH:mm:ss) within 10 minutes of now",
            ),
            PushError::Malformed { field, message } => malformed(&field, &message),
        })
}

fn malformed(field: &str, message: &str) -> ApiError {
    ApiError::BadField {
        code: "malformed_push",
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

/// A push not recorded: the API's error said in the webhook's own `{"success": false, …}`
/// answer (SPEC §6), with the same status.
fn refusal(e: &ApiError) -> HttpResponse {
    let status = e.status_code();
    let (code, message, field) = match e {
        ApiError::PayloadTooLarge(limit) => (
            "too_large",
            format!("the body exceeds the limit of {limit} bytes"),
            None,
        ),
        ApiError::BadRequest { code, detail } | ApiError::Unauthentic { code, detail } => {
            (*code, detail.clone(), None)
        }
        ApiError::BadField { code, field, .. } => (*code, e.detail(), Some(field.clone())),
        // `ApiError` logs internal errors when it renders itself; this answer is rendered here.
        _ if status.is_server_error() => {
            tracing::error!(error = %e, "carrier push not recorded");
            let message = "the push could not be recorded; send it again";
            return answer(status, "not_recorded", message.into(), None);
        }
        _ => return answer(status, "refused", e.to_string(), None),
    };
    // A refusal is the sender's problem: counted and logged by reason, never by content.
    ::metrics::counter!("bcci_carrier_pushes_refused_total", "reason" => code).increment(1);
    tracing::warn!(
        reason = code,
        status = status.as_u16(),
        "carrier push refused"
    );
    answer(status, code, message, field)
}

fn answer(
    status: actix_web::http::StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
) -> HttpResponse {
    HttpResponse::build(status).json(PushAnswer {
        success: false,
        message,
        outcome: None,
        code: Some(code),
        field,
    })
}

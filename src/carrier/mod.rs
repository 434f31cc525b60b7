//! The carrier: everything the gateway says to VNPost and hears from it, on the wire.
//!
//! - [`Carrier`]: the four calls the gateway makes, with carrier-neutral types, so the job
//!   runner does not know VNPost's field names and can be tested against a fake.
//! - [`vnpost`]: the MyVNPost HTTP adapter (SPEC §5): login and token, request bodies, the
//!   parsers of every answer shape ([`vnpost::parse`]), failure classification, TLS.
//! - [`wire`]: the JSON records of SPEC §5.
//! - official 2025 commune codes → VNPost's: `domain::commune_codes`.
//! - [`order`]: a shipment → the order the carrier is asked to carry.
//! - [`waybill`]: joins the carrier's waybill PDFs into one document.
//! - [`push`]: the signed push envelope of SPEC §6 (signing, verification, parsing).
//! - [`vntime`]: the carrier's clock (Vietnam time, UTC+7) and its date formats.
//! - [`sandbox`]: the carrier simulator of SPEC §8, an HTTP server speaking the same API.

pub mod catalogue;
#[cfg(test)]
mod contract_tests;
pub mod list;
pub mod order;
pub mod push;
pub mod sandbox;
pub mod vnpost;
pub mod vntime;
pub mod waybill;
pub mod wire;

use chrono::{DateTime, Utc};
use std::fmt;
use std::future::Future;
use std::time::Duration;

pub use vnpost::VnPost;

/// A sender or a receiver. `Debug` masks the personal data (Decree 13/2023/NĐ-CP), so an
/// order printed by accident in a log does not leak a citizen's name or phone.
#[derive(Clone, PartialEq, Eq)]
pub struct Party {
    pub name: String,
    pub phone: String,
    pub email: Option<String>,
    pub address_line: String,
    pub province_code: String,
    pub commune_code: String,
}

impl fmt::Debug for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::domain::mask;
        f.debug_struct("Party")
            .field("name", &mask::name(&self.name))
            .field("phone", &mask::phone(&self.phone))
            .field("email", &self.email.as_deref().map(mask::email))
            .field("address_line", &"[redacted]")
            .field("province_code", &self.province_code)
            .field("commune_code", &self.commune_code)
            .finish()
    }
}

pub use crate::domain::send_type::SendType;

/// Awaits one call to the carrier and records how long it took, under the call's name in
/// `bcci_carrier_request_seconds`: every carrier call is timed the same way.
pub async fn timed<T>(call: &'static str, answer: impl Future<Output = T>) -> T {
    let t = std::time::Instant::now();
    let answer = answer.await;
    metrics::histogram!("bcci_carrier_request_seconds", "call" => call).record(t.elapsed());
    answer
}

/// What the gateway asks the carrier to carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    /// The gateway's own unique reference of the shipment: how a lost order is found again.
    pub sale_order_code: String,
    pub sender: Party,
    pub receiver: Party,
    /// `CTN001` economy, `ETN011` fast, `ETN013` express.
    pub service_code: String,
    pub weight_grams: u32,
    pub content_note: String,
    /// Cash on delivery in đồng; 0 = none.
    pub cod_vnd: i64,
    pub send_type: SendType,
    /// Post-office codes (`orgCodeCollect`, `orgCodeAccept`), when the office has them.
    pub org_code_collect: Option<String>,
    pub org_code_accept: Option<String>,
    /// `deliveryInstruction`: the citizen's note to the postal worker.
    pub delivery_instruction: Option<String>,
}

/// The carrier accepted an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderCreated {
    /// The tracking number (`itemCode`, e.g. `EB123456785VN`).
    pub item_code: String,
    /// The carrier's id of the order, needed to cancel it.
    pub original_id: String,
    pub order_hdr_id: Option<String>,
    pub status: Option<i32>,
    pub total_fee: Option<i64>,
}

/// An order found by its `saleOrderCode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundOrder {
    pub item_code: String,
    pub original_id: String,
    pub sale_order_code: String,
    pub status: Option<i32>,
    pub status_name: Option<String>,
    pub updated_at: Option<DateTime<Utc>>,
    /// Postage the carrier charges, in đồng.
    pub total_fee: Option<i64>,
    /// Cash on delivery the carrier collects, in đồng.
    pub cod_amount: Option<i64>,
}

/// One entry of an order's status history, or one push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// The carrier's status code (SPEC §5 table, `domain::carrier_codes`).
    pub code: i32,
    pub text: String,
    /// The carrier's own timestamp, converted from Vietnam time.
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelResult {
    /// Cancelled (`Type` `"00"`).
    Done,
    /// The carrier must approve the cancellation (`Type` `"02"`): ask again later with
    /// [`Carrier::cancel_case`] and the case id.
    Waiting { case_id: Option<String> },
    /// The carrier will not cancel (e.g. already collected); its message.
    Refused(String),
}

/// A postage quote request (`ServicesCharge`). Codes are the official 2025 codes; the
/// adapter maps them to VNPost's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRequest {
    pub sender_province_code: String,
    pub sender_commune_code: String,
    pub receiver_province_code: String,
    pub receiver_commune_code: String,
    pub weight_grams: u32,
    /// `None`: every service the contract offers.
    pub service_code: Option<String>,
    /// Cash on delivery in đồng; 0 = none (adds the COD add-on to the quote).
    pub cod_vnd: i64,
}

/// The postage of one service, in đồng.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ServiceQuote {
    pub service_code: String,
    pub service_name: String,
    pub main_fee_vnd: i64,
    /// Add-on services (`vasFee`).
    pub extra_fee_vnd: i64,
    pub total_fee_vnd: i64,
}

/// One province of VNPost's own 2025 catalogue (`getNewProvinceAll`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueProvince {
    pub code: String,
    pub name: String,
}

/// One commune of VNPost's own 2025 catalogue (`getNewCommuneAll`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueCommune {
    pub code: String,
    pub name: String,
    pub province_code: String,
}

/// Most item codes one `exportListReport` call takes.
pub const WAYBILLS_PER_CALL: usize = 100;

/// Why a call failed, in the terms the job runner needs to decide what to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The connection could not be made: the request never reached the carrier.
    Connect,
    /// No complete answer: the time ran out, or the connection broke after the request was
    /// sent. The carrier may have acted on it (look a created order up before creating again).
    Timeout,
    /// The carrier answered 5xx.
    Server,
    /// The carrier answered 429; see `retry_after`.
    RateLimited,
    /// Login refused, or still 401/403 after one new login: a configuration problem.
    Auth,
    /// The carrier refuses the data (400/404/422, or an error in a 200 answer): permanent
    /// until someone corrects the data.
    Refused,
    /// An answer that cannot be understood.
    Protocol,
}

impl ErrorClass {
    /// A stable name, for attempt rows and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Connect => "connect",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Server => "server",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::Auth => "auth",
            ErrorClass::Refused => "refused",
            ErrorClass::Protocol => "protocol",
        }
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed carrier call.
///
/// `message` and `excerpt` come from the carrier's answer and may quote the submitted data:
/// store them with the attempt, do not log them. For a refusal, `message` is the carrier's own
/// words and nothing else (the job runner stores "the carrier refused the order: <message>");
/// the call and the HTTP status are in `op` and `http_status`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("carrier {class}{}: {message}", .op.map(|op| format!(" ({op})")).unwrap_or_default())]
pub struct CarrierError {
    pub class: ErrorClass,
    pub message: String,
    /// The carrier call that failed (`CreateOrder`, `getOrder`…).
    pub op: Option<&'static str>,
    pub http_status: Option<u16>,
    /// From a 429's `Retry-After` (seconds).
    pub retry_after: Option<Duration>,
    /// The start of the answer body (at most [`EXCERPT_CHARS`] characters).
    pub excerpt: Option<String>,
}

/// How much of an answer body a [`CarrierError`] keeps.
pub const EXCERPT_CHARS: usize = 500;

impl CarrierError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        CarrierError {
            class,
            message: message.into(),
            op: None,
            http_status: None,
            retry_after: None,
            excerpt: None,
        }
    }

    /// The same error, saying which call failed.
    pub fn in_op(self, op: &'static str) -> Self {
        CarrierError {
            op: Some(op),
            ..self
        }
    }

    /// Retrying the same call cannot succeed: the data must change first.
    pub fn is_permanent(&self) -> bool {
        self.class == ErrorClass::Refused
    }

    /// The carrier may have acted on the request although the call failed: before creating
    /// an order again, look it up by `saleOrderCode` (SPEC §5).
    pub fn may_have_acted(&self) -> bool {
        matches!(
            self.class,
            ErrorClass::Timeout | ErrorClass::Server | ErrorClass::Protocol
        )
    }
}

/// The carrier calls the gateway makes. Implemented over HTTP by [`VnPost`]; the sandbox
/// carrier is reached through the same adapter.
pub trait Carrier: Send + Sync + 'static {
    /// `CreateOrder`. Not idempotent at the carrier: every call may create an order.
    fn create_order(
        &self,
        req: &OrderRequest,
    ) -> impl Future<Output = Result<OrderCreated, CarrierError>> + Send;
    /// `getOrder` by the gateway's reference; `None` when the carrier has no such order.
    fn find_order(
        &self,
        sale_order_code: &str,
    ) -> impl Future<Output = Result<Option<FoundOrder>, CarrierError>> + Send;
    /// `GetStatusHistoryOrder`, oldest first.
    fn status_history(
        &self,
        item_code: &str,
    ) -> impl Future<Output = Result<Vec<StatusReport>, CarrierError>> + Send;
    /// `orderCancel` by the carrier's order id.
    fn cancel_order(
        &self,
        original_id: &str,
    ) -> impl Future<Output = Result<CancelResult, CarrierError>> + Send;
    /// `orderCorrection/updateCase`: the outcome of a cancellation that was
    /// [`CancelResult::Waiting`]; `Waiting` again while VNPost has not decided.
    fn cancel_case(
        &self,
        original_id: &str,
        case_id: &str,
    ) -> impl Future<Output = Result<CancelResult, CarrierError>> + Send;
    /// `ServicesCharge`: the postage of each service.
    fn quote(
        &self,
        req: &QuoteRequest,
    ) -> impl Future<Output = Result<Vec<ServiceQuote>, CarrierError>> + Send;
    /// `exportListReport`: the waybills of at most [`WAYBILLS_PER_CALL`] items, as PDF files.
    fn waybills(
        &self,
        item_codes: &[String],
    ) -> impl Future<Output = Result<Vec<Vec<u8>>, CarrierError>> + Send;
    /// `getNewProvinceAll`.
    fn provinces(
        &self,
    ) -> impl Future<Output = Result<Vec<CatalogueProvince>, CarrierError>> + Send;
    /// `getNewCommuneAll`.
    fn communes(&self) -> impl Future<Output = Result<Vec<CatalogueCommune>, CarrierError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn party_debug_masks_personal_data() {
        let p = Party {
            name: "Nguyễn Văn An".into(),
            phone: "0912345678".into(),
            email: Some("an@example.vn".into()),
            address_line: "Số 3, ngõ 5".into(),
            province_code: "08".into(),
            commune_code: "02215".into(),
        };
        let printed = format!("{p:?}");
        for secret in ["Văn", "0912345678", "an@example.vn", "ngõ 5"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(printed.contains("02215"));
    }

    #[test]
    fn only_refusals_are_permanent() {
        use ErrorClass::*;
        for class in [
            Connect,
            Timeout,
            Server,
            RateLimited,
            Auth,
            Refused,
            Protocol,
        ] {
            assert_eq!(
                CarrierError::new(class, "x").is_permanent(),
                class == Refused,
                "{class}"
            );
        }
        assert!(!CarrierError::new(Connect, "x").may_have_acted());
        assert!(CarrierError::new(Timeout, "x").may_have_acted());
    }
}

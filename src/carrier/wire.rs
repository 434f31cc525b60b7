//! The JSON of the carrier API (SPEC §5, revised 2026-11-30), field for field. The adapter
//! writes requests and reads the records inside answers with these types; which of the
//! answer *shapes* of §5 an answer has (a record at the root or under `data`, a list or a
//! bare object…) is decided by the parsers in [`super::vnpost::parse`].
//!
//! Records are read leniently where real .NET and Java services are known to vary: ids and
//! numbers may come as JSON numbers or as text, lists may be `null`, and some keys are
//! capitalised in one answer and lower-case in another.
//!
//! Types carrying credentials, tokens or personal data do not implement `Debug`.

use serde::{Deserialize, Serialize};

/// The literal district code of two-level addresses (SPEC §5).
pub const DISTRICT_CODE: &str = "VNPOST";
/// Add-on service: cash on delivery.
pub const ADDON_COD: &str = "GTG021";
/// The property of the COD add-on carrying the amount: `PROP0018:<amount>`.
pub const PROP_COD_AMOUNT: &str = "PROP0018";
/// `orderCreationStatus` of an order to be processed now (not a draft).
pub const ORDER_CREATION_STATUS: i32 = 1;
/// `type` of an order the customer sends.
pub const ORDER_TYPE: &str = "GUI";
/// `vehicle`: by road.
pub const VEHICLE_ROAD: &str = "BO";
/// `isBroken`: not fragile.
pub const NOT_BROKEN: &str = "0";
/// `receiverNational` of a domestic quote.
pub const NATIONAL_VN: &str = "VN";
/// `scope` of a `ServicesCharge` request for the customer's own contract.
pub const CHARGE_SCOPE: i32 = 1;
/// `orderCancel` / `updateCase` answer types.
pub const CANCEL_DONE: &str = "00";
pub const CANCEL_REFUSED: &str = "01";
pub const CANCEL_WAITING: &str = "02";
/// `getOrder` / `GetStatusHistoryOrder` `type`: by tracking number, by the gateway's own
/// reference, by the carrier's id.
pub const LOOKUP_BY_ITEM_CODE: &str = "1";
pub const LOOKUP_BY_SALE_ORDER_CODE: &str = "2";
pub const LOOKUP_BY_ORIGINAL_ID: &str = "3";

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    pub customer_code: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    #[serde(default)]
    pub success: bool,
    pub token: Option<String>,
    pub error_message: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrderRequest {
    pub order_creation_status: i32,
    #[serde(rename = "type")]
    pub kind: String,
    pub customer_code: String,
    pub contract_code: String,
    pub information_order: InformationOrder,
}

/// `informationOrder` of `CreateOrder`, every field §5 lists, in its order. Absent values
/// are sent as `null` (not left out): the carrier's documentation lists them all.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InformationOrder {
    pub sender_name: String,
    pub sender_phone: String,
    pub sender_email: Option<String>,
    pub sender_address: String,
    pub sender_province_code: String,
    pub sender_district_code: String,
    pub sender_commune_code: String,
    pub receiver_name: String,
    pub receiver_phone: String,
    pub receiver_email: Option<String>,
    pub receiver_address: String,
    pub receiver_province_code: String,
    pub receiver_district_code: String,
    pub receiver_commune_code: String,
    pub service_code: String,
    pub sale_order_code: String,
    pub content_note: String,
    /// Grams, as text (`"500"`): the carrier's documentation types it as a string.
    pub weight: String,
    pub width: Option<u32>,
    pub length: Option<u32>,
    pub height: Option<u32>,
    pub vehicle: String,
    /// `"1"` collected at the sender's address, `"2"` handed in at a post office.
    pub send_type: String,
    pub is_broken: String,
    pub delivery_time: Option<String>,
    pub delivery_require: Option<String>,
    pub delivery_instruction: Option<String>,
    pub org_code_collect: Option<String>,
    pub org_code_accept: Option<String>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub addition_request: Vec<serde_json::Value>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub addon_service: Vec<AddonService>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddonService {
    pub code: String,
    pub prop_value: String,
}

impl AddonService {
    /// Cash on delivery of `amount` đồng.
    pub fn cod(amount: i64) -> Self {
        AddonService {
            code: ADDON_COD.into(),
            prop_value: format!("{PROP_COD_AMOUNT}:{amount}"),
        }
    }
}

/// The order record `CreateOrder` answers (at the root or under `data`).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CreateOrderResponse {
    #[serde(rename = "orderHdrID", default, deserialize_with = "lenient::text")]
    pub order_hdr_id: Option<String>,
    #[serde(rename = "originalID", default, deserialize_with = "lenient::text")]
    pub original_id: Option<String>,
    #[serde(rename = "itemCode", default, deserialize_with = "lenient::text")]
    pub item_code: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub status: Option<i32>,
    #[serde(rename = "totalFee", default, deserialize_with = "lenient::int")]
    pub total_fee: Option<i64>,
}

/// One element of the `getOrder` answer: `[{"results":[…]}]` or the bare `{"results":[…]}`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct GetOrderPage {
    #[serde(default, deserialize_with = "lenient::list")]
    pub results: Vec<OrderInfo>,
}

/// An order record of `getOrder` / `GetListOrder`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct OrderInfo {
    #[serde(rename = "itemCode", default, deserialize_with = "lenient::text")]
    pub item_code: Option<String>,
    #[serde(
        rename = "originalID",
        alias = "originalId",
        default,
        deserialize_with = "lenient::text"
    )]
    pub original_id: Option<String>,
    #[serde(rename = "saleOrderCode", default, deserialize_with = "lenient::text")]
    pub sale_order_code: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub status: Option<i32>,
    #[serde(rename = "statusName", default)]
    pub status_name: Option<String>,
    #[serde(rename = "updatedDate", default)]
    pub updated_date: Option<String>,
    #[serde(rename = "totalFee", default, deserialize_with = "lenient::int")]
    pub total_fee: Option<i64>,
    #[serde(rename = "codAmount", default, deserialize_with = "lenient::int")]
    pub cod_amount: Option<i64>,
}

/// `{"statusHistory":[…]}`, bare or under `data`; in the list shape each element also has
/// the `itemCode` it is about.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusHistoryResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_code: Option<String>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub status_history: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// `dd/MM/yyyy` (sometimes with the time after it, when no hour field is given).
    pub created_date: String,
    /// `HH:mm:ss`; some answers name it `createHour`.
    #[serde(default, alias = "createHour")]
    pub created_hour: Option<String>,
    #[serde(deserialize_with = "lenient::required_int")]
    pub status_code: i32,
    #[serde(default)]
    pub status_name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CancelRequest {
    #[serde(rename = "OriginalId")]
    pub original_id: String,
}

/// An `orderCancel` or `updateCase` answer: capitalised or lower-case keys.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CancelResponse {
    #[serde(
        rename = "Type",
        alias = "type",
        default,
        deserialize_with = "lenient::text"
    )]
    pub kind: Option<String>,
    #[serde(rename = "Message", alias = "message", default)]
    pub message: Option<String>,
    #[serde(
        rename = "CaseId",
        alias = "caseId",
        alias = "caseID",
        default,
        deserialize_with = "lenient::text"
    )]
    pub case_id: Option<String>,
}

/// `ServicesCharge` request (SPEC §5).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicesChargeRequest {
    pub scope: i32,
    pub customer_code: String,
    pub contract_number: String,
    pub data: ChargeData,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChargeData {
    pub sender_province_code: String,
    pub sender_district_code: String,
    pub sender_commune_code: String,
    pub receiver_province_code: String,
    pub receiver_district_code: String,
    pub receiver_commune_code: String,
    pub receiver_national: String,
    /// Grams, as a number here (unlike `CreateOrder`).
    pub weight: u32,
    /// `null`: every service of the contract.
    pub service_code: Option<String>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub addon_service: Vec<AddonService>,
    #[serde(default, deserialize_with = "lenient::list")]
    pub addition_request: Vec<serde_json::Value>,
    pub vehicle: String,
}

/// The postage of one service (`ServicesCharge`), in đồng.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceCharge {
    #[serde(default, deserialize_with = "lenient::text")]
    pub service_code: Option<String>,
    #[serde(default)]
    pub service_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub main_fee: Option<i64>,
    #[serde(default, alias = "vasfee", deserialize_with = "lenient::int")]
    pub vas_fee: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub total_fee: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub price_weight: Option<i64>,
    #[serde(default, deserialize_with = "lenient::int")]
    pub weight_convert: Option<i64>,
}

/// `getNewProvinceAll` element.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvinceEntry {
    #[serde(default, deserialize_with = "lenient::text")]
    pub province_code: Option<String>,
    #[serde(default)]
    pub province_name: Option<String>,
}

/// `getNewCommuneAll` element; some answers give the province under `districtCode`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommuneEntry {
    #[serde(default, deserialize_with = "lenient::text")]
    pub commune_code: Option<String>,
    #[serde(default)]
    pub commune_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub province_code: Option<String>,
    #[serde(default, deserialize_with = "lenient::text")]
    pub district_code: Option<String>,
}

/// The body of a refusal as the first contract had it; the sandbox still answers with it
/// until it speaks the revised §5 (the adapter reads it through [`error_message`]).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error_code: String,
    pub error_message: String,
}

/// Is this object a Spring Boot error body (`{"status","timestamp","error","message","path"}`)?
/// Its `status` is an HTTP status, not an order status.
pub fn is_spring_error(body: &serde_json::Value) -> bool {
    body.get("timestamp").is_some() && body.get("error").is_some() && body.get("path").is_some()
}

/// The carrier's own words in an error answer, whichever field it used: `message`,
/// `Message`, `errorMessage` (SPEC §5), or a Spring body's `error` when it has no message.
pub fn error_message(body: &serde_json::Value) -> Option<String> {
    ["message", "Message", "errorMessage", "error", "title"]
        .iter()
        .filter_map(|k| body.get(k)?.as_str())
        .map(str::trim)
        .find(|m| !m.is_empty())
        .map(str::to_owned)
}

/// Does a 2xx answer say that the call failed? Only consulted when the answer lacks what the
/// call should return: some services put a success text in the same fields ("Thành công").
pub fn reports_failure(body: &serde_json::Value) -> Option<String> {
    if !body.is_object() {
        return None;
    }
    if body.get("success").and_then(|s| s.as_bool()) == Some(true) {
        return None;
    }
    let failed = body.get("success").and_then(|s| s.as_bool()) == Some(false)
        || body
            .get("errorCode")
            .is_some_and(|c| !c.is_null() && c.as_str() != Some(""))
        || is_spring_error(body)
        || error_message(body).is_some();
    failed.then(|| {
        error_message(body)
            .unwrap_or_else(|| "the carrier reported a failure without a message".to_owned())
    })
}

/// Deserializers that accept what real services send for the same field.
pub(crate) mod lenient {
    use serde::{Deserialize, Deserializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Int(i64),
        Float(f64),
        Text(String),
    }

    /// A string, or a number written as text; empty text is absent.
    pub fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Option::<NumberOrText>::deserialize(d)? {
            None => None,
            Some(NumberOrText::Int(n)) => Some(n.to_string()),
            Some(NumberOrText::Float(f)) => Some(f.to_string()),
            Some(NumberOrText::Text(s)) => Some(s).filter(|s| !s.trim().is_empty()),
        })
    }

    /// An integer, or an integer written as text; empty text is absent.
    pub fn int<'de, D: Deserializer<'de>, T: TryFrom<i64>>(d: D) -> Result<Option<T>, D::Error> {
        let n = match Option::<NumberOrText>::deserialize(d)? {
            None => return Ok(None),
            Some(NumberOrText::Int(n)) => n,
            Some(NumberOrText::Float(f)) if f.fract() == 0.0 && f.abs() < 9e15 => f as i64,
            Some(NumberOrText::Text(s)) if s.trim().is_empty() => return Ok(None),
            Some(NumberOrText::Text(s)) => s
                .trim()
                .parse()
                .map_err(|_| D::Error::custom(format!("not an integer: {s:?}")))?,
            Some(NumberOrText::Float(f)) => {
                return Err(D::Error::custom(format!("not an integer: {f}")));
            }
        };
        T::try_from(n)
            .map(Some)
            .map_err(|_| D::Error::custom(format!("integer out of range: {n}")))
    }

    pub fn required_int<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
        int(d)?.ok_or_else(|| D::Error::custom("missing integer"))
    }

    /// A list; `null` is empty.
    pub fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_as_text_and_text_as_numbers() {
        let r: CreateOrderResponse =
            serde_json::from_value(json!({"orderHdrID": 123, "originalID": "abc", "itemCode": "EB1VN", "status": "1", "totalFee": 16500.0}))
                .unwrap();
        assert_eq!(r.order_hdr_id.as_deref(), Some("123"));
        assert_eq!(r.original_id.as_deref(), Some("abc"));
        assert_eq!(r.status, Some(1));
        assert_eq!(r.total_fee, Some(16500));
        let r: CreateOrderResponse =
            serde_json::from_value(json!({"itemCode": "", "status": null})).unwrap();
        assert_eq!((r.item_code, r.status), (None, None));
        assert!(serde_json::from_value::<CreateOrderResponse>(json!({"status": "six"})).is_err());
        assert!(serde_json::from_value::<CreateOrderResponse>(json!({"status": 1.5})).is_err());
    }

    #[test]
    fn null_lists_are_empty() {
        let p: Vec<GetOrderPage> = serde_json::from_value(json!([{"results": null}])).unwrap();
        assert!(p[0].results.is_empty());
        let h: StatusHistoryResponse =
            serde_json::from_value(json!({"statusHistory": null})).unwrap();
        assert!(h.status_history.is_empty());
    }

    #[test]
    fn failures_in_ok_answers() {
        assert_eq!(
            reports_failure(&json!({"success": false, "errorMessage": "Sai mật khẩu"})).as_deref(),
            Some("Sai mật khẩu")
        );
        assert_eq!(
            reports_failure(&json!({"errorCode": "E01", "message": "Mã xã không hợp lệ"}))
                .as_deref(),
            Some("Mã xã không hợp lệ")
        );
        assert_eq!(
            reports_failure(&json!({"Message": "Đơn hàng không tồn tại"})).as_deref(),
            Some("Đơn hàng không tồn tại")
        );
        assert_eq!(
            reports_failure(
                &json!({"status": 400, "timestamp": "t", "error": "Bad Request", "message": "", "path": "/CreateOrder"})
            )
            .as_deref(),
            Some("Bad Request")
        );
        assert!(reports_failure(&json!({"success": false})).is_some());
        assert_eq!(
            reports_failure(&json!({"success": true, "message": "Thành công", "token": "t"})),
            None
        );
        assert_eq!(
            reports_failure(&json!({"itemCode": "EB1VN", "errorCode": null, "errorMessage": ""})),
            None
        );
        assert_eq!(reports_failure(&json!([{"message": "x"}])), None);
    }

    #[test]
    fn capitalised_or_lower_case_cancel_keys() {
        for body in [
            json!({"Type": "02", "Message": "Chờ duyệt", "CaseId": 7}),
            json!({"type": "02", "message": "Chờ duyệt", "caseId": "7"}),
        ] {
            let r: CancelResponse = serde_json::from_value(body).unwrap();
            assert_eq!(r.kind.as_deref(), Some("02"));
            assert_eq!(r.message.as_deref(), Some("Chờ duyệt"));
            assert_eq!(r.case_id.as_deref(), Some("7"));
        }
    }
}

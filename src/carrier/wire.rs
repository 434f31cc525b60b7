//! The JSON of the carrier API (SPEC §5), field for field. The adapter writes requests and
//! reads answers with these types; the sandbox reads requests and writes answers with the same
//! ones, so the two cannot drift apart silently (the adapter's unit tests pin the exact JSON).
//!
//! Answers are read leniently where real .NET services are known to vary: ids and numbers may
//! come as JSON numbers or as text, and lists may be `null`.
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
/// `orderCancel` answer types.
pub const CANCEL_DONE: &str = "00";
pub const CANCEL_WAITING: &str = "02";

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
    pub weight: u32,
    pub content_note: String,
    #[serde(default, deserialize_with = "lenient::list")]
    pub addon_service: Vec<AddonService>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddonService {
    pub code: String,
    pub prop_value: String,
}

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

/// One element of the `getOrder` answer (an array of these).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct GetOrderPage {
    #[serde(default, deserialize_with = "lenient::list")]
    pub results: Vec<OrderInfo>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct OrderInfo {
    #[serde(rename = "itemCode", default, deserialize_with = "lenient::text")]
    pub item_code: Option<String>,
    #[serde(rename = "originalID", default, deserialize_with = "lenient::text")]
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
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusHistoryRequest {
    pub item_code: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusHistoryResponse {
    #[serde(default, deserialize_with = "lenient::list")]
    pub status_history: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub created_date: String,
    pub created_hour: String,
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

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct CancelResponse {
    #[serde(rename = "Type", default, deserialize_with = "lenient::text")]
    pub kind: Option<String>,
    #[serde(rename = "Message", default)]
    pub message: Option<String>,
    #[serde(rename = "CaseId", default, deserialize_with = "lenient::text")]
    pub case_id: Option<String>,
}

/// The body of a refusal (4xx).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    pub error_code: String,
    pub error_message: String,
}

/// The carrier's own words in an error answer, whichever field it used.
pub fn error_message(body: &serde_json::Value) -> Option<String> {
    ["errorMessage", "message", "Message", "error", "title"]
        .iter()
        .filter_map(|k| body.get(k)?.as_str())
        .map(str::trim)
        .find(|m| !m.is_empty())
        .map(str::to_owned)
}

/// Does a 2xx answer say that the call failed (`success: false`, or an `errorMessage`)?
/// Only consulted when the answer lacks what the call should return: some services put a
/// success text or code in the same fields.
pub fn reports_failure(body: &serde_json::Value) -> Option<String> {
    let failed = body.get("success").and_then(|s| s.as_bool()) == Some(false)
        || body
            .get("errorCode")
            .is_some_and(|c| !c.is_null() && c.as_str() != Some(""))
        || body
            .get("errorMessage")
            .and_then(|m| m.as_str())
            .is_some_and(|m| !m.trim().is_empty());
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
        assert!(reports_failure(&json!({"success": false})).is_some());
        assert_eq!(
            reports_failure(&json!({"success": true, "errorMessage": null, "token": "t"})),
            None
        );
        assert_eq!(
            reports_failure(&json!({"itemCode": "EB1VN", "errorCode": null, "errorMessage": ""})),
            None
        );
    }
}

//! `GetListOrder` (SPEC §5): VNPost's own list of the orders changed in a date range, 500 a
//! page, read for the month's reconciliation (issue 10 §3).
//!
//! The parser is pure (an [`Answer`] in, records out) and accepts both shapes §5 lists,
//! `{"results":[…]}` and `[{"results":[…]}]`; anything else is a protocol error, never an
//! empty month. The paging loop is [`super::VnPost::list_orders`].

use super::vnpost::Answer;
use super::wire::lenient;
use super::{CarrierError, ErrorClass, vntime};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::Value;

/// Orders a page holds at most; a shorter page is the last.
pub const PAGE_SIZE: usize = 500;
/// Pages read at most in one pull: 500 000 orders, far beyond a department's month. A carrier
/// that keeps answering full pages is not followed for ever.
pub const MAX_PAGES: usize = 1000;

/// One order of the carrier's list, with the figures the month is reconciled on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedOrder {
    pub item_code: String,
    pub sale_order_code: Option<String>,
    pub original_id: Option<String>,
    pub status: Option<i32>,
    pub status_name: Option<String>,
    /// Postage the carrier charges (`totalFee`), in đồng.
    pub total_fee: Option<i64>,
    /// Cash on delivery the carrier collects (`codAmount`), in đồng.
    pub cod_amount: Option<i64>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The record as `GetListOrder` writes it (the `getOrder` record and its creation date).
#[derive(Debug, Deserialize)]
struct Record {
    #[serde(rename = "itemCode", default, deserialize_with = "lenient::text")]
    item_code: Option<String>,
    #[serde(
        rename = "originalID",
        alias = "originalId",
        default,
        deserialize_with = "lenient::text"
    )]
    original_id: Option<String>,
    #[serde(rename = "saleOrderCode", default, deserialize_with = "lenient::text")]
    sale_order_code: Option<String>,
    #[serde(default, deserialize_with = "lenient::int")]
    status: Option<i32>,
    #[serde(rename = "statusName", default)]
    status_name: Option<String>,
    #[serde(rename = "createdDate", default)]
    created_date: Option<String>,
    #[serde(rename = "updatedDate", default)]
    updated_date: Option<String>,
    #[serde(rename = "totalFee", default, deserialize_with = "lenient::int")]
    total_fee: Option<i64>,
    #[serde(rename = "codAmount", default, deserialize_with = "lenient::int")]
    cod_amount: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default, deserialize_with = "lenient::list")]
    results: Vec<Record>,
}

/// The query of page `page` of the orders changed on the Vietnam dates `from..=to`.
pub fn query(from: NaiveDate, to: NaiveDate, page: usize) -> Vec<(&'static str, String)> {
    vec![
        ("lastUpdateFrom", from.format("%d-%m-%Y").to_string()),
        ("lastUpdateTo", to.format("%d-%m-%Y").to_string()),
        ("type", super::wire::ORDER_TYPE.to_owned()),
        ("page", page.to_string()),
        ("size", PAGE_SIZE.to_string()),
        ("isInternational", "false".to_owned()),
    ]
}

/// One page of `GetListOrder`: `{"results":[…]}` or `[{"results":[…]}]`.
pub fn parse_page(a: &Answer) -> Result<Vec<ListedOrder>, CarrierError> {
    if !a.status.is_success() {
        return Err(a.error());
    }
    let value: Value = serde_json::from_slice(&a.body)
        .map_err(|e| a.protocol(format!("answer is not JSON: {e}")))?;
    let has_results = |v: &Value| v.as_object().is_some_and(|o| o.contains_key("results"));
    let pages: Vec<Page> = match &value {
        Value::Array(list) if !list.is_empty() && list.iter().all(has_results) => {
            serde_path_to_error::deserialize(&value).map_err(|e| {
                a.protocol(format!("unexpected answer at {}: {}", e.path(), e.inner()))
            })?
        }
        Value::Object(_) if has_results(&value) => {
            vec![serde_path_to_error::deserialize(&value).map_err(|e| {
                a.protocol(format!("unexpected answer at {}: {}", e.path(), e.inner()))
            })?]
        }
        _ => {
            return Err(match super::wire::reports_failure(&value) {
                // A 200 carrying the carrier's refusal (`{"message"}`…): its own words.
                Some(message) => CarrierError {
                    class: ErrorClass::Refused,
                    message,
                    ..a.protocol("")
                },
                None => a.protocol(
                    "answer in no known shape: expected {\"results\":[…]} or [{\"results\":[…]}]",
                ),
            });
        }
    };
    pages
        .into_iter()
        .flat_map(|p| p.results)
        .map(|r| {
            let item_code = r
                .item_code
                .ok_or_else(|| a.protocol("an order without itemCode"))?;
            let time = |t: &Option<String>, what: &str| match t.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(text) => vntime::parse_date_time(text)
                    .map(Some)
                    .ok_or_else(|| a.protocol(format!("unreadable {what} {text:?}"))),
            };
            Ok(ListedOrder {
                created_at: time(&r.created_date, "createdDate")?,
                updated_at: time(&r.updated_date, "updatedDate")?,
                item_code,
                sale_order_code: r.sale_order_code,
                original_id: r.original_id,
                status: r.status,
                status_name: r.status_name,
                total_fee: r.total_fee,
                cod_amount: r.cod_amount,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::path::Path;

    fn fixture(name: &str) -> Answer {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/vnpost-list/GetListOrder")
            .join(name);
        let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Answer::new("GetListOrder", 200, body)
    }

    fn expected() -> Vec<ListedOrder> {
        let vn = |d, h, m, s| {
            Some(
                chrono::FixedOffset::east_opt(7 * 3600)
                    .unwrap()
                    .with_ymd_and_hms(2026, 11, d, h, m, s)
                    .unwrap()
                    .with_timezone(&Utc),
            )
        };
        vec![
            ListedOrder {
                item_code: "EB123456785VN".into(),
                sale_order_code: Some("BCCI-0001".into()),
                original_id: Some("6789012".into()),
                status: Some(14),
                status_name: Some("Phát thành công".into()),
                total_fee: Some(16500),
                cod_amount: Some(150000),
                created_at: vn(3, 8, 0, 0),
                updated_at: vn(5, 10, 30, 0),
            },
            ListedOrder {
                item_code: "EB123456799VN".into(),
                sale_order_code: Some("BCCI-0002".into()),
                original_id: Some("6789013".into()),
                status: Some(21),
                status_name: Some("Đã trả tiền COD".into()),
                total_fee: Some(22000),
                cod_amount: Some(0),
                created_at: vn(4, 9, 15, 0),
                updated_at: vn(20, 16, 0, 5),
            },
        ]
    }

    #[test]
    fn both_shapes_give_the_same_orders() {
        assert_eq!(parse_page(&fixture("ok-results.json")).unwrap(), expected());
        assert_eq!(parse_page(&fixture("ok-list.json")).unwrap(), expected());
        // Numbers as text, `originalId`, no creation date.
        let text = parse_page(&fixture("ok-numbers-as-text.json")).unwrap();
        assert_eq!(text.len(), 1);
        assert_eq!(text[0].total_fee, Some(16500));
        assert_eq!(text[0].cod_amount, Some(150000));
        assert_eq!(text[0].status, Some(14));
        assert_eq!(text[0].original_id.as_deref(), Some("6789012"));
        assert_eq!(text[0].created_at, None);
    }

    #[test]
    fn an_empty_page_is_no_orders() {
        assert!(
            parse_page(&fixture("empty-results.json"))
                .unwrap()
                .is_empty()
        );
        assert!(
            parse_page(&fixture("empty-results-null.json"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn an_answer_in_no_known_shape_is_an_error_not_an_empty_month() {
        for name in [
            "protocol-empty-object.json",
            "protocol-empty-list.json",
            "protocol-data.json",
            "protocol-record-without-item-code.json",
            "protocol-bad-date.json",
            "protocol-fee-not-a-number.json",
        ] {
            let e = parse_page(&fixture(name)).expect_err(name);
            assert_eq!(e.class, ErrorClass::Protocol, "{name}: {e}");
            assert_eq!(e.op, Some("GetListOrder"));
            assert!(e.excerpt.is_some(), "{name}");
        }
    }

    #[test]
    fn a_refusal_in_a_200_is_the_carriers_words() {
        let e = parse_page(&fixture("refused-200-message.json")).unwrap_err();
        assert_eq!(e.class, ErrorClass::Refused);
        assert_eq!(e.message, "Không có quyền truy cập");
    }

    #[test]
    fn http_errors_are_classified() {
        let e = parse_page(&Answer::new(
            "GetListOrder",
            400,
            r#"{"message":"Ngày không hợp lệ"}"#,
        ))
        .unwrap_err();
        assert_eq!(e.class, ErrorClass::Refused);
        assert_eq!(e.message, "Ngày không hợp lệ");
        let e = parse_page(&Answer::new("GetListOrder", 503, "")).unwrap_err();
        assert_eq!(e.class, ErrorClass::Server);
    }

    #[test]
    fn the_query_names_the_vietnam_dates_and_the_page() {
        let from = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let to = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let q = query(from, to, 2);
        let get = |k: &str| q.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("lastUpdateFrom"), Some("01-11-2026"));
        assert_eq!(get("lastUpdateTo"), Some("30-11-2026"));
        assert_eq!(get("type"), Some("GUI"));
        assert_eq!(get("page"), Some("2"));
        assert_eq!(get("size"), Some("500"));
        assert_eq!(get("isInternational"), Some("false"));
    }
}

//! The MyVNPost adapter (SPEC §5) over HTTP.
//!
//! One token is shared by all calls and kept until the carrier refuses it: a 401/403 leads to
//! one new login (one at a time, however many calls were refused together) and one retry.
//! Failures are classified for the job runner ([`ErrorClass`]). Logs name only sale order
//! codes and item codes: never credentials, tokens, or citizens' names and phones.

use super::wire::{self, AddonService, CreateOrderRequest, InformationOrder};
use super::{
    CancelResult, Carrier, CarrierError, CatalogueCommune, CatalogueProvince, EXCERPT_CHARS,
    ErrorClass, FoundOrder, OrderCreated, OrderRequest, QuoteRequest, ServiceQuote, StatusReport,
    vntime,
};
use crate::config::{self, Secret};
use anyhow::Context;
use reqwest::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, RwLock};
use url::Url;

/// Answers larger than this are not read: no call of SPEC §5 needs a tenth of it.
const MAX_ANSWER_BYTES: usize = 4 << 20;

pub struct VnPost {
    http: reqwest::Client,
    base: Url,
    username: String,
    password: Secret,
    customer_code: String,
    contract_code: String,
    token: RwLock<Option<String>>,
    /// Held while logging in, so that calls refused together cause a single login.
    login: Mutex<()>,
    logins: AtomicU64,
}

/// One request, kept so that it can be sent again after a new login.
struct Call<'a> {
    op: &'static str,
    method: Method,
    query: &'a [(&'a str, &'a str)],
    body: Option<Vec<u8>>,
}

/// A complete answer.
struct Answer {
    op: &'static str,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

impl VnPost {
    pub fn new(cfg: &config::Carrier) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .user_agent(concat!("bcci-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("carrier: cannot build the HTTP client")?;
        // `Url::join` replaces the last segment of a base without a trailing slash
        // (`…/MYVNP_API` + `CreateOrder` would lose `MYVNP_API`).
        let mut base = cfg.base_url.clone();
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        Ok(VnPost {
            http,
            base,
            username: cfg.username.clone(),
            password: cfg.password.clone(),
            customer_code: cfg.customer_code.clone(),
            contract_code: cfg.contract_code.clone(),
            token: RwLock::new(None),
            login: Mutex::new(()),
            logins: AtomicU64::new(0),
        })
    }

    /// How many times this adapter has asked for a token.
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// The `CreateOrder` body for `req` (SPEC §5).
    pub fn create_order_body(&self, req: &OrderRequest) -> CreateOrderRequest {
        create_order_body(req, &self.customer_code, &self.contract_code)
    }

    async fn current_token(&self) -> Result<String, CarrierError> {
        if let Some(t) = self.token.read().await.as_ref() {
            return Ok(t.clone());
        }
        self.renew_token(None).await
    }

    /// Logs in, unless another call already replaced the `refused` token meanwhile.
    async fn renew_token(&self, refused: Option<&str>) -> Result<String, CarrierError> {
        let _one_at_a_time = self.login.lock().await;
        if let Some(t) = self.token.read().await.as_ref()
            && Some(t.as_str()) != refused
        {
            return Ok(t.clone());
        }
        let token = self.log_in().await?;
        *self.token.write().await = Some(token.clone());
        Ok(token)
    }

    async fn log_in(&self) -> Result<String, CarrierError> {
        let body = wire::LoginRequest {
            username: self.username.clone(),
            password: self.password.expose().to_owned(),
            customer_code: self.customer_code.clone(),
        };
        let call = Call {
            op: "GetAccessToken",
            method: Method::POST,
            query: &[],
            body: Some(json_bytes(&body)),
        };
        self.logins.fetch_add(1, Ordering::Relaxed);
        let answer = self.send(&call, None).await?;
        let auth = |message: String| CarrierError {
            http_status: Some(answer.status.as_u16()),
            excerpt: Some(excerpt(&answer.body)),
            ..CarrierError::new(ErrorClass::Auth, message)
        };
        if !answer.status.is_success() {
            let e = answer.error();
            // Refused credentials are a configuration problem, not a refusal of any order.
            return Err(match e.class {
                ErrorClass::Refused => auth(format!("login refused: {}", e.message)),
                _ => e,
            });
        }
        let value = answer.json_value()?;
        let login: wire::LoginResponse = answer.parse(value.clone())?;
        match login.token.filter(|t| login.success && !t.is_empty()) {
            Some(token) => {
                tracing::info!("logged in to the carrier");
                Ok(token)
            }
            None => {
                tracing::warn!(
                    status = answer.status.as_u16(),
                    "the carrier refused the login"
                );
                let why =
                    wire::error_message(&value).unwrap_or_else(|| "no token in the answer".into());
                Err(auth(format!("login refused: {why}")))
            }
        }
    }

    /// Sends `call` with the token; after a 401/403, logs in again once and retries once.
    async fn call(&self, call: &Call<'_>) -> Result<Answer, CarrierError> {
        let token = self.current_token().await?;
        let mut answer = self.send(call, Some(&token)).await?;
        if is_auth_refusal(answer.status) {
            tracing::info!(
                op = call.op,
                status = answer.status.as_u16(),
                "the carrier refused the token; logging in again"
            );
            let token = self.renew_token(Some(&token)).await?;
            answer = self.send(call, Some(&token)).await?;
        }
        if answer.status.is_success() {
            Ok(answer)
        } else {
            Err(answer.error())
        }
    }

    async fn send(&self, call: &Call<'_>, token: Option<&str>) -> Result<Answer, CarrierError> {
        let url = self
            .base
            .join(call.op)
            .expect("operation names are relative URLs");
        let mut req = self
            .http
            .request(call.method.clone(), url)
            .header(header::ACCEPT, "application/json");
        if !call.query.is_empty() {
            req = req.query(call.query);
        }
        if let Some(t) = token {
            let mut value = header::HeaderValue::from_str(t).map_err(|_| {
                CarrierError::new(
                    ErrorClass::Auth,
                    "the carrier's token is not a valid header value",
                )
            })?;
            // Kept out of any debug output of the request.
            value.set_sensitive(true);
            req = req.header("token", value);
        }
        if let Some(body) = &call.body {
            req = req
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let started = Instant::now();
        let transport = |e: reqwest::Error| transport_error(call.op, e);
        let mut resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(CarrierError {
                    http_status: Some(status.as_u16()),
                    ..CarrierError::new(
                        ErrorClass::Protocol,
                        format!("{}: answer larger than {MAX_ANSWER_BYTES} bytes", call.op),
                    )
                });
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(
            op = call.op,
            status = status.as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "carrier call"
        );
        Ok(Answer {
            op: call.op,
            status,
            retry_after,
            body,
        })
    }
}

impl Answer {
    /// The error a non-2xx answer means.
    fn error(&self) -> CarrierError {
        let code = self.status.as_u16();
        let carrier_says = serde_json::from_slice::<Value>(&self.body)
            .ok()
            .as_ref()
            .and_then(wire::error_message);
        let class = match code {
            401 | 403 => ErrorClass::Auth,
            408 => ErrorClass::Timeout,
            429 => ErrorClass::RateLimited,
            400..=499 => ErrorClass::Refused,
            500..=599 => ErrorClass::Server,
            _ => ErrorClass::Protocol,
        };
        let message = match carrier_says {
            Some(m) => format!("{}: HTTP {code}: {m}", self.op),
            None => format!("{}: HTTP {code}", self.op),
        };
        CarrierError {
            http_status: Some(code),
            retry_after: self
                .retry_after
                .filter(|_| class == ErrorClass::RateLimited),
            excerpt: Some(excerpt(&self.body)),
            ..CarrierError::new(class, message)
        }
    }

    fn protocol(&self, why: impl std::fmt::Display) -> CarrierError {
        CarrierError {
            http_status: Some(self.status.as_u16()),
            excerpt: Some(excerpt(&self.body)),
            ..CarrierError::new(ErrorClass::Protocol, format!("{}: {why}", self.op))
        }
    }

    fn refused(&self, message: String) -> CarrierError {
        CarrierError {
            http_status: Some(self.status.as_u16()),
            excerpt: Some(excerpt(&self.body)),
            ..CarrierError::new(ErrorClass::Refused, format!("{}: {message}", self.op))
        }
    }

    fn json_value(&self) -> Result<Value, CarrierError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| self.protocol(format!("answer is not JSON: {e}")))
    }

    fn parse<T: DeserializeOwned>(&self, value: Value) -> Result<T, CarrierError> {
        serde_json::from_value(value).map_err(|e| self.protocol(format!("unexpected answer: {e}")))
    }

    /// The typed answer when it has `present`; otherwise the failure the carrier reports in
    /// it (a refusal), or a protocol error.
    fn expect<T: DeserializeOwned>(&self, present: impl Fn(&T) -> bool) -> Result<T, CarrierError> {
        let value = self.json_value()?;
        let typed = serde_json::from_value::<T>(value.clone());
        match typed {
            Ok(t) if present(&t) => Ok(t),
            other => match wire::reports_failure(&value) {
                Some(message) => Err(self.refused(message)),
                None => Err(match other {
                    Ok(_) => self.protocol("the answer lacks the expected fields"),
                    Err(e) => self.protocol(format!("unexpected answer: {e}")),
                }),
            },
        }
    }
}

fn is_auth_refusal(status: StatusCode) -> bool {
    status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN
}

fn transport_error(op: &str, e: reqwest::Error) -> CarrierError {
    // A connect error (refused, DNS, TLS, connect timeout) means the request never left; any
    // other failure may come after the carrier received it.
    let class = if e.is_connect() {
        ErrorClass::Connect
    } else if e.is_builder() {
        ErrorClass::Protocol
    } else {
        ErrorClass::Timeout
    };
    let mut message = format!("{op}: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    CarrierError::new(class, message)
}

/// The start of an answer, for the attempt record.
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(EXCERPT_CHARS)
        .collect()
}

fn json_bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("request bodies serialize")
}

/// The `CreateOrder` body (SPEC §5).
pub fn create_order_body(
    req: &OrderRequest,
    customer_code: &str,
    contract_code: &str,
) -> CreateOrderRequest {
    let email = |e: &Option<String>| {
        e.as_ref()
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty())
    };
    let addon_service = if req.cod_vnd > 0 {
        vec![AddonService {
            code: wire::ADDON_COD.into(),
            prop_value: format!("{}:{}", wire::PROP_COD_AMOUNT, req.cod_vnd),
        }]
    } else {
        Vec::new()
    };
    CreateOrderRequest {
        order_creation_status: wire::ORDER_CREATION_STATUS,
        kind: wire::ORDER_TYPE.into(),
        customer_code: customer_code.into(),
        contract_code: contract_code.into(),
        information_order: InformationOrder {
            sender_name: req.sender.name.clone(),
            sender_phone: req.sender.phone.clone(),
            sender_email: email(&req.sender.email),
            sender_address: req.sender.address_line.clone(),
            sender_province_code: req.sender.province_code.clone(),
            sender_district_code: wire::DISTRICT_CODE.into(),
            sender_commune_code: req.sender.commune_code.clone(),
            receiver_name: req.receiver.name.clone(),
            receiver_phone: req.receiver.phone.clone(),
            receiver_email: email(&req.receiver.email),
            receiver_address: req.receiver.address_line.clone(),
            receiver_province_code: req.receiver.province_code.clone(),
            receiver_district_code: wire::DISTRICT_CODE.into(),
            receiver_commune_code: req.receiver.commune_code.clone(),
            service_code: req.service_code.clone(),
            sale_order_code: req.sale_order_code.clone(),
            weight: req.weight_grams,
            content_note: req.content_note.clone(),
            addon_service,
        },
    }
}

fn created(r: wire::CreateOrderResponse) -> Option<OrderCreated> {
    Some(OrderCreated {
        item_code: r.item_code?,
        original_id: r.original_id?,
        order_hdr_id: r.order_hdr_id,
        status: r.status,
        total_fee: r.total_fee,
    })
}

/// Picks the order meant by `sale_order_code` among the results: the exact matches only
/// (in case the carrier searches by prefix), a live one before a cancelled one, then the
/// latest updated.
fn pick_found(
    sale_order_code: &str,
    results: Vec<wire::OrderInfo>,
) -> Result<(Option<FoundOrder>, usize), String> {
    let mut found = Vec::new();
    for r in results {
        if r.sale_order_code
            .as_deref()
            .is_some_and(|c| c != sale_order_code)
        {
            continue;
        }
        let (Some(item_code), Some(original_id)) = (r.item_code, r.original_id) else {
            return Err("an order without itemCode or originalID".into());
        };
        found.push(FoundOrder {
            item_code,
            original_id,
            sale_order_code: sale_order_code.to_owned(),
            status: r.status,
            status_name: r.status_name,
            updated_at: r.updated_date.as_deref().and_then(vntime::parse_date_time),
            total_fee: r.total_fee,
            cod_amount: None,
        });
    }
    let n = found.len();
    let cancelled = |f: &FoundOrder| matches!(f.status, Some(9 | 22));
    let best = found
        .into_iter()
        .max_by_key(|f| (!cancelled(f), f.updated_at));
    Ok((best, n))
}

fn history(entries: Vec<wire::HistoryEntry>) -> Result<Vec<StatusReport>, String> {
    let mut reports = entries
        .into_iter()
        .map(|e| {
            let at =
                vntime::parse_date_and_hour(&e.created_date, &e.created_hour).ok_or_else(|| {
                    format!("unreadable time {:?} {:?}", e.created_date, e.created_hour)
                })?;
            Ok(StatusReport {
                code: e.status_code,
                text: e.status_name.unwrap_or_default(),
                at,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    // Stable: entries of the same second keep the carrier's order.
    reports.sort_by_key(|r| r.at);
    Ok(reports)
}

fn cancel_result(r: wire::CancelResponse) -> Option<CancelResult> {
    let kind = r.kind?;
    Some(match kind.trim() {
        wire::CANCEL_DONE => CancelResult::Done,
        wire::CANCEL_WAITING => CancelResult::Waiting {
            case_id: r.case_id.clone(),
        },
        other => CancelResult::Refused(
            r.message
                .filter(|m| !m.trim().is_empty())
                .unwrap_or_else(|| format!("Type {other}")),
        ),
    })
}

impl Carrier for VnPost {
    async fn create_order(&self, req: &OrderRequest) -> Result<OrderCreated, CarrierError> {
        let code = req.sale_order_code.as_str();
        let call = Call {
            op: "CreateOrder",
            method: Method::POST,
            query: &[],
            body: Some(json_bytes(&self.create_order_body(req))),
        };
        let result: Result<OrderCreated, CarrierError> = async {
            let answer = self.call(&call).await?;
            let r: wire::CreateOrderResponse = answer.expect(|r: &wire::CreateOrderResponse| {
                r.item_code.is_some() && r.original_id.is_some()
            })?;
            Ok(created(r).expect("checked by expect"))
        }
        .await;
        match &result {
            Ok(c) => {
                tracing::info!(sale_order_code = code, item_code = %c.item_code, "carrier order created")
            }
            Err(e) => {
                tracing::info!(sale_order_code = code, class = %e.class, http_status = e.http_status, "carrier order not created")
            }
        }
        result
    }

    async fn find_order(&self, sale_order_code: &str) -> Result<Option<FoundOrder>, CarrierError> {
        let query = [("type", "2"), ("code", sale_order_code)];
        let answer = self
            .call(&Call {
                op: "getOrder",
                method: Method::GET,
                query: &query,
                body: None,
            })
            .await?;
        let pages: Vec<wire::GetOrderPage> = answer.expect(|_: &Vec<wire::GetOrderPage>| true)?;
        let (found, n) = pick_found(
            sale_order_code,
            pages.into_iter().flat_map(|p| p.results).collect(),
        )
        .map_err(|e| answer.protocol(e))?;
        if n > 1 {
            // Duplicates at the carrier: someone must cancel all but one.
            tracing::warn!(
                sale_order_code,
                orders = n,
                "several carrier orders have the same saleOrderCode"
            );
        }
        tracing::debug!(
            sale_order_code,
            found = found.is_some(),
            "carrier order lookup"
        );
        Ok(found)
    }

    async fn status_history(&self, item_code: &str) -> Result<Vec<StatusReport>, CarrierError> {
        let body = json_bytes(&wire::StatusHistoryRequest {
            item_code: item_code.to_owned(),
        });
        let answer = self
            .call(&Call {
                op: "GetStatusHistoryOrder",
                method: Method::POST,
                query: &[],
                body: Some(body),
            })
            .await?;
        let r: wire::StatusHistoryResponse =
            answer.expect(|_: &wire::StatusHistoryResponse| true)?;
        if r.status_history.is_empty() {
            // An empty history is normal for a new order, but not when it comes with an error.
            if let Some(message) = wire::reports_failure(&answer.json_value()?) {
                return Err(answer.refused(message));
            }
        }
        history(r.status_history).map_err(|e| answer.protocol(e))
    }

    async fn cancel_order(&self, original_id: &str) -> Result<CancelResult, CarrierError> {
        let body = json_bytes(&wire::CancelRequest {
            original_id: original_id.to_owned(),
        });
        let answer = self
            .call(&Call {
                op: "orderCancel",
                method: Method::POST,
                query: &[],
                body: Some(body),
            })
            .await?;
        let r: wire::CancelResponse = answer.expect(|r: &wire::CancelResponse| r.kind.is_some())?;
        let result = cancel_result(r).expect("checked by expect");
        let outcome = match &result {
            CancelResult::Done => "done",
            CancelResult::Waiting { .. } => "waiting",
            CancelResult::Refused(_) => "refused",
        };
        tracing::info!(original_id, outcome, "carrier cancel");
        Ok(result)
    }

    async fn cancel_case(
        &self,
        _original_id: &str,
        _case_id: &str,
    ) -> Result<CancelResult, CarrierError> {
        Err(CarrierError::new(
            ErrorClass::Protocol,
            "TODO(issue 8): updateCase",
        ))
    }

    async fn quote(&self, _req: &QuoteRequest) -> Result<Vec<ServiceQuote>, CarrierError> {
        Err(CarrierError::new(
            ErrorClass::Protocol,
            "TODO(issue 8): ServicesCharge",
        ))
    }

    async fn waybills(&self, _item_codes: &[String]) -> Result<Vec<Vec<u8>>, CarrierError> {
        Err(CarrierError::new(
            ErrorClass::Protocol,
            "TODO(issue 8): exportListReport",
        ))
    }

    async fn provinces(&self) -> Result<Vec<CatalogueProvince>, CarrierError> {
        Err(CarrierError::new(
            ErrorClass::Protocol,
            "TODO(issue 8): getNewProvinceAll",
        ))
    }

    async fn communes(&self) -> Result<Vec<CatalogueCommune>, CarrierError> {
        Err(CarrierError::new(
            ErrorClass::Protocol,
            "TODO(issue 8): getNewCommuneAll",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carrier::Party;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    fn request(cod_vnd: i64) -> OrderRequest {
        let party = |name: &str, phone: &str, email: Option<&str>, commune: &str| Party {
            name: name.into(),
            phone: phone.into(),
            email: email.map(Into::into),
            address_line: format!("{name}, số 1"),
            province_code: "08".into(),
            commune_code: commune.into(),
        };
        OrderRequest {
            sale_order_code: "BCCI-0001".into(),
            sender: party("Nguyễn Văn An", "0912345678", None, "02215"),
            receiver: party("VPĐKĐĐ", "02073822345", Some("vp@tq.gov.vn"), "00691"),
            service_code: "CTN001".into(),
            weight_grams: 500,
            content_note: "Hồ sơ".into(),
            cod_vnd,
            send_type: crate::carrier::SendType::Collect,
            org_code_collect: None,
            org_code_accept: None,
            delivery_instruction: None,
        }
    }

    #[test]
    fn create_order_body_is_exactly_spec_5() {
        let body =
            serde_json::to_value(create_order_body(&request(150_000), "CUST", "HD-1")).unwrap();
        assert_eq!(
            body,
            json!({
                "orderCreationStatus": 1,
                "type": "GUI",
                "customerCode": "CUST",
                "contractCode": "HD-1",
                "informationOrder": {
                    "senderName": "Nguyễn Văn An",
                    "senderPhone": "0912345678",
                    "senderEmail": null,
                    "senderAddress": "Nguyễn Văn An, số 1",
                    "senderProvinceCode": "08",
                    "senderDistrictCode": "VNPOST",
                    "senderCommuneCode": "02215",
                    "receiverName": "VPĐKĐĐ",
                    "receiverPhone": "02073822345",
                    "receiverEmail": "vp@tq.gov.vn",
                    "receiverAddress": "VPĐKĐĐ, số 1",
                    "receiverProvinceCode": "08",
                    "receiverDistrictCode": "VNPOST",
                    "receiverCommuneCode": "00691",
                    "serviceCode": "CTN001",
                    "saleOrderCode": "BCCI-0001",
                    "weight": 500,
                    "contentNote": "Hồ sơ",
                    "addonService": [{"code": "GTG021", "propValue": "PROP0018:150000"}]
                }
            })
        );
    }

    #[test]
    fn no_cod_no_addon() {
        let body = serde_json::to_value(create_order_body(&request(0), "CUST", "HD-1")).unwrap();
        assert_eq!(body["informationOrder"]["addonService"], json!([]));
    }

    #[test]
    fn cancel_types() {
        let r = |t: Value, m: Value| {
            cancel_result(
                serde_json::from_value(json!({"Type": t, "Message": m, "CaseId": 42})).unwrap(),
            )
        };
        assert_eq!(r(json!("00"), json!("ok")), Some(CancelResult::Done));
        assert_eq!(
            r(json!("02"), json!(null)),
            Some(CancelResult::Waiting {
                case_id: Some("42".into())
            })
        );
        assert_eq!(
            r(json!("01"), json!("Đã lấy hàng")),
            Some(CancelResult::Refused("Đã lấy hàng".into()))
        );
        assert_eq!(
            r(json!("99"), json!("")),
            Some(CancelResult::Refused("Type 99".into()))
        );
        assert_eq!(r(json!(null), json!("x")), None);
    }

    #[test]
    fn history_in_vietnam_time_sorted() {
        let entries: Vec<wire::HistoryEntry> = serde_json::from_value(json!([
            {"createdDate": "27/11/2026", "createdHour": "10:00:00", "statusCode": 6, "statusName": "Đã nhận hàng"},
            {"createdDate": "27/11/2026", "createdHour": "06:30:00", "statusCode": "1", "statusName": null}
        ]))
        .unwrap();
        let h = history(entries).unwrap();
        assert_eq!(
            h[0],
            StatusReport {
                code: 1,
                text: String::new(),
                at: Utc.with_ymd_and_hms(2026, 11, 26, 23, 30, 0).unwrap()
            }
        );
        assert_eq!(
            h[1].at,
            Utc.with_ymd_and_hms(2026, 11, 27, 3, 0, 0).unwrap()
        );
        let bad: Vec<wire::HistoryEntry> = serde_json::from_value(
            json!([{"createdDate": "2026-11-27", "createdHour": "10:00", "statusCode": 6}]),
        )
        .unwrap();
        assert!(history(bad).is_err());
    }

    #[test]
    fn the_order_meant_among_several() {
        let results: Vec<wire::OrderInfo> = serde_json::from_value(json!([
            {"itemCode": "EB1VN", "originalID": "o1", "saleOrderCode": "S-1", "status": 9, "updatedDate": "27/11/2026 10:00:00"},
            {"itemCode": "EB2VN", "originalID": "o2", "saleOrderCode": "S-1", "status": 2, "updatedDate": "27/11/2026 09:00:00"},
            {"itemCode": "EB3VN", "originalID": "o3", "saleOrderCode": "S-10", "status": 2}
        ]))
        .unwrap();
        let (best, n) = pick_found("S-1", results).unwrap();
        assert_eq!(n, 2, "S-10 is another order");
        assert_eq!(
            best.unwrap().item_code,
            "EB2VN",
            "a live order before a cancelled one"
        );
        assert_eq!(pick_found("S-1", Vec::new()).unwrap(), (None, 0));
        let broken: Vec<wire::OrderInfo> =
            serde_json::from_value(json!([{"saleOrderCode": "S-1", "status": 1}])).unwrap();
        assert!(pick_found("S-1", broken).is_err());
    }

    fn answer(status: u16, retry_after: Option<u64>, body: &str) -> Answer {
        Answer {
            op: "CreateOrder",
            status: StatusCode::from_u16(status).unwrap(),
            retry_after: retry_after.map(Duration::from_secs),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn http_failures_are_classified() {
        use ErrorClass::*;
        let cases = [
            (
                400,
                r#"{"errorCode":"E1","errorMessage":"Mã xã không hợp lệ"}"#,
                Refused,
            ),
            (404, "", Refused),
            (422, "{}", Refused),
            (401, "", Auth),
            (403, "", Auth),
            (408, "", Timeout),
            (429, "", RateLimited),
            (500, "<html>oops</html>", Server),
            (502, "", Server),
            (503, "", Server),
            (302, "", Protocol),
        ];
        for (status, body, class) in cases {
            let e = answer(status, Some(7), body).error();
            assert_eq!(e.class, class, "{status}");
            assert_eq!(e.http_status, Some(status));
            assert_eq!(e.retry_after.is_some(), class == RateLimited, "{status}");
        }
        let e = answer(
            400,
            None,
            r#"{"errorCode":"E1","errorMessage":"Mã xã không hợp lệ"}"#,
        )
        .error();
        assert!(e.message.contains("Mã xã không hợp lệ"), "{}", e.message);
        assert_eq!(
            answer(429, Some(30), "").error().retry_after,
            Some(Duration::from_secs(30))
        );
        let long = "x".repeat(2000);
        assert_eq!(
            answer(500, None, &long)
                .error()
                .excerpt
                .unwrap()
                .chars()
                .count(),
            EXCERPT_CHARS
        );
    }

    #[test]
    fn ok_answers_that_are_failures_or_garbage() {
        let present =
            |r: &wire::CreateOrderResponse| r.item_code.is_some() && r.original_id.is_some();
        let ok = answer(
            200,
            None,
            r#"{"orderHdrID":1,"originalID":"o","itemCode":"EB1VN","status":1,"totalFee":16500,"errorMessage":"Thành công"}"#,
        );
        let r = ok.expect(present).unwrap();
        assert_eq!(r.item_code.as_deref(), Some("EB1VN"));
        let e = answer(
            200,
            None,
            r#"{"success":false,"errorMessage":"Sai mã hợp đồng"}"#,
        )
        .expect(present)
        .unwrap_err();
        assert_eq!(e.class, ErrorClass::Refused);
        assert!(e.message.contains("Sai mã hợp đồng"));
        for garbage in [
            "<html>maintenance</html>",
            "",
            r#"{"itemCode":"EB1VN"}"#,
            r#"{"status":"six"}"#,
        ] {
            let e = answer(200, None, garbage).expect(present).unwrap_err();
            assert_eq!(e.class, ErrorClass::Protocol, "{garbage}");
            assert!(e.may_have_acted());
        }
    }

    #[test]
    fn base_url_keeps_its_path() {
        let mut cfg = crate::config::Config::from_overlay("").unwrap().carrier;
        cfg.base_url = "https://my-uat.vnpost.vn/MYVNP_API".parse().unwrap();
        let vn = VnPost::new(&cfg).unwrap();
        assert_eq!(
            vn.base.join("CreateOrder").unwrap().as_str(),
            "https://my-uat.vnpost.vn/MYVNP_API/CreateOrder"
        );
    }
}

//! The MyVNPost adapter (SPEC §5, revised) over HTTP.
//!
//! One token is shared by all calls and kept until the carrier refuses it: a 401/403 leads to
//! one new login (one at a time, however many calls were refused together) and one retry.
//! Answers are read by [`parse`], pure functions over the HTTP status and body, which accept
//! every answer shape §5 lists and call anything else a protocol error (with an excerpt),
//! never "no data". Failures are classified for the job runner ([`ErrorClass`]). Logs name
//! only sale order codes and item codes: never credentials, tokens, or citizens' data.

use super::wire::{self, AddonService, CreateOrderRequest, InformationOrder};
use super::{
    CancelResult, Carrier, CarrierError, CatalogueCommune, CatalogueProvince, EXCERPT_CHARS,
    ErrorClass, FoundOrder, OrderCreated, OrderRequest, QuoteRequest, ServiceQuote, StatusReport,
    WAYBILLS_PER_CALL,
};
use crate::config::{self, Secret};
use crate::domain::commune_codes::CommuneCodes;
use anyhow::Context;
use reqwest::{Method, StatusCode, header};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, RwLock};
use url::Url;

/// Answers larger than this are not read: a full `exportListReport` of 100 waybills is the
/// largest answer of SPEC §5, a few megabytes of base64.
const MAX_ANSWER_BYTES: usize = 32 << 20;

pub struct VnPost {
    http: reqwest::Client,
    base: Url,
    username: String,
    password: Secret,
    customer_code: String,
    contract_code: String,
    communes: CommuneCodes,
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

impl<'a> Call<'a> {
    fn get(op: &'static str, query: &'a [(&'a str, &'a str)]) -> Self {
        Call {
            op,
            method: Method::GET,
            query,
            body: None,
        }
    }

    fn post<T: serde::Serialize>(op: &'static str, body: &T) -> Self {
        Call {
            op,
            method: Method::POST,
            query: &[],
            body: Some(serde_json::to_vec(body).expect("request bodies serialize")),
        }
    }
}

/// A complete answer of the carrier: what [`parse`] reads.
#[derive(Debug, Clone)]
pub struct Answer {
    pub op: &'static str,
    pub status: StatusCode,
    pub retry_after: Option<Duration>,
    pub body: Vec<u8>,
}

impl VnPost {
    pub fn new(cfg: &config::Carrier) -> anyhow::Result<Self> {
        // native-tls (OpenSSL on Linux): unlike rustls it can be told to renegotiate with a
        // legacy server (OPENSSL_CONF=config/openssl-legacy-renegotiation.cnf), which the
        // production host is reported to need.
        let mut http = reqwest::Client::builder()
            .use_native_tls()
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .user_agent(concat!("bcci-gateway/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &cfg.tls_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem.expose().as_bytes())
                .context("carrier.tls_ca_pem: not PEM certificates")?;
            anyhow::ensure!(
                !certs.is_empty(),
                "carrier.tls_ca_pem: no certificate in the PEM text"
            );
            for cert in certs {
                http = http.add_root_certificate(cert);
            }
        }
        let http = http
            .build()
            .context("carrier: cannot build the HTTP client")?;
        let communes = CommuneCodes::new(&cfg.commune_codes).map_err(anyhow::Error::msg)?;
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
            communes,
            token: RwLock::new(None),
            login: Mutex::new(()),
            logins: AtomicU64::new(0),
        })
    }

    /// How many times this adapter has asked for a token.
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// The commune-code mapping this adapter sends with.
    pub fn commune_codes(&self) -> &CommuneCodes {
        &self.communes
    }

    /// The `CreateOrder` body for `req` (SPEC §5).
    pub fn create_order_body(&self, req: &OrderRequest) -> CreateOrderRequest {
        create_order_body(
            req,
            &self.customer_code,
            &self.contract_code,
            &self.communes,
        )
    }

    /// The `ServicesCharge` body for `req` (SPEC §5).
    pub fn services_charge_body(&self, req: &QuoteRequest) -> wire::ServicesChargeRequest {
        services_charge_body(
            req,
            &self.customer_code,
            &self.contract_code,
            &self.communes,
        )
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
        let call = Call::post(
            "GetAccessToken",
            &wire::LoginRequest {
                username: self.username.clone(),
                password: self.password.expose().to_owned(),
                customer_code: self.customer_code.clone(),
            },
        );
        self.logins.fetch_add(1, Ordering::Relaxed);
        let answer = self.send(&call, None).await?;
        let result = parse::login(&answer);
        match &result {
            Ok(_) => tracing::info!("logged in to the carrier"),
            Err(e) => tracing::warn!(
                status = answer.status.as_u16(),
                class = %e.class,
                "the carrier refused the login"
            ),
        }
        result
    }

    /// Sends `call` with the token; after a 401/403, logs in again once and retries once.
    /// The answer is returned whatever its status: the parsers classify it.
    async fn call(&self, call: &Call<'_>) -> Result<Answer, CarrierError> {
        let token = self.current_token().await?;
        let answer = self.send(call, Some(&token)).await?;
        if !is_auth_refusal(answer.status) {
            return Ok(answer);
        }
        tracing::info!(
            op = call.op,
            status = answer.status.as_u16(),
            "the carrier refused the token; logging in again"
        );
        let token = self.renew_token(Some(&token)).await?;
        self.send(call, Some(&token)).await
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
                .in_op(call.op)
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
                    excerpt: Some(excerpt(&body)),
                    ..CarrierError::new(
                        ErrorClass::Protocol,
                        format!("answer larger than {MAX_ANSWER_BYTES} bytes"),
                    )
                    .in_op(call.op)
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

fn is_auth_refusal(status: StatusCode) -> bool {
    status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN
}

fn transport_error(op: &'static str, e: reqwest::Error) -> CarrierError {
    // A connect error (refused, DNS, TLS, connect timeout) means the request never left; any
    // other failure may come after the carrier received it.
    let class = if e.is_connect() {
        ErrorClass::Connect
    } else if e.is_builder() {
        ErrorClass::Protocol
    } else {
        ErrorClass::Timeout
    };
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    CarrierError::new(class, message).in_op(op)
}

/// The start of an answer, for the attempt record.
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(EXCERPT_CHARS)
        .collect()
}

/// Text, or `None` when blank.
fn non_blank(s: &Option<String>) -> Option<String> {
    s.as_ref()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

/// The `CreateOrder` body (SPEC §5), with VNPost's commune codes.
pub fn create_order_body(
    req: &OrderRequest,
    customer_code: &str,
    contract_code: &str,
    communes: &CommuneCodes,
) -> CreateOrderRequest {
    let addon_service = if req.cod_vnd > 0 {
        vec![AddonService::cod(req.cod_vnd)]
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
            sender_email: non_blank(&req.sender.email),
            sender_address: req.sender.address_line.clone(),
            sender_province_code: req.sender.province_code.clone(),
            sender_district_code: wire::DISTRICT_CODE.into(),
            sender_commune_code: communes.to_vnpost(&req.sender.commune_code).into(),
            receiver_name: req.receiver.name.clone(),
            receiver_phone: req.receiver.phone.clone(),
            receiver_email: non_blank(&req.receiver.email),
            receiver_address: req.receiver.address_line.clone(),
            receiver_province_code: req.receiver.province_code.clone(),
            receiver_district_code: wire::DISTRICT_CODE.into(),
            receiver_commune_code: communes.to_vnpost(&req.receiver.commune_code).into(),
            service_code: req.service_code.clone(),
            sale_order_code: req.sale_order_code.clone(),
            content_note: req.content_note.clone(),
            weight: req.weight_grams.to_string(),
            width: None,
            length: None,
            height: None,
            vehicle: wire::VEHICLE_ROAD.into(),
            send_type: req.send_type.as_str().into(),
            is_broken: wire::NOT_BROKEN.into(),
            delivery_time: None,
            delivery_require: None,
            delivery_instruction: non_blank(&req.delivery_instruction),
            org_code_collect: non_blank(&req.org_code_collect),
            org_code_accept: non_blank(&req.org_code_accept),
            addition_request: Vec::new(),
            addon_service,
        },
    }
}

/// The `ServicesCharge` body (SPEC §5), with VNPost's commune codes.
pub fn services_charge_body(
    req: &QuoteRequest,
    customer_code: &str,
    contract_code: &str,
    communes: &CommuneCodes,
) -> wire::ServicesChargeRequest {
    wire::ServicesChargeRequest {
        scope: wire::CHARGE_SCOPE,
        customer_code: customer_code.into(),
        contract_number: contract_code.into(),
        data: wire::ChargeData {
            sender_province_code: req.sender_province_code.clone(),
            sender_district_code: wire::DISTRICT_CODE.into(),
            sender_commune_code: communes.to_vnpost(&req.sender_commune_code).into(),
            receiver_province_code: req.receiver_province_code.clone(),
            receiver_district_code: wire::DISTRICT_CODE.into(),
            receiver_commune_code: communes.to_vnpost(&req.receiver_commune_code).into(),
            receiver_national: wire::NATIONAL_VN.into(),
            weight: req.weight_grams,
            service_code: non_blank(&req.service_code),
            addon_service: if req.cod_vnd > 0 {
                vec![AddonService::cod(req.cod_vnd)]
            } else {
                Vec::new()
            },
            addition_request: Vec::new(),
            vehicle: wire::VEHICLE_ROAD.into(),
        },
    }
}

/// The readers of every answer of SPEC §5: pure functions over an [`Answer`], so that the
/// contract fixtures (tests/fixtures/vnpost/) run through exactly the code the adapter uses.
///
/// Each one turns a non-2xx answer into its classified error, accepts each shape §5 lists for
/// its call, reads a failure the carrier reports inside a 2xx answer as a refusal in the
/// carrier's own words, and calls anything else [`ErrorClass::Protocol`] with an excerpt.
pub mod parse {
    use super::*;
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    impl Answer {
        pub fn new(op: &'static str, status: u16, body: impl Into<Vec<u8>>) -> Self {
            Answer {
                op,
                status: StatusCode::from_u16(status).expect("an HTTP status code"),
                retry_after: None,
                body: body.into(),
            }
        }

        fn with_body(&self, e: CarrierError) -> CarrierError {
            CarrierError {
                http_status: Some(self.status.as_u16()),
                excerpt: Some(excerpt(&self.body)),
                ..e.in_op(self.op)
            }
        }

        /// The error a non-2xx answer means; `message` is the carrier's own words when it
        /// gave any (the stored reason of a refused order).
        pub fn error(&self) -> CarrierError {
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
            let message = carrier_says.unwrap_or_else(|| format!("HTTP {code} without a message"));
            CarrierError {
                retry_after: self
                    .retry_after
                    .filter(|_| class == ErrorClass::RateLimited),
                ..self.with_body(CarrierError::new(class, message))
            }
        }

        pub(crate) fn protocol(&self, why: impl std::fmt::Display) -> CarrierError {
            self.with_body(CarrierError::new(ErrorClass::Protocol, why.to_string()))
        }

        /// The JSON of a 2xx answer; the classified error of any other.
        fn ok_json(&self) -> Result<Value, CarrierError> {
            if !self.status.is_success() {
                return Err(self.error());
            }
            serde_json::from_slice(&self.body)
                .map_err(|e| self.protocol(format!("answer is not JSON: {e}")))
        }

        /// A 2xx answer in none of the shapes of its call: a failure the carrier reports in
        /// it, or else a protocol error saying what was `expected`.
        fn unknown(&self, value: &Value, expected: &str) -> CarrierError {
            match wire::reports_failure(value) {
                Some(message) => {
                    // A Spring error body in a 200 carries the real HTTP status.
                    let spring_status = wire::is_spring_error(value)
                        .then(|| value.get("status").and_then(Value::as_u64))
                        .flatten();
                    let class = match spring_status {
                        Some(500..=599) => ErrorClass::Server,
                        _ => ErrorClass::Refused,
                    };
                    self.with_body(CarrierError::new(class, message))
                }
                None => self.protocol(format!("answer in no known shape: expected {expected}")),
            }
        }

        fn typed<T: DeserializeOwned>(&self, value: &Value) -> Result<T, CarrierError> {
            serde_path_to_error::deserialize(value).map_err(|e| {
                self.protocol(format!("unexpected answer at {}: {}", e.path(), e.inner()))
            })
        }
    }

    /// `{"data":[…]}` or a bare list.
    fn list_or_data(v: &Value) -> Option<&Vec<Value>> {
        match v {
            Value::Array(list) => Some(list),
            Value::Object(o) => o.get("data")?.as_array(),
            _ => None,
        }
    }

    /// `GetAccessToken`: `{"success":true,"token":"…"}`. Refused credentials are a
    /// configuration problem ([`ErrorClass::Auth`]), not a refusal of any order.
    pub fn login(a: &Answer) -> Result<String, CarrierError> {
        let auth = |message: String| a.with_body(CarrierError::new(ErrorClass::Auth, message));
        let value = match a.ok_json() {
            Ok(v) => v,
            Err(e) if e.class == ErrorClass::Refused => {
                return Err(auth(format!("login refused: {}", e.message)));
            }
            Err(e) => return Err(e),
        };
        if !value.is_object() {
            return Err(a.protocol("answer in no known shape: expected {\"success\",\"token\"}"));
        }
        let login: wire::LoginResponse = a.typed(&value)?;
        match login.token.filter(|t| login.success && !t.is_empty()) {
            Some(token) => Ok(token),
            None => {
                let why =
                    wire::error_message(&value).unwrap_or_else(|| "no token in the answer".into());
                Err(auth(format!("login refused: {why}")))
            }
        }
    }

    /// `CreateOrder`: the order record at the root or under `data`.
    pub fn create_order(a: &Answer) -> Result<OrderCreated, CarrierError> {
        let value = a.ok_json()?;
        let record = match value.get("data") {
            Some(d @ Value::Object(_)) => d,
            _ => &value,
        };
        if record.get("itemCode").is_some() {
            let r: wire::CreateOrderResponse = a.typed(record)?;
            if let (Some(item_code), Some(original_id)) = (r.item_code, r.original_id) {
                return Ok(OrderCreated {
                    item_code,
                    original_id,
                    order_hdr_id: r.order_hdr_id,
                    status: r.status,
                    total_fee: r.total_fee,
                });
            }
        }
        Err(a.unknown(
            &value,
            "an order record with itemCode and originalID, at the root or under data",
        ))
    }

    /// `getOrder` by the gateway's reference: `[{"results":[…]}]` or `{"results":[…]}`.
    /// The order meant, and how many orders carry that reference (more than one: duplicates
    /// at the carrier, someone must cancel all but one).
    pub fn find_order(
        a: &Answer,
        sale_order_code: &str,
    ) -> Result<(Option<FoundOrder>, usize), CarrierError> {
        let value = a.ok_json()?;
        let pages: Vec<wire::GetOrderPage> = match &value {
            Value::Array(list)
                if list
                    .iter()
                    .all(|p| p.as_object().is_some_and(|o| o.contains_key("results"))) =>
            {
                a.typed(&value)?
            }
            Value::Object(o) if o.contains_key("results") => vec![a.typed(&value)?],
            _ => {
                return Err(a.unknown(&value, "[{\"results\":[…]}] or {\"results\":[…]}"));
            }
        };
        pick_found(
            sale_order_code,
            pages.into_iter().flat_map(|p| p.results).collect(),
        )
        .map_err(|e| a.protocol(e))
    }

    /// `GetStatusHistoryOrder` of one item, oldest first: `{"data":{"statusHistory":[…]}}`,
    /// `{"statusHistory":[…]}` or `[{"itemCode","statusHistory":[…]}]`. Empty when the
    /// carrier says so explicitly (`{"data":null}` without an error, an empty list, or a list
    /// that does not name the item).
    pub fn status_history(a: &Answer, item_code: &str) -> Result<Vec<StatusReport>, CarrierError> {
        let value = a.ok_json()?;
        let has_history = |v: &Value| {
            v.as_object()
                .is_some_and(|o| o.contains_key("statusHistory"))
        };
        let entries = match &value {
            Value::Object(o) if o.contains_key("data") => match &o["data"] {
                d if has_history(d) => a.typed::<wire::StatusHistoryResponse>(d)?.status_history,
                Value::Null if wire::reports_failure(&value).is_none() => Vec::new(),
                _ => return Err(a.unknown(&value, "{\"data\":{\"statusHistory\":[…]}}")),
            },
            v if has_history(v) => a.typed::<wire::StatusHistoryResponse>(v)?.status_history,
            Value::Array(list) if list.iter().all(has_history) => {
                let items: Vec<wire::StatusHistoryResponse> = a.typed(&value)?;
                let only_one_unnamed = items.len() == 1 && items[0].item_code.is_none();
                items
                    .into_iter()
                    .filter(|i| {
                        only_one_unnamed || i.item_code.as_deref().map(str::trim) == Some(item_code)
                    })
                    .flat_map(|i| i.status_history)
                    .collect()
            }
            _ => {
                return Err(a.unknown(
                    &value,
                    "{\"data\":{\"statusHistory\":[…]}}, {\"statusHistory\":[…]} or [{\"itemCode\",\"statusHistory\":[…]}]",
                ));
            }
        };
        history(entries).map_err(|e| a.protocol(e))
    }

    /// `orderCancel`: `{"Type","Message","CaseId"}`, lower-case keys, or a list of such.
    pub fn cancel(a: &Answer) -> Result<CancelResult, CarrierError> {
        cancel_outcome(a, None)
    }

    /// `orderCorrection/updateCase`: a list of case results in the `orderCancel` shape (the
    /// one of `case_id` if named, else the first), or a bare one.
    pub fn cancel_case(a: &Answer, case_id: &str) -> Result<CancelResult, CarrierError> {
        cancel_outcome(a, Some(case_id))
    }

    fn cancel_outcome(a: &Answer, case_id: Option<&str>) -> Result<CancelResult, CarrierError> {
        let value = a.ok_json()?;
        let has_type = |v: &Value| {
            v.as_object()
                .is_some_and(|o| o.contains_key("Type") || o.contains_key("type"))
        };
        let chosen: wire::CancelResponse = match &value {
            v if has_type(v) => a.typed(v)?,
            Value::Array(list) if !list.is_empty() && list.iter().all(has_type) => {
                let all: Vec<wire::CancelResponse> = a.typed(&value)?;
                let named = all.iter().position(|r| {
                    case_id.is_some() && r.case_id.as_deref().map(str::trim) == case_id
                });
                all.into_iter()
                    .nth(named.unwrap_or(0))
                    .expect("the list is not empty")
            }
            _ => {
                return Err(a.unknown(
                    &value,
                    "{\"Type\",\"Message\",\"CaseId\"} (or lower-case keys), or a list of such",
                ));
            }
        };
        let Some(kind) = chosen.kind else {
            return Err(a.protocol("a cancel result without Type"));
        };
        Ok(match kind.trim() {
            wire::CANCEL_DONE => CancelResult::Done,
            wire::CANCEL_WAITING => CancelResult::Waiting {
                case_id: chosen.case_id.or_else(|| case_id.map(str::to_owned)),
            },
            other => CancelResult::Refused(
                chosen
                    .message
                    .map(|m| m.trim().to_owned())
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| format!("Type {other}")),
            ),
        })
    }

    /// `ServicesCharge`: a list (or `{"data":[…]}`) of the postage of each service.
    pub fn quote(a: &Answer) -> Result<Vec<ServiceQuote>, CarrierError> {
        let value = a.ok_json()?;
        let Some(list) = list_or_data(&value) else {
            return Err(a.unknown(&value, "a list, or {\"data\":[…]}, of service charges"));
        };
        let charges: Vec<wire::ServiceCharge> = a.typed(&Value::Array(list.clone()))?;
        charges
            .into_iter()
            .map(|c| {
                let (Some(service_code), Some(main), Some(total)) =
                    (c.service_code, c.main_fee, c.total_fee)
                else {
                    return Err(
                        a.protocol("a service charge without serviceCode, mainFee or totalFee")
                    );
                };
                Ok(ServiceQuote {
                    service_name: c.service_name.unwrap_or_else(|| service_code.clone()),
                    service_code,
                    main_fee_vnd: main,
                    extra_fee_vnd: c.vas_fee.unwrap_or(total - main),
                    total_fee_vnd: total,
                })
            })
            .collect()
    }

    /// `exportListReport`: a JSON array of base64 strings, each a PDF.
    pub fn waybills(a: &Answer) -> Result<Vec<Vec<u8>>, CarrierError> {
        use base64::Engine;
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        // Padding is not always kept by services that wrap or trim base64.
        const B64: GeneralPurpose = GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
        );
        let value = a.ok_json()?;
        let Some(list) = value
            .as_array()
            .filter(|l| !l.is_empty() && l.iter().all(Value::is_string))
        else {
            return Err(a.unknown(&value, "a non-empty JSON array of base64 PDF files"));
        };
        list.iter()
            .enumerate()
            .map(|(i, s)| {
                let s = s.as_str().expect("checked above");
                // A data URL prefix and MIME line breaks are not base64.
                let s = s.split_once("base64,").map_or(s, |(_, b)| b);
                let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                let pdf = B64
                    .decode(clean)
                    .map_err(|e| a.protocol(format!("waybill {i} is not base64: {e}")))?;
                if !pdf.starts_with(b"%PDF") {
                    return Err(a.protocol(format!("waybill {i} is not a PDF file")));
                }
                Ok(pdf)
            })
            .collect()
    }

    /// `getNewProvinceAll`: `[{"provinceCode","provinceName"}]`, bare or under `data`.
    pub fn provinces(a: &Answer) -> Result<Vec<CatalogueProvince>, CarrierError> {
        let value = a.ok_json()?;
        let Some(list) = list_or_data(&value).filter(|l| !l.is_empty()) else {
            return Err(a.unknown(&value, "a non-empty list, or {\"data\":[…]}, of provinces"));
        };
        let entries: Vec<wire::ProvinceEntry> = a.typed(&Value::Array(list.clone()))?;
        entries
            .into_iter()
            .map(|p| match (p.province_code, p.province_name) {
                (Some(code), Some(name)) => Ok(CatalogueProvince {
                    code: code.trim().to_owned(),
                    name: name.trim().to_owned(),
                }),
                _ => Err(a.protocol("a province without provinceCode or provinceName")),
            })
            .collect()
    }

    /// `getNewCommuneAll`: `[{"communeCode","communeName","provinceCode"}]` (the province
    /// under `districtCode` in some answers), bare or under `data`.
    pub fn communes(a: &Answer) -> Result<Vec<CatalogueCommune>, CarrierError> {
        let value = a.ok_json()?;
        let Some(list) = list_or_data(&value).filter(|l| !l.is_empty()) else {
            return Err(a.unknown(&value, "a non-empty list, or {\"data\":[…]}, of communes"));
        };
        let entries: Vec<wire::CommuneEntry> = a.typed(&Value::Array(list.clone()))?;
        entries
            .into_iter()
            .map(|c| {
                match (
                    c.commune_code,
                    c.commune_name,
                    c.province_code.or(c.district_code),
                ) {
                    (Some(code), Some(name), Some(province)) => Ok(CatalogueCommune {
                        code: code.trim().to_owned(),
                        name: name.trim().to_owned(),
                        province_code: province.trim().to_owned(),
                    }),
                    _ => Err(a.protocol(
                        "a commune without communeCode, communeName or provinceCode/districtCode",
                    )),
                }
            })
            .collect()
    }

    /// Picks the order meant by `sale_order_code` among the results: the exact matches only
    /// (in case the carrier searches by prefix), a live one before a cancelled one, then the
    /// latest updated.
    pub(super) fn pick_found(
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
                cod_amount: r.cod_amount,
            });
        }
        let n = found.len();
        let cancelled = |f: &FoundOrder| matches!(f.status, Some(9 | 22));
        let best = found
            .into_iter()
            .max_by_key(|f| (!cancelled(f), f.updated_at));
        Ok((best, n))
    }

    /// History entries as reports, oldest first, times converted from Vietnam time.
    pub(super) fn history(entries: Vec<wire::HistoryEntry>) -> Result<Vec<StatusReport>, String> {
        let mut reports = entries
            .into_iter()
            .map(|e| {
                let at = match e.created_hour.as_deref() {
                    Some(hour) => vntime::parse_date_and_hour(&e.created_date, hour),
                    None => vntime::parse_date_time(&e.created_date),
                }
                .ok_or_else(|| {
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

    use super::super::vntime;
}

/// `GetListOrder` (issue 10 §3): every order VNPost lists as changed on the Vietnam dates
/// `from..=to`, page after page from 0 until a short page (SPEC §5). Reached only by the
/// month's reconciliation, not by the job runner: not part of [`Carrier`].
impl VnPost {
    pub async fn list_orders(
        &self,
        from: chrono::NaiveDate,
        to: chrono::NaiveDate,
    ) -> Result<Vec<super::list::ListedOrder>, CarrierError> {
        use super::list;
        let mut orders = Vec::new();
        for page in 0..list::MAX_PAGES {
            let query = list::query(from, to, page);
            let query: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let answer = self.call(&Call::get("GetListOrder", &query)).await?;
            let got = list::parse_page(&answer)?;
            let last = got.len() < list::PAGE_SIZE;
            orders.extend(got);
            if last {
                tracing::info!(%from, %to, pages = page + 1, orders = orders.len(), "carrier order list read");
                return Ok(orders);
            }
        }
        Err(CarrierError::new(
            ErrorClass::Protocol,
            format!("more than {} full pages of orders", list::MAX_PAGES),
        )
        .in_op("GetListOrder"))
    }
}

fn outcome_name(r: &CancelResult) -> &'static str {
    match r {
        CancelResult::Done => "done",
        CancelResult::Waiting { .. } => "waiting",
        CancelResult::Refused(_) => "refused",
    }
}

impl Carrier for VnPost {
    async fn create_order(&self, req: &OrderRequest) -> Result<OrderCreated, CarrierError> {
        let code = req.sale_order_code.as_str();
        let call = Call::post("CreateOrder", &self.create_order_body(req));
        let result = match self.call(&call).await {
            Ok(answer) => parse::create_order(&answer),
            Err(e) => Err(e),
        };
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
        let query = [
            ("type", wire::LOOKUP_BY_SALE_ORDER_CODE),
            ("code", sale_order_code),
        ];
        let answer = self.call(&Call::get("getOrder", &query)).await?;
        let (found, n) = parse::find_order(&answer, sale_order_code)?;
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
        let query = [("type", wire::LOOKUP_BY_ITEM_CODE), ("code", item_code)];
        let answer = self
            .call(&Call::get("GetStatusHistoryOrder", &query))
            .await?;
        parse::status_history(&answer, item_code)
    }

    async fn cancel_order(&self, original_id: &str) -> Result<CancelResult, CarrierError> {
        let call = Call::post(
            "orderCancel",
            &wire::CancelRequest {
                original_id: original_id.to_owned(),
            },
        );
        let result = parse::cancel(&self.call(&call).await?)?;
        tracing::info!(
            original_id,
            outcome = outcome_name(&result),
            "carrier cancel"
        );
        Ok(result)
    }

    async fn cancel_case(
        &self,
        original_id: &str,
        case_id: &str,
    ) -> Result<CancelResult, CarrierError> {
        let query = [("OriginalId", original_id), ("CaseId", case_id)];
        let answer = self
            .call(&Call::get("orderCorrection/updateCase", &query))
            .await?;
        let result = parse::cancel_case(&answer, case_id)?;
        tracing::info!(
            original_id,
            case_id,
            outcome = outcome_name(&result),
            "carrier cancel case"
        );
        Ok(result)
    }

    async fn quote(&self, req: &QuoteRequest) -> Result<Vec<ServiceQuote>, CarrierError> {
        let call = Call::post("ServicesCharge", &self.services_charge_body(req));
        parse::quote(&self.call(&call).await?)
    }

    async fn waybills(&self, item_codes: &[String]) -> Result<Vec<Vec<u8>>, CarrierError> {
        if item_codes.len() > WAYBILLS_PER_CALL {
            // The caller batches; splitting here would hide a wrong batch size.
            return Err(CarrierError::new(
                ErrorClass::Refused,
                format!(
                    "at most {WAYBILLS_PER_CALL} item codes a call, asked for {}",
                    item_codes.len()
                ),
            )
            .in_op("exportListReport"));
        }
        if item_codes.is_empty() {
            return Ok(Vec::new());
        }
        let call = Call::post("exportListReport", &item_codes);
        let pdfs = parse::waybills(&self.call(&call).await?)?;
        tracing::debug!(
            items = item_codes.len(),
            files = pdfs.len(),
            "carrier waybills"
        );
        Ok(pdfs)
    }

    async fn provinces(&self) -> Result<Vec<CatalogueProvince>, CarrierError> {
        parse::provinces(&self.call(&Call::get("getNewProvinceAll", &[])).await?)
    }

    async fn communes(&self) -> Result<Vec<CatalogueCommune>, CarrierError> {
        parse::communes(&self.call(&Call::get("getNewCommuneAll", &[])).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::parse::{history, pick_found};
    use super::*;
    use crate::carrier::{Party, SendType};
    use chrono::{TimeZone, Utc};
    use serde_json::{Value, json};

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
            send_type: SendType::Collect,
            org_code_collect: None,
            org_code_accept: None,
            delivery_instruction: None,
        }
    }

    #[test]
    fn create_order_body_is_exactly_spec_5() {
        let body = serde_json::to_value(create_order_body(
            &request(150_000),
            "CUST",
            "HD-1",
            &CommuneCodes::identity(),
        ))
        .unwrap();
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
                    "contentNote": "Hồ sơ",
                    "weight": "500",
                    "width": null,
                    "length": null,
                    "height": null,
                    "vehicle": "BO",
                    "sendType": "1",
                    "isBroken": "0",
                    "deliveryTime": null,
                    "deliveryRequire": null,
                    "deliveryInstruction": null,
                    "orgCodeCollect": null,
                    "orgCodeAccept": null,
                    "additionRequest": [],
                    "addonService": [{"code": "GTG021", "propValue": "PROP0018:150000"}]
                }
            })
        );
    }

    #[test]
    fn drop_off_post_offices_instruction_and_mapped_communes() {
        let mut req = request(0);
        req.send_type = SendType::DropOff;
        req.org_code_collect = Some("220000".into());
        req.org_code_accept = Some(" ".into());
        req.delivery_instruction = Some("Gọi trước 30 phút".into());
        let communes = CommuneCodes::new(
            &[("00691".to_string(), "V00691".to_string())]
                .into_iter()
                .collect(),
        )
        .unwrap();
        let body =
            serde_json::to_value(create_order_body(&req, "CUST", "HD-1", &communes)).unwrap();
        let i = &body["informationOrder"];
        assert_eq!(i["sendType"], "2");
        assert_eq!(i["orgCodeCollect"], "220000");
        assert_eq!(i["orgCodeAccept"], Value::Null, "blank is not a code");
        assert_eq!(i["deliveryInstruction"], "Gọi trước 30 phút");
        assert_eq!(i["addonService"], json!([]));
        assert_eq!(i["senderCommuneCode"], "02215");
        assert_eq!(i["receiverCommuneCode"], "V00691");
    }

    #[test]
    fn services_charge_body_is_exactly_spec_5() {
        let q = QuoteRequest {
            sender_province_code: "08".into(),
            sender_commune_code: "02215".into(),
            receiver_province_code: "01".into(),
            receiver_commune_code: "00004".into(),
            weight_grams: 300,
            service_code: None,
            cod_vnd: 50_000,
        };
        let communes = CommuneCodes::new(
            &[("02215".to_string(), "X2215".to_string())]
                .into_iter()
                .collect(),
        )
        .unwrap();
        let body =
            serde_json::to_value(services_charge_body(&q, "CUST", "HD-1", &communes)).unwrap();
        assert_eq!(
            body,
            json!({
                "scope": 1,
                "customerCode": "CUST",
                "contractNumber": "HD-1",
                "data": {
                    "senderProvinceCode": "08",
                    "senderDistrictCode": "VNPOST",
                    "senderCommuneCode": "X2215",
                    "receiverProvinceCode": "01",
                    "receiverDistrictCode": "VNPOST",
                    "receiverCommuneCode": "00004",
                    "receiverNational": "VN",
                    "weight": 300,
                    "serviceCode": null,
                    "addonService": [{"code": "GTG021", "propValue": "PROP0018:50000"}],
                    "additionRequest": [],
                    "vehicle": "BO"
                }
            })
        );
        let q = QuoteRequest {
            service_code: Some("ETN011".into()),
            cod_vnd: 0,
            ..q
        };
        let body = serde_json::to_value(services_charge_body(
            &q,
            "CUST",
            "HD-1",
            &CommuneCodes::identity(),
        ))
        .unwrap();
        assert_eq!(body["data"]["serviceCode"], "ETN011");
        assert_eq!(body["data"]["addonService"], json!([]));
    }

    fn answer(op: &'static str, status: u16, body: &str) -> Answer {
        Answer::new(op, status, body.as_bytes())
    }

    #[test]
    fn cancel_types_and_shapes() {
        let r = |body: Value| parse::cancel(&answer("orderCancel", 200, &body.to_string()));
        assert_eq!(
            r(json!({"Type": "00", "Message": "ok", "CaseId": null})).unwrap(),
            CancelResult::Done
        );
        assert_eq!(
            r(json!({"type": "02", "message": null, "caseId": 42})).unwrap(),
            CancelResult::Waiting {
                case_id: Some("42".into())
            }
        );
        assert_eq!(
            r(json!([{"Type": "01", "Message": " Đã lấy hàng "}])).unwrap(),
            CancelResult::Refused("Đã lấy hàng".into())
        );
        assert_eq!(
            r(json!({"Type": "99", "Message": ""})).unwrap(),
            CancelResult::Refused("Type 99".into())
        );
        for bad in [json!({"Type": null}), json!([]), json!({"result": "00"})] {
            let e = r(bad.clone()).unwrap_err();
            assert_eq!(e.class, ErrorClass::Protocol, "{bad}");
            assert_eq!(e.op, Some("orderCancel"));
            assert!(e.excerpt.is_some());
        }
        // The case asked about among several; Waiting keeps the case id asked when the
        // answer has none.
        let case = |body: Value| {
            parse::cancel_case(
                &answer("orderCorrection/updateCase", 200, &body.to_string()),
                "C2",
            )
        };
        assert_eq!(
            case(json!([{"Type": "02", "CaseId": "C1"}, {"Type": "00", "CaseId": "C2"}])).unwrap(),
            CancelResult::Done
        );
        assert_eq!(
            case(json!({"type": "02", "message": "Chờ duyệt"})).unwrap(),
            CancelResult::Waiting {
                case_id: Some("C2".into())
            }
        );
    }

    #[test]
    fn history_in_vietnam_time_sorted() {
        let entries: Vec<wire::HistoryEntry> = serde_json::from_value(json!([
            {"createdDate": "27/11/2026", "createdHour": "10:00:00", "statusCode": 6, "statusName": "Đã nhận hàng"},
            {"createdDate": "27/11/2026", "createHour": "06:30:00", "statusCode": "1", "statusName": null},
            {"createdDate": "27/11/2026 11:00:00", "statusCode": 7}
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
        assert_eq!(h[2].code, 7);
        let bad: Vec<wire::HistoryEntry> = serde_json::from_value(
            json!([{"createdDate": "2026-11-27", "createdHour": "10:00", "statusCode": 6}]),
        )
        .unwrap();
        assert!(history(bad).is_err());
    }

    #[test]
    fn history_of_the_item_asked_for() {
        let body = json!([
            {"itemCode": "EB2VN", "statusHistory": [{"createdDate": "27/11/2026", "createdHour": "10:00:00", "statusCode": 9}]},
            {"itemCode": "EB1VN", "statusHistory": [{"createdDate": "27/11/2026", "createdHour": "09:00:00", "statusCode": 6}]}
        ]);
        let a = answer("GetStatusHistoryOrder", 200, &body.to_string());
        let h = parse::status_history(&a, "EB1VN").unwrap();
        assert_eq!(h.iter().map(|r| r.code).collect::<Vec<_>>(), [6]);
        assert!(parse::status_history(&a, "EB3VN").unwrap().is_empty());
        // `{"data": null}` with a message is a refusal, not an empty history.
        let a = answer(
            "GetStatusHistoryOrder",
            200,
            r#"{"data":null,"message":"Không tìm thấy bưu gửi"}"#,
        );
        let e = parse::status_history(&a, "EB1VN").unwrap_err();
        assert_eq!(
            (e.class, e.message.as_str()),
            (ErrorClass::Refused, "Không tìm thấy bưu gửi")
        );
    }

    #[test]
    fn the_order_meant_among_several() {
        let results: Vec<wire::OrderInfo> = serde_json::from_value(json!([
            {"itemCode": "EB1VN", "originalID": "o1", "saleOrderCode": "S-1", "status": 9, "updatedDate": "27/11/2026 10:00:00"},
            {"itemCode": "EB2VN", "originalID": "o2", "saleOrderCode": "S-1", "status": 2, "updatedDate": "27/11/2026 09:00:00", "codAmount": "150000"},
            {"itemCode": "EB3VN", "originalID": "o3", "saleOrderCode": "S-10", "status": 2}
        ]))
        .unwrap();
        let (best, n) = pick_found("S-1", results).unwrap();
        assert_eq!(n, 2, "S-10 is another order");
        let best = best.unwrap();
        assert_eq!(
            best.item_code, "EB2VN",
            "a live order before a cancelled one"
        );
        assert_eq!(best.cod_amount, Some(150_000));
        assert_eq!(pick_found("S-1", Vec::new()).unwrap(), (None, 0));
        let broken: Vec<wire::OrderInfo> =
            serde_json::from_value(json!([{"saleOrderCode": "S-1", "status": 1}])).unwrap();
        assert!(pick_found("S-1", broken).is_err());
    }

    #[test]
    fn http_failures_are_classified() {
        use ErrorClass::*;
        let cases = [
            (400, r#"{"message":"Mã xã không hợp lệ"}"#, Refused),
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
            let mut a = answer("CreateOrder", status, body);
            a.retry_after = Some(Duration::from_secs(7));
            let e = parse::create_order(&a).unwrap_err();
            assert_eq!(e.class, class, "{status}");
            assert_eq!(e.http_status, Some(status));
            assert_eq!(e.op, Some("CreateOrder"));
            assert_eq!(e.retry_after.is_some(), class == RateLimited, "{status}");
        }
        // The carrier's words alone: the job runner prefixes its own text.
        let e = answer("CreateOrder", 400, r#"{"Message":"Mã xã không hợp lệ"}"#).error();
        assert_eq!(e.message, "Mã xã không hợp lệ");
        assert_eq!(
            e.to_string(),
            "carrier refused (CreateOrder): Mã xã không hợp lệ"
        );
        assert_eq!(
            answer("CreateOrder", 400, "").error().message,
            "HTTP 400 without a message"
        );
        let long = "x".repeat(2000);
        assert_eq!(
            answer("CreateOrder", 500, &long)
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
        let ok = answer(
            "CreateOrder",
            200,
            r#"{"orderHdrID":1,"originalID":"o","itemCode":"EB1VN","status":1,"totalFee":16500,"errorMessage":"Thành công"}"#,
        );
        assert_eq!(parse::create_order(&ok).unwrap().item_code, "EB1VN");
        let e = parse::create_order(&answer(
            "CreateOrder",
            200,
            r#"{"success":false,"errorMessage":"Sai mã hợp đồng"}"#,
        ))
        .unwrap_err();
        assert_eq!(e.class, ErrorClass::Refused);
        assert_eq!(e.message, "Sai mã hợp đồng");
        // A Spring error body in a 200 answer keeps its own status's class.
        let e = parse::create_order(&answer(
            "CreateOrder",
            200,
            r#"{"status":503,"timestamp":"2026-11-30T10:00:00.000+07:00","error":"Service Unavailable","message":"","path":"/CreateOrder"}"#,
        ))
        .unwrap_err();
        assert_eq!(
            (e.class, e.message.as_str()),
            (ErrorClass::Server, "Service Unavailable")
        );
        for garbage in [
            "<html>maintenance</html>",
            "",
            r#"{"itemCode":"EB1VN"}"#,
            r#"{"status":"six"}"#,
            r#"{"data":[]}"#,
            "[]",
        ] {
            let e = parse::create_order(&answer("CreateOrder", 200, garbage)).unwrap_err();
            assert_eq!(e.class, ErrorClass::Protocol, "{garbage}");
            assert!(e.may_have_acted());
            assert_eq!(e.excerpt.as_deref(), Some(garbage));
        }
    }

    #[test]
    fn login_answers() {
        let ok = answer(
            "GetAccessToken",
            200,
            r#"{"success":true,"token":"t-1","errorMessage":null}"#,
        );
        assert_eq!(parse::login(&ok).unwrap(), "t-1");
        for (status, body) in [
            (
                200,
                r#"{"success":false,"token":null,"errorMessage":"Sai mật khẩu"}"#,
            ),
            (400, r#"{"message":"Sai mật khẩu"}"#),
        ] {
            let e = parse::login(&answer("GetAccessToken", status, body)).unwrap_err();
            assert_eq!(e.class, ErrorClass::Auth, "{body}");
            assert!(e.message.contains("Sai mật khẩu"));
        }
        let e = parse::login(&answer("GetAccessToken", 200, "[1]")).unwrap_err();
        assert_eq!(e.class, ErrorClass::Protocol);
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
        assert_eq!(
            vn.base.join("orderCorrection/updateCase").unwrap().as_str(),
            "https://my-uat.vnpost.vn/MYVNP_API/orderCorrection/updateCase"
        );
    }

    #[test]
    fn bad_tls_roots_and_commune_overrides_stop_start_up() {
        let mut cfg = crate::config::Config::from_overlay("").unwrap().carrier;
        cfg.tls_ca_pem = Some(Secret::new("not a certificate"));
        assert!(VnPost::new(&cfg).is_err());
        cfg.tls_ca_pem = None;
        cfg.commune_codes.insert("99999".into(), "1".into());
        let e = VnPost::new(&cfg).err().unwrap().to_string();
        assert!(e.contains("carrier.commune_codes"), "{e}");
    }

    #[tokio::test]
    async fn more_waybills_than_a_call_takes_is_a_caller_bug() {
        let cfg = crate::config::Config::from_overlay("").unwrap().carrier;
        let vn = VnPost::new(&cfg).unwrap();
        let codes: Vec<String> = (0..=WAYBILLS_PER_CALL)
            .map(|i| format!("EB{i}VN"))
            .collect();
        let e = vn.waybills(&codes).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Refused);
        assert_eq!(vn.logins(), 0, "nothing was sent");
        assert!(vn.waybills(&[]).await.unwrap().is_empty());
    }
}

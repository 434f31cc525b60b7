//! The sandbox's HTTP surface.
//!
//! The carrier API of SPEC §5 (`/GetAccessToken`, `/CreateOrder`, `/getOrder`,
//! `/GetStatusHistoryOrder`, `/orderCancel`), with the faults applied before anything else,
//! and the control API for tests and tools:
//!
//! | call | effect |
//! |---|---|
//! | `GET /_sandbox/orders[?saleOrderCode=…]` | every order (codes, current status, history) |
//! | `GET /_sandbox/faults` | the settings in force |
//! | `POST /_sandbox/faults` | JSON with any subset of the settings, applied at once |
//! | `POST /_sandbox/expire-tokens` | every issued token becomes invalid |
//! | `POST /_sandbox/advance[?steps=N]` | every live order moves N steps (default 1) now |
//! | `GET /_sandbox/stats` | counters |

use super::journey::{CancelRefusal, NewOrder};
use super::{FaultsPatch, Sandbox, bump, lock};
use crate::carrier::vntime;
use crate::carrier::wire::{self, ErrorBody};
use crate::domain::admin_units::{AddressError, AdminUnits};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use rand::Rng;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::net::TcpListener;
use std::sync::Arc;

pub(super) fn run(
    sandbox: Arc<Sandbox>,
    listener: TcpListener,
) -> anyhow::Result<actix_web::dev::Server> {
    let data = web::Data::from(sandbox);
    let server = HttpServer::new(move || {
        actix_web::App::new()
            .app_data(data.clone())
            .route("/GetAccessToken", web::post().to(get_access_token))
            .route("/CreateOrder", web::post().to(create_order))
            .route("/getOrder", web::get().to(get_order))
            .route("/GetStatusHistoryOrder", web::get().to(status_history))
            .route("/orderCancel", web::post().to(order_cancel))
            .service(
                web::scope("/_sandbox")
                    .route("/orders", web::get().to(control_orders))
                    .route("/faults", web::get().to(control_faults))
                    .route("/faults", web::post().to(control_set_faults))
                    .route("/expire-tokens", web::post().to(control_expire_tokens))
                    .route("/advance", web::post().to(control_advance))
                    .route("/stats", web::get().to(control_stats)),
            )
    })
    // A small server beside the gateway: it must neither take the gateway's cores nor its
    // SIGINT/SIGTERM (the gateway stops it through the handle).
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    Ok(server)
}

/// A carrier answer other than 200, with the carrier's error body.
#[derive(Debug, thiserror::Error)]
enum Reject {
    /// 400: the carrier refuses the request.
    #[error("{code}: {message}")]
    Refused { code: String, message: String },
    /// 401: no valid token.
    #[error("invalid or expired token")]
    Unauthorized,
    /// 503: the injected error.
    #[error("service unavailable")]
    Unavailable,
}

fn refused(code: &str, message: impl Into<String>) -> Reject {
    Reject::Refused {
        code: code.to_owned(),
        message: message.into(),
    }
}

impl ResponseError for Reject {
    fn status_code(&self) -> StatusCode {
        match self {
            Reject::Refused { .. } => StatusCode::BAD_REQUEST,
            Reject::Unauthorized => StatusCode::UNAUTHORIZED,
            Reject::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (code, message) = match self {
            Reject::Refused { code, message } => (code.as_str(), message.as_str()),
            Reject::Unauthorized => (
                "401",
                "Token không hợp lệ hoặc đã hết hạn (invalid or expired token)",
            ),
            Reject::Unavailable => (
                "503",
                "Hệ thống đang bận, vui lòng thử lại sau (service unavailable)",
            ),
        };
        let mut answer = HttpResponse::build(self.status_code());
        if let Reject::Unavailable = self {
            answer.insert_header(("Retry-After", "1"));
        }
        answer.json(ErrorBody {
            error_code: code.into(),
            error_message: message.into(),
        })
    }
}

/// Reads a JSON body; a refusal names the faulty field.
fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Reject> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        refused(
            "INVALID_REQUEST",
            format!("Dữ liệu không hợp lệ (invalid request): {e}"),
        )
    })
}

impl Sandbox {
    /// The faults that strike before the request is looked at: latency, then 503.
    async fn misbehave(&self) -> Result<(), Reject> {
        let faults = self.faults();
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        if faults.error_rate.roll(&mut rand::rng()) {
            bump(&self.counters.injected_errors);
            return Err(Reject::Unavailable);
        }
        Ok(())
    }

    fn authorise(&self, req: &HttpRequest) -> Result<(), Reject> {
        let token = req.headers().get("token").and_then(|v| v.to_str().ok());
        if self.token_valid(token) {
            Ok(())
        } else {
            Err(Reject::Unauthorized)
        }
    }
}

async fn get_access_token(
    sb: web::Data<Sandbox>,
    body: web::Bytes,
) -> Result<HttpResponse, Reject> {
    sb.misbehave().await?;
    let login: wire::LoginRequest = json(&body)?;
    let answer = if login.username == sb.username
        && login.password == sb.password.expose()
        && login.customer_code == sb.customer_code
    {
        wire::LoginResponse {
            success: true,
            token: Some(sb.issue_token()),
            error_message: None,
        }
    } else {
        // Real services answer a wrong password with 200 and `success: false`.
        bump(&sb.counters.login_failures);
        wire::LoginResponse {
            success: false,
            token: None,
            error_message: Some(
                "Tên đăng nhập, mật khẩu hoặc mã khách hàng không đúng (wrong credentials)".into(),
            ),
        }
    };
    Ok(HttpResponse::Ok().json(answer))
}

async fn create_order(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Reject> {
    sb.misbehave().await?;
    sb.authorise(&req)?;
    bump(&sb.counters.create_calls);
    let checked = json::<wire::CreateOrderRequest>(&body)
        .and_then(|o| validate(&o, &sb.customer_code).map(|cod| (o, cod)));
    let (order, cod_vnd) = checked.inspect_err(|_| bump(&sb.counters.refused_creates))?;
    let i = order.information_order;
    let new = NewOrder {
        sale_order_code: i.sale_order_code,
        service_code: i.service_code,
        weight_grams: i.weight.trim().parse().unwrap_or(0),
        cod_vnd,
    };
    let (answer, push) = {
        let mut book = lock(&sb.book);
        let (o, push) = book.create(new, chrono::Utc::now());
        let answer = wire::CreateOrderResponse {
            order_hdr_id: Some(o.order_hdr_id.clone()),
            original_id: Some(o.original_id.clone()),
            item_code: Some(o.item_code.clone()),
            status: Some(o.status),
            total_fee: Some(o.total_fee),
        };
        (answer, push)
    };
    sb.push(vec![push]);
    let faults = sb.faults();
    if faults.timeout_after_create_rate.roll(&mut rand::rng()) {
        // The order exists; the answer is lost. Held until the client gives up (the future is
        // dropped when the connection closes) or `withhold_for` passes.
        bump(&sb.counters.withheld_answers);
        tokio::time::sleep(faults.withhold_for).await;
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// Checks a `CreateOrder` body as the carrier would; returns the COD amount.
fn validate(o: &wire::CreateOrderRequest, customer_code: &str) -> Result<i64, Reject> {
    let refuse = |code: &str, message: &str| Err(refused(code, message));
    if o.customer_code != customer_code {
        return refuse("CUSTOMER_CODE", "Mã khách hàng không đúng (customerCode)");
    }
    if o.contract_code.trim().is_empty() {
        return refuse("CONTRACT_CODE", "Thiếu mã hợp đồng (contractCode)");
    }
    if o.order_creation_status != wire::ORDER_CREATION_STATUS || o.kind != wire::ORDER_TYPE {
        return refuse(
            "ORDER_TYPE",
            "Loại đơn hàng không được hỗ trợ (orderCreationStatus, type)",
        );
    }
    let i = &o.information_order;
    let parties = [
        (
            "sender",
            &i.sender_name,
            &i.sender_phone,
            &i.sender_address,
            &i.sender_province_code,
            &i.sender_district_code,
            &i.sender_commune_code,
        ),
        (
            "receiver",
            &i.receiver_name,
            &i.receiver_phone,
            &i.receiver_address,
            &i.receiver_province_code,
            &i.receiver_district_code,
            &i.receiver_commune_code,
        ),
    ];
    for (who, name, phone, address, province, district, commune) in parties {
        let (vi, upper) = if who == "sender" {
            ("người gửi", "SENDER")
        } else {
            ("người nhận", "RECEIVER")
        };
        let refuse = |what: &str, vi_what: &str| {
            Err(refused(
                &format!("{upper}_{what}"),
                format!("{vi_what} {vi} không hợp lệ ({who}{})", field(what)),
            ))
        };
        if name.trim().is_empty() || name.chars().count() > 200 {
            return refuse("NAME", "Tên");
        }
        if !is_phone(phone) {
            return refuse("PHONE", "Số điện thoại");
        }
        if address.trim().is_empty() {
            return refuse("ADDRESS", "Địa chỉ");
        }
        if district != wire::DISTRICT_CODE {
            return refuse("DISTRICT_CODE", "Mã quận/huyện");
        }
        match AdminUnits::get().check(province, commune) {
            Ok(()) => {}
            Err(AddressError::UnknownProvince) => {
                return refuse("PROVINCE_CODE", "Mã tỉnh/thành phố");
            }
            Err(AddressError::UnknownCommune | AddressError::CommuneOutsideProvince) => {
                return refuse(
                    "COMMUNE_CODE",
                    "Mã xã/phường (hoặc xã/phường không thuộc tỉnh/thành phố)",
                );
            }
        }
    }
    if i.sale_order_code.trim().is_empty() || i.sale_order_code.len() > 50 {
        return refuse(
            "SALE_ORDER_CODE",
            "Mã đơn hàng của khách hàng không hợp lệ (saleOrderCode)",
        );
    }
    if !matches!(i.service_code.as_str(), "CTN001" | "ETN011" | "ETN013") {
        return refuse("SERVICE_CODE", "Mã dịch vụ không được hỗ trợ (serviceCode)");
    }
    if !matches!(i.weight.trim().parse::<u32>(), Ok(1..=30_000)) {
        return refuse("WEIGHT", "Khối lượng không hợp lệ (weight)");
    }
    let mut cod = 0;
    for a in &i.addon_service {
        let amount = a
            .prop_value
            .strip_prefix(wire::PROP_COD_AMOUNT)
            .and_then(|v| v.strip_prefix(':'))
            .and_then(|v| v.parse::<i64>().ok());
        match (a.code.as_str(), amount) {
            (wire::ADDON_COD, Some(n)) if n > 0 => cod = n,
            _ => {
                return refuse(
                    "ADDON_SERVICE",
                    "Dịch vụ cộng thêm không hợp lệ (addonService)",
                );
            }
        }
    }
    Ok(cod)
}

/// The JSON field suffix of a checked part of a party.
fn field(what: &str) -> &'static str {
    match what {
        "NAME" => "Name",
        "PHONE" => "Phone",
        "ADDRESS" => "Address",
        "DISTRICT_CODE" => "DistrictCode",
        "PROVINCE_CODE" => "ProvinceCode",
        _ => "CommuneCode",
    }
}

/// A mobile number (SPEC §1) or a landline (`02` + 9 digits), as offices have.
fn is_phone(p: &str) -> bool {
    crate::domain::phone::normalise(p).is_some()
        || (p.len() == 11 && p.starts_with("02") && p.bytes().all(|b| b.is_ascii_digit()))
}

#[derive(Deserialize)]
struct GetOrderQuery {
    #[serde(rename = "type")]
    kind: Option<u8>,
    code: Option<String>,
}

async fn get_order(sb: web::Data<Sandbox>, req: HttpRequest) -> Result<HttpResponse, Reject> {
    sb.misbehave().await?;
    sb.authorise(&req)?;
    let q = web::Query::<GetOrderQuery>::from_query(req.query_string())
        .map_err(|_| refused("INVALID_REQUEST", "Tham số không hợp lệ (type, code)"))?;
    let (Some(kind), Some(code)) = (q.kind, q.code.as_deref().filter(|c| !c.is_empty())) else {
        return Err(refused("INVALID_REQUEST", "Thiếu tham số (type, code)"));
    };
    let book = lock(&sb.book);
    // type 1: tracking number, 2: the customer's reference, 3: the carrier's id.
    let found: Vec<_> = match kind {
        1 => book.by_item(code).into_iter().collect(),
        2 => book.by_sale(code).collect(),
        3 => book.by_original(code).into_iter().collect(),
        _ => {
            return Err(refused(
                "INVALID_REQUEST",
                "Loại tra cứu không hợp lệ (type)",
            ));
        }
    };
    let results = found
        .into_iter()
        .map(|o| wire::OrderInfo {
            item_code: Some(o.item_code.clone()),
            original_id: Some(o.original_id.clone()),
            sale_order_code: Some(o.sale_order_code.clone()),
            status: Some(o.status),
            status_name: Some(super::status_name(o.status).to_owned()),
            updated_date: Some(vntime::format_date_time(o.updated_at())),
            total_fee: Some(o.total_fee),
            cod_amount: None,
        })
        .collect();
    Ok(HttpResponse::Ok().json([wire::GetOrderPage { results }]))
}

async fn status_history(sb: web::Data<Sandbox>, req: HttpRequest) -> Result<HttpResponse, Reject> {
    sb.misbehave().await?;
    sb.authorise(&req)?;
    let q = web::Query::<GetOrderQuery>::from_query(req.query_string())
        .map_err(|_| refused("INVALID_REQUEST", "Tham số không hợp lệ (type, code)"))?;
    let code = q.code.as_deref().unwrap_or_default();
    let book = lock(&sb.book);
    let order = book
        .by_item(code)
        .ok_or_else(|| refused("NOT_FOUND", "Không tìm thấy bưu gửi (itemCode)"))?;
    let status_history = order
        .history
        .iter()
        .map(|s| {
            let (created_date, created_hour) = vntime::format_date_and_hour(s.at);
            wire::HistoryEntry {
                created_date,
                created_hour: Some(created_hour),
                status_code: s.code,
                status_name: Some(s.name.clone()),
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(wire::StatusHistoryResponse {
        item_code: None,
        status_history,
    }))
}

async fn order_cancel(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Reject> {
    sb.misbehave().await?;
    sb.authorise(&req)?;
    let ask: wire::CancelRequest = json(&body)?;
    bump(&sb.counters.cancels);
    let outcome = lock(&sb.book).cancel(&ask.original_id, chrono::Utc::now());
    let refused = |message: &str| wire::CancelResponse {
        kind: Some("01".into()),
        message: Some(message.into()),
        case_id: None,
    };
    let answer = match outcome {
        Ok(push) => {
            sb.push(push.into_iter().collect());
            wire::CancelResponse {
                kind: Some(wire::CANCEL_DONE.into()),
                message: Some("Hủy đơn hàng thành công".into()),
                case_id: Some(format!(
                    "CASE{:08}",
                    rand::rng().random_range(0..100_000_000u32)
                )),
            }
        }
        Err(CancelRefusal::TooLate) => {
            refused("Bưu gửi đã được nhận, không thể hủy (already collected)")
        }
        Err(CancelRefusal::Unknown) => refused("Không tìm thấy đơn hàng (unknown OriginalId)"),
    };
    Ok(HttpResponse::Ok().json(answer))
}

#[derive(Deserialize)]
struct OrdersQuery {
    #[serde(rename = "saleOrderCode")]
    sale_order_code: Option<String>,
}

async fn control_orders(sb: web::Data<Sandbox>, q: web::Query<OrdersQuery>) -> HttpResponse {
    let mut orders = sb.orders();
    if let Some(code) = &q.sale_order_code {
        orders.retain(|o| &o.sale_order_code == code);
    }
    HttpResponse::Ok().json(orders)
}

async fn control_faults(sb: web::Data<Sandbox>) -> HttpResponse {
    HttpResponse::Ok().json(sb.faults())
}

async fn control_set_faults(
    sb: web::Data<Sandbox>,
    body: web::Bytes,
) -> Result<HttpResponse, Reject> {
    let faults = sb.set_faults(&json::<FaultsPatch>(&body)?);
    tracing::info!(?faults, "sandbox carrier faults changed");
    Ok(HttpResponse::Ok().json(faults))
}

async fn control_expire_tokens(sb: web::Data<Sandbox>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "expired": sb.expire_tokens() }))
}

#[derive(Deserialize)]
struct AdvanceQuery {
    steps: Option<u32>,
}

async fn control_advance(sb: web::Data<Sandbox>, q: web::Query<AdvanceQuery>) -> HttpResponse {
    let steps = q.steps.unwrap_or(1).min(100);
    let moved: usize = (0..steps).map(|_| sb.advance()).sum();
    HttpResponse::Ok().json(serde_json::json!({ "steps": steps, "moved": moved }))
}

async fn control_stats(sb: web::Data<Sandbox>) -> HttpResponse {
    HttpResponse::Ok().json(sb.stats())
}

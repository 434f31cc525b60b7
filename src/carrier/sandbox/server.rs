//! The sandbox's HTTP surface.
//!
//! The carrier API of SPEC §5, revised: `POST /GetAccessToken`, `POST /CreateOrder`,
//! `GET /getOrder`, `GET /GetStatusHistoryOrder`, `GET /GetListOrder`, `POST /orderCancel`,
//! `GET /orderCorrection/updateCase`, `POST /ServicesCharge`, `POST /exportListReport`,
//! `GET /getNewProvinceAll`, `GET /getNewCommuneAll`. Requests are read as JSON values (not
//! with the adapter's types, so that the two are independent implementations of the contract)
//! and answers are written in one of the shapes SPEC §5 lists, chosen by [`super::shapes`].
//! The faults apply before anything else.
//!
//! The control API for tests and tools:
//!
//! | call | effect |
//! |---|---|
//! | `GET /_sandbox/orders[?saleOrderCode=…]` | every order (codes, current status, history, cancel case) |
//! | `GET /_sandbox/faults` | the settings in force (faults, shapes, cancels, catalogue, pushes) |
//! | `POST /_sandbox/faults` | JSON with any subset of the settings, applied at once |
//! | `POST /_sandbox/expire-tokens` | every issued token becomes invalid |
//! | `POST /_sandbox/advance[?steps=N]` | every live order moves N steps (default 1) now |
//! | `GET /_sandbox/stats` | counters |

use super::journey::{CancelRefusal, Cancelled, CaseAnswer, NewOrder, Order};
use super::shapes::Shape;
use super::{FaultsPatch, PendingOutcome, Sandbox, bump, fees, lock, waybill};
use crate::carrier::vntime;
use crate::domain::admin_units::{AddressError, AdminUnits};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::NaiveDate;
use rand::Rng;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::net::TcpListener;
use std::sync::Arc;

/// The literal district code of two-level addresses (SPEC §5).
const DISTRICT_CODE: &str = "VNPOST";
/// Most orders a `GetListOrder` page holds.
const LIST_PAGE_SIZE: usize = 500;
/// Most items an `exportListReport` call takes.
const WAYBILLS_PER_CALL: usize = 100;

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
            .route("/GetListOrder", web::get().to(list_orders))
            .route("/orderCancel", web::post().to(order_cancel))
            .route("/orderCorrection/updateCase", web::get().to(update_case))
            .route("/ServicesCharge", web::post().to(services_charge))
            .route("/exportListReport", web::post().to(export_list_report))
            .route("/getNewProvinceAll", web::get().to(provinces))
            .route("/getNewCommuneAll", web::get().to(communes))
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

/// A carrier answer other than 200, its error body already in the drawn shape.
#[derive(Debug)]
struct Reject {
    status: StatusCode,
    body: Value,
}

impl std::fmt::Display for Reject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl ResponseError for Reject {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut answer = HttpResponse::build(self.status);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            answer.insert_header(("Retry-After", "1"));
        }
        answer.json(&self.body)
    }
}

/// A carrier error body in the shape `variant` (see [`Shape::Error`]).
pub(super) fn error_body(variant: u8, status: StatusCode, path: &str, message: &str) -> Value {
    match variant {
        1 => json!({ "message": message }),
        2 => json!({ "Message": message }),
        3 => json!({ "errorMessage": message }),
        // A Spring Boot error page, as a Java service answers when it fails before the handler.
        _ => json!({
            "status": status.as_u16(),
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "error": status.canonical_reason().unwrap_or("Error"),
            "message": message,
            "path": path,
        }),
    }
}

impl Sandbox {
    /// A refusal: `status` with an error body in a drawn shape.
    fn reject(&self, req: &HttpRequest, status: StatusCode, message: &str) -> Reject {
        let variant = self.shape(Shape::Error);
        Reject {
            status,
            body: error_body(variant, status, req.path(), message),
        }
    }

    /// 400: the carrier refuses the request.
    fn refuse(&self, req: &HttpRequest, message: &str) -> Reject {
        self.reject(req, StatusCode::BAD_REQUEST, message)
    }

    /// The faults that strike before the request is looked at: latency, then 503.
    async fn misbehave(&self, req: &HttpRequest) -> Result<(), Reject> {
        let faults = self.faults();
        if !faults.latency.is_zero() {
            tokio::time::sleep(faults.latency).await;
        }
        if faults.error_rate.roll(&mut rand::rng()) {
            bump(&self.counters.injected_errors);
            return Err(self.reject(
                req,
                StatusCode::SERVICE_UNAVAILABLE,
                "Hệ thống đang bận, vui lòng thử lại sau",
            ));
        }
        Ok(())
    }

    /// Latency, 503, then the `token` header.
    async fn enter(&self, req: &HttpRequest) -> Result<(), Reject> {
        self.misbehave(req).await?;
        let token = req.headers().get("token").and_then(|v| v.to_str().ok());
        if self.token_valid(token) {
            Ok(())
        } else {
            Err(self.reject(
                req,
                StatusCode::UNAUTHORIZED,
                "Token không hợp lệ hoặc đã hết hạn",
            ))
        }
    }
}

/// Reads a JSON body.
fn json_body(sb: &Sandbox, req: &HttpRequest, body: &[u8]) -> Result<Value, Reject> {
    serde_json::from_slice(body)
        .map_err(|_| sb.refuse(req, "Dữ liệu không phải JSON hợp lệ (request body)"))
}

/// Reads the query string.
fn query<T: DeserializeOwned>(sb: &Sandbox, req: &HttpRequest) -> Result<T, Reject> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| sb.refuse(req, &format!("Tham số không hợp lệ ({e})")))
}

/// The two parties of an order, as the carrier's field names start and in Vietnamese.
const PARTIES: [(&str, &str); 2] = [("sender", "người gửi"), ("receiver", "người nhận")];

/// A field of a JSON object, named by its path in refusals.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: &'static str,
}

impl<'a> Fields<'a> {
    fn of(v: &'a Value, prefix: &'static str) -> Option<Self> {
        v.as_object().map(|obj| Fields { obj, prefix })
    }

    fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    /// Text (not a number), possibly blank.
    fn text(&self, key: &str) -> Result<&'a str, String> {
        match self.get(key) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(format!("phải là chuỗi ({})", self.path(key))),
            None => Err(format!("bắt buộc ({})", self.path(key))),
        }
    }

    /// The object at `key`, its fields named with `prefix`.
    fn child(&self, key: &str, prefix: &'static str) -> Option<Fields<'a>> {
        self.get(key).and_then(|v| Fields::of(v, prefix))
    }

    /// Text that is not blank.
    fn filled(&self, key: &str) -> Result<&'a str, String> {
        let t = self.text(key)?;
        if t.trim().is_empty() {
            Err(format!("không được để trống ({})", self.path(key)))
        } else {
            Ok(t)
        }
    }

    /// `{who}ProvinceCode` and `{who}CommuneCode`, both filled (`vi`: who, in the message).
    fn province_commune(&self, who: &str, vi: &str) -> Result<(&'a str, &'a str), String> {
        let filled = |key: &str, what: &str| {
            self.filled(&format!("{who}{key}"))
                .map_err(|e| format!("{what} {vi} {e}"))
        };
        Ok((
            filled("ProvinceCode", "Mã tỉnh/thành phố")?,
            filled("CommuneCode", "Mã xã/phường")?,
        ))
    }

    /// Absent, null or text.
    fn optional_text(&self, key: &str) -> Result<Option<&'a str>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("phải là chuỗi hoặc null ({})", self.path(key))),
        }
    }
}

async fn get_access_token(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Reject> {
    sb.misbehave(&req).await?;
    let login = json_body(&sb, &req, &body)?;
    let f =
        Fields::of(&login, "").ok_or_else(|| sb.refuse(&req, "Dữ liệu đăng nhập không hợp lệ"))?;
    let (Ok(user), Ok(password), Ok(customer)) = (
        f.text("username"),
        f.text("password"),
        f.text("customerCode"),
    ) else {
        return Err(sb.refuse(
            &req,
            "Thiếu thông tin đăng nhập (username, password, customerCode)",
        ));
    };
    let answer = if user == sb.username
        && password == sb.password.expose()
        && customer == sb.customer_code
    {
        json!({ "success": true, "token": sb.issue_token(), "errorMessage": null })
    } else {
        // Real services answer a wrong password with 200 and `success: false`.
        bump(&sb.counters.login_failures);
        json!({
            "success": false,
            "token": null,
            "errorMessage": "Tên đăng nhập, mật khẩu hoặc mã khách hàng không đúng",
        })
    };
    Ok(HttpResponse::Ok().json(answer))
}

/// An order as `getOrder`, `GetListOrder` and `CreateOrder` answer it.
fn record(o: &Order) -> Value {
    json!({
        "orderHdrID": o.order_hdr_id,
        "originalID": o.original_id,
        "itemCode": o.item_code,
        "saleOrderCode": o.sale_order_code,
        "serviceCode": o.service_code,
        "weight": o.weight_grams,
        "status": o.status,
        "statusName": super::status_name(o.status),
        "createdDate": vntime::format_date_time(o.history[0].at),
        "updatedDate": vntime::format_date_time(o.updated_at()),
        "totalFee": o.total_fee,
        "codAmount": o.cod_amount,
    })
}

async fn create_order(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Reject> {
    sb.enter(&req).await?;
    bump(&sb.counters.create_calls);
    let checked = json_body(&sb, &req, &body)
        .and_then(|v| validate(&v, &sb.customer_code).map_err(|m| sb.refuse(&req, &m)));
    let new = checked.inspect_err(|_| bump(&sb.counters.refused_creates))?;
    let (order, change) = lock(&sb.book).create(new, chrono::Utc::now());
    sb.push(vec![change]);
    let answer = match sb.shape(Shape::CreateOrder) {
        1 => record(&order),
        _ => json!({ "data": record(&order) }),
    };
    let faults = sb.faults();
    if faults.timeout_after_create_rate.roll(&mut rand::rng()) {
        // The order exists; the answer is lost. Held until the client gives up (the future is
        // dropped when the connection closes) or `withhold_for` passes.
        bump(&sb.counters.withheld_answers);
        tokio::time::sleep(faults.withhold_for).await;
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// Checks a `CreateOrder` body as the carrier would (SPEC §5, revised); the message of a
/// refusal names the field, never its value (it may be a citizen's).
pub(super) fn validate(v: &Value, customer_code: &str) -> Result<NewOrder, String> {
    let bad = |what: &str, e: String| format!("{what} {e}");
    let top = Fields::of(v, "").ok_or("Dữ liệu đơn hàng phải là một đối tượng JSON")?;
    if top
        .text("customerCode")
        .map_err(|e| bad("Mã khách hàng", e))?
        != customer_code
    {
        return Err("Mã khách hàng không đúng (customerCode)".into());
    }
    top.filled("contractCode")
        .map_err(|e| bad("Mã hợp đồng", e))?;
    match top.get("orderCreationStatus").and_then(Value::as_i64) {
        Some(1) => {}
        _ => {
            return Err(
                "Trạng thái tạo đơn không được hỗ trợ, hộp cát chỉ nhận 1 (orderCreationStatus)"
                    .into(),
            );
        }
    }
    if top.text("type").ok() != Some("GUI") {
        return Err("Loại đơn hàng phải là GUI (type)".into());
    }
    let info = top
        .child("informationOrder", "informationOrder.")
        .ok_or("Thiếu thông tin đơn hàng (informationOrder)")?;
    let mut codes = Vec::new();
    for (who, vi) in PARTIES {
        let key = |k: &str| format!("{who}{k}");
        info.filled(&key("Name"))
            .map_err(|e| bad(&format!("Tên {vi}"), e))?;
        let phone = info
            .filled(&key("Phone"))
            .map_err(|e| bad(&format!("Số điện thoại {vi}"), e))?;
        if !is_phone(phone) {
            return Err(format!(
                "Số điện thoại {vi} không hợp lệ ({})",
                info.path(&key("Phone"))
            ));
        }
        info.optional_text(&key("Email"))
            .map_err(|e| bad(&format!("Email {vi}"), e))?;
        info.filled(&key("Address"))
            .map_err(|e| bad(&format!("Địa chỉ {vi}"), e))?;
        if info.text(&key("DistrictCode")).ok() != Some(DISTRICT_CODE) {
            return Err(format!(
                "Mã quận/huyện {vi} phải là VNPOST ({})",
                info.path(&key("DistrictCode"))
            ));
        }
        let (province, commune) = info.province_commune(who, vi)?;
        check_address(province, commune).map_err(|e| match e {
            AddressError::UnknownProvince => format!(
                "Mã tỉnh/thành phố {vi} không tồn tại ({})",
                info.path(&key("ProvinceCode"))
            ),
            AddressError::UnknownCommune | AddressError::CommuneOutsideProvince => format!(
                "Mã xã/phường {vi} không tồn tại hoặc không thuộc tỉnh/thành phố ({})",
                info.path(&key("CommuneCode"))
            ),
        })?;
        codes.push((province.to_owned(), commune.to_owned()));
    }
    let sale_order_code = info
        .filled("saleOrderCode")
        .map_err(|e| bad("Mã đơn hàng của khách hàng", e))?;
    if sale_order_code.chars().count() > 50 {
        return Err("Mã đơn hàng của khách hàng quá dài (informationOrder.saleOrderCode)".into());
    }
    let service_code = info
        .filled("serviceCode")
        .map_err(|e| bad("Mã dịch vụ", e))?;
    if fees::service_name(service_code).is_none() {
        return Err("Mã dịch vụ không được hỗ trợ (informationOrder.serviceCode)".into());
    }
    info.filled("contentNote")
        .map_err(|e| bad("Nội dung hàng hóa", e))?;
    // Revised §5: the weight is text.
    let weight = info
        .filled("weight")
        .map_err(|e| bad("Khối lượng", e))?
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|w| (1..=fees::MAX_WEIGHT_GRAMS).contains(w))
        .ok_or("Khối lượng không hợp lệ, 1 đến 30000 gam (informationOrder.weight)")?;
    let send_type = match info.text("sendType") {
        Ok(t @ ("1" | "2")) => t,
        _ => {
            return Err(
                "Hình thức gửi hàng phải là \"1\" hoặc \"2\" (informationOrder.sendType)".into(),
            );
        }
    };
    for key in [
        "deliveryTime",
        "deliveryRequire",
        "deliveryInstruction",
        "orgCodeCollect",
        "orgCodeAccept",
        "vehicle",
        "isBroken",
    ] {
        info.optional_text(key).map_err(|e| bad(key, e))?;
    }
    let (cod_vnd, declared_vnd) = addons(info.get("addonService"), "informationOrder.")?;
    let [(sp, sc), (rp, rc)] = <[_; 2]>::try_from(codes).expect("two parties");
    Ok(NewOrder {
        sale_order_code: sale_order_code.to_owned(),
        service_code: service_code.to_owned(),
        weight_grams: weight,
        sender_province_code: sp,
        sender_commune_code: sc,
        receiver_province_code: rp,
        receiver_commune_code: rc,
        send_type: send_type.to_owned(),
        cod_vnd,
        declared_vnd,
    })
}

fn check_address(province: &str, commune: &str) -> Result<(), AddressError> {
    AdminUnits::get().check(province, commune)
}

/// `addonService`: cash on delivery (`GTG021`, `PROP0018:<amount>`) and declared value
/// (`GTG008`, `PROP0026:<value>`); returns (COD, declared value) in đồng.
fn addons(list: Option<&Value>, prefix: &str) -> Result<(i64, i64), String> {
    let refuse = || format!("Dịch vụ cộng thêm không hợp lệ ({prefix}addonService)");
    let items = match list {
        None => return Ok((0, 0)),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(refuse()),
    };
    let (mut cod, mut declared) = (0, 0);
    for a in items {
        let code = a.get("code").and_then(Value::as_str);
        let prop = a.get("propValue").and_then(Value::as_str).unwrap_or("");
        let amount = |name: &str| {
            prop.strip_prefix(name)
                .and_then(|v| v.strip_prefix(':'))
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|n| *n > 0)
        };
        match code {
            Some("GTG021") => cod = amount("PROP0018").ok_or_else(refuse)?,
            Some("GTG008") => declared = amount("PROP0026").ok_or_else(refuse)?,
            _ => return Err(refuse()),
        }
    }
    Ok((cod, declared))
}

/// A mobile number (SPEC §1) or a landline (`02` + 9 digits), as offices have.
fn is_phone(p: &str) -> bool {
    crate::domain::phone::normalise(p).is_some()
        || (p.len() == 11 && p.starts_with("02") && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `type` and `code` of `getOrder` and `GetStatusHistoryOrder`.
#[derive(Deserialize)]
struct Lookup {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
}

/// The orders `type`/`code` designate, oldest first.
fn look_up(sb: &Sandbox, req: &HttpRequest) -> Result<Vec<Order>, Reject> {
    let q: Lookup = query(sb, req)?;
    let (Some(kind), Some(code)) = (q.kind, q.code.filter(|c| !c.trim().is_empty())) else {
        return Err(sb.refuse(req, "Thiếu tham số (type, code)"));
    };
    let book = lock(&sb.book);
    // type 1: tracking number, 2: the customer's reference, 3: the carrier's id.
    Ok(match kind.as_str() {
        "1" => book.by_item(&code).into_iter().cloned().collect(),
        "2" => book.by_sale(&code).into_iter().cloned().collect(),
        "3" => book.by_original(&code).into_iter().cloned().collect(),
        _ => return Err(sb.refuse(req, "Loại tra cứu phải là 1, 2 hoặc 3 (type)")),
    })
}

async fn get_order(sb: web::Data<Sandbox>, req: HttpRequest) -> Result<HttpResponse, Reject> {
    sb.enter(&req).await?;
    let found = look_up(&sb, &req)?;
    let results: Vec<Value> = found.iter().map(record).collect();
    let answer = match sb.shape(Shape::GetOrder) {
        1 => json!([{ "results": results }]),
        _ => json!({ "results": results }),
    };
    Ok(HttpResponse::Ok().json(answer))
}

async fn status_history(sb: web::Data<Sandbox>, req: HttpRequest) -> Result<HttpResponse, Reject> {
    sb.enter(&req).await?;
    let found = look_up(&sb, &req)?;
    let Some(latest) = found.last() else {
        return Err(sb.refuse(&req, "Không tìm thấy bưu gửi (code)"));
    };
    let (shape, hour_key, text_code) = (
        sb.shape(Shape::History),
        match sb.shape(Shape::HistoryHour) {
            1 => "createdHour",
            _ => "createHour",
        },
        sb.shape(Shape::HistoryCode) == 2,
    );
    let entries = |o: &Order| -> Vec<Value> {
        o.history
            .iter()
            .map(|s| {
                let (date, hour) = vntime::format_date_and_hour(s.at);
                let code = if text_code {
                    json!(s.code.to_string())
                } else {
                    json!(s.code)
                };
                let mut e = json!({
                    "createdDate": date,
                    "statusCode": code,
                    "statusName": s.name,
                    "note": s.note,
                });
                e[hour_key] = json!(hour);
                e
            })
            .collect()
    };
    let answer = match shape {
        1 => json!({ "data": { "itemCode": latest.item_code, "statusHistory": entries(latest) } }),
        2 => json!({ "statusHistory": entries(latest) }),
        // One element per order found (several for a reused saleOrderCode).
        _ => Value::Array(
            found
                .iter()
                .map(|o| json!({ "itemCode": o.item_code, "statusHistory": entries(o) }))
                .collect(),
        ),
    };
    Ok(HttpResponse::Ok().json(answer))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    last_update_from: String,
    last_update_to: String,
    #[serde(rename = "type")]
    kind: String,
    page: Option<usize>,
    size: Option<usize>,
    is_international: Option<bool>,
}

async fn list_orders(sb: web::Data<Sandbox>, req: HttpRequest) -> Result<HttpResponse, Reject> {
    sb.enter(&req).await?;
    let q: ListQuery = query(&sb, &req)?;
    let date = |text: &str, key: &str| {
        NaiveDate::parse_from_str(text.trim(), "%d-%m-%Y")
            .map_err(|_| sb.refuse(&req, &format!("Ngày phải có dạng dd-MM-yyyy ({key})")))
    };
    let from = date(&q.last_update_from, "lastUpdateFrom")?;
    let to = date(&q.last_update_to, "lastUpdateTo")?;
    if to < from {
        return Err(sb.refuse(
            &req,
            "Khoảng ngày không hợp lệ (lastUpdateFrom, lastUpdateTo)",
        ));
    }
    if q.kind != "GUI" {
        return Err(sb.refuse(&req, "Loại đơn hàng phải là GUI (type)"));
    }
    let size = q.size.unwrap_or(LIST_PAGE_SIZE);
    if size == 0 || size > LIST_PAGE_SIZE {
        return Err(sb.refuse(&req, "Kích thước trang từ 1 đến 500 (size)"));
    }
    let page = q.page.unwrap_or(0);
    let results: Vec<Value> = if q.is_international == Some(true) {
        // The sandbox carries nothing abroad.
        Vec::new()
    } else {
        let book = lock(&sb.book);
        book.changed_between(from, to)
            .into_iter()
            .skip(page.saturating_mul(size))
            .take(size)
            .map(record)
            .collect()
    };
    let answer = match sb.shape(Shape::ListOrder) {
        1 => json!({ "results": results }),
        _ => json!([{ "results": results }]),
    };
    Ok(HttpResponse::Ok().json(answer))
}

/// A cancel answer (`Type`, `Message`, `CaseId`) with capitalised or lower-case keys.
fn case_body(capitalised: bool, kind: &str, message: &str, case_id: Option<&str>) -> Value {
    if capitalised {
        json!({ "Type": kind, "Message": message, "CaseId": case_id })
    } else {
        json!({ "type": kind, "message": message, "caseId": case_id })
    }
}

async fn order_cancel(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Reject> {
    sb.enter(&req).await?;
    let ask = json_body(&sb, &req, &body)?;
    let original_id = ask
        .get("OriginalId")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| sb.refuse(&req, "Thiếu mã đơn hàng (OriginalId)"))?;
    bump(&sb.counters.cancels);
    let faults = sb.faults();
    let mut rng = rand::rng();
    let pending = faults
        .cancel_pending
        .roll(&mut rng)
        .then_some(faults.cancel_pending_polls);
    let outcome = lock(&sb.book).cancel(original_id, pending, &mut rng, chrono::Utc::now());
    let (kind, message, case_id) = match outcome {
        Ok(Cancelled::Done(change)) => {
            sb.push(change.into_iter().collect());
            let case = format!("CASE{:08}", rng.random_range(0..100_000_000u32));
            ("00", "Hủy đơn hàng thành công", Some(case))
        }
        Ok(Cancelled::Pending(case)) => {
            bump(&sb.counters.pending_cancels);
            ("02", "Yêu cầu hủy đang chờ VNPost duyệt", Some(case))
        }
        Err(CancelRefusal::TooLate) => ("01", "Bưu gửi đã được nhận, không thể hủy", None),
        Err(CancelRefusal::Unknown | CancelRefusal::UnknownCase) => {
            ("01", "Không tìm thấy đơn hàng (OriginalId)", None)
        }
    };
    let answer = match sb.shape(Shape::Cancel) {
        1 => case_body(true, kind, message, case_id.as_deref()),
        2 => case_body(false, kind, message, case_id.as_deref()),
        3 => json!([case_body(true, kind, message, case_id.as_deref())]),
        _ => json!([case_body(false, kind, message, case_id.as_deref())]),
    };
    Ok(HttpResponse::Ok().json(answer))
}

#[derive(Deserialize)]
struct CaseQuery {
    #[serde(rename = "OriginalId")]
    original_id: Option<String>,
    #[serde(rename = "CaseId")]
    case_id: Option<String>,
}

async fn update_case(sb: web::Data<Sandbox>, req: HttpRequest) -> Result<HttpResponse, Reject> {
    sb.enter(&req).await?;
    let q: CaseQuery = query(&sb, &req)?;
    let (Some(original_id), Some(case_id)) = (q.original_id, q.case_id) else {
        return Err(sb.refuse(&req, "Thiếu tham số (OriginalId, CaseId)"));
    };
    let approve = sb.faults().cancel_pending_outcome == PendingOutcome::Approve;
    let answer = lock(&sb.book).poll_case(&original_id, &case_id, approve, chrono::Utc::now());
    let (kind, message) = match answer {
        Ok(CaseAnswer::Waiting) => ("02", "Yêu cầu hủy đang chờ VNPost duyệt".to_owned()),
        Ok(CaseAnswer::Approved(change)) => {
            sb.push(change.into_iter().collect());
            ("00", "VNPost đã duyệt yêu cầu hủy".to_owned())
        }
        Ok(CaseAnswer::Refused(m)) => ("01", m),
        Err(_) => {
            return Err(sb.refuse(&req, "Không tìm thấy yêu cầu (OriginalId, CaseId)"));
        }
    };
    let capitalised = sb.shape(Shape::UpdateCase) == 1;
    Ok(HttpResponse::Ok().json(json!([case_body(
        capitalised,
        kind,
        &message,
        Some(&case_id)
    )])))
}

async fn services_charge(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Reject> {
    sb.enter(&req).await?;
    let v = json_body(&sb, &req, &body)?;
    let quotes = quote(&v, &sb.customer_code).map_err(|m| sb.refuse(&req, &m))?;
    let vas_key = match sb.shape(Shape::VasFee) {
        1 => "vasFee",
        _ => "vasfee",
    };
    let list: Vec<Value> = quotes
        .into_iter()
        .map(|(code, name, weight, fee)| {
            let mut e = json!({
                "serviceCode": code,
                "serviceName": name,
                "mainFee": fee.main,
                "totalFee": fee.total,
                "priceWeight": weight,
                "weightConvert": weight,
            });
            e[vas_key] = json!(fee.vas);
            e
        })
        .collect();
    let answer = match sb.shape(Shape::ServicesCharge) {
        1 => Value::Array(list),
        _ => json!({ "data": list }),
    };
    Ok(HttpResponse::Ok().json(answer))
}

/// Reads a `ServicesCharge` body; returns each asked service with its postage.
pub(super) fn quote(
    v: &Value,
    customer_code: &str,
) -> Result<Vec<(&'static str, &'static str, u32, fees::Fee)>, String> {
    let bad = |what: &str, e: String| format!("{what} {e}");
    let top = Fields::of(v, "").ok_or("Dữ liệu phải là một đối tượng JSON")?;
    if top.text("customerCode").ok() != Some(customer_code) {
        return Err("Mã khách hàng không đúng (customerCode)".into());
    }
    let data = top
        .child("data", "data.")
        .ok_or("Thiếu dữ liệu tính cước (data)")?;
    let mut provinces = Vec::new();
    for (who, vi) in PARTIES {
        let key = |k: &str| format!("{who}{k}");
        let (province, commune) = data.province_commune(who, vi)?;
        if check_address(province, commune).is_err() {
            return Err(format!(
                "Địa chỉ {vi} không tồn tại ({}, {})",
                data.path(&key("ProvinceCode")),
                data.path(&key("CommuneCode"))
            ));
        }
        provinces.push(province);
    }
    // A number of grams (text accepted, as some clients send it).
    let weight = match data.get("weight") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .and_then(|w| u32::try_from(w).ok())
    .filter(|w| (1..=fees::MAX_WEIGHT_GRAMS).contains(w))
    .ok_or("Khối lượng không hợp lệ, 1 đến 30000 gam (data.weight)")?;
    let asked = data
        .optional_text("serviceCode")
        .map_err(|e| bad("Mã dịch vụ", e))?;
    let (cod, declared) = addons(data.get("addonService"), "data.")?;
    let same = provinces[0] == provinces[1];
    let services: Vec<_> = fees::SERVICES
        .iter()
        .filter(|(code, _)| asked.is_none_or(|a| a == *code))
        .collect();
    if services.is_empty() {
        return Err("Mã dịch vụ không được hỗ trợ (data.serviceCode)".into());
    }
    Ok(services
        .into_iter()
        .map(|&(code, name)| {
            let fee = fees::quote(code, weight, same, cod, declared).expect("a known service");
            (code, name, weight, fee)
        })
        .collect())
}

async fn export_list_report(
    sb: web::Data<Sandbox>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Reject> {
    sb.enter(&req).await?;
    let v = json_body(&sb, &req, &body)?;
    let codes: Vec<&str> = v
        .as_array()
        .and_then(|a| a.iter().map(Value::as_str).collect::<Option<_>>())
        .ok_or_else(|| sb.refuse(&req, "Dữ liệu phải là một mảng mã bưu gửi (itemCode)"))?;
    if codes.is_empty() || codes.len() > WAYBILLS_PER_CALL {
        return Err(sb.refuse(&req, "Mỗi lần in từ 1 đến 100 bưu gửi (itemCode)"));
    }
    let orders: Vec<Order> = {
        let book = lock(&sb.book);
        let unknown: Vec<&str> = codes
            .iter()
            .copied()
            .filter(|c| book.by_item(c).is_none())
            .collect();
        if !unknown.is_empty() {
            return Err(sb.refuse(
                &req,
                &format!("Không tìm thấy bưu gửi: {}", unknown.join(", ")),
            ));
        }
        codes
            .iter()
            .filter_map(|c| book.by_item(c).cloned())
            .collect()
    };
    let refs: Vec<&Order> = orders.iter().collect();
    let pdfs = match sb.shape(Shape::Waybills) {
        1 => vec![waybill::render(&refs)],
        _ => refs.iter().map(|o| waybill::render(&[o])).collect(),
    };
    let encoded = pdfs
        .into_iter()
        .map(|pdf| pdf.map(|bytes| BASE64.encode(bytes)))
        .collect::<anyhow::Result<Vec<String>>>()
        .map_err(|e| {
            tracing::error!(error = %e, "sandbox waybill rendering failed");
            sb.reject(&req, StatusCode::INTERNAL_SERVER_ERROR, "Lỗi tạo vận đơn")
        })?;
    Ok(HttpResponse::Ok().json(encoded))
}

async fn provinces(sb: web::Data<Sandbox>, req: HttpRequest) -> Result<HttpResponse, Reject> {
    sb.enter(&req).await?;
    let f = sb.faults();
    Ok(HttpResponse::Ok().json(super::catalogue::provinces(
        &f.catalogue_missing,
        &f.catalogue_renamed,
    )))
}

async fn communes(sb: web::Data<Sandbox>, req: HttpRequest) -> Result<HttpResponse, Reject> {
    sb.enter(&req).await?;
    let f = sb.faults();
    let province_key = match sb.shape(Shape::CommuneProvince) {
        1 => "provinceCode",
        _ => "districtCode",
    };
    Ok(HttpResponse::Ok().json(super::catalogue::communes(
        &f.catalogue_missing,
        &f.catalogue_renamed,
        province_key,
    )))
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
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Reject> {
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let patch: FaultsPatch = serde_path_to_error::deserialize(de)
        .map_err(|e| bad_control(&req, &format!("invalid settings: {e}")))?;
    let faults = sb.set_faults(&patch).map_err(|e| bad_control(&req, &e))?;
    tracing::info!(?faults, "sandbox carrier settings changed");
    Ok(HttpResponse::Ok().json(faults))
}

/// A refusal of the control API (not the carrier's): one plain shape.
fn bad_control(req: &HttpRequest, message: &str) -> Reject {
    Reject {
        status: StatusCode::BAD_REQUEST,
        body: error_body(4, StatusCode::BAD_REQUEST, req.path(), message),
    }
}

async fn control_expire_tokens(sb: web::Data<Sandbox>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "expired": sb.expire_tokens() }))
}

#[derive(Deserialize)]
struct AdvanceQuery {
    steps: Option<u32>,
}

async fn control_advance(sb: web::Data<Sandbox>, q: web::Query<AdvanceQuery>) -> HttpResponse {
    let steps = q.steps.unwrap_or(1).min(100);
    let moved: usize = (0..steps).map(|_| sb.advance()).sum();
    HttpResponse::Ok().json(json!({ "steps": steps, "moved": moved }))
}

async fn control_stats(sb: web::Data<Sandbox>) -> HttpResponse {
    HttpResponse::Ok().json(sb.stats())
}

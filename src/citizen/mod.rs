//! The citizens' tracking page (issue 10 §1): public, in Vietnamese, phone first, no script.
//!
//! - `GET /tra-cuu`: the form (dossier code and the last 4 digits of the phone given in the
//!   request); it posts to `POST /tra-cuu`, so that what was typed stays out of URLs and logs,
//!   and the answer is rendered at once.
//! - `GET /tra-cuu/<token>`: the same answer for one shipment without the form (the link
//!   printed on the appointment slip, `tracking_url` in the API; `token`).
//! - `GET /tra-cuu/<token>/qr.svg`: that link as a QR code (`qr`).
//!
//! No enumeration oracle: a wrong code and wrong digits get the same page, byte for byte, and
//! the same work (the code is looked up, then the typed digits are compared in constant time
//! with each shipment's, or with a dummy when there is none). Form look-ups are limited per
//! client IP (governor). The answer shows what the shipment is, its status and dated steps,
//! the appointment date, the tracking number and the office; no name, address, phone or ID.
//! Logs carry outcomes and field names, never what was typed.

pub mod qr;
pub mod token;
mod words;

use crate::config::Config;
use crate::domain::{Kind, lateness};
use crate::ledger::{self, citizen::Tracked};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;
use subtle::{Choice, ConstantTimeEq};
use uuid::Uuid;

const CSS: &str = include_str!("../../static/citizen.css");

/// The stylesheet's URL carries a hash of its content, so that it can be cached for long.
static CSS_HREF: LazyLock<String> = LazyLock::new(|| {
    let h = hex::encode(Sha256::digest(CSS.as_bytes()));
    format!("/tra-cuu/static/citizen.css?v={}", &h[..12])
});

/// Pages: nothing cached (they say whether a dossier exists), nothing framed, styles from the
/// gateway only, forms posted to it only, no script at all.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

// ---- pages ----

#[derive(Template)]
#[template(path = "citizen/form.html")]
struct FormPage {
    title: &'static str,
    css: &'static str,
    not_found: bool,
    code: String,
    digits: String,
    code_error: bool,
    digits_error: bool,
    errors: Vec<(&'static str, &'static str)>,
}

impl FormPage {
    fn empty(not_found: bool) -> FormPage {
        FormPage {
            title: if not_found {
                "Không tìm thấy hồ sơ"
            } else {
                "Tra cứu"
            },
            css: &CSS_HREF,
            not_found,
            code: String::new(),
            digits: String::new(),
            code_error: false,
            digits_error: false,
            errors: Vec::new(),
        }
    }
}

#[derive(Template)]
#[template(path = "citizen/answer.html")]
struct AnswerPage {
    title: &'static str,
    css: &'static str,
    dossier_code: String,
    cards: Vec<Card>,
}

struct Card {
    kind: &'static str,
    status: &'static str,
    status_class: &'static str,
    late: bool,
    due_label: &'static str,
    due: Option<String>,
    tracking_number: Option<String>,
    carrier_link: Option<String>,
    office_name: String,
    /// (tel: target, as written)
    office_phone: Option<(String, String)>,
    steps: Vec<StepView>,
    link: String,
}

struct StepView {
    iso: String,
    when: String,
    what: &'static str,
}

#[derive(Template)]
#[template(path = "citizen/message.html")]
struct MessagePage {
    title: &'static str,
    css: &'static str,
    paragraphs: Vec<String>,
}

fn page(t: &impl Template, status: StatusCode) -> HttpResponse {
    match t.render() {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "citizen page: rendering");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// The one "not found" page: a wrong code, wrong digits, a forged or stale link.
fn not_found() -> HttpResponse {
    page(&FormPage::empty(true), StatusCode::NOT_FOUND)
}

fn unavailable(what: &str, e: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(error = %e, "citizen page: {what}");
    let mut res = page(
        &MessagePage {
            title: "Hệ thống đang bận",
            css: &CSS_HREF,
            paragraphs: vec![
                "Hệ thống tra cứu đang tạm thời không trả lời được. Xin ông/bà thử lại sau ít phút."
                    .into(),
            ],
        },
        StatusCode::SERVICE_UNAVAILABLE,
    );
    res.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from_static("30"),
    );
    res
}

// ---- what the answer shows ----

fn vn() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("valid offset")
}

fn vn_datetime(t: DateTime<Utc>) -> String {
    t.with_timezone(&vn()).format("%H:%M, %d/%m/%Y").to_string()
}

/// The office's phone as a `tel:` target: digits (and a leading +) only.
fn tel(phone: &str) -> String {
    phone
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect()
}

fn card(config: &Config, s: &Tracked, steps: &[ledger::citizen::Step]) -> Card {
    let (kind, status) = (s.kind, s.status);
    let office = config.office(&s.office_code);
    let due = lateness::deadline(
        &lateness::Timeline {
            kind,
            status,
            created_at: s.created_at,
            due_at: s.due_at,
            picked_up_at: None,
            delivered_at: None,
        },
        chrono::Duration::from_std(config.shipments.pickup_window).unwrap_or_default(),
    );
    Card {
        kind: words::kind(kind),
        status: words::status(kind, status),
        status_class: words::status_class(status),
        late: s.late,
        due_label: match kind {
            Kind::Delivery => "Ngày hẹn trả kết quả",
            Kind::Pickup => "Bưu điện đến nhận hồ sơ trước",
        },
        due: due.map(vn_datetime),
        carrier_link: s.tracking_number.as_deref().map(|t| {
            let t: String = url::form_urlencoded::byte_serialize(t.as_bytes()).collect();
            config
                .citizen
                .carrier_tracking_url
                .replace("{tracking_number}", &t)
        }),
        tracking_number: s.tracking_number.clone(),
        office_name: office.map_or_else(|| s.office_code.clone(), |o| o.name.clone()),
        office_phone: office.map(|o| (tel(&o.phone), o.phone.clone())),
        steps: steps
            .iter()
            .filter(|st| st.shipment_id == s.id)
            .map(|st| StepView {
                iso: st.occurred_at.with_timezone(&vn()).to_rfc3339(),
                when: vn_datetime(st.occurred_at),
                what: words::status(kind, st.status),
            })
            .collect(),
        link: token::tracking_url(config, s.id),
    }
}

async fn answer(state: &AppState, found: Vec<Tracked>) -> HttpResponse {
    let ids: Vec<Uuid> = found.iter().map(|s| s.id).collect();
    let steps = match state.pool.get().await {
        Ok(mut conn) => ledger::citizen::steps(&mut conn, &ids).await,
        Err(e) => return unavailable("database pool", &e),
    };
    let steps = match steps {
        Ok(s) => s,
        Err(e) => return unavailable("steps", &e),
    };
    page(
        &AnswerPage {
            title: "Tình trạng hồ sơ",
            css: &CSS_HREF,
            dossier_code: found[0].dossier_code.clone(),
            cards: found
                .iter()
                .map(|s| card(&state.config, s, &steps))
                .collect(),
        },
        StatusCode::OK,
    )
}

// ---- handlers ----

async fn form() -> HttpResponse {
    page(&FormPage::empty(false), StatusCode::OK)
}

#[derive(Debug, Default, Deserialize)]
struct LookupForm {
    #[serde(default)]
    code: String,
    #[serde(default)]
    digits: String,
}

/// The typed code, trimmed (and upper-cased when typed in small letters), if it has the
/// shape of a dossier code.
fn dossier_code(typed: &str) -> Option<String> {
    let t = typed.trim();
    [t.to_owned(), t.to_ascii_uppercase()]
        .into_iter()
        .find(|c| crate::domain::dossier::validate(c).is_ok())
}

/// Exactly four ASCII digits (spaces around allowed).
fn four_digits(typed: &str) -> Option<[u8; 4]> {
    let t = typed.trim().as_bytes();
    (t.len() == 4 && t.iter().all(u8::is_ascii_digit)).then(|| [t[0], t[1], t[2], t[3]])
}

/// Which of `stored` (last four digits of each shipment's phone) equal `typed`, compared in
/// constant time, every one of them, and a dummy when there is none: the work does not say
/// whether the code exists.
fn matching(typed: &[u8; 4], stored: &[&str]) -> Vec<bool> {
    const DUMMY: [&str; 1] = ["\0\0\0\0"];
    let candidates = if stored.is_empty() {
        &DUMMY[..]
    } else {
        stored
    };
    let hits: Vec<bool> = candidates
        .iter()
        .map(|s| {
            // a stored value that is not 4 bytes (an odd legacy phone) never matches
            let b = s.as_bytes();
            let mut four = [0u8; 4];
            four[..b.len().min(4)].copy_from_slice(&b[..b.len().min(4)]);
            let same = four.ct_eq(typed) & Choice::from(u8::from(b.len() == 4));
            // kept from the optimiser, so that the dummy's comparison really runs
            bool::from(std::hint::black_box(same))
        })
        .collect();
    if stored.is_empty() { Vec::new() } else { hits }
}

async fn lookup(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LookupForm>,
) -> HttpResponse {
    if let Some(ip) = state.citizen.client_ip(&req)
        && let Err(wait) = state.citizen.check(ip)
    {
        tracing::info!(outcome = "rate_limited", "citizen lookup");
        metrics::counter!("bcci_rate_limited_total", "caller" => "citizen_lookup").increment(1);
        return limited(wait, state.config.citizen.lookups_per_minute);
    }
    let form = form.into_inner();
    let code = dossier_code(&form.code);
    let digits = four_digits(&form.digits);
    let (Some(code), Some(digits)) = (code.clone(), digits) else {
        let fields: Vec<&str> = [
            code.is_none().then_some("code"),
            digits.is_none().then_some("digits"),
        ]
        .into_iter()
        .flatten()
        .collect();
        tracing::info!(outcome = "invalid", fields = ?fields, "citizen lookup");
        // Shown again to be corrected (to the person who typed it; never logged).
        let echo = |s: &str| -> String { s.chars().filter(|c| !c.is_control()).take(40).collect() };
        let mut errors = Vec::new();
        if code.is_none() {
            errors.push(("code", "Mã hồ sơ chưa đúng dạng (xem giấy hẹn)."));
        }
        if digits.is_none() {
            errors.push(("digits", "4 số cuối số điện thoại: nhập đúng 4 chữ số."));
        }
        return page(
            &FormPage {
                title: "Tra cứu",
                code: echo(&form.code),
                digits: echo(&form.digits),
                code_error: code.is_none(),
                digits_error: digits.is_none(),
                errors,
                ..FormPage::empty(false)
            },
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    };
    let rows = match state.pool.get().await {
        Ok(mut conn) => ledger::citizen::by_dossier(&mut conn, &code).await,
        Err(e) => return unavailable("database pool", &e),
    };
    let rows = match rows {
        Ok(r) => r,
        Err(e) => return unavailable("lookup", &e),
    };
    let stored: Vec<&str> = rows.iter().map(|r| r.phone_last4.as_str()).collect();
    let hits = matching(&digits, &stored);
    let found: Vec<Tracked> = rows
        .into_iter()
        .zip(hits)
        .filter_map(|(r, hit)| hit.then_some(r))
        .collect();
    tracing::info!(
        outcome = if found.is_empty() {
            "not_found"
        } else {
            "found"
        },
        shipments = found.len(),
        "citizen lookup"
    );
    if found.is_empty() {
        return not_found();
    }
    answer(&state, found).await
}

fn limited(wait: u64, per_minute: u32) -> HttpResponse {
    let mut res = page(
        &MessagePage {
            title: "Xin thử lại sau",
            css: &CSS_HREF,
            paragraphs: vec![
                format!(
                    "Từ mỗi máy chỉ được tra cứu {per_minute} lần trong một phút, để bảo vệ thông tin hồ sơ của người dân."
                ),
                format!("Xin ông/bà đợi {wait} giây rồi tra cứu lại."),
            ],
        },
        StatusCode::TOO_MANY_REQUESTS,
    );
    res.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(wait),
    );
    res
}

/// The shipment a link names, if the link is genuine and the shipment still there.
async fn tracked(state: &AppState, token: &str) -> Result<Option<Tracked>, HttpResponse> {
    let Some(id) = token::verify(state.config.citizen.token_key.expose().as_bytes(), token) else {
        tracing::info!(outcome = "forged", "citizen link");
        return Ok(None);
    };
    let found = match state.pool.get().await {
        Ok(mut conn) => ledger::citizen::by_id(&mut conn, id).await,
        Err(e) => return Err(unavailable("database pool", &e)),
    };
    match found {
        Ok(s) => {
            tracing::info!(
                outcome = if s.is_some() { "found" } else { "stale" },
                "citizen link"
            );
            Ok(s)
        }
        Err(e) => Err(unavailable("link", &e)),
    }
}

async fn by_token(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    match tracked(&state, &token).await {
        Ok(Some(s)) => answer(&state, vec![s]).await,
        Ok(None) => not_found(),
        Err(res) => res,
    }
}

async fn qr_svg(state: web::Data<AppState>, token: web::Path<String>) -> HttpResponse {
    let s = match tracked(&state, &token).await {
        Ok(Some(s)) => s,
        Ok(None) => return not_found(),
        Err(res) => return res,
    };
    match qr::svg(&token::tracking_url(&state.config, s.id)) {
        Ok(svg) => HttpResponse::Ok()
            .content_type("image/svg+xml")
            .insert_header(("Content-Disposition", "inline; filename=\"tra-cuu.svg\""))
            .body(svg),
        Err(e) => {
            tracing::error!(error = %e, "citizen link: QR code");
            HttpResponse::InternalServerError().finish()
        }
    }
}

async fn css(file: web::Path<String>) -> HttpResponse {
    if file.as_str() != "citizen.css" {
        return not_found();
    }
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=604800, immutable"))
        .body(CSS)
}

async fn other() -> HttpResponse {
    not_found()
}

/// Registers the page under `/tra-cuu`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/tra-cuu")
            .wrap(
                DefaultHeaders::new()
                    .add(("Cache-Control", "no-store"))
                    .add(("Content-Security-Policy", CSP))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("X-Content-Type-Options", "nosniff"))
                    // a tracking link is a key: never sent on to VNPost's page
                    .add(("Referrer-Policy", "no-referrer")),
            )
            .app_data(
                web::FormConfig::default()
                    .limit(4096)
                    .error_handler(|e, _| {
                        tracing::info!(outcome = "bad_form", error = %e, "citizen lookup");
                        actix_web::error::InternalError::from_response(
                            "bad form",
                            page(
                                &MessagePage {
                                    title: "Yêu cầu không hợp lệ",
                                    css: &CSS_HREF,
                                    paragraphs: vec![
                                        "Biểu mẫu gửi lên không đọc được. Xin mở lại trang tra cứu và nhập lại."
                                            .into(),
                                    ],
                                },
                                StatusCode::BAD_REQUEST,
                            ),
                        )
                        .into()
                    }),
            )
            .route("", web::get().to(form))
            .route("", web::post().to(lookup))
            .route("/", web::get().to(form))
            .route("/static/{file}", web::get().to(css))
            .route("/{token}", web::get().to(by_token))
            .route("/{token}/qr.svg", web::get().to(qr_svg))
            .default_service(web::to(other)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Status;

    #[test]
    fn typed_codes_and_digits() {
        assert_eq!(
            dossier_code("  000.00.14.h61-230512-0001 ").as_deref(),
            Some("000.00.14.H61-230512-0001")
        );
        assert_eq!(dossier_code("000.00.14.H61-230512"), None);
        assert_eq!(dossier_code(""), None);
        assert_eq!(four_digits(" 5678 "), Some(*b"5678"));
        for bad in ["567", "56789", "56a8", "５６７８", ""] {
            assert_eq!(four_digits(bad), None, "{bad}");
        }
    }

    #[test]
    fn digits_compared_with_each_shipment() {
        assert_eq!(
            matching(b"5678", &["5678", "4321", "5678"]),
            [true, false, true]
        );
        assert_eq!(matching(b"5678", &["***", "678"]), [false, false]);
        assert!(matching(b"0000", &[]).is_empty());
        // the dummy never matches, whatever is typed
        assert!(matching(&[0, 0, 0, 0], &[]).is_empty());
    }

    #[test]
    fn buckets() {
        use std::net::IpAddr;
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        use crate::state::bucket;
        assert_eq!(bucket(a), bucket(b));
        assert_ne!(bucket(a), bucket(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(bucket(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn configuration_is_checked() {
        for (overlay, key) in [
            ("[citizen]\ntoken_key = \"short\"", "citizen.token_key"),
            (
                "[citizen]\nlookups_per_minute = 0",
                "citizen.lookups_per_minute",
            ),
            (
                "[citizen]\ncarrier_tracking_url = \"https://www.vnpost.vn/\"",
                "citizen.carrier_tracking_url",
            ),
            (
                "[citizen]\ncarrier_tracking_url = \"javascript:alert({tracking_number})\"",
                "citizen.carrier_tracking_url",
            ),
        ] {
            let e = Config::from_overlay(overlay).unwrap_err().to_string();
            assert!(e.contains(key), "{overlay}: {e}");
        }
    }

    #[test]
    fn carrier_link_and_office() {
        let config = Config::from_overlay("").unwrap();
        let now = Utc::now();
        let s = Tracked {
            id: Uuid::now_v7(),
            kind: Kind::Delivery,
            status: Status::OutForDelivery,
            dossier_code: "000.00.14.H61-230512-0001".into(),
            office_code: "VPDKDD-TQ".into(),
            tracking_number: Some("EB123456789VN".into()),
            due_at: Some(now),
            late: false,
            created_at: now,
            phone_last4: "5678".into(),
        };
        let c = card(&config, &s, &[]);
        assert_eq!(
            c.carrier_link.as_deref(),
            Some("https://www.vnpost.vn/tra-cuu-hanh-trinh/buu-pham?key=EB123456789VN")
        );
        assert_eq!(
            c.office_phone,
            Some(("02073822345".into(), "02073822345".into()))
        );
        assert_eq!(c.kind, "Nhận kết quả qua bưu điện");
        assert_eq!(c.due, Some(vn_datetime(now)));
    }
}

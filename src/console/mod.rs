//! The staff web console at `/console` (issue 5): server-rendered pages in Vietnamese (askama
//! templates in `templates/console/`), plain HTML forms, no JavaScript needed, the stylesheet
//! compiled into the binary.
//!
//! - `sign_in`: a staff JWT exchanged for a session (`session`); sign-out.
//! - `search`: one box and filters over the whole ledger; `shipment`: one shipment, its
//!   timeline, its audit log and the staff actions.
//! - `attention`: what needs staff; `late`: late results and apology letters (`letter`);
//!   `statistics`: the service report ("Báo cáo"), with SVG charts (`chart`) and CSV; `waybills`: an
//!   office's waybills printed as one PDF.
//!
//! Handlers stay thin: queries are in the ledger (`ledger::search`, `ledger::attention`,
//! `ledger::stats`, …), the actions are the ledger's audited ones.

mod assets;
mod attention;
mod chart;
mod edge;
mod error;
mod format;
mod forms;
mod late;
pub mod letter;
mod reconcile;
mod search;
mod session;
mod shipment;
mod sign_in;
mod statistics;
mod timeline;
mod waybills;

pub use error::ConsoleError;

use actix_web::middleware::DefaultHeaders;
use actix_web::{HttpResponse, web};
use askama::Template;
use session::Staff;

/// What every page's frame needs.
pub struct Layout {
    pub title: String,
    pub css: &'static str,
    pub nav: Option<Nav>,
}

/// The signed-in bar: who, with which rights, and the sign-out form.
pub struct Nav {
    pub active: &'static str,
    pub user: String,
    pub rights: String,
    pub csrf: String,
}

impl Layout {
    /// A page shown without a session (sign-in, errors).
    pub fn bare(title: &str) -> Layout {
        Layout {
            title: title.to_owned(),
            css: assets::css_href(),
            nav: None,
        }
    }

    pub fn staff(title: &str, staff: &Staff, active: &'static str) -> Layout {
        let who = &staff.who;
        let mut rights = vec![if staff.sees_pii() {
            "xem đầy đủ"
        } else {
            "xem (che dữ liệu cá nhân)"
        }];
        if staff.can_act() {
            rights.push("xử lý");
        }
        let offices = match &who.offices {
            Some(o) => format!("đơn vị {}", o.join(", ")),
            None => "mọi đơn vị".to_owned(),
        };
        Layout {
            title: title.to_owned(),
            css: assets::css_href(),
            nav: Some(Nav {
                active,
                user: who.name.clone().unwrap_or_else(|| who.sub.clone()),
                rights: format!("{}; {offices}", rights.join(", ")),
                csrf: staff.csrf.clone(),
            }),
        }
    }
}

pub(crate) fn render(t: &impl Template) -> Result<String, askama::Error> {
    t.render()
}

/// A rendered page, 200.
pub(crate) fn html(t: &impl Template) -> Result<HttpResponse, ConsoleError> {
    html_status(t, actix_web::http::StatusCode::OK)
}

pub(crate) fn html_status(
    t: &impl Template,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, ConsoleError> {
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(render(t)?))
}

/// `path` with `query` as its query string.
pub(crate) fn with_query(path: &str, query: &impl serde::Serialize) -> String {
    format!(
        "{path}?{}",
        serde_urlencoded::to_string(query).unwrap_or_default()
    )
}

/// 303 to `location` (after a POST: the browser then GETs it).
pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", location.to_owned()))
        .finish()
}

async fn home(_: Staff) -> HttpResponse {
    see_other("/console/search")
}

async fn not_found() -> Result<HttpResponse, ConsoleError> {
    Err(ConsoleError::NotFound)
}

/// Registers the console under `/console`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/console")
            // Pages carry personal data: never cached; framed by no one; scripts, styles and
            // form targets from the gateway itself only.
            .wrap(
                DefaultHeaders::new()
                    .add(("Cache-Control", "no-store"))
                    .add((
                        "Content-Security-Policy",
                        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                    ))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "same-origin")),
            )
            .wrap(actix_web::middleware::from_fn(edge::refuse_controls))
            .app_data(
                web::FormConfig::default()
                    .limit(edge::FORM_LIMIT)
                    .error_handler(|_, _| ConsoleError::BadRequest.into()),
            )
            .app_data(
                web::QueryConfig::default().error_handler(|_, _| ConsoleError::BadRequest.into()),
            )
            .route("", web::get().to(home))
            .route("/", web::get().to(home))
            .route("/static/{file}", web::get().to(assets::serve))
            .route("/sign-in", web::get().to(sign_in::form))
            .route("/sign-in", web::post().to(sign_in::submit))
            .route("/sign-out", web::post().to(sign_in::sign_out))
            .route("/search", web::get().to(search::page))
            .route("/shipments/{id}", web::get().to(shipment::page))
            .route("/shipments/{id}/retry", web::post().to(shipment::retry))
            .route("/shipments/{id}/cancel", web::post().to(shipment::cancel))
            .route("/shipments/{id}/replay", web::post().to(shipment::replay))
            .route("/shipments/{id}/letter", web::get().to(late::letter_form))
            .route("/shipments/{id}/letter", web::post().to(late::issue_letter))
            .route("/letters/{id}", web::get().to(late::letter))
            .route("/attention", web::get().to(attention::page))
            .route(
                "/attention/acknowledge",
                web::post().to(attention::acknowledge),
            )
            .route(
                "/clients/{id}/enable",
                web::post().to(attention::enable_client),
            )
            .route("/late", web::get().to(late::page))
            .route("/waybills", web::get().to(waybills::page))
            .route("/waybills", web::post().to(waybills::print))
            .route("/reports", web::get().to(statistics::page))
            .route("/reports.csv", web::get().to(statistics::csv))
            .configure(reconcile::routes)
            .default_service(web::to(not_found)),
    );
}

//! Sign-in with a staff token (SPEC §2), and sign-out.

use super::session::{self, Staff};
use super::{ConsoleError, Layout, html_status, see_other};
use crate::api::AppState;
use crate::ledger::sessions as ledger;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "console/sign_in.html")]
struct SignInPage {
    layout: Layout,
    next: String,
    check: String,
    error: Option<&'static str>,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize, Default)]
pub struct SignInQuery {
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    signed_out: Option<String>,
}

/// Only console paths: never send a freshly signed-in browser elsewhere. Nothing that could
/// not be a `Location` header either (a CR/LF would split the answer, and its error come
/// after the session is opened): every control character falls back to the search page.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with("/console")
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.starts_with("/console/sign-")
                && !n.chars().any(char::is_control)
                && actix_web::http::header::HeaderValue::from_str(n).is_ok() =>
        {
            n.to_owned()
        }
        _ => "/console/search".to_owned(),
    }
}

fn page(
    state: &AppState,
    next: String,
    error: Option<&'static str>,
    notice: Option<&'static str>,
    status: StatusCode,
) -> Result<HttpResponse, ConsoleError> {
    let check = session::random_token();
    let mut resp = html_status(
        &SignInPage {
            layout: Layout::bare("Đăng nhập"),
            next,
            check: check.clone(),
            error,
            notice,
        },
        status,
    )?;
    resp.add_cookie(&session::sign_in_cookie(&state.config, check))
        .map_err(|e| ConsoleError::Internal(e.into()))?;
    Ok(resp)
}

pub async fn form(
    state: web::Data<AppState>,
    q: web::Query<SignInQuery>,
) -> Result<HttpResponse, ConsoleError> {
    let notice = q.signed_out.is_some().then_some("Bạn đã đăng xuất.");
    page(
        &state,
        safe_next(q.next.as_deref()),
        None,
        notice,
        StatusCode::OK,
    )
}

#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    check: String,
    #[serde(default)]
    next: String,
}

pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, ConsoleError> {
    let next = safe_next(Some(&form.next));
    let refuse = |why: &'static str| {
        page(
            &state,
            next.clone(),
            Some(why),
            None,
            StatusCode::UNAUTHORIZED,
        )
    };
    let expected = req
        .cookie(&session::sign_in_cookie_name(&state.config))
        .map(|c| c.value().to_owned());
    if expected
        .as_deref()
        .is_none_or(|e| e.is_empty() || e != form.check)
    {
        return refuse(
            "Phiên đăng nhập đã hết hạn hoặc trình duyệt chặn cookie. Hãy bật cookie cho trang này và thử lại.",
        );
    }
    let token = form.token.trim();
    if token.is_empty() {
        return refuse("Hãy dán mã đăng nhập (token) vào ô bên dưới.");
    }
    let who = match state.verifier.verify(token) {
        Ok(p) => p,
        Err(_) => {
            return refuse(
                "Mã đăng nhập không hợp lệ hoặc đã hết hạn. Hãy xin mã mới từ quản trị viên.",
            );
        }
    };
    if !who.is_staff() {
        return refuse(
            "Mã này không dành cho cán bộ: cần quyền staff:read. Mã của hệ thống một cửa không đăng nhập được vào bảng điều khiển.",
        );
    }
    let (value, until) = session::open(&state, &who, session::token_expiry(token)).await?;
    tracing::info!(staff = %who.sub, until = %until, "console: signed in");
    let mut resp = see_other(&next);
    resp.add_cookie(&session::cookie(&state.config, value, until))
        .map_err(|e| ConsoleError::Internal(e.into()))?;
    resp.add_cookie(&session::removal(&session::sign_in_cookie_name(
        &state.config,
    )))
    .map_err(|e| ConsoleError::Internal(e.into()))?;
    Ok(resp)
}

#[derive(Debug, Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

pub async fn sign_out(
    state: web::Data<AppState>,
    staff: Staff,
    form: web::Form<CsrfOnly>,
) -> Result<HttpResponse, ConsoleError> {
    staff.check_csrf(&form.csrf)?;
    let mut conn = state.pool.get().await?;
    ledger::end_session(&mut conn, staff.id_hash()).await?;
    tracing::info!(staff = %staff.who.sub, "console: signed out");
    let mut resp = see_other("/console/sign-in?signed_out=1");
    resp.add_cookie(&session::removal(&state.config.console.cookie_name))
        .map_err(|e| ConsoleError::Internal(e.into()))?;
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_in_the_console() {
        assert_eq!(
            safe_next(Some("/console/late?kind=pickup")),
            "/console/late?kind=pickup"
        );
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/v1/shipments",
            "/console/sign-in",
            "/console\\..\\x",
            "/console/search\r\nSet-Cookie: a=b",
            "/console/search\nx",
            "/console/search\0",
            "/console/search\u{85}",
        ] {
            assert_eq!(safe_next(Some(bad)), "/console/search", "{bad}");
        }
        assert_eq!(safe_next(None), "/console/search");
    }
}

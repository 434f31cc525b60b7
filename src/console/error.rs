//! What goes wrong in the console, answered as a page in Vietnamese (or, for a missing or
//! dead session, a redirect to the sign-in page). Internal details are logged, never shown.

use super::{Layout, render};
use crate::error::{DbFailure, db_failure};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use std::fmt;

#[derive(Debug)]
pub enum ConsoleError {
    /// No live session: go and sign in (then come back to `next`). `clear` names the cookie
    /// to remove (a forged or expired one).
    SignIn {
        next: Option<String>,
        clear: Option<String>,
    },
    /// A form without the session's anti-forgery token.
    Csrf,
    Forbidden(&'static str),
    /// A form that cannot be shown again with its error (the message says what to fix).
    Invalid(String),
    NotFound,
    BadRequest,
    /// A query parameter or form field (by its name) holding a control character.
    ControlCharacter(String),
    Unavailable,
    Internal(anyhow::Error),
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    layout: Layout,
    heading: &'static str,
    message: String,
}

impl ConsoleError {
    pub fn reason_needed() -> ConsoleError {
        ConsoleError::Invalid(
            "Hãy ghi lý do (1 đến 500 ký tự), rồi quay lại trang trước và gửi lại.".into(),
        )
    }

    fn words(&self) -> (&'static str, String) {
        match self {
            ConsoleError::SignIn { .. } => ("Cần đăng nhập", "Hãy đăng nhập lại.".into()),
            ConsoleError::Csrf => (
                "Yêu cầu bị từ chối",
                "Biểu mẫu này không mang mã phiên làm việc hợp lệ (chống giả mạo yêu cầu). \
                 Hãy mở lại trang rồi thực hiện lại thao tác."
                    .into(),
            ),
            ConsoleError::Forbidden(why) => ("Không có quyền", (*why).into()),
            ConsoleError::Invalid(why) => ("Dữ liệu chưa hợp lệ", why.clone()),
            ConsoleError::NotFound => (
                "Không tìm thấy",
                "Trang hoặc đơn hàng này không tồn tại, hoặc bạn không có quyền xem.".into(),
            ),
            ConsoleError::BadRequest => (
                "Yêu cầu không hợp lệ",
                "Dữ liệu gửi lên không đọc được. Hãy mở lại trang và thử lại.".into(),
            ),
            ConsoleError::ControlCharacter(field) => (
                "Yêu cầu không hợp lệ",
                format!(
                    "Ô «{}» chứa ký tự điều khiển (ký tự không in được, như NUL). \
                     Hãy xoá ký tự đó rồi thử lại.",
                    field_label(field)
                ),
            ),
            ConsoleError::Unavailable => (
                "Hệ thống đang bận",
                "Không kết nối được cơ sở dữ liệu. Xin thử lại sau ít phút.".into(),
            ),
            ConsoleError::Internal(_) => (
                "Lỗi hệ thống",
                "Đã có lỗi xảy ra và đã được ghi lại. Xin thử lại sau.".into(),
            ),
        }
    }
}

/// The label staff see for a console field, or its name.
fn field_label(field: &str) -> String {
    match field {
        "q" => "Tìm kiếm".into(),
        "office" => "Văn phòng".into(),
        "reason" => "Lý do".into(),
        "phone" => "Số điện thoại".into(),
        "address_line" => "Địa chỉ".into(),
        "token" => "Mã đăng nhập".into(),
        "new_date" => "Ngày hẹn mới".into(),
        other => other.chars().filter(|c| !c.is_control()).take(40).collect(),
    }
}

impl fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsoleError::Internal(e) => write!(f, "console: internal error: {e:#}"),
            other => write!(f, "console: {}", other.words().0),
        }
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn { .. } => StatusCode::SEE_OTHER,
            ConsoleError::Csrf | ConsoleError::Forbidden(_) => StatusCode::FORBIDDEN,
            ConsoleError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest | ConsoleError::ControlCharacter(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ConsoleError::SignIn { next, clear } = self {
            let location = match next {
                Some(n) => super::with_query("/console/sign-in", &[("next", n)]),
                None => "/console/sign-in".to_owned(),
            };
            let mut resp = HttpResponse::SeeOther();
            resp.insert_header(("Location", location));
            if let Some(name) = clear {
                resp.cookie(super::session::removal(name));
            }
            return resp.finish();
        }
        if let ConsoleError::Internal(e) = self {
            tracing::error!(error = %format!("{e:#}"), "console: internal error");
        }
        let (heading, message) = self.words();
        let page = ErrorPage {
            layout: Layout::bare(heading),
            heading,
            message,
        };
        match render(&page) {
            Ok(body) => HttpResponse::build(self.status_code())
                .content_type("text/html; charset=utf-8")
                .body(body),
            Err(_) => HttpResponse::build(self.status_code()).finish(),
        }
    }
}

impl From<diesel::result::Error> for ConsoleError {
    fn from(e: diesel::result::Error) -> Self {
        match db_failure(&e) {
            DbFailure::NotFound => ConsoleError::NotFound,
            DbFailure::Unavailable(_) => ConsoleError::Unavailable,
            DbFailure::Internal => ConsoleError::Internal(e.into()),
        }
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for ConsoleError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        tracing::warn!(error = %e, "console: no database connection");
        ConsoleError::Unavailable
    }
}

impl From<askama::Error> for ConsoleError {
    fn from(e: askama::Error) -> Self {
        ConsoleError::Internal(anyhow::anyhow!("rendering a page: {e}"))
    }
}

//! What several console pages read from their forms the same way (a month, a date field, the
//! pickup window) and how they answer a download, so that the wording and the rules stay one.

use super::ConsoleError;
use super::format;
use crate::config::Config;
use crate::domain::reconcile::Month;
use actix_web::HttpResponse;
use chrono::NaiveDate;

/// The error shown when a period's start falls after its end.
pub const FROM_AFTER_TO: &str = "Từ ngày phải trước hoặc bằng đến ngày.";

/// A month field (`2026-11`).
pub fn month(raw: &str) -> Result<Month, ConsoleError> {
    raw.parse()
        .map_err(|_| ConsoleError::Invalid("Tháng phải có dạng năm-tháng, ví dụ 2026-11.".into()))
}

/// A date field (`dd/mm/yyyy`): `Ok(None)` when left empty, else the date or the message
/// naming the field (`what`).
pub fn date(raw: &str, what: &str) -> Result<Option<NaiveDate>, String> {
    if raw.trim().is_empty() {
        return Ok(None);
    }
    format::parse_date(raw)
        .map(Some)
        .ok_or_else(|| format!("{what}: ngày không hợp lệ (dd/mm/yyyy)."))
}

/// How long a pickup may wait before it is late (48 hours if the setting does not fit).
pub fn pickup_window(config: &Config) -> chrono::Duration {
    chrono::Duration::from_std(config.shipments.pickup_window)
        .unwrap_or(chrono::Duration::hours(48))
}

/// A file to download under `name` (quotes dropped: they would end the header's value).
pub fn attachment(content_type: &str, name: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{}\"", name.replace('"', "")),
        ))
        .body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_date_is_none_and_a_bad_one_names_its_field() {
        assert_eq!(date("  ", "Từ ngày"), Ok(None));
        assert_eq!(
            date("31/02/2026", "Từ ngày"),
            Err("Từ ngày: ngày không hợp lệ (dd/mm/yyyy).".to_owned())
        );
        assert_eq!(
            date("01/11/2026", "Từ ngày"),
            Ok(NaiveDate::from_ymd_opt(2026, 11, 1))
        );
    }

    #[test]
    fn a_month_must_read_year_dash_month() {
        assert!(month("2026-11").is_ok());
        assert!(matches!(month("11/2026"), Err(ConsoleError::Invalid(_))));
    }

    #[test]
    fn a_file_name_cannot_end_the_header() {
        let r = attachment("text/csv", "a\"b.csv", Vec::new());
        assert_eq!(
            r.headers().get("Content-Disposition").unwrap(),
            "attachment; filename=\"ab.csv\""
        );
    }
}

//! The carrier's clock: VNPost writes local Vietnam time (UTC+7, no daylight saving) without an
//! offset, as `dd/MM/yyyy` and `HH:mm:ss`. Everything inside the gateway is UTC.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};

/// `dd/MM/yyyy`
pub const DATE_FORMAT: &str = "%d/%m/%Y";
/// `HH:mm:ss`
pub const TIME_FORMAT: &str = "%H:%M:%S";
/// `dd/MM/yyyy HH:mm:ss` (push `StatusDate`).
pub const DATE_TIME_FORMAT: &str = "%d/%m/%Y %H:%M:%S";

/// Vietnam's offset, UTC+7.
pub fn offset() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset")
}

/// A moment as a Vietnam wall-clock time.
pub fn local(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&offset())
}

fn from_local(naive: NaiveDateTime) -> Option<DateTime<Utc>> {
    // A fixed offset has no gaps or folds: `single()` always has an answer.
    naive
        .and_local_timezone(offset())
        .single()
        .map(|dt| dt.with_timezone(&Utc))
}

/// `createdDate` + `createdHour` of the status history.
pub fn parse_date_and_hour(date: &str, hour: &str) -> Option<DateTime<Utc>> {
    let d = NaiveDate::parse_from_str(date.trim(), DATE_FORMAT).ok()?;
    let t = NaiveTime::parse_from_str(hour.trim(), TIME_FORMAT).ok()?;
    from_local(d.and_time(t))
}

/// A carrier timestamp: `dd/MM/yyyy HH:mm:ss` (the documented form), or ISO 8601 with or
/// without an offset (as .NET services often answer), local Vietnam time when no offset.
pub fn parse_date_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(n) = NaiveDateTime::parse_from_str(text, DATE_TIME_FORMAT) {
        return from_local(n);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .and_then(from_local)
}

/// (`dd/MM/yyyy`, `HH:mm:ss`) in Vietnam time.
pub fn format_date_and_hour(at: DateTime<Utc>) -> (String, String) {
    let l = local(at);
    (
        l.format(DATE_FORMAT).to_string(),
        l.format(TIME_FORMAT).to_string(),
    )
}

/// `dd/MM/yyyy HH:mm:ss` in Vietnam time.
pub fn format_date_time(at: DateTime<Utc>) -> String {
    local(at).format(DATE_TIME_FORMAT).to_string()
}

/// RFC 3339 with the `+07:00` offset, whole seconds (push `SendDate`).
pub fn rfc3339(at: DateTime<Utc>) -> String {
    local(at).to_rfc3339_opts(SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn vietnam_time_to_utc() {
        assert_eq!(
            parse_date_and_hour("27/11/2026", "10:00:00"),
            Some(utc(2026, 11, 27, 3, 0, 0))
        );
        // Early morning in Vietnam is the previous day in UTC.
        assert_eq!(
            parse_date_and_hour("01/01/2026", "06:59:59"),
            Some(utc(2025, 12, 31, 23, 59, 59))
        );
        assert_eq!(
            parse_date_time("01/01/2026 07:00:00"),
            Some(utc(2026, 1, 1, 0, 0, 0))
        );
    }

    #[test]
    fn other_timestamp_forms() {
        assert_eq!(
            parse_date_time("2026-11-27T10:00:00+07:00"),
            Some(utc(2026, 11, 27, 3, 0, 0))
        );
        assert_eq!(
            parse_date_time("2026-11-27T03:00:00Z"),
            Some(utc(2026, 11, 27, 3, 0, 0))
        );
        assert_eq!(
            parse_date_time("2026-11-27T10:00:00.123"),
            Some(utc(2026, 11, 27, 3, 0, 0) + chrono::Duration::milliseconds(123))
        );
    }

    #[test]
    fn refused_forms() {
        assert_eq!(parse_date_and_hour("2026-11-27", "10:00:00"), None);
        assert_eq!(parse_date_and_hour("31/02/2026", "10:00:00"), None);
        assert_eq!(parse_date_and_hour("27/11/2026", "25:00:00"), None);
        assert_eq!(parse_date_time("11/27/2026 10:00:00"), None);
        assert_eq!(parse_date_time(""), None);
    }

    #[test]
    fn formats_round_trip() {
        let at = utc(2026, 11, 26, 20, 5, 9);
        let (d, h) = format_date_and_hour(at);
        assert_eq!((d.as_str(), h.as_str()), ("27/11/2026", "03:05:09"));
        assert_eq!(parse_date_and_hour(&d, &h), Some(at));
        assert_eq!(format_date_time(at), "27/11/2026 03:05:09");
        assert_eq!(rfc3339(at), "2026-11-27T03:05:09+07:00");
    }
}

//! How the console writes things for Vietnamese staff: Vietnam time, dd/mm/yyyy dates, and
//! the ledger's vocabulary in Vietnamese.

use crate::domain::callback::{CallbackState, CallbackType};
use crate::domain::outbox::{AttemptOutcome, JobKind, JobState};
use crate::domain::{AuditAction, Kind, Status, mask};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

/// Vietnam time (UTC+7, no daylight saving).
pub fn vn() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("valid offset")
}

pub fn date(t: DateTime<Utc>) -> String {
    t.with_timezone(&vn()).format("%d/%m/%Y").to_string()
}

pub fn datetime(t: DateTime<Utc>) -> String {
    t.with_timezone(&vn()).format("%d/%m/%Y %H:%M").to_string()
}

/// To the second: where two times share a minute, their order shows.
pub fn datetime_s(t: DateTime<Utc>) -> String {
    t.with_timezone(&vn())
        .format("%d/%m/%Y %H:%M:%S")
        .to_string()
}

pub fn opt_datetime(t: Option<DateTime<Utc>>) -> String {
    t.map(datetime).unwrap_or_default()
}

pub fn opt_date(t: Option<DateTime<Utc>>) -> String {
    t.map(date).unwrap_or_default()
}

/// Today in Vietnam.
pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&vn()).date_naive()
}

/// The first moment of a Vietnamese calendar day, in UTC.
pub fn start_of(day: NaiveDate) -> DateTime<Utc> {
    vn().from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .single()
        .expect("a fixed offset has no gaps")
        .with_timezone(&Utc)
}

/// `dd/mm/yyyy` (the console's date fields are text, so that no browser locale turns them
/// into mm/dd/yyyy), or `yyyy-mm-dd` (old links, and what a date picker sends).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    NaiveDate::parse_from_str(t, "%d/%m/%Y")
        .or_else(|_| NaiveDate::parse_from_str(t, "%Y-%m-%d"))
        .ok()
}

/// A date as the date fields show it.
pub fn input_date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_default()
}

/// A date field's value shown again: a date it understood in `dd/mm/yyyy`, else as typed.
pub fn input_again(raw: &str) -> String {
    parse_date(raw).map_or_else(|| raw.to_owned(), |d| input_date(Some(d)))
}

pub fn kind(k: Kind) -> &'static str {
    match k {
        Kind::Pickup => "Thu gom hồ sơ",
        Kind::Delivery => "Trả kết quả",
    }
}

pub fn status(s: Status) -> &'static str {
    match s {
        Status::Requested => "Chờ bưu điện nhận đơn",
        Status::Submitted => "Bưu điện đã nhận đơn",
        Status::PickedUp => "Bưu tá đã nhận",
        Status::InTransit => "Đang vận chuyển",
        Status::OutForDelivery => "Đang phát",
        Status::AttemptFailed => "Phát/thu gom không thành công",
        Status::Delivered => "Đã giao",
        Status::Returning => "Đang hoàn trả",
        Status::Returned => "Đã hoàn trả",
        Status::Cancelled => "Đã hủy",
        Status::Rejected => "Bị từ chối",
    }
}

/// A status in the words of the shipment's kind: a pickup ends with the office receiving the
/// dossier, not with something "delivered".
pub fn status_of(k: Kind, s: Status) -> &'static str {
    match (k, s) {
        (Kind::Pickup, Status::Delivered) => "Cơ quan đã nhận hồ sơ",
        (Kind::Pickup, Status::PickedUp) => "Bưu tá đã nhận hồ sơ",
        (Kind::Pickup, Status::AttemptFailed) => "Thu gom không thành công",
        (Kind::Delivery, Status::AttemptFailed) => "Phát không thành công",
        _ => status(s),
    }
}

/// The CSS class of a status badge.
pub fn status_class(s: Status) -> &'static str {
    match s {
        Status::Delivered => "ok",
        Status::Rejected | Status::AttemptFailed => "bad",
        Status::Returning | Status::Returned | Status::Cancelled => "warn",
        _ => "info",
    }
}

pub fn job_kind(k: JobKind) -> &'static str {
    match k {
        JobKind::CarrierSubmit => "Gửi đơn sang bưu điện",
        JobKind::CarrierCancel => "Đề nghị bưu điện hủy đơn",
        JobKind::CarrierCancelCase => "Hỏi VNPost kết quả duyệt hủy đơn",
        JobKind::CarrierConfirm => "Tra cứu bưu điện để xác nhận tin báo",
        JobKind::Callback => "Thông báo cho hệ thống một cửa",
    }
}

pub fn job_state(s: JobState) -> &'static str {
    match s {
        JobState::Queued => "Chờ chạy",
        JobState::Running => "Đang chạy",
        JobState::Done => "Xong",
        JobState::Dead => "Đã dừng (thất bại)",
    }
}

pub fn outcome(o: AttemptOutcome) -> &'static str {
    match o {
        AttemptOutcome::Ok => "Thành công",
        AttemptOutcome::Transient => "Lỗi tạm thời, sẽ thử lại",
        AttemptOutcome::Permanent => "Bị từ chối",
        AttemptOutcome::Gone => "Hệ thống một cửa ngừng nhận (410)",
        AttemptOutcome::GaveUp => "Đã thôi thử lại",
    }
}

pub fn outcome_class(o: AttemptOutcome) -> &'static str {
    match o {
        AttemptOutcome::Ok => "ok",
        AttemptOutcome::Transient => "warn",
        AttemptOutcome::Permanent | AttemptOutcome::Gone | AttemptOutcome::GaveUp => "bad",
    }
}

pub fn callback_state(s: CallbackState) -> &'static str {
    match s {
        CallbackState::Pending => "Đang gửi",
        CallbackState::Delivered => "Đã nhận",
        CallbackState::Held => "Tạm giữ (hệ thống một cửa tạm ngừng nhận)",
        CallbackState::Dead => "Thất bại, chờ gửi lại",
    }
}

pub fn callback_type(t: CallbackType) -> &'static str {
    match t {
        CallbackType::StatusChanged => "Đổi trạng thái",
        CallbackType::Late => "Trễ hạn",
        CallbackType::Rejected => "Bị từ chối",
    }
}

pub fn audit_action(a: AuditAction) -> &'static str {
    match a {
        AuditAction::Retry => "Gửi lại đơn",
        AuditAction::Cancel => "Hủy",
        AuditAction::ReplayCallbacks => "Gửi lại thông báo",
        AuditAction::ApologyLetter => "Lập thư xin lỗi",
        AuditAction::Acknowledge => "Đánh dấu đã xử lý",
        AuditAction::EnableClientCallbacks => "Bật lại thông báo",
        AuditAction::Retention => "Xoá dữ liệu cá nhân hết hạn lưu trữ",
        AuditAction::Reconcile => "Đối soát với VNPost",
    }
}

/// An audit entry's details in words: the keys the ledger writes, the rest as they are.
pub fn audit_details(d: &serde_json::Value) -> String {
    let Some(map) = d.as_object() else {
        return String::new();
    };
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut parts = Vec::new();
    for (k, v) in map {
        match k.as_str() {
            "status_before" => {
                let s = v.as_str().and_then(|s| s.parse::<Status>().ok());
                parts.push(format!(
                    "trạng thái trước: {}",
                    s.map(status).unwrap_or("?")
                ));
            }
            "jobs_requeued" => parts.push(format!("công việc chạy lại: {}", text(v))),
            "callbacks" => parts.push(format!("thông báo gửi lại: {}", text(v))),
            "sale_order_code_before" => parts.push(format!("mã đơn cũ: {}", text(v))),
            "new_date" => parts.push(format!("ngày hẹn mới: {}", text(v))),
            "due_date" => parts.push(format!("ngày hẹn cũ: {}", text(v))),
            "item" => parts.push(format!("mục: {}", text(v))),
            "client_id" => parts.push(format!("hệ thống: {}", text(v))),
            "corrections" => {
                if let Some(c) = v.as_object() {
                    for (field, change) in c {
                        let label = match field.as_str() {
                            "full_name" => "họ tên",
                            "phone" => "điện thoại",
                            "address.line" => "địa chỉ",
                            "address.commune" => "tỉnh/xã",
                            _ => field.as_str(),
                        };
                        let change = match change.as_array() {
                            Some(pair) if pair.len() == 2 => {
                                format!("{} → {}", text(&pair[0]), text(&pair[1]))
                            }
                            _ if change == "corrected" => "đã sửa".to_owned(),
                            _ => text(change),
                        };
                        parts.push(format!("sửa {label}: {change}"));
                    }
                }
            }
            _ => parts.push(format!("{k}: {}", text(v))),
        }
    }
    parts.join("; ")
}

/// A person's name as this staff member may see it.
pub fn name(full: &str, pii: bool) -> String {
    if pii {
        full.to_owned()
    } else {
        mask::name(full)
    }
}

pub fn phone(p: &str, pii: bool) -> String {
    if pii { p.to_owned() } else { mask::phone(p) }
}

/// A phone as a `tel:` link target: digits and a leading `+` only.
pub fn tel(p: &str) -> String {
    let t: String = p
        .trim()
        .chars()
        .enumerate()
        .filter(|(i, c)| c.is_ascii_digit() || (*i == 0 && *c == '+'))
        .map(|(_, c)| c)
        .collect();
    if t.is_empty() {
        String::new()
    } else {
        format!("tel:{t}")
    }
}

/// "2 ngày 3 giờ", "45 phút".
pub fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as i64;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (d, h, m) {
        (0, 0, m) => format!("{m} phút"),
        (0, h, 0) => format!("{h} giờ"),
        (0, h, m) => format!("{h} giờ {m} phút"),
        (d, 0, _) => format!("{d} ngày"),
        (d, h, _) => format!("{d} ngày {h} giờ"),
    }
}

/// 30000 → "30.000 đ" (Vietnamese thousands separator).
pub fn vnd(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    format!("{}{out} đ", if amount < 0 { "-" } else { "" })
}

/// 0.873 → "87,3%" (Vietnamese decimal comma).
pub fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0).replace('.', ",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_word_names_one_value() {
        // The matches are exhaustive; what can still go wrong is one label copied onto two.
        fn distinct<T: Copy>(all: &[T], words: fn(T) -> &'static str) {
            let mut seen: Vec<&str> = all.iter().map(|&v| words(v)).collect();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), all.len(), "{seen:?}");
        }
        distinct(&JobKind::ALL, job_kind);
        distinct(&JobState::ALL, job_state);
        distinct(&AttemptOutcome::ALL, outcome);
        distinct(&CallbackState::ALL, callback_state);
        distinct(&CallbackType::ALL, callback_type);
        distinct(&AuditAction::ALL, audit_action);
    }

    #[test]
    fn vietnam_time() {
        let t = Utc.with_ymd_and_hms(2026, 11, 30, 18, 30, 0).unwrap();
        assert_eq!(datetime(t), "01/12/2026 01:30");
        let day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(
            start_of(day),
            Utc.with_ymd_and_hms(2026, 11, 30, 17, 0, 0).unwrap()
        );
        assert_eq!(parse_date("2026-12-01"), Some(day));
        assert_eq!(parse_date("01/12/2026"), Some(day));
        assert_eq!(parse_date("tomorrow"), None);
        assert_eq!(parse_date(" 1/12/2026 "), Some(day));
        assert_eq!(parse_date("31/02/2026"), None);
        assert_eq!(input_date(Some(day)), "01/12/2026");
        assert_eq!(tel("+84 912 345 678"), "tel:+84912345678");
        assert_eq!(tel("0912345678"), "tel:0912345678");
        assert_eq!(datetime_s(t), "01/12/2026 01:30:00");
        assert_eq!(
            status_of(Kind::Pickup, Status::Delivered),
            "Cơ quan đã nhận hồ sơ"
        );
        assert_eq!(status_of(Kind::Delivery, Status::Delivered), "Đã giao");
    }

    #[test]
    fn words() {
        assert_eq!(duration(90.0), "1 phút");
        assert_eq!(duration(3.0 * 3600.0 + 120.0), "3 giờ 2 phút");
        assert_eq!(duration(2.0 * 86_400.0 + 3600.0), "2 ngày 1 giờ");
        assert_eq!(duration(3.0 * 86_400.0), "3 ngày");
        assert_eq!(duration(7200.0), "2 giờ");
        assert_eq!(percent(0.8734), "87,3%");
        assert_eq!(vnd(0), "0 đ");
        assert_eq!(vnd(30_000), "30.000 đ");
        assert_eq!(vnd(1_234_567), "1.234.567 đ");
        let d = serde_json::json!({"status_before": "rejected", "corrections": {"phone": ["091****678", "098****321"], "address.line": "corrected"}});
        let text = audit_details(&d);
        assert!(text.contains("trạng thái trước: Bị từ chối"), "{text}");
        assert!(
            text.contains("sửa điện thoại: 091****678 → 098****321"),
            "{text}"
        );
        assert!(text.contains("sửa địa chỉ: đã sửa"), "{text}");
    }
}

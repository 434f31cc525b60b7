//! The shipment's timeline in plain Vietnamese (issue 10 §2): one sentence per event, read from
//! its typed fields (source, status, carrier code) and from the few note shapes the gateway
//! writes; the attempts of one job folded into one row with a count; Vietnam time, with seconds
//! where two rows share a minute. What the gateway wrote in English stays reachable behind
//! "chi tiết kỹ thuật", never as the sentence itself.

use super::format;
use crate::domain::note::GatewayNote;
use crate::domain::outbox::{AttemptOutcome, JobKind};
use crate::domain::{Kind, Source, Status};
use crate::ledger::attention::AttemptRow;
use crate::ledger::models::Event;
use chrono::{DateTime, Timelike, Utc};
use std::collections::HashMap;

/// One row of the timeline, ready for the template.
#[derive(Debug)]
pub struct Row {
    pub at: String,
    pub source: String,
    pub title: String,
    /// The Vietnamese sentence.
    pub detail: String,
    /// What the gateway recorded as it is (English, codes): behind a disclosure.
    pub technical: String,
    /// Attempts folded into this row (0: an event).
    pub count: usize,
    pub class: &'static str,
}

/// Who an event comes from, in words.
pub fn source(source: Source, actor: Option<&str>) -> String {
    let actor = actor.unwrap_or("").trim();
    match source {
        Source::Gateway if actor.is_empty() || actor == "gateway" => "Cổng kết nối".into(),
        // the request itself: its actor is the dossier system that sent it
        Source::Gateway => format!("Hệ thống một cửa ({actor})"),
        Source::CarrierPush => "Bưu điện báo (tự động)".into(),
        Source::CarrierPoll => "Bưu điện trả lời tra cứu".into(),
        Source::Staff if actor.is_empty() => "Cán bộ".into(),
        Source::Staff => format!("Cán bộ {actor}"),
    }
}

/// A carrier error class (`ErrorClass::as_str`) in words; `peer` is who was called.
pub fn error_class(class: &str, peer: &str) -> String {
    match class {
        "connect" => format!("không kết nối được tới {peer}"),
        "timeout" => format!("{peer} không trả lời kịp"),
        "server" => format!("máy chủ của {peer} báo lỗi"),
        "rate_limited" => format!("{peer} yêu cầu gửi chậm lại"),
        "auth" => format!("{peer} từ chối đăng nhập (kiểm tra cấu hình tài khoản)"),
        "refused" => format!("{peer} từ chối dữ liệu"),
        "protocol" => format!("câu trả lời của {peer} không đọc được"),
        _ => "lỗi không rõ loại".into(),
    }
}

/// Why a shipment was rejected (or stopped), in words, and whether the fault is in the
/// gateway's configuration (the office's own data) rather than in the citizen's details.
#[derive(Debug, PartialEq, Eq)]
pub struct Rejection {
    pub text: String,
    /// The carrier refused the office's data (or the office is gone): fix `[[offices]]`.
    pub office_side: bool,
    /// The stored reason as it is, when it is not already the text.
    pub technical: String,
}

/// The carrier's field path in a refusal (`informationOrder.senderPhone`): the party it
/// names. For a delivery the office sends; for a pickup it receives.
fn names_office(message: &str, kind: Kind) -> bool {
    let m = message.to_lowercase();
    let (en, vi) = match kind {
        Kind::Delivery => ("sender", "người gửi"),
        Kind::Pickup => ("receiver", "người nhận"),
    };
    m.contains(en) || m.contains(vi)
}

/// The carrier's words without a trailing technical field path in parentheses.
fn plain_words(message: &str) -> String {
    let m = message.trim();
    let m = match m.rfind(" (") {
        Some(i) if m.ends_with(')') && !m[i + 2..].contains(' ') => &m[..i],
        _ => m,
    };
    if let Some(code) = m
        .strip_prefix("HTTP ")
        .and_then(|r| r.strip_suffix(" without a message"))
    {
        return format!("bưu điện trả lời lỗi HTTP {code} mà không nêu lý do");
    }
    m.to_owned()
}

/// "gave up after 12 attempts over 1day: connect: error sending request…"
fn gave_up(reason: &str, peer: &str) -> Option<String> {
    let rest = reason.strip_prefix("gave up after ")?;
    let (n, rest) = rest.split_once(" attempts over ")?;
    let (window, rest) = rest.split_once(": ")?;
    let class = rest.split_once(": ").map_or(rest, |(c, _)| c);
    let window = humantime::parse_duration(window)
        .map(|d| format::duration(d.as_secs_f64()))
        .unwrap_or_else(|_| window.to_owned());
    Some(format!(
        "đã thử {n} lần trong {window} rồi thôi: {}",
        error_class(class, peer)
    ))
}

pub fn rejection(reason: &str, kind: Kind, office: &str) -> Rejection {
    let reason = reason.trim();
    let office_text = |what: String| {
        format!(
            "{what} Lỗi nằm ở thông tin của đơn vị {office} (người {} trên đơn), không phải của công dân: \
             cần sửa mục [[offices]] (mã {office}) trong tệp cấu hình của cổng, rồi gửi lại đơn.",
            match kind {
                Kind::Delivery => "gửi",
                Kind::Pickup => "nhận",
            }
        )
    };
    let said = GatewayNote::parse(reason);
    if let Some(GatewayNote::CarrierRefused { message }) = &said {
        let words = plain_words(message);
        let office_side = names_office(message, kind);
        let text = if office_side {
            office_text(format!("Bưu điện từ chối đơn: {words}."))
        } else {
            format!(
                "Bưu điện từ chối đơn: {words}. Hãy kiểm tra và sửa thông tin của công dân rồi gửi lại."
            )
        };
        return Rejection {
            text,
            office_side,
            technical: reason.to_owned(),
        };
    }
    if let Some(GatewayNote::OfficeUnconfigured { .. }) = said {
        return Rejection {
            text: format!(
                "Đơn vị {office} không còn trong cấu hình của cổng: cần thêm lại mục [[offices]] (mã {office}) rồi gửi lại đơn."
            ),
            office_side: true,
            technical: reason.to_owned(),
        };
    }
    if let Some(text) = gave_up(reason, "bưu điện") {
        return Rejection {
            text: format!(
                "Cổng không gửi được đơn sang bưu điện: {text}. Khi bưu điện hoạt động lại, hãy gửi lại đơn."
            ),
            office_side: false,
            technical: reason.to_owned(),
        };
    }
    if reason == "cancelled at the carrier" {
        return Rejection {
            text: "Bưu điện đã hủy đơn.".into(),
            office_side: false,
            technical: reason.to_owned(),
        };
    }
    // A reason written by staff (in Vietnamese) is shown as it is.
    Rejection {
        text: reason.to_owned(),
        office_side: false,
        technical: String::new(),
    }
}

/// An event's sentence and its technical text.
fn event_sentence(e: &Event, kind: Kind, office: &str) -> (String, String) {
    let note = e.note.as_deref().unwrap_or("").trim();
    let mut words = Vec::new();
    let mut technical = String::new();
    if let Some(code) = e.carrier_code {
        let text = e.carrier_text.as_deref().unwrap_or("").trim();
        words.push(if text.is_empty() {
            format!("Bưu điện báo mã {code}.")
        } else {
            format!("Bưu điện báo mã {code}: {text}.")
        });
        if e.unknown_code {
            words.push("Cổng chưa biết mã này: cần cán bộ xem xét.".into());
        }
        if !note.is_empty() {
            // the carrier's own reason (Vietnamese), e.g. "Người nhận vắng nhà"
            words.push(format!("Lý do: {note}."));
        }
        return (words.join(" "), technical);
    }
    let sentence = match e.source {
        Source::Staff => staff_sentence(note),
        _ => gateway_sentence(e, note, kind, office),
    };
    if sentence.1 {
        technical = note.to_owned();
    }
    (sentence.0, technical)
}

/// A staff event: its note is the reason the staff member wrote, maybe after a fixed prefix.
fn staff_sentence(note: &str) -> (String, bool) {
    if let Some(r) = note.strip_prefix("cancellation requested from the carrier: ") {
        return (
            format!("Cán bộ đề nghị bưu điện hủy đơn. Lý do: {r}"),
            false,
        );
    }
    if let Some((n, r)) = note.split_once(" dead job(s) queued again: ") {
        return (
            format!("Cán bộ cho chạy lại {n} công việc đã dừng. Lý do: {r}"),
            false,
        );
    }
    if note.is_empty() {
        return ("Cán bộ thao tác.".into(), false);
    }
    (format!("Lý do: {note}"), false)
}

/// A gateway event (the request, the carrier's answers, lateness): `true` when the note was
/// the gateway's own technical text.
fn gateway_sentence(e: &Event, note: &str, kind: Kind, office: &str) -> (String, bool) {
    let status = e.status;
    if note.is_empty() {
        return match (e.applied, status) {
            (true, Some(Status::Requested)) => ("Nhận yêu cầu từ hệ thống một cửa.".into(), false),
            (true, Some(s)) => (format!("Đơn chuyển sang \"{}\".", format::status(s)), false),
            _ => ("Cổng ghi nhận.".into(), false),
        };
    }
    let Some(said) = GatewayNote::parse(note) else {
        if status == Some(Status::Rejected) {
            let r = rejection(note, kind, office);
            return (r.text, !r.technical.is_empty());
        }
        return (
            "Cổng ghi nhận một sự kiện (xem chi tiết kỹ thuật).".into(),
            true,
        );
    };
    let item = |item_code: &str| {
        if item_code.is_empty() {
            String::new()
        } else {
            format!(", số hiệu bưu gửi {item_code}")
        }
    };
    let placed = |adopted: bool| {
        if adopted {
            "Cổng tìm thấy đơn đã có ở bưu điện (theo mã đơn của cổng)"
        } else {
            "Bưu điện đã nhận đơn"
        }
    };
    let text = match said {
        GatewayNote::Late { due } => {
            let what = match kind {
                Kind::Delivery => "Quá ngày hẹn trả kết quả",
                Kind::Pickup => "Quá thời hạn thu gom hồ sơ",
            };
            format!("{what} (hạn {}, giờ Việt Nam).", format::datetime(due))
        }
        GatewayNote::OrderPlaced { adopted, item_code } => {
            format!("{}{}.", placed(adopted), item(&item_code))
        }
        GatewayNote::OrderAfterEnd {
            adopted, item_code, ..
        } => format!(
            "{}{}, nhưng đơn đã kết thúc trước đó: cổng đề nghị bưu điện hủy đơn này.",
            placed(adopted),
            item(&item_code)
        ),
        GatewayNote::CarrierRefused { .. } | GatewayNote::OfficeUnconfigured { .. } => {
            rejection(note, kind, office).text
        }
        GatewayNote::CarrierCancelled => "Bưu điện đã hủy đơn.".into(),
        GatewayNote::CancelAwaitingApproval { case_id } => format!(
            "Yêu cầu hủy đơn đang chờ VNPost duyệt{}.",
            case_id
                .map(|c| format!(" (hồ sơ yêu cầu số {c})"))
                .unwrap_or_default()
        ),
        GatewayNote::CancelRefused { message } => {
            format!("VNPost không đồng ý hủy đơn: {message}.")
        }
        GatewayNote::GaveUpConfirming { reason } => format!(
            "Cổng thôi tra cứu để xác nhận tin báo của bưu điện{}.",
            colon(&gave_up(&reason, "bưu điện").unwrap_or_default())
        ),
        GatewayNote::GaveUpCancelling { reason } => format!(
            "Cổng thôi đề nghị bưu điện hủy đơn{}.",
            colon(&gave_up(&reason, "bưu điện").unwrap_or_default())
        ),
    };
    (text, true)
}

fn colon(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

/// What one attempt's outcome means, with the error class in words.
fn attempt_outcome(a: &AttemptRow, peer: &str) -> String {
    let mut out = format::outcome(a.outcome).to_owned();
    if let Some(c) = &a.error_class {
        out.push_str(&format!(" ({})", error_class(c, peer)));
    }
    out
}

/// The timeline: events and, per job, its attempts folded into one row. `pii`: attempt
/// excerpts (an answer may echo the order's personal data) are only for `staff:pii`.
pub fn build(
    events: &[Event],
    attempts: &[AttemptRow],
    pii: bool,
    kind: Kind,
    office: &str,
) -> Vec<Row> {
    let mut rows: Vec<(DateTime<Utc>, u8, Row)> = Vec::new();
    for e in events {
        let status = e.status;
        let title = match (e.applied, status) {
            (true, Some(s)) => format!("→ {}", format::status_of(kind, s)),
            _ => "Ghi nhận, không đổi trạng thái".to_owned(),
        };
        let (mut detail, technical) = event_sentence(e, kind, office);
        if e.recorded_at != e.occurred_at {
            detail.push_str(&format!(
                " Cổng ghi nhận lúc {}.",
                format::datetime_s(e.recorded_at)
            ));
        }
        rows.push((
            e.occurred_at,
            0,
            Row {
                at: String::new(),
                source: source(e.source, e.actor.as_deref()),
                title,
                detail,
                technical,
                count: 0,
                class: if e.unknown_code { "bad" } else { "" },
            },
        ));
    }
    // one row per job, in the order of its first attempt
    let mut jobs: Vec<(i64, Vec<&AttemptRow>)> = Vec::new();
    let mut index: HashMap<i64, usize> = HashMap::new();
    for a in attempts {
        let i = *index.entry(a.job_id).or_insert_with(|| {
            jobs.push((a.job_id, Vec::new()));
            jobs.len() - 1
        });
        jobs[i].1.push(a);
    }
    for (_, mut list) in jobs {
        list.sort_by_key(|a| (a.started_at, a.attempt));
        let (first, last) = (list[0], list[list.len() - 1]);
        let peer = if first.job_kind == JobKind::Callback {
            "hệ thống một cửa"
        } else {
            "bưu điện"
        };
        let what = match (first.callback_type, first.callback_sequence) {
            (Some(t), Some(seq)) => format!(
                "{} ({}, thứ tự {seq})",
                format::job_kind(first.job_kind),
                format::callback_type(t)
            ),
            _ => format::job_kind(first.job_kind).to_owned(),
        };
        let n = list.len();
        let title = if n == 1 {
            format!("{what}: {}", format::outcome(last.outcome))
        } else {
            format!(
                "{what}: {n} lần, lần cuối {}",
                format::outcome(last.outcome).to_lowercase()
            )
        };
        let detail = if n == 1 {
            format!("{}.", attempt_outcome(last, peer))
        } else {
            let failed = list
                .iter()
                .filter(|a| a.outcome != AttemptOutcome::Ok)
                .count();
            format!(
                "Thử {n} lần ({failed} lần không thành công), từ {} đến {}. Lần cuối: {}.",
                format::datetime_s(first.started_at),
                format::datetime_s(last.started_at),
                attempt_outcome(last, peer)
            )
        };
        let mut technical = Vec::new();
        for a in &list {
            let mut t = format!(
                "lần {} lúc {}: {} · {} ms",
                a.attempt,
                format::datetime_s(a.started_at),
                a.outcome,
                a.duration_ms
            );
            if let Some(h) = a.http_status {
                t.push_str(&format!(" · HTTP {h}"));
            }
            if let Some(c) = &a.error_class {
                t.push_str(&format!(" · {c}"));
            }
            if pii && let Some(x) = a.excerpt.as_deref().filter(|x| !x.is_empty()) {
                t.push_str(&format!(" · {x}"));
            }
            technical.push(t);
        }
        rows.push((
            first.started_at,
            1,
            Row {
                at: String::new(),
                source: "Cổng kết nối (gọi đi)".into(),
                title,
                detail,
                technical: technical.join("\n"),
                count: n,
                class: format::outcome_class(last.outcome),
            },
        ));
    }
    rows.sort_by_key(|(at, order, _)| (*at, *order));
    let times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.0).collect();
    let shown = times_shown(&times);
    rows.into_iter()
        .zip(shown)
        .map(|((_, _, mut r), at)| {
            r.at = at;
            r
        })
        .collect()
}

/// Each time to the minute, or to the second where another one falls in the same minute.
pub fn times_shown(times: &[DateTime<Utc>]) -> Vec<String> {
    let minute = |t: &DateTime<Utc>| t.with_second(0).and_then(|t| t.with_nanosecond(0));
    let mut per_minute: HashMap<Option<DateTime<Utc>>, usize> = HashMap::new();
    for t in times {
        *per_minute.entry(minute(t)).or_default() += 1;
    }
    times
        .iter()
        .map(|t| {
            if per_minute.get(&minute(t)).copied().unwrap_or(0) > 1 {
                format::datetime_s(*t)
            } else {
                format::datetime(*t)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use uuid::Uuid;

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 29, h, m, s).unwrap()
    }

    fn event(source: &str, status: Option<&str>, applied: bool, note: Option<&str>) -> Event {
        Event {
            id: 1,
            shipment_id: Uuid::nil(),
            seq: 1,
            status: status.map(|s| s.parse().unwrap()),
            applied,
            occurred_at: at(10, 0, 0),
            recorded_at: at(10, 0, 0),
            source: source.parse().unwrap(),
            carrier_code: None,
            carrier_text: None,
            unknown_code: false,
            note: note.map(str::to_owned),
            actor: Some("gateway".into()),
        }
    }

    fn attempt(
        job: i64,
        n: i32,
        t: DateTime<Utc>,
        outcome: &str,
        class: Option<&str>,
    ) -> AttemptRow {
        AttemptRow {
            job_id: job,
            job_kind: JobKind::Callback,
            attempt: n,
            started_at: t,
            duration_ms: 12,
            outcome: AttemptOutcome::parse(outcome).unwrap(),
            error_class: class.map(str::to_owned),
            http_status: None,
            excerpt: Some("cannot connect: error sending request for url".into()),
            callback_type: Some(crate::domain::callback::CallbackType::StatusChanged),
            callback_sequence: Some(2),
        }
    }

    /// English words the gateway writes, which must never be a row's sentence.
    const ENGLISH: [&str; 8] = [
        "order",
        "carrier",
        "created",
        "late: due",
        "gave up",
        "Submitted {",
        "error sending",
        "+00:00",
    ];

    fn no_english(text: &str) {
        for w in ENGLISH {
            assert!(!text.contains(w), "{w:?} in {text:?}");
        }
    }

    #[test]
    fn sources_read_as_words() {
        assert_eq!(source(Source::Gateway, Some("gateway")), "Cổng kết nối");
        assert_eq!(
            source(Source::CarrierPush, Some("vnpost")),
            "Bưu điện báo (tự động)"
        );
        assert_eq!(
            source(Source::CarrierPoll, Some("vnpost")),
            "Bưu điện trả lời tra cứu"
        );
        assert_eq!(source(Source::Staff, Some("can-bo-1")), "Cán bộ can-bo-1");
        assert_eq!(
            source(Source::Gateway, Some("motcua-tq")),
            "Hệ thống một cửa (motcua-tq)"
        );
    }

    #[test]
    fn gateway_notes_become_vietnamese_in_vietnam_time() {
        let cases = [
            (
                Some("submitted"),
                "order created at the carrier: EB123456789VN",
                "Bưu điện đã nhận đơn, số hiệu bưu gửi EB123456789VN.",
            ),
            (
                Some("submitted"),
                "order found at the carrier by its reference: EB1VN",
                "Cổng tìm thấy đơn đã có ở bưu điện (theo mã đơn của cổng), số hiệu bưu gửi EB1VN.",
            ),
            (
                None,
                "late: due 2026-11-29T17:40:19+00:00",
                "Quá ngày hẹn trả kết quả (hạn 30/11/2026 00:40, giờ Việt Nam).",
            ),
            (
                None,
                "the cancellation awaits VNPost's approval (case C-7)",
                "Yêu cầu hủy đơn đang chờ VNPost duyệt (hồ sơ yêu cầu số C-7).",
            ),
            (
                None,
                "the carrier cancelled the order",
                "Bưu điện đã hủy đơn.",
            ),
        ];
        for (status, note, want) in cases {
            let e = event("gateway", status, status.is_some(), Some(note));
            let (text, technical) = event_sentence(&e, Kind::Delivery, "O1");
            assert_eq!(text, want);
            no_english(&text);
            assert_eq!(technical, note, "the raw note stays reachable");
        }
        let e = event(
            "gateway",
            None,
            false,
            Some(
                "order created at the carrier (EB9VN) after the shipment became cancelled; asking the carrier to cancel it",
            ),
        );
        let (text, _) = event_sentence(&e, Kind::Pickup, "O1");
        assert!(
            text.contains("EB9VN") && text.contains("đề nghị bưu điện hủy"),
            "{text}"
        );
        no_english(&text);
        let e = event(
            "gateway",
            None,
            false,
            Some(
                "gave up confirming a carrier push by tracking: gave up after 7 attempts over 1day: connect: error sending request",
            ),
        );
        let (text, _) = event_sentence(&e, Kind::Pickup, "O1");
        assert!(
            text.contains("7 lần") && text.contains("không kết nối được tới bưu điện"),
            "{text}"
        );
        no_english(&text);
    }

    #[test]
    fn carrier_reports_and_staff_reasons() {
        let mut e = event(
            "carrier_push",
            Some("attempt_failed"),
            true,
            Some("Người nhận vắng nhà"),
        );
        e.carrier_code = Some(15);
        e.carrier_text = Some("Phát không thành công".into());
        let (text, technical) = event_sentence(&e, Kind::Delivery, "O1");
        assert_eq!(
            text,
            "Bưu điện báo mã 15: Phát không thành công. Lý do: Người nhận vắng nhà."
        );
        assert!(technical.is_empty());
        let e = event(
            "staff",
            Some("cancelled"),
            true,
            Some("cancellation requested from the carrier: công dân không cần nữa"),
        );
        let (text, _) = event_sentence(&e, Kind::Delivery, "O1");
        assert_eq!(
            text,
            "Cán bộ đề nghị bưu điện hủy đơn. Lý do: công dân không cần nữa"
        );
    }

    #[test]
    fn rejections_say_whose_data() {
        let r = rejection(
            "the carrier refused the order: Số điện thoại người gửi không hợp lệ (informationOrder.senderPhone)",
            Kind::Delivery,
            "VPDKDD-TQ",
        );
        assert!(r.office_side);
        assert!(
            r.text.contains("[[offices]]") && r.text.contains("VPDKDD-TQ"),
            "{}",
            r.text
        );
        assert!(!r.text.contains("informationOrder"), "{}", r.text);
        no_english(&r.text);
        // the same field is the citizen's on a pickup
        let r = rejection(
            "the carrier refused the order: Số điện thoại người gửi không hợp lệ (informationOrder.senderPhone)",
            Kind::Pickup,
            "VPDKDD-TQ",
        );
        assert!(!r.office_side);
        assert!(r.text.contains("thông tin của công dân"), "{}", r.text);
        let r = rejection(
            "office VP-OLD is no longer configured",
            Kind::Pickup,
            "VP-OLD",
        );
        assert!(r.office_side && r.text.contains("[[offices]]"));
        let r = rejection(
            "gave up after 30 attempts over 1day: connect: error sending request for url",
            Kind::Pickup,
            "O",
        );
        assert!(!r.office_side);
        assert!(r.text.contains("30 lần trong 1 ngày"), "{}", r.text);
        no_english(&r.text);
        let r = rejection(
            "the carrier refused the order: HTTP 400 without a message",
            Kind::Pickup,
            "O",
        );
        assert!(r.text.contains("HTTP 400 mà không nêu lý do"), "{}", r.text);
        let staff = rejection("Công dân rút hồ sơ", Kind::Pickup, "O");
        assert_eq!(staff.text, "Công dân rút hồ sơ");
        assert!(staff.technical.is_empty());
    }

    #[test]
    fn retries_of_one_job_are_one_row() {
        let mut attempts: Vec<AttemptRow> = (1..=30)
            .map(|n| attempt(7, n, at(10, n as u32, 5), "transient", Some("connect")))
            .collect();
        attempts.push(attempt(8, 1, at(10, 2, 0), "ok", None));
        let mut report = event("carrier_push", Some("picked_up"), true, None);
        report.carrier_code = Some(6);
        report.occurred_at = at(10, 15, 0);
        report.recorded_at = report.occurred_at;
        let rows = build(&[report], &attempts, false, Kind::Delivery, "O");
        assert_eq!(rows.len(), 3, "{rows:#?}");
        let grouped = rows
            .iter()
            .find(|r| r.count == 30)
            .expect("one row for 30 attempts");
        assert!(grouped.title.contains("30 lần"), "{}", grouped.title);
        assert!(
            grouped
                .detail
                .contains("từ 29/11/2026 17:01:05 đến 29/11/2026 17:30:05"),
            "{}",
            grouped.detail
        );
        assert!(
            grouped
                .detail
                .contains("không kết nối được tới hệ thống một cửa"),
            "{}",
            grouped.detail
        );
        no_english(&grouped.detail);
        // excerpts only with staff:pii
        assert!(!grouped.technical.contains("error sending"));
        let rows = build(&[], &attempts, true, Kind::Delivery, "O");
        assert!(rows[0].technical.contains("error sending"));
    }

    #[test]
    fn seconds_only_where_a_minute_is_shared() {
        let shown = times_shown(&[at(10, 0, 5), at(10, 0, 40), at(10, 1, 0)]);
        assert_eq!(
            shown,
            [
                "29/11/2026 17:00:05",
                "29/11/2026 17:00:40",
                "29/11/2026 17:01"
            ]
        );
    }
}

//! What the citizen reads: the status of a shipment in plain words, addressed to the citizen
//! and worded for what the shipment is (a dossier sent to the office, or a result brought
//! home). The staff console has its own, shorter vocabulary (`console::format`); these
//! sentences name who holds the papers, which is what a citizen asks.

use crate::domain::{Kind, Status};

/// What the shipment is, as the wording has it.
pub fn kind(k: Kind) -> &'static str {
    match k {
        Kind::Pickup => "Nộp hồ sơ qua bưu điện",
        Kind::Delivery => "Nhận kết quả qua bưu điện",
    }
}

/// The status, or a step of the timeline, in plain words.
pub fn status(k: Kind, s: Status) -> &'static str {
    use Status::*;
    match (k, s) {
        (Kind::Pickup, Requested) => "Đã đăng ký nộp hồ sơ qua bưu điện",
        (Kind::Pickup, Submitted) => "Bưu điện đã nhận yêu cầu, sẽ đến nhận hồ sơ",
        (Kind::Pickup, PickedUp) => "Bưu điện đã nhận hồ sơ của ông/bà",
        (Kind::Pickup, InTransit) => "Hồ sơ đang được chuyển đến cơ quan",
        (Kind::Pickup, OutForDelivery) => "Hồ sơ đang được giao cho cơ quan",
        (Kind::Pickup, AttemptFailed) => "Bưu điện chưa nhận được hồ sơ, sẽ hẹn lại",
        (Kind::Pickup, Delivered) => "Cơ quan đã nhận hồ sơ",
        (Kind::Pickup, Returning) => "Hồ sơ đang được chuyển trả lại ông/bà",
        (Kind::Pickup, Returned) => "Hồ sơ đã được trả lại ông/bà",
        (Kind::Delivery, Requested) => "Cơ quan đã đăng ký gửi kết quả qua bưu điện",
        (Kind::Delivery, Submitted) => "Bưu điện đã nhận yêu cầu, sẽ đến cơ quan nhận kết quả",
        (Kind::Delivery, PickedUp) => "Bưu điện đã nhận kết quả từ cơ quan",
        (Kind::Delivery, InTransit) => "Kết quả đang được vận chuyển",
        (Kind::Delivery, OutForDelivery) => "Bưu tá đang mang kết quả đến ông/bà",
        (Kind::Delivery, AttemptFailed) => "Bưu tá chưa giao được kết quả, sẽ giao lại",
        (Kind::Delivery, Delivered) => "Ông/bà đã nhận kết quả",
        (Kind::Delivery, Returning) => "Kết quả đang được chuyển trả về cơ quan",
        (Kind::Delivery, Returned) => "Kết quả đã được trả về cơ quan",
        (_, Cancelled) => "Đã hủy gửi qua bưu điện",
        (_, Rejected) => "Chưa gửi được qua bưu điện, xin liên hệ cơ quan",
    }
}

/// The badge's CSS class: done, trouble, or on the way.
pub fn status_class(s: Status) -> &'static str {
    match s {
        Status::Delivered => "ok",
        Status::AttemptFailed | Status::Rejected | Status::Returning | Status::Returned => "warn",
        Status::Cancelled => "muted",
        _ => "info",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_status_has_distinct_words_per_kind() {
        for k in Kind::ALL {
            let words: HashSet<_> = Status::ALL.iter().map(|s| status(k, *s)).collect();
            assert_eq!(words.len(), Status::ALL.len(), "{k:?}");
            for w in words {
                // plain Vietnamese, no code or English
                assert!(!w.contains('_') && !w.is_empty(), "{w}");
            }
        }
        // a pickup is never "delivered to you"
        assert!(!status(Kind::Pickup, Status::Delivered).contains("Ông/bà đã nhận"));
    }
}

//! When a shipment is late (SPEC §4): a delivery whose result reached, or will now reach, the
//! citizen after its `due_at`; a pickup not picked up within the pickup window.

use super::{Kind, Status};
use chrono::{DateTime, Duration, Utc};

#[derive(Debug, Clone, Copy)]
pub struct Timeline {
    pub kind: Kind,
    pub status: Status,
    pub created_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub picked_up_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// The moment after which the shipment counts as late, if it can be late at all.
pub fn deadline(t: &Timeline, pickup_window: Duration) -> Option<DateTime<Utc>> {
    match t.kind {
        Kind::Delivery => t.due_at,
        Kind::Pickup => Some(t.created_at + pickup_window),
    }
}

pub fn is_late(t: &Timeline, now: DateTime<Utc>, pickup_window: Duration) -> bool {
    // A cancelled shipment is not owed to anyone any more.
    if t.status == Status::Cancelled {
        return false;
    }
    let Some(deadline) = deadline(t, pickup_window) else {
        return false;
    };
    let done_at = match t.kind {
        Kind::Delivery => t.delivered_at,
        Kind::Pickup => t.picked_up_at,
    };
    match done_at {
        Some(done) => done > deadline,
        None => now > deadline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 1, 0, 0).unwrap()
    }
    const H48: Duration = Duration::hours(48);

    fn delivery(status: Status, due: Option<i64>, delivered: Option<i64>) -> Timeline {
        Timeline {
            kind: Kind::Delivery,
            status,
            created_at: t0(),
            due_at: due.map(|h| t0() + Duration::hours(h)),
            picked_up_at: None,
            delivered_at: delivered.map(|h| t0() + Duration::hours(h)),
        }
    }

    fn pickup(status: Status, picked: Option<i64>) -> Timeline {
        Timeline {
            kind: Kind::Pickup,
            status,
            created_at: t0(),
            due_at: None,
            picked_up_at: picked.map(|h| t0() + Duration::hours(h)),
            delivered_at: None,
        }
    }

    fn at(h: i64) -> DateTime<Utc> {
        t0() + Duration::hours(h)
    }

    #[test]
    fn delivery_without_due_date_is_never_late() {
        assert!(!is_late(
            &delivery(Status::InTransit, None, None),
            at(10_000),
            H48
        ));
    }

    #[test]
    fn delivery_on_time_and_late() {
        assert!(!is_late(
            &delivery(Status::Delivered, Some(24), Some(23)),
            at(100),
            H48
        ));
        assert!(!is_late(
            &delivery(Status::Delivered, Some(24), Some(24)),
            at(100),
            H48
        ));
        assert!(is_late(
            &delivery(Status::Delivered, Some(24), Some(25)),
            at(25),
            H48
        ));
    }

    #[test]
    fn undelivered_delivery_becomes_late_when_due_passes() {
        for s in [
            Status::Requested,
            Status::Submitted,
            Status::OutForDelivery,
            Status::AttemptFailed,
            Status::Returning,
            Status::Returned,
            Status::Rejected,
        ] {
            assert!(!is_late(&delivery(s, Some(24), None), at(24), H48), "{s}");
            assert!(is_late(&delivery(s, Some(24), None), at(25), H48), "{s}");
        }
    }

    #[test]
    fn cancelled_is_never_late() {
        assert!(!is_late(
            &delivery(Status::Cancelled, Some(24), None),
            at(99),
            H48
        ));
        assert!(!is_late(&pickup(Status::Cancelled, None), at(99), H48));
    }

    #[test]
    fn pickup_window() {
        assert!(!is_late(&pickup(Status::Submitted, None), at(48), H48));
        assert!(is_late(&pickup(Status::Submitted, None), at(49), H48));
        assert!(!is_late(&pickup(Status::Delivered, Some(47)), at(100), H48));
        assert!(is_late(&pickup(Status::InTransit, Some(49)), at(49), H48));
        assert!(!is_late(
            &pickup(Status::Submitted, None),
            at(49),
            Duration::hours(72)
        ));
    }
}

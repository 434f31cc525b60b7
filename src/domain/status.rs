//! Shipment statuses (SPEC §4) and the transitions the gateway and staff may make.
//! Carrier reports follow their own rule, in `report`.

use serde::{Deserialize, Serialize};

/// What a shipment is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The postal worker collects the citizen's dossier and brings it to the office.
    Pickup,
    /// The postal worker takes a procedure's result from the office to the citizen.
    Delivery,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Pickup, Kind::Delivery];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pickup => "pickup",
            Kind::Delivery => "delivery",
        }
    }

    /// The cash on delivery the carrier is asked to collect for a shipment whose request says
    /// `cod_vnd`: a pickup collects none (the citizen pays fees at the office, not the
    /// carrier).
    pub fn cod_asked(self, cod_vnd: i64) -> i64 {
        match self {
            Kind::Pickup => 0,
            Kind::Delivery => cod_vnd,
        }
    }
}

/// The status vocabulary of SPEC §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Requested,
    Submitted,
    PickedUp,
    InTransit,
    OutForDelivery,
    AttemptFailed,
    Delivered,
    Returning,
    Returned,
    Cancelled,
    Rejected,
}

impl Status {
    pub const ALL: [Status; 11] = [
        Status::Requested,
        Status::Submitted,
        Status::PickedUp,
        Status::InTransit,
        Status::OutForDelivery,
        Status::AttemptFailed,
        Status::Delivered,
        Status::Returning,
        Status::Returned,
        Status::Cancelled,
        Status::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Requested => "requested",
            Status::Submitted => "submitted",
            Status::PickedUp => "picked_up",
            Status::InTransit => "in_transit",
            Status::OutForDelivery => "out_for_delivery",
            Status::AttemptFailed => "attempt_failed",
            Status::Delivered => "delivered",
            Status::Returning => "returning",
            Status::Returned => "returned",
            Status::Cancelled => "cancelled",
            Status::Rejected => "rejected",
        }
    }

    /// The terminal statuses: the one list. The ledger's queries use it; the migrations' index
    /// predicates repeat it in SQL, and `tests/it/schema.rs` checks that they agree.
    pub const TERMINAL: [Status; 4] = [
        Status::Delivered,
        Status::Returned,
        Status::Cancelled,
        Status::Rejected,
    ];

    /// Terminal statuses never change on a carrier report. `rejected` is terminal too; only a
    /// staff `retry` takes it back to `requested`.
    pub fn is_terminal(self) -> bool {
        Status::TERMINAL.contains(&self)
    }

    /// How far along a journey a status is. Used only to break ties between carrier reports
    /// that carry the same timestamp (the carrier's clock has one-second resolution).
    pub fn progress(self) -> u8 {
        match self {
            Status::Requested => 0,
            Status::Submitted => 1,
            Status::AttemptFailed => 2,
            Status::PickedUp => 3,
            Status::InTransit => 4,
            Status::OutForDelivery => 5,
            Status::Returning => 6,
            Status::Delivered | Status::Returned | Status::Cancelled | Status::Rejected => 7,
        }
    }

    /// The item has not left the sender yet, so the order may still be cancelled.
    pub fn is_before_pickup(self) -> bool {
        matches!(self, Status::Requested | Status::Submitted)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value `{0}`")]
pub struct UnknownValue(pub String);

/// The value of `all` whose name is `s`: the one parser of the vocabulary enums.
pub(crate) fn by_name<T: Copy>(
    all: &[T],
    name: fn(T) -> &'static str,
    s: &str,
) -> Result<T, UnknownValue> {
    all.iter()
        .copied()
        .find(|v| name(*v) == s)
        .ok_or_else(|| UnknownValue(s.to_owned()))
}

/// `FromStr` (by [`by_name`]) and `Display` (`as_str`) for vocabulary enums that have `ALL`
/// and `as_str`: their one text form.
macro_rules! text_names {
    ($($t:ty),* $(,)?) => {$(
        impl std::str::FromStr for $t {
            type Err = $crate::domain::status::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::domain::status::by_name(&<$t>::ALL, <$t>::as_str, s)
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
pub(crate) use text_names;

text_names!(Kind, Status, Source);

/// Who caused an event (SPEC §3 `source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Gateway,
    CarrierPush,
    CarrierPoll,
    Staff,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Gateway,
        Source::CarrierPush,
        Source::CarrierPoll,
        Source::Staff,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Gateway => "gateway",
            Source::CarrierPush => "carrier_push",
            Source::CarrierPoll => "carrier_poll",
            Source::Staff => "staff",
        }
    }
}

/// A change the gateway itself, a client or a staff member asks for (carrier reports are
/// handled by [`crate::domain::report`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The carrier accepted the order.
    CarrierAccepted,
    /// The carrier refused the order, or the gateway gave up submitting it.
    Reject,
    /// A client or staff member asks to cancel.
    Cancel,
    /// The carrier agreed to cancel an order it had accepted.
    CarrierCancelled,
    /// Staff resubmit a rejected shipment.
    Retry,
}

/// What an [`Action`] does to a shipment in a given status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The status becomes the given one.
    MoveTo(Status),
    /// Nothing changes and nothing needs doing: the action is already in effect, or a carrier
    /// report has already taken the shipment further.
    AlreadyDone,
    /// The carrier holds the order: ask it to cancel; the status stays until it agrees.
    AskCarrierToCancel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action:?} a shipment that is {from}")]
pub struct TransitionError {
    pub from: Status,
    pub action: Action,
}

impl Action {
    /// The transition table for every non-carrier change.
    pub fn apply(self, from: Status) -> Result<Outcome, TransitionError> {
        use Outcome::*;
        use Status::*;
        let err = Err(TransitionError { from, action: self });
        match (self, from) {
            (Action::CarrierAccepted, Requested) => Ok(MoveTo(Submitted)),
            // A carrier report (push or poll) may have arrived before the CreateOrder answer was
            // processed: the order exists, the status is already further along. Cancelled and
            // rejected are the exceptions: they are decided by us and stay.
            (Action::CarrierAccepted, s) if s != Cancelled && s != Rejected => Ok(AlreadyDone),
            (Action::CarrierAccepted, _) => err,

            (Action::Reject, Requested) => Ok(MoveTo(Rejected)),
            (Action::Reject, Rejected) => Ok(AlreadyDone),
            (Action::Reject, _) => err,

            (Action::Cancel, Requested) => Ok(MoveTo(Cancelled)),
            (Action::Cancel, Submitted) => Ok(AskCarrierToCancel),
            (Action::Cancel, Cancelled) => Ok(AlreadyDone),
            (Action::Cancel, _) => err,

            (Action::CarrierCancelled, Submitted | AttemptFailed | Requested) => {
                Ok(MoveTo(Cancelled))
            }
            (Action::CarrierCancelled, Cancelled) => Ok(AlreadyDone),
            (Action::CarrierCancelled, _) => err,

            (Action::Retry, Rejected) => Ok(MoveTo(Requested)),
            (Action::Retry, _) => err,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIONS: [Action; 5] = [
        Action::CarrierAccepted,
        Action::Reject,
        Action::Cancel,
        Action::CarrierCancelled,
        Action::Retry,
    ];

    #[test]
    fn names_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
        }
        for x in Source::ALL {
            assert_eq!(x.as_str().parse::<Source>().unwrap(), x);
        }
        assert!("lost".parse::<Status>().is_err());
        assert!("parcel".parse::<Kind>().is_err());
    }

    #[test]
    fn terminal_statuses_are_exactly_those_of_the_spec() {
        let terminal: Vec<_> = Status::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            vec![
                Status::Delivered,
                Status::Returned,
                Status::Cancelled,
                Status::Rejected
            ]
        );
        for s in Status::ALL {
            assert_eq!(s.progress() == 7, s.is_terminal(), "{s}");
        }
    }

    /// Every (action, status) pair, spelled out: the table is the specification.
    #[test]
    fn every_transition() {
        use Outcome::*;
        use Status::*;
        let expect = |action: Action, from: Status| -> Option<Outcome> {
            match action {
                Action::CarrierAccepted => match from {
                    Requested => Some(MoveTo(Submitted)),
                    Cancelled | Rejected => None,
                    _ => Some(AlreadyDone),
                },
                Action::Reject => match from {
                    Requested => Some(MoveTo(Rejected)),
                    Rejected => Some(AlreadyDone),
                    _ => None,
                },
                Action::Cancel => match from {
                    Requested => Some(MoveTo(Cancelled)),
                    Submitted => Some(AskCarrierToCancel),
                    Cancelled => Some(AlreadyDone),
                    _ => None,
                },
                Action::CarrierCancelled => match from {
                    Requested | Submitted | AttemptFailed => Some(MoveTo(Cancelled)),
                    Cancelled => Some(AlreadyDone),
                    _ => None,
                },
                Action::Retry => match from {
                    Rejected => Some(MoveTo(Requested)),
                    _ => None,
                },
            }
        };
        let mut checked = 0;
        for action in ACTIONS {
            for from in Status::ALL {
                let got = action.apply(from).ok();
                assert_eq!(got, expect(action, from), "{action:?} from {from}");
                if let Err(e) = action.apply(from) {
                    assert_eq!(e, TransitionError { from, action });
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 55);
    }

    #[test]
    fn no_action_leaves_a_terminal_status_except_retry_of_rejected() {
        for from in Status::ALL.into_iter().filter(|s| s.is_terminal()) {
            for action in ACTIONS {
                if let Ok(Outcome::MoveTo(to)) = action.apply(from) {
                    assert_eq!(
                        (from, action, to),
                        (Status::Rejected, Action::Retry, Status::Requested)
                    );
                }
            }
        }
    }
}

//! The vocabulary and body of callbacks to the dossier systems (SPEC §7): which message it is,
//! where its delivery stands, and what it says. Stored by `ledger::callbacks`, signed and
//! delivered by `callbacks`.

use super::{Kind, Status};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Which message a callback is (column `callbacks.type`, CHECK-constrained).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
pub enum CallbackType {
    #[serde(rename = "shipment.status_changed")]
    StatusChanged,
    #[serde(rename = "shipment.late")]
    Late,
    #[serde(rename = "shipment.rejected")]
    Rejected,
}

impl CallbackType {
    pub const ALL: [CallbackType; 3] = [
        CallbackType::StatusChanged,
        CallbackType::Late,
        CallbackType::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallbackType::StatusChanged => "shipment.status_changed",
            CallbackType::Late => "shipment.late",
            CallbackType::Rejected => "shipment.rejected",
        }
    }

    pub fn parse(s: &str) -> Option<CallbackType> {
        s.parse().ok()
    }

    /// The message for a move to `to`.
    pub fn for_status(to: Status) -> CallbackType {
        if to == Status::Rejected {
            CallbackType::Rejected
        } else {
            CallbackType::StatusChanged
        }
    }
}

/// Where a callback's delivery stands (column `callbacks.state`, CHECK-constrained).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackState {
    /// Not delivered yet; a job is (or will be) trying.
    Pending,
    Delivered,
    /// Its client's callbacks are stopped (410 Gone); it waits for staff to re-enable them.
    Held,
    /// Dead-lettered: delivery was given up; staff may replay it.
    Dead,
}

impl CallbackState {
    pub const ALL: [CallbackState; 4] = [
        CallbackState::Pending,
        CallbackState::Delivered,
        CallbackState::Held,
        CallbackState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CallbackState::Pending => "pending",
            CallbackState::Delivered => "delivered",
            CallbackState::Held => "held",
            CallbackState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<CallbackState> {
        s.parse().ok()
    }

    /// Stuck until staff act (replay, or re-enable the client).
    pub fn is_stuck(self) -> bool {
        matches!(self, CallbackState::Dead | CallbackState::Held)
    }
}

super::status::text_names!(CallbackType, CallbackState);

/// The body of a callback (SPEC §7).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallbackBody {
    #[serde(rename = "type")]
    pub type_: CallbackType,
    pub timestamp: DateTime<Utc>,
    pub data: CallbackData,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CallbackData {
    pub shipment_id: Uuid,
    pub dossier_code: String,
    pub kind: Kind,
    pub status: Status,
    pub previous_status: Option<Status>,
    pub sequence: i32,
    pub late: bool,
    pub tracking_number: Option<String>,
    pub occurred_at: DateTime<Utc>,
    pub reason: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_and_matches_serde() {
        for t in CallbackType::ALL {
            assert_eq!(CallbackType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        for s in CallbackState::ALL {
            assert_eq!(CallbackState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn a_rejection_has_its_own_message() {
        assert_eq!(
            CallbackType::for_status(Status::Rejected),
            CallbackType::Rejected
        );
        assert_eq!(
            CallbackType::for_status(Status::Delivered),
            CallbackType::StatusChanged
        );
    }
}

//! The gateway's own notes in a shipment's history. Each is written as one English line (the
//! API's `events[].note`, whose wording dossier systems may already show) from this enum, and
//! read back into it by the console, which says each in Vietnamese. Writer and reader are the
//! same code, and the round trip is tested, so they cannot drift apart.

use chrono::{DateTime, Utc};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayNote {
    /// The shipment passed its due time without reaching its goal.
    Late {
        due: DateTime<Utc>,
    },
    /// The carrier holds the order: created now, or found by its reference (`adopted`).
    OrderPlaced {
        adopted: bool,
        item_code: String,
    },
    /// The order was placed after the shipment had ended (`status`): the gateway asks the
    /// carrier to cancel it.
    OrderAfterEnd {
        adopted: bool,
        item_code: String,
        status: String,
    },
    /// The carrier refused the order (its words).
    CarrierRefused {
        message: String,
    },
    /// The office of the shipment is no longer in the configuration.
    OfficeUnconfigured {
        office: String,
    },
    CarrierCancelled,
    /// VNPost must approve the cancellation (its case number, when it gave one).
    CancelAwaitingApproval {
        case_id: Option<String>,
    },
    CancelRefused {
        message: String,
    },
    GaveUpCancelling {
        reason: String,
    },
    GaveUpConfirming {
        reason: String,
    },
}

const ADOPTED: &str = "found at the carrier by its reference";
const CREATED: &str = "created at the carrier";
const REFUSED: &str = "the carrier refused the order: ";
const AWAITS: &str = "the cancellation awaits VNPost's approval";
const NO_CASE: &str = " (no case id given; tracking will see its decision)";
const CANCEL_REFUSED: &str = "the carrier refused to cancel: ";
const GAVE_UP_CANCEL: &str = "gave up asking the carrier to cancel: ";
const GAVE_UP_CONFIRM: &str = "gave up confirming a carrier push by tracking: ";

impl fmt::Display for GatewayNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = |adopted: bool| if adopted { ADOPTED } else { CREATED };
        match self {
            GatewayNote::Late { due } => write!(f, "late: due {}", due.to_rfc3339()),
            GatewayNote::OrderPlaced { adopted, item_code } => {
                write!(f, "order {}: {item_code}", how(*adopted))
            }
            GatewayNote::OrderAfterEnd {
                adopted,
                item_code,
                status,
            } => write!(
                f,
                "order {} ({item_code}) after the shipment became {status}; asking the carrier \
                 to cancel it",
                how(*adopted)
            ),
            GatewayNote::CarrierRefused { message } => write!(f, "{REFUSED}{message}"),
            GatewayNote::OfficeUnconfigured { office } => {
                write!(f, "office {office} is no longer configured")
            }
            GatewayNote::CarrierCancelled => f.write_str("the carrier cancelled the order"),
            GatewayNote::CancelAwaitingApproval {
                case_id: Some(case),
            } => {
                write!(f, "{AWAITS} (case {case})")
            }
            GatewayNote::CancelAwaitingApproval { case_id: None } => write!(f, "{AWAITS}{NO_CASE}"),
            GatewayNote::CancelRefused { message } => write!(f, "{CANCEL_REFUSED}{message}"),
            GatewayNote::GaveUpCancelling { reason } => write!(f, "{GAVE_UP_CANCEL}{reason}"),
            GatewayNote::GaveUpConfirming { reason } => write!(f, "{GAVE_UP_CONFIRM}{reason}"),
        }
    }
}

impl GatewayNote {
    /// The note a line of the history holds, if the gateway wrote it.
    pub fn parse(note: &str) -> Option<GatewayNote> {
        if let Some(due) = note.strip_prefix("late: due ") {
            let due = DateTime::parse_from_rfc3339(due.trim()).ok()?;
            return Some(GatewayNote::Late {
                due: due.with_timezone(&Utc),
            });
        }
        if let Some(rest) = note.strip_prefix("order ") {
            let (adopted, rest) = if let Some(r) = rest.strip_prefix(ADOPTED) {
                (true, r)
            } else {
                (false, rest.strip_prefix(CREATED)?)
            };
            if let Some(item_code) = rest.strip_prefix(": ") {
                return Some(GatewayNote::OrderPlaced {
                    adopted,
                    item_code: item_code.to_owned(),
                });
            }
            let rest = rest.strip_prefix(" (")?;
            let (item_code, rest) = rest.split_once(") after the shipment became ")?;
            let status = rest.strip_suffix("; asking the carrier to cancel it")?;
            return Some(GatewayNote::OrderAfterEnd {
                adopted,
                item_code: item_code.to_owned(),
                status: status.to_owned(),
            });
        }
        if let Some(message) = note.strip_prefix(REFUSED) {
            return Some(GatewayNote::CarrierRefused {
                message: message.to_owned(),
            });
        }
        if let Some(office) = note
            .strip_prefix("office ")
            .and_then(|r| r.strip_suffix(" is no longer configured"))
        {
            return Some(GatewayNote::OfficeUnconfigured {
                office: office.to_owned(),
            });
        }
        if note == "the carrier cancelled the order" {
            return Some(GatewayNote::CarrierCancelled);
        }
        if let Some(rest) = note.strip_prefix(AWAITS) {
            if rest == NO_CASE {
                return Some(GatewayNote::CancelAwaitingApproval { case_id: None });
            }
            let case = rest.strip_prefix(" (case ")?.strip_suffix(')')?;
            return Some(GatewayNote::CancelAwaitingApproval {
                case_id: Some(case.to_owned()),
            });
        }
        if let Some(message) = note.strip_prefix(CANCEL_REFUSED) {
            return Some(GatewayNote::CancelRefused {
                message: message.to_owned(),
            });
        }
        if let Some(reason) = note.strip_prefix(GAVE_UP_CANCEL) {
            return Some(GatewayNote::GaveUpCancelling {
                reason: reason.to_owned(),
            });
        }
        if let Some(reason) = note.strip_prefix(GAVE_UP_CONFIRM) {
            return Some(GatewayNote::GaveUpConfirming {
                reason: reason.to_owned(),
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn all() -> Vec<GatewayNote> {
        let s = |x: &str| x.to_owned();
        vec![
            GatewayNote::Late {
                due: Utc.with_ymd_and_hms(2026, 11, 29, 17, 40, 19).unwrap(),
            },
            GatewayNote::OrderPlaced {
                adopted: false,
                item_code: s("EB123456789VN"),
            },
            GatewayNote::OrderPlaced {
                adopted: true,
                item_code: s("EB123456789VN"),
            },
            GatewayNote::OrderAfterEnd {
                adopted: false,
                item_code: s("EB9VN"),
                status: s("cancelled"),
            },
            GatewayNote::OrderAfterEnd {
                adopted: true,
                item_code: s("EB9VN"),
                status: s("rejected"),
            },
            GatewayNote::CarrierRefused {
                message: s("informationOrder.receiverPhone: invalid (x): y"),
            },
            GatewayNote::OfficeUnconfigured {
                office: s("VPDKDD-TQ"),
            },
            GatewayNote::CarrierCancelled,
            GatewayNote::CancelAwaitingApproval {
                case_id: Some(s("C-1")),
            },
            GatewayNote::CancelAwaitingApproval { case_id: None },
            GatewayNote::CancelRefused {
                message: s("đã thu gom"),
            },
            GatewayNote::GaveUpCancelling {
                reason: s("cannot connect: refused"),
            },
            GatewayNote::GaveUpConfirming {
                reason: s("HTTP 502"),
            },
        ]
    }

    #[test]
    fn every_note_reads_back_as_written() {
        for note in all() {
            assert_eq!(
                GatewayNote::parse(&note.to_string()),
                Some(note.clone()),
                "{note}"
            );
        }
    }

    #[test]
    fn the_api_keeps_its_wording() {
        assert_eq!(
            all()[1].to_string(),
            "order created at the carrier: EB123456789VN"
        );
        assert_eq!(
            all()[3].to_string(),
            "order created at the carrier (EB9VN) after the shipment became cancelled; asking \
             the carrier to cancel it"
        );
        assert_eq!(all()[0].to_string(), "late: due 2026-11-29T17:40:19+00:00");
    }

    #[test]
    fn other_text_is_not_a_gateway_note() {
        for other in [
            "",
            "staff note",
            "order",
            "late: due tomorrow",
            "order shipped: x",
        ] {
            assert_eq!(GatewayNote::parse(other), None, "{other}");
        }
    }
}

//! How a carrier status report (pushed or polled) changes a shipment (SPEC §4).
//!
//! Every report is stored as an event whatever it says. The shipment's status follows the most
//! advanced report by the carrier's own timestamp; equal timestamps are ordered by progress;
//! terminal statuses stay terminal. So repeated, late and out-of-order reports change nothing,
//! and applying any set of reports in any order gives the same final status.

use super::Status;
use super::carrier_codes::{CodeMeaning, CodeTable};
use chrono::{DateTime, Utc};

/// What the ledger knows about a shipment when a report comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current {
    pub status: Status,
    /// Carrier timestamp of the report the status currently follows, if any. Statuses set by
    /// the gateway itself (`requested`, `submitted` on CreateOrder) have none, so the carrier's
    /// clock is only ever compared with itself.
    pub carrier_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub code: i32,
    pub at: DateTime<Utc>,
}

/// The decision for one report. The report is recorded as an event in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The status becomes `to` (which may equal the current one: the report then only moves
    /// the carrier clock and the displayed carrier status forward).
    Apply { to: Status },
    /// Recorded only; the reason says why.
    Ignore(Ignored),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    /// The code carries no status (draft, COD paid out, postage paid…).
    NoStatus,
    /// The code is not in the table: flag it for staff.
    UnknownCode,
    /// The shipment is terminal.
    Terminal,
    /// Older than (or as old and no further than) the report the status already follows.
    Stale,
}

impl Decision {
    pub fn new_status(self) -> Option<Status> {
        match self {
            Decision::Apply { to } => Some(to),
            Decision::Ignore(_) => None,
        }
    }
}

pub fn decide(codes: &CodeTable, current: Current, report: Report) -> Decision {
    let to = match codes.meaning(report.code) {
        CodeMeaning::Status(s) => s,
        CodeMeaning::RecordOnly => return Decision::Ignore(Ignored::NoStatus),
        CodeMeaning::Unknown => return Decision::Ignore(Ignored::UnknownCode),
    };
    if current.status.is_terminal() {
        return Decision::Ignore(Ignored::Terminal);
    }
    if let Some(last) = current.carrier_at {
        let newer =
            report.at > last || (report.at == last && to.progress() > current.status.progress());
        if !newer {
            return Decision::Ignore(Ignored::Stale);
        }
    }
    Decision::Apply { to }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::carrier_codes::known_codes;
    use crate::domain::carrier_codes::meaning;
    use chrono::TimeZone;

    fn at(min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 3, min, 0).unwrap()
    }

    fn report(code: i32, min: u32) -> Report {
        Report { code, at: at(min) }
    }

    /// The decision on a report of `code` at minute `min`, with the default code table.
    fn judge(cur: Current, code: i32, min: u32) -> Decision {
        decide(&CodeTable::default(), cur, report(code, min))
    }

    fn fold(start: Status, reports: &[Report]) -> Current {
        reports.iter().fold(
            Current {
                status: start,
                carrier_at: None,
            },
            |cur, r| match decide(&CodeTable::default(), cur, *r) {
                Decision::Apply { to } => Current {
                    status: to,
                    carrier_at: Some(r.at),
                },
                Decision::Ignore(_) => cur,
            },
        )
    }

    #[test]
    fn every_code_from_every_status() {
        for from in Status::ALL {
            for code in known_codes().chain([25, 26, 99]) {
                let d = decide(
                    &CodeTable::default(),
                    Current {
                        status: from,
                        carrier_at: Some(at(10)),
                    },
                    Report { code, at: at(20) },
                );
                let expected = match meaning(code) {
                    CodeMeaning::Unknown => Decision::Ignore(Ignored::UnknownCode),
                    CodeMeaning::RecordOnly => Decision::Ignore(Ignored::NoStatus),
                    CodeMeaning::Status(_) if from.is_terminal() => {
                        Decision::Ignore(Ignored::Terminal)
                    }
                    CodeMeaning::Status(to) => Decision::Apply { to },
                };
                assert_eq!(d, expected, "code {code} from {from}");
            }
        }
    }

    #[test]
    fn first_carrier_report_applies_whatever_the_gateway_clock_said() {
        let d = decide(
            &CodeTable::default(),
            Current {
                status: Status::Submitted,
                carrier_at: None,
            },
            report(6, 0),
        );
        assert_eq!(
            d,
            Decision::Apply {
                to: Status::PickedUp
            }
        );
        // even one that maps to where we already are: it starts the carrier clock
        let d = decide(
            &CodeTable::default(),
            Current {
                status: Status::Submitted,
                carrier_at: None,
            },
            report(2, 0),
        );
        assert_eq!(
            d,
            Decision::Apply {
                to: Status::Submitted
            }
        );
    }

    #[test]
    fn a_report_before_the_order_was_confirmed_applies() {
        let d = decide(
            &CodeTable::default(),
            Current {
                status: Status::Requested,
                carrier_at: None,
            },
            report(1, 0),
        );
        assert_eq!(
            d,
            Decision::Apply {
                to: Status::Submitted
            }
        );
    }

    #[test]
    fn late_reports_do_not_move_the_status_back() {
        let cur = Current {
            status: Status::InTransit,
            carrier_at: Some(at(30)),
        };
        assert_eq!(judge(cur, 6, 20), Decision::Ignore(Ignored::Stale));
        assert_eq!(judge(cur, 2, 10), Decision::Ignore(Ignored::Stale));
        // a repeat of the same report
        assert_eq!(judge(cur, 7, 30), Decision::Ignore(Ignored::Stale));
    }

    #[test]
    fn same_second_is_ordered_by_progress() {
        let cur = Current {
            status: Status::PickedUp,
            carrier_at: Some(at(30)),
        };
        assert_eq!(
            judge(cur, 7, 30),
            Decision::Apply {
                to: Status::InTransit
            }
        );
        assert_eq!(judge(cur, 2, 30), Decision::Ignore(Ignored::Stale));
    }

    #[test]
    fn a_failed_attempt_then_a_new_attempt_follows_time_not_rank() {
        let journey = [report(12, 1), report(15, 2), report(12, 3)];
        assert_eq!(
            fold(Status::Submitted, &journey).status,
            Status::OutForDelivery
        );
    }

    #[test]
    fn terminal_stays_terminal() {
        let journey = [report(14, 5), report(15, 9), report(18, 10)];
        assert_eq!(fold(Status::Submitted, &journey).status, Status::Delivered);
        let cancelled = [report(22, 5), report(6, 9)];
        assert_eq!(
            fold(Status::Submitted, &cancelled).status,
            Status::Cancelled
        );
    }

    /// Every order of a realistic journey (with a failed attempt and a repeat) ends in the status
    /// of the latest report: the rule is order-independent.
    #[test]
    fn any_order_of_a_journey_ends_in_its_latest_report() {
        let journey = [
            report(1, 0),
            report(2, 1),
            report(6, 2),
            report(7, 3),
            report(12, 4),
            report(15, 5),
            report(12, 6),
            report(12, 6),
            report(21, 8),
        ];
        let mut n = 0;
        permute(&mut journey.to_vec(), 0, &mut |order| {
            n += 1;
            let end = fold(Status::Submitted, order);
            assert_eq!(
                end,
                Current {
                    status: Status::OutForDelivery,
                    carrier_at: Some(at(6))
                },
                "{order:?}"
            );
        });
        assert_eq!(n, 362_880);
        let mut with_end = journey.to_vec();
        with_end[8] = report(14, 7);
        permute(&mut with_end, 0, &mut |order| {
            assert_eq!(
                fold(Status::Submitted, order).status,
                Status::Delivered,
                "{order:?}"
            );
        });
    }

    fn permute(v: &mut Vec<Report>, k: usize, f: &mut impl FnMut(&[Report])) {
        if k == v.len() {
            f(v);
            return;
        }
        for i in k..v.len() {
            v.swap(k, i);
            permute(v, k + 1, f);
            v.swap(k, i);
        }
    }
}
